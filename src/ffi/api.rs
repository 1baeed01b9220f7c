//! ipcshim's own C API, declared in the generated `include/ipcshim.h`.

use super::call;
use crate::error::Errno;
use libc::{c_char, c_int, size_t};

/// The library version, e.g. "0.1.0" (a static string).
#[no_mangle]
pub extern "C" fn ipcshim_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// Copies the path of the calling process's region file, NUL-terminated,
/// into `buf` of `len` bytes. Returns the path length, or -1 with errno set:
/// ERANGE when `buf` is too small, or the error that keeps the namespace
/// from being used.
///
/// # Safety
/// `buf` must be valid for writes of `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn ipcshim_region_path(buf: *mut c_char, len: size_t) -> c_int {
    call(-1, || {
        let region = crate::region::get()?;
        let path = region.path().as_os_str().as_encoded_bytes();
        if buf.is_null() {
            return Err(Errno::EFAULT);
        }
        if path.len() >= len {
            return Err(Errno(libc::ERANGE));
        }
        // SAFETY: path.len() + 1 <= len bytes, writable per the caller's contract.
        unsafe {
            std::ptr::copy_nonoverlapping(path.as_ptr(), buf.cast::<u8>(), path.len());
            *buf.add(path.len()) = 0;
        }
        Ok(path.len() as c_int)
    })
}
