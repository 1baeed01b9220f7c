//! `run --no-kernel-ipc`: a seccomp filter that makes the kernel's System V
//! IPC and POSIX message queue system calls fail with ENOSYS, as on a
//! kernel built without them, so that a program can only have IPC from
//! the shim (and a test can tell that it does).
//!
//! The shim itself never makes these calls: its region is a mapped file,
//! its waits are futexes, shmat maps the region's pages a second time
//! (mmap), and a POSIX queue descriptor is a descriptor of an ordinary
//! file. The filter is inherited by every child and kept across exec;
//! PR_SET_NO_NEW_PRIVS comes with it (the kernel requires it of a process
//! without CAP_SYS_ADMIN, and it keeps set-id programs from gaining
//! privileges under a filter they do not expect).

use crate::Failure;
use seccompiler::{SeccompAction, SeccompFilter, TargetArch};
use std::collections::BTreeMap;

/// The system calls taken away.
const CALLS: &[libc::c_long] = &[
    libc::SYS_msgget,
    libc::SYS_msgsnd,
    libc::SYS_msgrcv,
    libc::SYS_msgctl,
    libc::SYS_semget,
    libc::SYS_semop,
    libc::SYS_semtimedop,
    libc::SYS_semctl,
    libc::SYS_shmget,
    libc::SYS_shmat,
    libc::SYS_shmdt,
    libc::SYS_shmctl,
    libc::SYS_mq_open,
    libc::SYS_mq_unlink,
    libc::SYS_mq_timedsend,
    libc::SYS_mq_timedreceive,
    libc::SYS_mq_notify,
    libc::SYS_mq_getsetattr,
];

#[cfg(target_arch = "x86_64")]
const ARCH: TargetArch = TargetArch::x86_64;
#[cfg(target_arch = "aarch64")]
const ARCH: TargetArch = TargetArch::aarch64;

/// The numbers to filter: on x86_64 also the x32 ABI's (the same numbers
/// with bit 30 set, under the same audit architecture). Neither
/// architecture has the `ipc` multiplexer; a program of another
/// architecture (32-bit x86) is killed by the filter's architecture check.
fn numbers() -> Vec<i64> {
    let x32 = if cfg!(target_arch = "x86_64") { &[0, 0x4000_0000][..] } else { &[0][..] };
    CALLS.iter().flat_map(|&nr| x32.iter().map(move |bit| nr | bit)).collect()
}

/// Installs the filter on the calling thread (the one about to exec).
pub fn deny_kernel_ipc() -> Result<(), Failure> {
    let fail = |what: &str, e: &dyn std::fmt::Display| Failure::new(format!("--no-kernel-ipc: {what}: {e}"));
    let rules = numbers().into_iter().map(|nr| (nr, Vec::new())).collect::<BTreeMap<_, _>>();
    let filter = SeccompFilter::new(rules, SeccompAction::Allow, SeccompAction::Errno(libc::ENOSYS as u32), ARCH)
        .map_err(|e| fail("cannot build the seccomp filter", &e))?;
    let program: seccompiler::BpfProgram =
        filter.try_into().map_err(|e| fail("cannot compile the seccomp filter", &e))?;
    // SAFETY: prctl(PR_SET_NO_NEW_PRIVS) takes plain integers.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(fail("PR_SET_NO_NEW_PRIVS", &std::io::Error::last_os_error()));
    }
    seccompiler::apply_filter(&program).map_err(|e| fail("cannot install the seccomp filter", &e))
}
