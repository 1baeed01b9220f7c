//! Descriptors that belong to the program: ones the shim opens *for* it (a
//! POSIX queue's `mqd_t` is a real descriptor, as on Linux) and asks about
//! later. Unlike [`super::Fd`], nothing here closes a descriptor on drop:
//! the number is the program's to keep, close, dup or pass on.

use super::sys::sys;
use crate::error::{Errno, Result};
use std::ffi::CStr;

/// `openat(AT_FDCWD, path, flags, mode)`, flags taken as given (O_CLOEXEC
/// only if the program asked for it).
pub fn open_for_program(path: &CStr, flags: i32, mode: u32) -> Result<i32> {
    // SAFETY: `path` is NUL-terminated and outlives the call.
    unsafe { sys!(libc::SYS_openat, libc::AT_FDCWD, path.as_ptr(), flags, mode) }.map(|fd| fd as i32)
}

pub fn close(fd: i32) -> Result<()> {
    // SAFETY: closing a descriptor number; the kernel checks it.
    unsafe { sys!(libc::SYS_close, fd) }.map(drop)
}

/// The file position of `fd`'s open description (`lseek(fd, 0, SEEK_CUR)`).
pub fn position(fd: i32) -> Result<u64> {
    // SAFETY: lseek takes no pointers.
    unsafe { sys!(libc::SYS_lseek, fd, 0, libc::SEEK_CUR) }.map(|p| p as u64)
}

pub fn set_position(fd: i32, at: u64) -> Result<()> {
    // SAFETY: lseek takes no pointers.
    unsafe { sys!(libc::SYS_lseek, fd, at, libc::SEEK_SET) }.map(drop)
}

/// The open description's status flags (`F_GETFL`).
pub fn status_flags(fd: i32) -> Result<i32> {
    // SAFETY: fcntl F_GETFL takes no pointers.
    unsafe { sys!(libc::SYS_fcntl, fd, libc::F_GETFL) }.map(|f| f as i32)
}

pub fn set_status_flags(fd: i32, flags: i32) -> Result<()> {
    // SAFETY: fcntl F_SETFL takes no pointers.
    unsafe { sys!(libc::SYS_fcntl, fd, libc::F_SETFL, flags) }.map(drop)
}

/// A shared `flock` on `fd`'s open description, waiting for it.
pub fn lock_shared(fd: i32) -> Result<()> {
    loop {
        // SAFETY: flock takes no pointers.
        match unsafe { sys!(libc::SYS_flock, fd, libc::LOCK_SH) } {
            Err(Errno::EINTR) => continue,
            other => return other.map(drop),
        }
    }
}

/// Whether an exclusive `flock` on `fd` can be had at once (and then has it).
pub fn try_lock_exclusive(fd: i32) -> Result<bool> {
    // SAFETY: flock takes no pointers.
    match unsafe { sys!(libc::SYS_flock, fd, libc::LOCK_EX | libc::LOCK_NB) } {
        Ok(_) => Ok(true),
        Err(e) if e.0 == libc::EWOULDBLOCK => Ok(false),
        Err(e) => Err(e),
    }
}

pub fn set_mode(fd: i32, mode: u32) -> Result<()> {
    // SAFETY: fchmod takes no pointers.
    unsafe { sys!(libc::SYS_fchmod, fd, mode) }.map(drop)
}

pub fn unlink(path: &CStr) -> Result<()> {
    // SAFETY: `path` is NUL-terminated.
    unsafe { sys!(libc::SYS_unlinkat, libc::AT_FDCWD, path.as_ptr(), 0) }.map(drop)
}

/// The file position of descriptor `fd` of process `pid`, from
/// /proc/<pid>/fdinfo (None if the descriptor is closed, or /proc cannot
/// tell).
pub fn position_in(pid: i32, fd: i32) -> Option<Option<u64>> {
    let path = std::ffi::CString::new(format!("/proc/{pid}/fdinfo/{fd}")).ok()?;
    let file = match super::Fd::open(&path, libc::O_RDONLY, 0) {
        Ok(f) => f,
        Err(Errno(libc::ENOENT)) => return Some(None),
        Err(_) => return None,
    };
    let mut buf = [0u8; 512];
    let n = file.read_all(&mut buf).ok()?;
    let text = std::str::from_utf8(&buf[..n]).ok()?;
    let pos = text.lines().find_map(|l| l.strip_prefix("pos:"))?.trim().parse().ok()?;
    Some(Some(pos))
}
