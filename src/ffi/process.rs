//! Interposed fork and munmap.
//!
//! A fork child inherits its parent's shm attachments, and Linux counts them
//! in `shm_nattch` before fork returns. pthread_atfork handlers cannot do
//! that (the parent's does not know the child's pid, and the child's runs
//! whenever the child gets scheduled), so fork itself is interposed: libc's
//! fork runs, then the parent counts the child's attachments. (A child that
//! detaches first leaves a negative count for the parent's to cancel; see
//! `shm::attach::adjust`.)

use crate::{platform, region, shm};
use libc::pid_t;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set while our fork runs: its child (which inherits the flag with the
/// rest of memory) leaves the counting to the parent. libc's internal forks
/// (daemon(), ...) do not set it, and their children count for themselves.
static INTERPOSED_FORK: AtomicBool = AtomicBool::new(false);

/// In a fork child: whether the fork was ours (and clears the flag).
pub(super) fn take_interposed_fork() -> bool {
    INTERPOSED_FORK.swap(false, Ordering::Relaxed)
}

#[no_mangle]
pub extern "C" fn fork() -> pid_t {
    type Real = unsafe extern "C" fn() -> pid_t;
    static REAL: once_cell::sync::OnceCell<Option<usize>> = once_cell::sync::OnceCell::new();
    let real = REAL.get_or_init(|| platform::next_symbol(c"fork").map(|p| p as usize));
    INTERPOSED_FORK.store(true, Ordering::Relaxed);
    let pid = match real {
        // SAFETY: the symbol is libc's fork.
        Some(f) => unsafe { std::mem::transmute::<usize, Real>(*f)() },
        None => {
            // Only if libc had no fork, which no libc we load with lacks.
            super::set_errno(libc::EAGAIN);
            -1
        }
    };
    if pid != 0 {
        INTERPOSED_FORK.store(false, Ordering::Relaxed);
    }
    if pid > 0 {
        let _ = std::panic::catch_unwind(|| {
            if let Some(region) = region::get_if_mapped() {
                shm::after_fork_in_parent(region, pid);
            }
        });
    }
    pid
}

/// A program may end an attachment with munmap instead of shmdt (Linux then
/// drops it from `shm_nattch`, as the mapping closes).
///
/// # Safety
/// As munmap(2).
#[no_mangle]
pub unsafe extern "C" fn munmap(addr: *mut libc::c_void, len: libc::size_t) -> libc::c_int {
    type Real = unsafe extern "C" fn(*mut libc::c_void, libc::size_t) -> libc::c_int;
    static REAL: once_cell::sync::OnceCell<Option<usize>> = once_cell::sync::OnceCell::new();
    let real = REAL.get_or_init(|| platform::next_symbol(c"munmap").map(|p| p as usize));
    let result = match real {
        // SAFETY: the symbol is libc's munmap, called with the caller's arguments.
        Some(f) => unsafe { std::mem::transmute::<usize, Real>(*f)(addr, len) },
        None => {
            // Only if libc had no munmap, which no libc we load with lacks.
            super::set_errno(libc::EINVAL);
            -1
        }
    };
    if result == 0 {
        let _ = std::panic::catch_unwind(|| {
            if let Some(region) = region::get_if_mapped() {
                shm::unmapped(region, addr as usize, len);
            }
        });
    }
    result
}
