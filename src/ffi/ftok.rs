//! ftok(3), with glibc's formula.

use super::call;
use libc::{c_char, c_int, key_t};

/// # Safety
/// `pathname` must be NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn ftok(pathname: *const c_char, proj_id: c_int) -> key_t {
    call("ftok", |a| {
        a.c_str(pathname).int(proj_id);
    }, -1, || {
        // SAFETY: the caller's NUL-terminated string, read once checked readable.
        let path = unsafe { crate::user::c_str(pathname) }?;
        // glibc's ftok stats the path with its own internal call, which no
        // preload library sees: so does this one.
        let st = crate::platform::stat_path(path)?;
        Ok(((st.st_ino & 0xffff) | ((st.st_dev & 0xff) << 16) | (((proj_id as u32 & 0xff) as u64) << 24)) as key_t)
    })
}
