//! Linux: raw system calls ([`sys`]), futexes, clocks, identities,
//! credentials, files and mappings, one file each.

mod clock;
mod creds;
pub mod descriptors;
mod environment;
mod files;
mod futex;
mod identity;
mod memory;
mod signals;
pub mod sys;

pub use clock::{monotonic_now, now_secs, realtime_now};
pub use creds::{
    credentials_changed, euid, with_credentials, Credentials, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER,
    CAP_IPC_LOCK, CAP_IPC_OWNER, CAP_SYS_ADMIN,
    CAP_SYS_RESOURCE,
};
pub use signals::{handlers_restart, queue_mesgq, real_uid, soft_limit, umask};
pub use environment::env_var;
pub use files::{kernel_limit, kernel_limits, log_line, read_small, stat_path, sysctl_values, Fd};
pub use futex::{
    wait as futex_wait, wait_at as futex_wait_at, wait_private as futex_wait_private, wake as futex_wake,
    wake_at as futex_wake_at, wake_private as futex_wake_private, Until, Wake,
};
pub use identity::{
    after_fork_in_child, current_pid, exited, fork_generation, kill_self, pid, process, start_time_of, stop_self,
    thread, Identity,
};
pub use memory::{
    duplicate, map_shared, memlock_limit, page_size, populate, protect, readable, remove_pages, unmap, write_checked,
};

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::Duration;

/// Tells the CPU we are spinning (PAUSE / YIELD).
#[inline]
pub fn spin_hint() {
    std::hint::spin_loop();
}

/// How long a would-be sleeper spins before sleeping. Long enough to cover
/// a peer's answer from the other CPU, including the peer's own wake-up from
/// a futex sleep (tens of microseconds on an idle virtual CPU), so that a
/// ping-pong that once fell asleep gets back to spinning; short against a
/// scheduler time slice, so a loaded machine loses little to it.
pub const SPIN_TIME: Duration = Duration::from_micros(50);

/// Spins while `*word == seen`, for at most `limit`; true if the word
/// changed. The clock is the vDSO's: no system call. Every
/// [`YIELD_EVERY`] it yields the CPU: if the peer that will change the
/// word is waiting for this very CPU (both pinned to one, or more runnable
/// threads than CPUs), it runs now instead of after our time slice; if
/// nothing else wants the CPU, the yield returns at once.
pub fn spin_while_equal(word: &AtomicU32, seen: u32, limit: Duration) -> bool {
    let start = monotonic_now();
    let (deadline, mut next_yield) = (start + limit, start + YIELD_EVERY);
    loop {
        for _ in 0..32 {
            if word.load(Ordering::Relaxed) != seen {
                return true;
            }
            spin_hint();
        }
        let now = monotonic_now();
        if now >= deadline {
            return false;
        }
        if now >= next_yield {
            yield_cpu();
            next_yield = monotonic_now() + YIELD_EVERY;
        }
    }
}

/// How long a spinner runs between yields (see [`spin_while_equal`]):
/// about what a peer on another CPU takes to answer, so that two processes
/// on one CPU trade it almost as fast as a futex hand-off would.
pub const YIELD_EVERY: Duration = Duration::from_micros(1);

/// sched_yield(2).
pub fn yield_cpu() {
    // SAFETY: sched_yield takes no arguments.
    let _ = unsafe { sys::sys!(libc::SYS_sched_yield) };
}

/// Spinning only helps when the peer can run at the same time.
pub fn spinning_pays() -> bool {
    static ONLINE: AtomicUsize = AtomicUsize::new(0);
    let mut cpus = ONLINE.load(Ordering::Relaxed);
    if cpus == 0 {
        // SAFETY: sysconf has no preconditions (glibc reads sysfs with its
        // own internal calls, which no preload library can wrap).
        cpus = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) }.max(1) as usize;
        ONLINE.store(cpus, Ordering::Relaxed);
    }
    cpus > 1
}

// ---------------------------------------------------------------- dynamic linking

/// The next definition of `name` after ours in the symbol search order
/// (`dlsym(RTLD_NEXT)`): libc's, or another preload library's wrapper of
/// it, for the functions we interpose. Cached in `cache` without a lock
/// (looking it up twice is harmless).
pub fn next_symbol(name: &std::ffi::CStr, cache: &AtomicUsize) -> Option<usize> {
    const MISSING: usize = 1;
    match cache.load(Ordering::Relaxed) {
        0 => {}
        MISSING => return None,
        f => return Some(f),
    }
    // SAFETY: dlsym with a NUL-terminated name; RTLD_NEXT is always valid.
    let sym = unsafe { libc::dlsym(libc::RTLD_NEXT, name.as_ptr()) } as usize;
    cache.store(if sym == 0 { MISSING } else { sym }, Ordering::Relaxed);
    (sym != 0).then_some(sym)
}

/// Whether the code at `addr` belongs to the main executable (as when the
/// crate is linked statically into a Rust test) rather than to a shared
/// library loaded into it.
pub fn in_main_executable(addr: *const libc::c_void) -> bool {
    fn base_of(addr: *const libc::c_void) -> Option<*mut libc::c_void> {
        // SAFETY: all-zero is a valid Dl_info (null pointers).
        let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
        // SAFETY: dladdr only reads the loader's tables; `info` is an out-parameter.
        (unsafe { libc::dladdr(addr, &mut info) } != 0).then_some(info.dli_fbase)
    }
    // SAFETY: getauxval has no preconditions; AT_PHDR points into the main executable.
    let main_phdr = unsafe { libc::getauxval(libc::AT_PHDR) } as *const libc::c_void;
    base_of(addr).is_some() && base_of(addr) == base_of(main_phdr)
}

/// Registers fork handlers: `prepare` runs in the forking thread before
/// fork, `parent` and `child` after it; the identity caches are made right
/// in the child before `child` runs.
pub fn install_fork_handlers(prepare: extern "C" fn(), parent: extern "C" fn(), child: extern "C" fn()) {
    // SAFETY: registering plain extern "C" functions with no captured
    // state; child handlers run in registration order.
    unsafe {
        libc::pthread_atfork(None, None, Some(after_fork_in_child));
        libc::pthread_atfork(Some(prepare), Some(parent), Some(child));
    }
}

/// Runs `f` when the process exits normally (exit(), return from main).
pub fn at_exit(f: extern "C" fn()) {
    // SAFETY: registering a plain extern "C" function.
    unsafe { libc::atexit(f) };
}
