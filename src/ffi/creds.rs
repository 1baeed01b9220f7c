//! Interposed identity changes.
//!
//! Permission checks use the credentials in force at call time, but reading
//! them costs system calls, and a send or receive must make none. So they
//! are cached (see `platform::with_credentials`), and every libc function
//! that changes them is interposed here: it calls libc's own (found with
//! `dlsym(RTLD_NEXT)`, which glibc applies to every thread of the process)
//! and then drops the cache. This holds both under LD_PRELOAD and when a
//! program is linked with `-lipcshim`, since libc comes later in the
//! symbol search order either way.

use crate::platform;
use libc::{c_int, gid_t, size_t, uid_t};

macro_rules! interpose {
    ($( $name:ident ( $($arg:ident : $ty:ty),* ); )*) => {$(
        #[no_mangle]
        pub unsafe extern "C" fn $name($($arg: $ty),*) -> c_int {
            type Real = unsafe extern "C" fn($($ty),*) -> c_int;
            static REAL: once_cell::sync::OnceCell<Option<usize>> = once_cell::sync::OnceCell::new();
            let real = REAL.get_or_init(|| {
                platform::next_symbol(&std::ffi::CString::new(stringify!($name)).expect("no NUL")).map(|p| p as usize)
            });
            let result = match real {
                // SAFETY: the symbol is libc's function of this very signature.
                Some(f) => unsafe { std::mem::transmute::<usize, Real>(*f)($($arg),*) },
                None => {
                    super::set_errno(libc::EPERM);
                    -1
                }
            };
            platform::credentials_changed();
            result
        }
    )*};
}

interpose! {
    setuid(uid: uid_t);
    seteuid(uid: uid_t);
    setreuid(ruid: uid_t, euid: uid_t);
    setresuid(ruid: uid_t, euid: uid_t, suid: uid_t);
    setgid(gid: gid_t);
    setegid(gid: gid_t);
    setregid(rgid: gid_t, egid: gid_t);
    setresgid(rgid: gid_t, egid: gid_t, sgid: gid_t);
    setgroups(size: size_t, list: *const gid_t);
}
