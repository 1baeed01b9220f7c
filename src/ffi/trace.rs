//! `IPCSHIM_TRACE=FILE`: one line per IPC call, appended to FILE, in the
//! manner of strace: the pid, the call with its arguments decoded (flags
//! and commands by name, keys in hex, message text quoted), and the result,
//! or `-1` and the errno by name:
//!
//! ```text
//! 4711 msgget(0x5100120a, IPC_CREAT|IPC_EXCL|0600) = 3
//! 4711 msgrcv(3, 0x7ffd5b0c1a40, 64, 2, IPC_NOWAIT) = -1 ENOMSG
//! ```
//!
//! Off unless the variable is set when the library loads; then the only
//! cost of a call is one load of a static flag (`benches/trace.rs` measures
//! it). A library built without the `trace` feature (on by default) ignores
//! the variable and has not even that. On, each line is appended
//! with one `write` to a descriptor opened (O_APPEND) and closed around it:
//! the library keeps no descriptor the program could close or reuse, and
//! the lines of processes and threads that share the file never mix.
//!
//! The arguments are read before the call (an output buffer shows as its
//! address), through the same checked accessors as the call itself, so a
//! bad pointer shows as an address, never a fault.

use crate::platform::{self, Once};
use crate::user;
use std::ffi::CString;
use std::fmt::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

static ON: AtomicBool = AtomicBool::new(false);
static FILE: Once<Option<CString>> = Once::new();

/// Decides from `IPCSHIM_TRACE` at load (a value naming the file).
pub(super) fn enable_from(value: Option<&[u8]>) {
    let path = FILE.get_or_init(|| value.filter(|v| !v.is_empty()).and_then(|v| CString::new(v).ok()));
    ON.store(path.is_some(), Relaxed);
}

/// Whether calls are traced. Without the `trace` feature a constant false,
/// so that `call` compiles to the call alone.
#[inline]
pub(super) fn on() -> bool {
    cfg!(feature = "trace") && ON.load(Relaxed)
}

/// A call's line, from its arguments to its result.
pub(super) struct Line(String);

impl Line {
    pub fn start(name: &str, args: impl FnOnce(&mut Args)) -> Line {
        let mut out = Args { text: String::with_capacity(128), first: true };
        let _ = write!(out.text, "{} {name}(", platform::pid());
        args(&mut out);
        Line(out.text)
    }

    /// Ends the line with the call's result and writes it.
    pub fn finish(mut self, result: &dyn fmt::Display, errno: Option<i32>) {
        let _ = match errno {
            None => writeln!(self.0, ") = {result}"),
            Some(e) => writeln!(self.0, ") = {result} {}", errno_name(e)),
        };
        if let Some(Some(path)) = FILE.get() {
            let _ = platform::append(path, self.0.as_bytes());
        }
    }
}

/// The arguments of a call, written one after the other.
pub(super) struct Args {
    text: String,
    first: bool,
}

impl Args {
    fn next(&mut self) -> &mut String {
        if !std::mem::take(&mut self.first) {
            self.text.push_str(", ");
        }
        &mut self.text
    }

    pub fn int(&mut self, value: impl fmt::Display) -> &mut Self {
        let _ = write!(self.next(), "{value}");
        self
    }

    pub fn ptr<T>(&mut self, p: *const T) -> &mut Self {
        let out = self.next();
        let _ = if p.is_null() { write!(out, "NULL") } else { write!(out, "{p:p}") };
        self
    }

    /// An IPC key: IPC_PRIVATE by name, others in hex.
    pub fn key(&mut self, key: libc::key_t) -> &mut Self {
        let out = self.next();
        let _ = if key == libc::IPC_PRIVATE { write!(out, "IPC_PRIVATE") } else { write!(out, "{:#x}", key as u32) };
        self
    }

    /// Flags by name from `names`, then what is left: in octal when
    /// `mode_bits` (permission bits), else in hex; `0` when nothing is set.
    pub fn flags(&mut self, value: i32, names: &[(i32, &str)], mode_bits: bool) -> &mut Self {
        let out = self.next();
        let mut rest = value;
        let mut parts: Vec<String> = Vec::new();
        for &(bit, name) in names {
            if bit != 0 && rest & bit == bit {
                parts.push(name.into());
                rest &= !bit;
            }
        }
        if rest != 0 || parts.is_empty() {
            parts.push(match (rest, mode_bits) {
                (0, _) => "0".into(),
                (r, true) => format!("0{r:o}"),
                (r, false) => format!("{r:#x}"),
            });
        }
        out.push_str(&parts.join("|"));
        self
    }

    /// A command: its name, or the number.
    pub fn command(&mut self, cmd: i32, names: &[(i32, &str)]) -> &mut Self {
        let out = self.next();
        match names.iter().find(|(value, _)| *value == cmd) {
            Some((_, name)) => out.push_str(name),
            None => {
                let _ = write!(out, "{cmd}");
            }
        }
        self
    }

