//! Interposed fork and munmap.
//!
//! A fork child inherits its parent's shm attachments, and Linux counts them
//! in `shm_nattch` before fork returns. pthread_atfork handlers cannot do
//! that (the parent's does not know the child's pid, and the child's runs
//! whenever the child gets scheduled), so fork itself is interposed: the
//! next fork (libc's, or another preload library's wrapper of it) runs,
//! then the parent registers what the child inherited. (A child that
//! detaches first leaves a negative count for the parent's to cancel; see
//! `shm::attach`.)

use super::namespace::{forked, mapped};
use crate::platform;
use libc::pid_t;
use std::sync::atomic::AtomicUsize;

#[no_mangle]
pub extern "C" fn fork() -> pid_t {
    type Real = unsafe extern "C" fn() -> pid_t;
    static REAL: AtomicUsize = AtomicUsize::new(0);
    let Some(real) = platform::next_symbol(c"fork", &REAL) else {
        // Only if libc had no fork, which no libc we load with lacks.
        super::set_errno(libc::EAGAIN);
        return -1;
    };
    crate::process::own_fork(true);
    // SAFETY: the symbol is the next definition of fork, with this signature.
    let pid = unsafe { std::mem::transmute::<usize, Real>(real)() };
    if pid != 0 {
        crate::process::own_fork(false);
    }
    if pid > 0 {
        forked(pid);
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
    static REAL: AtomicUsize = AtomicUsize::new(0);
    let Some(real) = platform::next_symbol(c"munmap", &REAL) else {
        // Only if libc had no munmap, which no libc we load with lacks.
        super::set_errno(libc::EINVAL);
        return -1;
    };
    // SAFETY: the next definition of munmap, called with the caller's arguments.
    let result = unsafe { std::mem::transmute::<usize, Real>(real)(addr, len) };
    if result == 0 {
        super::quietly(|| {
            crate::user::forget(addr as usize, len);
            if let Some(ns) = mapped() {
                crate::shm::unmapped(ns, addr as usize, len);
            }
        });
    }
    result
}
