//! The program's environment, read without the C library.

use std::ffi::{c_char, CStr};

extern "C" {
    /// The C library's environment: a null-terminated array of `NAME=value`
    /// strings (or null, after clearenv).
    static environ: *const *const c_char;
}

/// The value of `name` in the environment as it is now. No system call and
/// no allocation, so it can run at load in any program; read without
/// getenv, which another preload library may wrap. The bytes belong to the
/// environment, which the program may change later (setenv, clearenv, or
/// writing over the strings): copy them before returning to the program.
pub fn env_var(name: &str) -> Option<&'static [u8]> {
    let name = name.as_bytes();
    // SAFETY: `environ` is null or a null-terminated array of NUL-terminated
    // strings, which nothing changes while the loader runs constructors or
    // while a program's own call is in the shim (setenv in another thread
    // at the same time is a data race in the program, as with getenv).
    unsafe {
        let mut entry = environ;
        if entry.is_null() {
            return None;
        }
        while !(*entry).is_null() {
            let text = CStr::from_ptr(*entry).to_bytes();
            if let Some(value) = text.strip_prefix(name).and_then(|rest| rest.strip_prefix(b"=")) {
                return Some(value);
            }
            entry = entry.add(1);
        }
    }
    None
}
