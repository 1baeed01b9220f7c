//! Interposed identity changes, and changes of what the process can open.
//!
//! Permission checks use the credentials in force at call time, but reading
//! them costs system calls, and a send or receive must make none. So they
//! are cached (see `platform::with_credentials`), and every libc function
//! that changes them is interposed here: it calls the next definition
//! (libc's, found with `dlsym(RTLD_NEXT)`, which glibc applies to every
//! thread of the process) and then drops the cache. This holds both under
//! LD_PRELOAD and when a program is linked with `-lipcshim`, since libc
//! comes later in the symbol search order either way.
//!
//! Before any of them runs, the namespace is mapped if it is not yet (see
//! `namespace::map_while_reachable`): the region file is named after the
//! effective uid the program started with and only that uid may open it,
//! so a program that drops privileges (or enters a chroot or another mount
//! namespace, where the directory is not the same) before its first IPC
//! call keeps its namespace, as it would if the namespace were the kernel's.

use crate::platform;
use libc::{c_char, c_int, gid_t, size_t, uid_t};
use std::sync::atomic::AtomicUsize;

macro_rules! interpose {
    ($( $name:ident ( $($arg:ident : $ty:ty),* ); )*) => {$(
        /// # Safety
        /// As the libc function of the same name.
        #[no_mangle]
        pub unsafe extern "C" fn $name($($arg: $ty),*) -> c_int {
            type Real = unsafe extern "C" fn($($ty),*) -> c_int;
            static REAL: AtomicUsize = AtomicUsize::new(0);
            let name = concat!(stringify!($name), "\0");
            let name = std::ffi::CStr::from_bytes_with_nul(name.as_bytes()).expect("NUL-terminated");
            super::namespace::map_while_reachable();
            let result = match platform::next_symbol(name, &REAL) {
                // SAFETY: the next definition of this very function.
                Some(f) => unsafe { std::mem::transmute::<usize, Real>(f)($($arg),*) },
                None => {
                    super::set_errno(libc::EPERM);
                    -1
                }
            };
            // chroot changes no credential, but unshare and setns can (a
            // user namespace): one more reading of them costs little.
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
    setfsuid(uid: uid_t);
    setfsgid(gid: gid_t);
    chroot(path: *const c_char);
    unshare(flags: c_int);
    setns(fd: c_int, nstype: c_int);
}
