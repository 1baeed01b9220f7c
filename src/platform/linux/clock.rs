//! Clocks, read through the vDSO's own `clock_gettime`, never libc's.
//!
//! libc's `clock_gettime` may be wrapped by a preload library
//! (libfaketime moves time for the program), but the kernel's IPC
//! timestamps and timeouts follow the real clocks. The vDSO's entry point
//! is found once by reading the vDSO's ELF symbol table (the kernel maps it
//! into every process and names it in the auxiliary vector); without one,
//! the system call is made instead.

use super::sys::sys;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

type ClockGettime = unsafe extern "C" fn(libc::clockid_t, *mut libc::timespec) -> libc::c_int;

/// The vDSO function's address; 0 before the lookup, 1 if there is none.
static VDSO_CLOCK_GETTIME: AtomicUsize = AtomicUsize::new(0);
const NO_VDSO: usize = 1;
const CLOCK_GETTIME: &str =
    if cfg!(target_arch = "aarch64") { "__kernel_clock_gettime" } else { "__vdso_clock_gettime" };

fn read(clock: libc::clockid_t) -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    let mut entry = VDSO_CLOCK_GETTIME.load(Ordering::Relaxed);
    if entry == 0 {
        // Racing threads find the same address: storing it twice is harmless.
        entry = super::vdso::find(CLOCK_GETTIME).unwrap_or(NO_VDSO);
        VDSO_CLOCK_GETTIME.store(entry, Ordering::Relaxed);
    }
    let ok = if entry != NO_VDSO {
        // SAFETY: `entry` is the vDSO's clock_gettime, found by name in the
        // vDSO's symbol table, which has this signature.
        let f: ClockGettime = unsafe { std::mem::transmute::<usize, ClockGettime>(entry) };
        // SAFETY: `ts` is a valid out-parameter.
        unsafe { f(clock, &mut ts) == 0 }
    } else {
        // SAFETY: `ts` is a valid out-parameter.
        unsafe { sys!(libc::SYS_clock_gettime, clock, &mut ts as *mut libc::timespec) }.is_ok()
    };
    if !ok {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec.max(0) as u64, ts.tv_nsec.clamp(0, 999_999_999) as u32)
}

/// A monotonic instant, for deadlines and bounding spins.
pub fn monotonic_now() -> Duration {
    read(libc::CLOCK_MONOTONIC)
}

/// The time since the epoch, for absolute POSIX deadlines.
pub fn realtime_now() -> Duration {
    read(libc::CLOCK_REALTIME)
}

/// Seconds since the epoch, as stored in `msg_stime` and friends (the
/// coarse clock: the kernel's IPC timestamps are at second resolution).
pub fn now_secs() -> i64 {
    read(libc::CLOCK_REALTIME_COARSE).as_secs() as i64
}
