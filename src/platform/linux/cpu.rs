//! Which CPU the calling thread runs on: a hint for deciding whether to
//! wait for a peer actively (see `platform::spin`), read on every send and
//! receive, so it must cost next to nothing.
//!
//! glibc (2.35 and later) registers every thread for restartable sequences,
//! and the kernel then keeps the thread's current CPU in the thread's
//! `struct rseq`, at `__rseq_offset` from the thread pointer: one load.
//! Elsewhere (another libc, or rseq disabled) the vDSO's `getcpu` answers
//! (on x86-64 one instruction), and without it the system call does.

use super::sys::sys;
use std::sync::atomic::{AtomicUsize, Ordering};

/// How the CPU is found, decided at the first call.
static SOURCE: AtomicUsize = AtomicUsize::new(UNDECIDED);
const UNDECIDED: usize = 0;
const SYSCALL: usize = 1;
/// Values above this are `RSEQ_TAG | offset` or the vDSO function's address.
const RSEQ_TAG: usize = 1 << (usize::BITS - 1);

/// `cpu_id` is the second 32-bit field of `struct rseq` (after `cpu_id_start`).
const RSEQ_CPU_ID: isize = 4;

type GetCpu = unsafe extern "C" fn(*mut u32, *mut u32, *mut libc::c_void) -> libc::c_int;

/// The CPU the calling thread is running on (it may move at any moment).
#[inline]
pub fn current_cpu() -> u32 {
    let source = SOURCE.load(Ordering::Relaxed);
    if source & RSEQ_TAG != 0 && cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) {
        let offset = (source & !RSEQ_TAG) as isize;
        // SAFETY: glibc registered this thread's `struct rseq` at `offset`
        // from the thread pointer (`__rseq_size` said so when SOURCE was
        // set); the kernel writes `cpu_id` there and we only read it.
        let cpu = unsafe { std::ptr::read_volatile(thread_pointer().offset(offset + RSEQ_CPU_ID) as *const u32) };
        // Negative (RSEQ_CPU_ID_UNINITIALIZED, say) in a thread the kernel
        // has not registered: ask the kernel.
        if (cpu as i32) >= 0 {
            return cpu;
        }
        return by_syscall();
    }
    match source {
        UNDECIDED => {
            SOURCE.store(decide(), Ordering::Relaxed);
            current_cpu()
        }
        SYSCALL => by_syscall(),
        getcpu => {
            let mut cpu = 0u32;
            // SAFETY: `getcpu` is the vDSO's getcpu, found by name, with this
            // signature; `cpu` is a valid out-parameter, the others may be null.
            let f: GetCpu = unsafe { std::mem::transmute::<usize, GetCpu>(getcpu) };
            // SAFETY: as above.
            unsafe { f(&mut cpu, std::ptr::null_mut(), std::ptr::null_mut()) };
            cpu
        }
    }
}

/// Threads runnable right now, system-wide, the caller included (the
/// fourth field of /proc/loadavg, "running/total"); None without /proc.
pub fn runnable_threads() -> Option<u32> {
    let mut buf = [0u8; 128];
    let text = super::read_small(c"/proc/loadavg", &mut buf)?;
    let field = text.split(|b| b.is_ascii_whitespace()).nth(3)?;
    let running = field.split(|&b| b == b'/').next()?;
    std::str::from_utf8(running).ok()?.parse().ok()
}

fn decide() -> usize {
    // SAFETY: dlsym with NUL-terminated names; the two symbols, where glibc
    // defines them, are constants it sets before any user code runs.
    unsafe {
        let size = libc::dlsym(libc::RTLD_DEFAULT, c"__rseq_size".as_ptr()) as *const u32;
        let offset = libc::dlsym(libc::RTLD_DEFAULT, c"__rseq_offset".as_ptr()) as *const isize;
        if !size.is_null() && !offset.is_null() && *size >= 8 && cfg!(any(target_arch = "x86_64", target_arch = "aarch64"))
        {
            return RSEQ_TAG | (*offset as usize & !RSEQ_TAG);
        }
    }
    let name = if cfg!(target_arch = "aarch64") { "__kernel_getcpu" } else { "__vdso_getcpu" };
    super::vdso::find(name).filter(|&f| f > SYSCALL && f & RSEQ_TAG == 0).unwrap_or(SYSCALL)
}

fn by_syscall() -> u32 {
    let mut cpu = 0u32;
    // SAFETY: getcpu with a valid out-parameter and null for the others.
    let _ = unsafe { sys!(libc::SYS_getcpu, &mut cpu as *mut u32, 0usize, 0usize) };
    cpu
}

/// The thread pointer: where glibc's thread control block starts.
#[inline(always)]
fn thread_pointer() -> *const u8 {
    let tp: *const u8;
    #[cfg(target_arch = "x86_64")]
    // SAFETY: reads the TCB's self pointer at %fs:0 (the x86-64 TLS ABI).
    unsafe {
        std::arch::asm!("mov {}, fs:0", out(reg) tp, options(nostack, readonly, preserves_flags))
    };
    #[cfg(target_arch = "aarch64")]
    // SAFETY: reads the thread pointer register.
    unsafe {
        std::arch::asm!("mrs {}, tpidr_el0", out(reg) tp, options(nostack, nomem, preserves_flags))
    };
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        tp = std::ptr::null();
    }
    tp
}

#[cfg(test)]
mod tests {
    use super::current_cpu;

    /// Pinned to each CPU it may use in turn, the thread is seen on it.
    #[test]
    fn follows_the_thread() {
        // SAFETY: plain libc calls on a local cpu_set_t.
        unsafe {
            let mut allowed: libc::cpu_set_t = std::mem::zeroed();
            assert_eq!(libc::sched_getaffinity(0, std::mem::size_of_val(&allowed), &mut allowed), 0);
            for cpu in (0..libc::CPU_SETSIZE as usize).filter(|&c| libc::CPU_ISSET(c, &allowed)) {
                let mut one: libc::cpu_set_t = std::mem::zeroed();
                libc::CPU_SET(cpu, &mut one);
                assert_eq!(libc::sched_setaffinity(0, std::mem::size_of_val(&one), &one), 0);
                assert_eq!(current_cpu() as usize, cpu);
                assert_eq!(current_cpu() as usize, libc::sched_getcpu() as usize);
            }
            assert_eq!(libc::sched_setaffinity(0, std::mem::size_of_val(&allowed), &allowed), 0);
        }
    }
}
