//! `struct ipc_perm` as stored in the region, and Linux's permission rules.

use crate::error::{Errno, Result};
use crate::platform::{Credentials, CAP_IPC_OWNER, CAP_SYS_ADMIN};
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering::Relaxed};

/// Locking: the owning object's lock (see [`super::ObjectHeader`]).
#[repr(C)]
pub struct Perm {
    pub key: AtomicI32,
    pub uid: AtomicU32,
    pub gid: AtomicU32,
    pub cuid: AtomicU32,
    pub cgid: AtomicU32,
    /// The nine permission bits plus any family flags (SHM_LOCKED, SHM_DEST).
    pub mode: AtomicU32,
    pub seq: AtomicU32,
}

impl Perm {
    pub fn init(&self, key: i32, mode: u32, seq: u32, creds: &Credentials) {
        self.key.store(key, Relaxed);
        self.uid.store(creds.euid, Relaxed);
        self.cuid.store(creds.euid, Relaxed);
        self.gid.store(creds.egid, Relaxed);
        self.cgid.store(creds.egid, Relaxed);
        self.mode.store(mode & 0o777, Relaxed);
        self.seq.store(seq, Relaxed);
    }

    /// Linux's `ipcperms`: `flag` holds the requested bits in any of the
    /// owner/group/other positions (e.g. 0o222 for write, or a get's mode).
    /// The class is owner if euid is the owner or creator, else group if a
    /// group matches, else other; CAP_IPC_OWNER overrides.
    #[inline]
    pub fn check(&self, creds: &Credentials, flag: i32) -> Result<()> {
        let flag = flag as i16 as i32; // the kernel takes a short
        let requested = (flag >> 6) | (flag >> 3) | flag;
        let mut granted = self.mode.load(Relaxed) as i32;
        if creds.euid == self.cuid.load(Relaxed) || creds.euid == self.uid.load(Relaxed) {
            granted >>= 6;
        } else if creds.in_group(self.cgid.load(Relaxed)) || creds.in_group(self.gid.load(Relaxed)) {
            granted >>= 3;
        }
        if requested & !granted & 0o7 != 0 && !creds.has_cap(CAP_IPC_OWNER) {
            return Err(Errno::EACCES);
        }
        Ok(())
    }

    /// Who may IPC_SET and IPC_RMID: the owner, the creator, or CAP_SYS_ADMIN.
    pub fn check_owner(&self, creds: &Credentials) -> Result<()> {
        if creds.euid == self.cuid.load(Relaxed) || creds.euid == self.uid.load(Relaxed) || creds.has_cap(CAP_SYS_ADMIN)
        {
            Ok(())
        } else {
            Err(Errno::EPERM)
        }
    }

    /// IPC_SET: new owner and permission bits (family flags are kept).
    pub fn set(&self, from: &libc::ipc_perm) {
        self.uid.store(from.uid, Relaxed);
        self.gid.store(from.gid, Relaxed);
        let mode = self.mode.load(Relaxed);
        self.mode.store((mode & !0o777) | (from.mode as u32 & 0o777), Relaxed);
    }

    pub fn to_libc(&self) -> libc::ipc_perm {
        // SAFETY: ipc_perm is plain old data; all-zero is a valid value and
        // fills the padding fields as the kernel does.
        let mut out: libc::ipc_perm = unsafe { std::mem::zeroed() };
        out.__key = self.key.load(Relaxed);
        out.uid = self.uid.load(Relaxed);
        out.gid = self.gid.load(Relaxed);
        out.cuid = self.cuid.load(Relaxed);
        out.cgid = self.cgid.load(Relaxed);
        out.mode = self.mode.load(Relaxed) as _;
        out.__seq = self.seq.load(Relaxed) as _;
        out
    }
}
