//! The exported C functions. Each one converts C types, calls into the
//! library, and reports failure as `-1` + `errno`; [`call`] is the one place
//! that sets `errno`, and the one panic boundary: no panic unwinds into C.

mod api;
mod creds;
mod ftok;
mod msg;
mod process;
mod sem;
mod shm;

use crate::error::{Errno, Result};
use crate::platform;
use std::panic::{catch_unwind, AssertUnwindSafe};

pub use api::*;

/// Runs `f`, turning an error (or a panic) into `failure` with `errno` set.
fn call<T>(failure: T, f: impl FnOnce() -> Result<T>) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(value)) => value,
        Ok(Err(Errno(e))) => {
            set_errno(e);
            failure
        }
        Err(_) => {
            crate::log::diag(|| "internal error (panic) caught at the C boundary".into());
            set_errno(libc::EIO);
            failure
        }
    }
}

fn set_errno(e: i32) {
    // SAFETY: __errno_location returns the calling thread's errno slot.
    unsafe { *libc::__errno_location() = e };
}

/// Whether `count` `T`s at `p` may be read (and written, if `write`); else
/// EFAULT (see [`crate::user::accessible`]).
fn check_access<T>(p: *const T, count: usize, write: bool) -> Result<()> {
    let bytes = count.checked_mul(std::mem::size_of::<T>()).ok_or(Errno::EFAULT)?;
    if crate::user::accessible(p as usize, bytes.max(1), write) {
        Ok(())
    } else {
        Err(Errno::EFAULT)
    }
}

/// `count` `T`s at `p` that the caller may read, or EFAULT.
fn readable<T>(p: *const T, count: usize) -> Result<*const T> {
    check_access(p, count, false).map(|()| p)
}

/// `count` `T`s at `p` that the caller may write, or EFAULT.
fn writable<T>(p: *mut T, count: usize) -> Result<*mut T> {
    check_access(p, count, true).map(|()| p)
}

/// Runs when the library is loaded. The namespace is mapped now, before the
/// program can change its uid, so that a process that drops privileges keeps
/// the namespace it started with (and children inherit it over fork). When
/// the crate is linked into a Rust test binary instead, nothing is mapped
/// until first use, so tests choose their namespace.
///
/// A process that exec'd from another image with the same pid finds that
/// image's shm attachments still counted: they end here.
extern "C" fn on_load() {
    platform::install_fork_handlers(in_fork_child);
    platform::at_exit(at_exit);
    if !platform::in_main_executable(on_load as *const libc::c_void) {
        // A C program's stderr is its own: a panic (caught at the boundary
        // and reported as EIO) is described only under IPCSHIM_LOG.
        std::panic::set_hook(Box::new(|info| crate::log::diag(|| format!("internal error: {info}"))));
        if let Ok(region) = crate::region::get() {
            crate::shm::after_exec(region);
        }
    }
}

/// A child of a fork that did not go through ours (see `process::fork`)
/// counts the shm attachments it inherited itself.
extern "C" fn in_fork_child() {
    let _ = catch_unwind(|| {
        if !process::take_interposed_fork() {
            if let Some(region) = crate::region::get_if_mapped() {
                crate::shm::after_fork_in_child(region);
            }
        }
    });
}

/// Normal exit: SEM_UNDO adjustments are applied, attachments end.
extern "C" fn at_exit() {
    let _ = catch_unwind(|| {
        if let Some(region) = crate::region::get_if_mapped() {
            crate::sem::apply_at_exit(region);
            crate::shm::at_exit(region);
        }
    });
}

#[used]
#[link_section = ".init_array"]
static ON_LOAD: extern "C" fn() = on_load;
