//! Files, through raw system calls only (see [`super::sys`]).
//!
//! Descriptors opened here are the shim's only for as long as one call
//! needs them: the program may close or reuse any descriptor number at any
//! time (daemons close them all), so nothing keeps one past its use.

use super::sys::sys;
use crate::error::{Errno, Result};
use std::ffi::CStr;

/// A descriptor the shim opened, closed on drop.
pub struct Fd(i32);

impl Fd {
    /// `openat(AT_FDCWD, path, flags | O_CLOEXEC, mode)`.
    pub fn open(path: &CStr, flags: i32, mode: u32) -> Result<Fd> {
        // SAFETY: `path` is NUL-terminated and outlives the call.
        let fd = unsafe { sys!(libc::SYS_openat, libc::AT_FDCWD, path.as_ptr(), flags | libc::O_CLOEXEC, mode) }?;
        Ok(Fd(fd as i32))
    }

    pub fn raw(&self) -> i32 {
        self.0
    }

    pub fn stat(&self) -> Result<libc::stat> {
        // SAFETY: all-zero is a valid `stat`; fstat writes exactly one.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: `st` is a valid out-parameter for the call.
        unsafe { sys!(libc::SYS_fstat, self.0, &mut st as *mut libc::stat) }?;
        Ok(st)
    }

    /// An exclusive `flock`, waiting for it (EINTR retried).
    pub fn lock_exclusive(&self) -> Result<()> {
        loop {
            // SAFETY: flock on a descriptor we own.
            match unsafe { sys!(libc::SYS_flock, self.0, libc::LOCK_EX) } {
                Err(Errno::EINTR) => continue,
                other => return other.map(drop),
            }
        }
    }

    pub fn unlock(&self) {
        // SAFETY: flock on a descriptor we own.
        let _ = unsafe { sys!(libc::SYS_flock, self.0, libc::LOCK_UN) };
    }

    pub fn set_len(&self, len: u64) -> Result<()> {
        // SAFETY: ftruncate on a descriptor we own.
        unsafe { sys!(libc::SYS_ftruncate, self.0, len) }.map(drop)
    }

    /// Gives the file real pages behind `[offset, offset + len)`, so that a
    /// store through a mapping cannot SIGBUS on a full file system later.
    pub fn allocate(&self, offset: u64, len: u64) -> Result<()> {
        // SAFETY: fallocate (mode 0) on a descriptor we own.
        match unsafe { sys!(libc::SYS_fallocate, self.0, 0, offset, len) } {
            Ok(_) => Ok(()),
            Err(e) if e.0 == libc::EFBIG => Err(Errno::ENOSPC),
            Err(e) => Err(e),
        }
    }

    /// Reads up to `buf.len()` bytes at `offset`; how many were read.
    pub fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<usize> {
        // SAFETY: `buf` is valid for writes of its length.
        unsafe { sys!(libc::SYS_pread64, self.0, buf.as_mut_ptr(), buf.len(), offset) }
    }

    /// Reads until `buf` is full or the file ends; how many were read.
    pub fn read_all(&self, buf: &mut [u8]) -> Result<usize> {
        let mut done = 0;
        while done < buf.len() {
            match self.read_some(&mut buf[done..])? {
                0 => break,
                n => done += n,
            }
        }
        Ok(done)
    }

    /// One read(2) into `buf` (again if a signal interrupts it): the bytes read.
    pub fn read_some(&self, buf: &mut [u8]) -> Result<usize> {
        loop {
            // SAFETY: `buf` is valid for writes of its length.
            match unsafe { sys!(libc::SYS_read, self.0, buf.as_mut_ptr(), buf.len()) } {
                Err(Errno::EINTR) => continue,
                other => return other,
            }
        }
    }
}

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: closing the descriptor this value opened and still owns.
        let _ = unsafe { sys!(libc::SYS_close, self.0) };
    }
}

/// stat(2) of a path (following symbolic links).
pub fn stat_path(path: &CStr) -> Result<libc::stat> {
    // SAFETY: all-zero is a valid `stat`.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is NUL-terminated; `st` is a valid out-parameter.
    unsafe { sys!(libc::SYS_newfstatat, libc::AT_FDCWD, path.as_ptr(), &mut st as *mut libc::stat, 0) }?;
    Ok(st)
}

/// Reads a small file (under /proc or /proc/sys) into `buf`; the bytes read.
pub fn read_small<'b>(path: &CStr, buf: &'b mut [u8]) -> Option<&'b [u8]> {
    let fd = Fd::open(path, libc::O_RDONLY, 0).ok()?;
    let n = fd.read_all(buf).ok()?;
    Some(&buf[..n])
}

/// A kernel IPC limit from /proc/sys/kernel, where the platform has it.
pub fn kernel_limit(name: &str) -> Option<u64> {
    kernel_limits(name).and_then(|v| v.first().copied())
}

/// A multi-valued limit file (e.g. `sem`: SEMMSL SEMMNS SEMOPM SEMMNI).
pub fn kernel_limits(name: &str) -> Option<Vec<u64>> {
    sysctl_values(&format!("/proc/sys/kernel/{name}"))
}

/// The numbers in a /proc/sys file.
pub fn sysctl_values(path: &str) -> Option<Vec<u64>> {
    let path = std::ffi::CString::new(path).ok()?;
    let fd = Fd::open(&path, libc::O_RDONLY, 0).ok()?;
    let mut buf = [0u8; 256];
    // A /proc/sys file gives its whole line to one read that has room for
    // it: a line read whole needs no second read to find the end (these
    // are read at every msgget and mq_open).
    let len = match fd.read_some(&mut buf).ok()? {
        n if n < buf.len() && buf[..n].ends_with(b"\n") => n,
        n => n + fd.read_all(&mut buf[n..]).ok()?,
    };
    let text = std::str::from_utf8(&buf[..len]).ok()?;
    text.split_ascii_whitespace().map(|v| v.parse().ok()).collect()
}

/// Appends `data` to the file at `path` (created 0644 if missing) with one
/// write, which O_APPEND places at the end whoever else appends.
pub fn append(path: &CStr, data: &[u8]) -> Result<()> {
    let fd = Fd::open(path, libc::O_WRONLY | libc::O_APPEND | libc::O_CREAT | libc::O_NOCTTY, 0o644)?;
    // SAFETY: writing an owned buffer to our own descriptor.
    unsafe { sys!(libc::SYS_write, fd.raw(), data.as_ptr(), data.len()) }.map(|_| ())
}

/// Writes one line to stderr (fd 2, whatever it is now) in one system call.
pub fn log_line(line: &str) {
    let mut buf = Vec::with_capacity(line.len() + 10);
    buf.extend_from_slice(b"ipcshim: ");
    buf.extend_from_slice(line.as_bytes());
    buf.push(b'\n');
    // SAFETY: writing an owned buffer.
    let _ = unsafe { sys!(libc::SYS_write, 2, buf.as_ptr(), buf.len()) };
}
