//! What the System V families (msg, sem, shm) share: ids, `ipc_perm`,
//! permission checks, and the per-family registry of slots.

mod perm;
pub mod registry;

pub use perm::Perm;
pub use registry::{Registry, Table};

use crate::region::RobustLock;
use std::sync::atomic::{AtomicI32, AtomicI64, AtomicU32, Ordering};

/// Linux's IPCMNI: an id is `seq * IPCMNI + index`.
pub const IPCMNI: u32 = 32768;
const SEQ_SHIFT: u32 = 15;
/// Largest sequence number that keeps the id a positive int (Linux's IPCID_SEQ_MAX).
const SEQ_MAX: u32 = (i32::MAX as u32) >> SEQ_SHIFT;

pub fn make_id(seq: u32, index: u32) -> i32 {
    ((seq << SEQ_SHIFT) + index) as i32
}

pub fn index_of(id: i32) -> u32 {
    id as u32 % IPCMNI
}

/// `ObjectHeader::state` values.
pub const FREE: u32 = 0;
pub const LIVE: u32 = 1;
/// Being filled in by its creator, under the registry lock: its storage is
/// claimed but the id does not resolve yet.
pub const CREATING: u32 = 2;

/// The part of every System V object slot that the registry manages.
///
/// Locking: `lock` protects the whole slot, including the family-specific
/// fields after the header. `state` and `id` are also read without the lock
/// to validate an id quickly; they change only under both the registry lock
/// and this lock.
///
/// Crash consistency: a slot becomes an object by a single Release store of
/// `state = LIVE` after every field is written, and stops being one by a
/// single store of `state = FREE`. A remover that dies before that store
/// leaves the object as it was; a creator that dies leaves the slot
/// CREATING, and whoever takes the registry lock over from it frees the
/// slot (see `registry::lock`), which also abandons the storage it claimed.
#[repr(C)]
pub struct ObjectHeader {
    pub lock: RobustLock,
    pub state: AtomicU32,
    /// The full IPC id of the object in this slot (valid while LIVE).
    pub id: AtomicI32,
    pub perm: Perm,
    /// Last change time (IPC_SET, creation): `msg_ctime`, `sem_ctime`, `shm_ctime`.
    pub ctime: AtomicI64,
}

impl ObjectHeader {
    /// Whether this slot currently holds the object named `id`.
    pub fn holds(&self, id: i32) -> bool {
        self.state.load(Ordering::Acquire) == LIVE && self.id.load(Ordering::Relaxed) == id
    }

    /// IPC_SET's common part, with the object locked: only its owner, its
    /// creator or CAP_SYS_ADMIN (else EPERM), and only ids that map to a
    /// user (-1 does not: EINVAL); then the new owner, mode and ctime.
    pub fn set_perm(&self, new: &libc::ipc_perm) -> crate::error::Result<()> {
        crate::platform::with_credentials(|c| self.perm.check_owner(c))?;
        if new.uid == u32::MAX || new.gid == u32::MAX {
            return Err(crate::error::Errno::EINVAL);
        }
        self.perm.set(new);
        self.ctime.store(crate::platform::now_secs(), Ordering::Relaxed);
        Ok(())
    }

    /// Whether this slot is being made into the object named `id`.
    pub fn creating(&self, id: i32) -> bool {
        self.state.load(Ordering::Acquire) == CREATING && self.id.load(Ordering::Relaxed) == id
    }
}
