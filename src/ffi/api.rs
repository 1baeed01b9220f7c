//! ipcshim's own C API, declared in the generated `include/ipcshim.h`.

use super::{call, namespace};
use crate::error::Errno;
use crate::user::OutBuf;
use libc::{c_char, c_int, size_t};

/// The library version, e.g. "0.1.0" (a static string).
#[no_mangle]
pub extern "C" fn ipcshim_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// Copies the path of the calling process's region file, NUL-terminated,
/// into `buf` of `len` bytes. Returns the path length, or -1 with errno set:
/// ERANGE when `buf` is too small, EFAULT when it cannot be written, or the
/// error that keeps the namespace from being used.
///
/// # Safety
/// `buf` must be valid for writes of `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn ipcshim_region_path(buf: *mut c_char, len: size_t) -> c_int {
    call("ipcshim_region_path", |a| {
        a.ptr(buf).int(len);
    }, -1, || {
        let ns = namespace()?;
        let path = ns.path().as_os_str().as_encoded_bytes();
        if buf.is_null() {
            return Err(Errno::EFAULT);
        }
        if path.len() >= len {
            return Err(Errno(libc::ERANGE));
        }
        let mut out = OutBuf::new(buf.cast(), len);
        out.write_at(0, path)?;
        out.write_at(path.len(), &[0])?;
        Ok(path.len() as c_int)
    })
}

/// Releases now what processes that ended without exiting (SIGKILL,
/// `_exit`) still hold in the calling process's namespace: their SEM_UNDO
/// adjustments are applied, their attachments and waits end. The shim does
/// this by itself whenever it matters (a call that would block or run out
/// of room, a sleeper's periodic look); tools call it to see a namespace
/// as Linux would show it. Returns how many processes were reaped, or -1
/// with errno set.
#[no_mangle]
pub extern "C" fn ipcshim_reap() -> c_int {
    call("ipcshim_reap", |_| {}, -1, || Ok(namespace()?.reap_dead(crate::process::Look::Thorough, true) as c_int))
}