    /// Bytes at `p` (the caller's), quoted and escaped as strace does, the
    /// first 32 shown.
    pub fn bytes(&mut self, p: *const u8, len: usize) -> &mut Self {
        const SHOWN: usize = 32;
        // SAFETY: a checked read of the caller's memory (EFAULT if bad).
        match unsafe { user::slice(p, len.min(SHOWN)) } {
            Ok(bytes) => {
                let out = self.next();
                quote(out, bytes);
                if len > SHOWN {
                    out.push_str("...");
                }
            }
            Err(_) => {
                self.ptr(p);
            }
        }
        self
    }

    /// A NUL-terminated string of the caller's.
    pub fn c_str(&mut self, p: *const libc::c_char) -> &mut Self {
        // SAFETY: a checked read of the caller's string.
        match unsafe { user::c_str(p) } {
            Ok(s) => quote(self.next(), s.to_bytes()),
            Err(_) => {
                self.ptr(p);
            }
        }
        self
    }

    /// Arguments of their own, between `open` and `close` (a struct's
    /// fields, an array's elements).
    pub fn group(&mut self, open: &str, close: &str, inner: impl FnOnce(&mut Args)) -> &mut Self {
        let mut nested = Args { text: String::new(), first: true };
        inner(&mut nested);
        let out = self.next();
        out.push_str(open);
        out.push_str(&nested.text);
        out.push_str(close);
        self
    }

    /// A `T` of the caller's at `p`, shown by `show` as arguments of its
    /// own between braces; NULL or an address it cannot be read at as such.
    pub fn read<T: Copy>(&mut self, p: *const T, show: impl FnOnce(&mut Args, T)) -> &mut Self {
        if p.is_null() {
            return self.ptr(p);
        }
        // SAFETY: a checked read of the caller's memory (EFAULT if bad).
        match unsafe { user::read(p) } {
            Ok(value) => self.group("{", "}", |inner| show(inner, value)),
            Err(_) => self.ptr(p),
        }
    }
}

