//! Linux: raw system calls ([`sys`]), futexes, clocks, identities,
//! credentials, files and mappings, one file each.

mod caller;
mod clock;
mod cpu;
mod creds;
pub mod descriptors;
mod environment;
mod files;
mod futex;
mod identity;
mod memory;
mod signals;
pub mod sys;
mod vdso;

pub use caller::{thread, with_caller, with_credentials};
pub use clock::{coarse_now, monotonic_now, now_secs, realtime_now};
pub use cpu::{current_cpu, runnable_threads};
pub use creds::{
    credentials_changed, euid, Credentials, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER,
    CAP_IPC_LOCK, CAP_IPC_OWNER, CAP_SYS_ADMIN,
    CAP_SYS_RESOURCE,
};
pub use signals::{handlers_restart, queue_mesgq, real_uid, soft_limit, umask};
pub use environment::env_var;
pub use files::{append, kernel_limit, kernel_limits, log_line, read_small, stat_path, sysctl_values, Fd};
pub use futex::{
    wait as futex_wait, wait_at as futex_wait_at, wait_private as futex_wait_private, wake as futex_wake,
    wake_at as futex_wake_at, wake_private as futex_wake_private, Until, Wake,
};
pub use identity::{
    after_fork_in_child, current_pid, exited, fork_generation, kill_self, pid, process, start_time_of, stop_self,
    Identity,
};
pub use memory::{
    duplicate, map_shared, memlock_limit, page_size, populate, protect, readable, remove_pages, unmap, write_checked,
};

use std::sync::atomic::{AtomicUsize, Ordering};

/// Tells the CPU we are spinning (PAUSE / YIELD).
#[inline]
pub fn spin_hint() {
    std::hint::spin_loop();
}

/// Asks the CPU to fetch the cache line of `what`, to be written soon: a
/// line another CPU wrote last then arrives while other work goes on. A
/// hint only; nothing where the CPU has none.
#[inline]
pub fn prefetch_for_write<T>(what: &T) {
    #[cfg(target_arch = "x86_64")]
    prefetch_with::<{ std::arch::x86_64::_MM_HINT_ET0 }, T>(what);
    #[cfg(not(target_arch = "x86_64"))]
    let _ = what;
}

/// As [`prefetch_for_write`], to be read.
#[inline]
pub fn prefetch<T>(what: &T) {
    #[cfg(target_arch = "x86_64")]
    prefetch_with::<{ std::arch::x86_64::_MM_HINT_T0 }, T>(what);
    #[cfg(not(target_arch = "x86_64"))]
    let _ = what;
}

#[cfg(target_arch = "x86_64")]
#[inline]
fn prefetch_with<const HINT: i32, T>(what: &T) {
    // SAFETY: a prefetch reads and writes no memory and never faults; the
    // address is a reference's.
    unsafe { std::arch::x86_64::_mm_prefetch::<HINT>((what as *const T).cast()) }
}

/// sched_yield(2).
pub fn yield_cpu() {
    // SAFETY: sched_yield takes no arguments.
    let _ = unsafe { sys::sys!(libc::SYS_sched_yield) };
}

/// CPUs online (however few this thread may use: a peer may run on the
/// others).
pub fn online_cpus() -> usize {
    static ONLINE: AtomicUsize = AtomicUsize::new(0);
    let mut cpus = ONLINE.load(Ordering::Relaxed);
    if cpus == 0 {
        // SAFETY: sysconf has no preconditions (glibc reads sysfs with its
        // own internal calls, which no preload library can wrap).
        cpus = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) }.max(1) as usize;
        ONLINE.store(cpus, Ordering::Relaxed);
    }
    cpus
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
