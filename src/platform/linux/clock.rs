//! Clocks, read through the vDSO's own `clock_gettime`, never libc's.
//!
//! libc's `clock_gettime` may be wrapped by a preload library
//! (libfaketime moves time for the program), but the kernel's IPC
//! timestamps and timeouts follow the real clocks. The vDSO's entry point
//! is found once by reading the vDSO's ELF symbol table (the kernel maps it
//! into every process and names it in the auxiliary vector); without one,
//! the system call is made instead. The seconds that IPC timestamps hold
//! come from the vDSO's `time` where it has one (x86_64): one load, where
//! the coarse clock reads a whole timespec under a sequence count.

use super::sys::sys;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

type ClockGettime = unsafe extern "C" fn(libc::clockid_t, *mut libc::timespec) -> libc::c_int;
type Time = unsafe extern "C" fn(*mut libc::time_t) -> libc::time_t;

/// The vDSO functions' addresses; 0 before the lookup, 1 if there is none.
static VDSO_CLOCK_GETTIME: AtomicUsize = AtomicUsize::new(0);
static VDSO_TIME: AtomicUsize = AtomicUsize::new(0);
const NO_VDSO: usize = 1;
const CLOCK_GETTIME: &str =
    if cfg!(target_arch = "aarch64") { "__kernel_clock_gettime" } else { "__vdso_clock_gettime" };

/// The vDSO's function `name`, looked up once into `cache`.
#[inline]
fn vdso_entry(cache: &AtomicUsize, name: &str) -> usize {
    match cache.load(Ordering::Relaxed) {
        0 => {
            // Racing threads find the same address: storing it twice is harmless.
            let entry = super::vdso::find(name).unwrap_or(NO_VDSO);
            cache.store(entry, Ordering::Relaxed);
            entry
        }
        entry => entry,
    }
}

fn read(clock: libc::clockid_t) -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    let entry = vdso_entry(&VDSO_CLOCK_GETTIME, CLOCK_GETTIME);
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

/// The monotonic clock at the resolution of the scheduler tick (a few
/// milliseconds, behind [`monotonic_now`] by at most a tick): a load of
/// the kernel's last tick time, where the fine clock reads the time
/// stamp counter and scales it. For bookkeeping counted in milliseconds
/// on paths that run at every call.
pub fn coarse_now() -> Duration {
    read(libc::CLOCK_MONOTONIC_COARSE)
}

/// The time since the epoch, for absolute POSIX deadlines.
pub fn realtime_now() -> Duration {
    read(libc::CLOCK_REALTIME)
}

/// Seconds since the epoch, as stored in `msg_stime` and friends (the
/// coarse clock: the kernel's IPC timestamps are at second resolution).
#[inline]
pub fn now_secs() -> i64 {
    // The vDSO's time() returns the seconds of the same kernel clock
    // (xtime) that the coarse clock and the kernel's own IPC timestamps
    // read. aarch64's vDSO has none.
    if cfg!(target_arch = "x86_64") {
        let entry = vdso_entry(&VDSO_TIME, "__vdso_time");
        if entry != NO_VDSO {
            // SAFETY: `entry` is the vDSO's time, found by name in the
            // vDSO's symbol table, which has this signature; a null
            // argument asks for the return value only.
            return unsafe { std::mem::transmute::<usize, Time>(entry)(std::ptr::null_mut()) };
        }
    }
    read(libc::CLOCK_REALTIME_COARSE).as_secs() as i64
}
