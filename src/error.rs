//! The library's one error type: the errno value a C caller will see.

use std::fmt;

/// An errno value. Every fallible operation returns `Result<T, Errno>`; the
/// [`crate::ffi`] layer is the only place that turns it into `-1` + `errno`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Errno(pub i32);

pub type Result<T> = std::result::Result<T, Errno>;

impl Errno {
    pub const EPERM: Errno = Errno(libc::EPERM);
    pub const ENOENT: Errno = Errno(libc::ENOENT);
    pub const EINTR: Errno = Errno(libc::EINTR);
    pub const EIO: Errno = Errno(libc::EIO);
    pub const EBADF: Errno = Errno(libc::EBADF);
    pub const E2BIG: Errno = Errno(libc::E2BIG);
    pub const EAGAIN: Errno = Errno(libc::EAGAIN);
    pub const ENOMEM: Errno = Errno(libc::ENOMEM);
    pub const EACCES: Errno = Errno(libc::EACCES);
    pub const EFAULT: Errno = Errno(libc::EFAULT);
    pub const EEXIST: Errno = Errno(libc::EEXIST);
    pub const EINVAL: Errno = Errno(libc::EINVAL);
    pub const ENOSPC: Errno = Errno(libc::ENOSPC);
    pub const ENOMSG: Errno = Errno(libc::ENOMSG);
    pub const EIDRM: Errno = Errno(libc::EIDRM);
    pub const ETIMEDOUT: Errno = Errno(libc::ETIMEDOUT);
    pub const ERANGE: Errno = Errno(libc::ERANGE);
    pub const EFBIG: Errno = Errno(libc::EFBIG);
    pub const EBUSY: Errno = Errno(libc::EBUSY);
    pub const EMFILE: Errno = Errno(libc::EMFILE);
    pub const ENAMETOOLONG: Errno = Errno(libc::ENAMETOOLONG);
    pub const EMSGSIZE: Errno = Errno(libc::EMSGSIZE);
}

impl fmt::Debug for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Errno({}: {})", self.0, std::io::Error::from_raw_os_error(self.0))
    }
}
