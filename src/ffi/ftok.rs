//! ftok(3), with glibc's formula.

use super::call;
use crate::error::Errno;
use libc::{c_char, c_int, key_t};

/// # Safety
/// `pathname` must be NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn ftok(pathname: *const c_char, proj_id: c_int) -> key_t {
    call(-1, || {
        if pathname.is_null() {
            return Err(Errno::EFAULT);
        }
        // SAFETY: stat reads the NUL-terminated path; `st` is an out-parameter.
        let mut st: libc::stat64 = unsafe { std::mem::zeroed() };
        if unsafe { libc::stat64(pathname, &mut st) } != 0 {
            return Err(Errno::last());
        }
        Ok(((st.st_ino & 0xffff) | ((st.st_dev & 0xff) << 16) | (((proj_id as u32 & 0xff) as u64) << 24)) as key_t)
    })
}
