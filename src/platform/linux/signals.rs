//! Signals the shim sends or asks about for the program: POSIX queue
//! notifications, and whether an interrupted call restarts.

use super::sys::sys;
use crate::error::Result;

/// Queues signal `signo` to process `pid` with the siginfo fields Linux's
/// mqueue fills in (`rt_sigqueueinfo` lets a sender set them all as long
/// as `si_code` is negative, which SI_MESGQ is).
pub fn queue_mesgq(pid: i32, signo: i32, value: u64, sender_pid: i32, sender_uid: u32) -> Result<()> {
    // The x86_64 / aarch64 siginfo_t for SI_MESGQ (the _rt member):
    // signo, errno, code, then pid, uid, value at offsets 16, 20, 24.
    let mut info = [0u8; 128];
    info[0..4].copy_from_slice(&signo.to_ne_bytes());
    info[8..12].copy_from_slice(&libc::SI_MESGQ.to_ne_bytes());
    info[16..20].copy_from_slice(&sender_pid.to_ne_bytes());
    info[20..24].copy_from_slice(&sender_uid.to_ne_bytes());
    info[24..32].copy_from_slice(&value.to_ne_bytes());
    // SAFETY: `info` is a complete siginfo_t the kernel only reads.
    unsafe { sys!(libc::SYS_rt_sigqueueinfo, pid, signo, info.as_ptr()) }.map(drop)
}

/// Whether a call interrupted by a signal handler restarts, as a call that
/// Linux restarts with SA_RESTART does: when every signal that can reach
/// this thread with a handler installed has SA_RESTART. (Which signal ran
/// is not known afterwards; programs use one kind of handler in practice.)
pub fn handlers_restart() -> bool {
    let mut blocked = 0u64;
    // SAFETY: reads this thread's mask into `blocked` (8 bytes: _NSIG / 8).
    let _ = unsafe { sys!(libc::SYS_rt_sigprocmask, libc::SIG_BLOCK, 0, &mut blocked as *mut u64, 8) };
    (1..=64).filter(|s| *s != libc::SIGKILL && *s != libc::SIGSTOP && blocked & (1 << (s - 1)) == 0).all(|signo| {
        // The kernel's struct sigaction: handler, flags, restorer, mask.
        let mut action = [0u64; 4];
        // SAFETY: a NULL new action only reads the old one into `action`.
        match unsafe { sys!(libc::SYS_rt_sigaction, signo, 0, action.as_mut_ptr(), 8) } {
            Ok(_) => {
                let handler = action[0] as usize;
                handler == libc::SIG_DFL || handler == libc::SIG_IGN || action[1] & libc::SA_RESTART as u64 != 0
            }
            Err(_) => true,
        }
    })
}

/// The real uid (siginfo's si_uid, and whose RLIMIT_MSGQUEUE a queue counts against).
pub fn real_uid() -> u32 {
    // SAFETY: no arguments.
    unsafe { sys!(libc::SYS_getuid) }.map_or(u32::MAX, |v| v as u32)
}

/// The process's umask (read by setting it twice: there is no read-only
/// call but /proc, which may be absent).
pub fn umask() -> u32 {
    // SAFETY: umask takes no pointers.
    let old = unsafe { sys!(libc::SYS_umask, 0o022) }.unwrap_or(0o022);
    // SAFETY: as above; puts the old mask back.
    let _ = unsafe { sys!(libc::SYS_umask, old) };
    old as u32
}

/// The soft limit of resource `resource` (RLIMIT_*), u64::MAX if unlimited.
pub fn soft_limit(resource: u32) -> u64 {
    let mut limit = [0u64; 2];
    // SAFETY: prlimit64 on ourselves with no new limit writes the old one.
    match unsafe { sys!(libc::SYS_prlimit64, 0, resource, 0, limit.as_mut_ptr()) } {
        Ok(_) => limit[0],
        Err(_) => u64::MAX,
    }
}