fn quote(out: &mut String, bytes: &[u8]) {
    out.push('"');
    for &b in bytes {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out.push('"');
}

/// Flag and command names, as the C headers spell them.
pub(super) mod names {
    use crate::shm;
    pub const GET: &[(i32, &str)] = &[(libc::IPC_CREAT, "IPC_CREAT"), (libc::IPC_EXCL, "IPC_EXCL")];
    pub const SHMGET: &[(i32, &str)] = &[
        (libc::IPC_CREAT, "IPC_CREAT"),
        (libc::IPC_EXCL, "IPC_EXCL"),
        (libc::SHM_HUGETLB, "SHM_HUGETLB"),
        (libc::SHM_NORESERVE, "SHM_NORESERVE"),
    ];
    pub const MSGSND: &[(i32, &str)] = &[(libc::IPC_NOWAIT, "IPC_NOWAIT")];
    pub const MSGRCV: &[(i32, &str)] = &[
        (libc::IPC_NOWAIT, "IPC_NOWAIT"),
        (libc::MSG_NOERROR, "MSG_NOERROR"),
        (libc::MSG_EXCEPT, "MSG_EXCEPT"),
        (crate::msg::MSG_COPY, "MSG_COPY"),
    ];
    pub const SEMOP: &[(i32, &str)] = &[(libc::IPC_NOWAIT, "IPC_NOWAIT"), (libc::SEM_UNDO, "SEM_UNDO")];
    pub const SHMAT: &[(i32, &str)] = &[
        (libc::SHM_RDONLY, "SHM_RDONLY"),
        (libc::SHM_RND, "SHM_RND"),
        (libc::SHM_REMAP, "SHM_REMAP"),
        (libc::SHM_EXEC, "SHM_EXEC"),
    ];
    pub const MQ_OPEN: &[(i32, &str)] = &[
        (libc::O_WRONLY, "O_WRONLY"),
        (libc::O_RDWR, "O_RDWR"),
        (libc::O_CREAT, "O_CREAT"),
        (libc::O_EXCL, "O_EXCL"),
        (libc::O_NONBLOCK, "O_NONBLOCK"),
        (libc::O_CLOEXEC, "O_CLOEXEC"),
    ];
    pub const MSGCTL: &[(i32, &str)] = &[
        (libc::IPC_RMID, "IPC_RMID"),
        (libc::IPC_SET, "IPC_SET"),
        (libc::IPC_STAT, "IPC_STAT"),
        (libc::IPC_INFO, "IPC_INFO"),
        (crate::msg::MSG_STAT, "MSG_STAT"),
        (crate::msg::MSG_INFO, "MSG_INFO"),
        (crate::msg::MSG_STAT_ANY, "MSG_STAT_ANY"),
    ];
    pub const SEMCTL: &[(i32, &str)] = &[
        (libc::IPC_RMID, "IPC_RMID"),
        (libc::IPC_SET, "IPC_SET"),
        (libc::IPC_STAT, "IPC_STAT"),
        (libc::IPC_INFO, "IPC_INFO"),
        (libc::GETPID, "GETPID"),
        (libc::GETVAL, "GETVAL"),
        (libc::GETALL, "GETALL"),
        (libc::GETNCNT, "GETNCNT"),
        (libc::GETZCNT, "GETZCNT"),
        (libc::SETVAL, "SETVAL"),
        (libc::SETALL, "SETALL"),
        (libc::SEM_STAT, "SEM_STAT"),
        (libc::SEM_INFO, "SEM_INFO"),
        (libc::SEM_STAT_ANY, "SEM_STAT_ANY"),
    ];
    pub const SHMCTL: &[(i32, &str)] = &[
        (libc::IPC_RMID, "IPC_RMID"),
        (libc::IPC_SET, "IPC_SET"),
        (libc::IPC_STAT, "IPC_STAT"),
        (libc::IPC_INFO, "IPC_INFO"),
        (shm::SHM_STAT, "SHM_STAT"),
        (shm::SHM_INFO, "SHM_INFO"),
        (shm::SHM_STAT_ANY, "SHM_STAT_ANY"),
        (shm::SHM_LOCK, "SHM_LOCK"),
        (shm::SHM_UNLOCK, "SHM_UNLOCK"),
    ];
}

/// The errno values IPC calls return, by name.
fn errno_name(e: i32) -> String {
    const NAMES: &[(i32, &str)] = &[
        (libc::EPERM, "EPERM"),
        (libc::ENOENT, "ENOENT"),
        (libc::EINTR, "EINTR"),
        (libc::EIO, "EIO"),
        (libc::E2BIG, "E2BIG"),
        (libc::EBADF, "EBADF"),
        (libc::EAGAIN, "EAGAIN"),
        (libc::ENOMEM, "ENOMEM"),
        (libc::EACCES, "EACCES"),
        (libc::EFAULT, "EFAULT"),
        (libc::EBUSY, "EBUSY"),
        (libc::EEXIST, "EEXIST"),
        (libc::ENOTDIR, "ENOTDIR"),
        (libc::EINVAL, "EINVAL"),
        (libc::ENFILE, "ENFILE"),
        (libc::EMFILE, "EMFILE"),
        (libc::EFBIG, "EFBIG"),
        (libc::ENOSPC, "ENOSPC"),
        (libc::ERANGE, "ERANGE"),
        (libc::ENAMETOOLONG, "ENAMETOOLONG"),
        (libc::ENOSYS, "ENOSYS"),
        (libc::ELOOP, "ELOOP"),
        (libc::ENOMSG, "ENOMSG"),
        (libc::EIDRM, "EIDRM"),
        (libc::EOVERFLOW, "EOVERFLOW"),
        (libc::EMSGSIZE, "EMSGSIZE"),
        (libc::ETIMEDOUT, "ETIMEDOUT"),
    ];
    match NAMES.iter().find(|(value, _)| *value == e) {
        Some((_, name)) => (*name).into(),
        None => format!("errno {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(f: impl FnOnce(&mut Args)) -> String {
        let mut a = Args { text: String::new(), first: true };
        f(&mut a);
        a.text
    }

    #[test]
    fn flags_are_named_and_the_rest_shown_in_its_base() {
        assert_eq!(args(|a| { a.flags(libc::IPC_CREAT | libc::IPC_EXCL | 0o600, names::GET, true); }), "IPC_CREAT|IPC_EXCL|0600");
        assert_eq!(args(|a| { a.flags(0, names::MSGRCV, false); }), "0");
        assert_eq!(args(|a| { a.flags(libc::IPC_NOWAIT | 0x1, names::MSGSND, false); }), "IPC_NOWAIT|0x1");
        assert_eq!(args(|a| { a.command(libc::GETALL, names::SEMCTL).command(99, names::SEMCTL); }), "GETALL, 99");
    }

    #[test]
    fn keys_and_text_are_shown_as_strace_shows_them() {
        assert_eq!(args(|a| { a.key(libc::IPC_PRIVATE).key(0x5100120a); }), "IPC_PRIVATE, 0x5100120a");
        let text = b"hi \"there\"\n\x01";
        assert_eq!(args(|a| { a.bytes(text.as_ptr(), text.len()); }), r#""hi \"there\"\n\x01""#);
        let long = [b'a'; 40];
        assert_eq!(args(|a| { a.bytes(long.as_ptr(), long.len()); }), format!("\"{}\"...", "a".repeat(32)));
        assert_eq!(args(|a| { a.bytes(8 as *const u8, 4); }), "0x8");
        assert_eq!(errno_name(libc::ENOMSG), "ENOMSG");
    }
}
