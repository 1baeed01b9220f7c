//! What the System V families (msg, sem, shm) share: ids, `ipc_perm`,
//! permission checks, and the registry of each family's table.

mod perm;
pub mod registry;

pub use perm::Perm;
pub use registry::Registry;

use crate::region::{Owner, RobustLock, Shared, Slot, Table};
use std::sync::atomic::{AtomicI64, Ordering};

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

/// `ObjectHeader::slot.state` values (besides `region::FREE`).
pub const LIVE: u32 = 1;
/// Being filled in by its creator, under the registry lock: its storage is
/// claimed but the id does not resolve yet.
pub const CREATING: u32 = 2;

/// The part of every System V object slot that the registry manages.
///
/// Locking: `lock` protects the whole slot, including the family-specific
/// fields after the header. `slot` is also read without the lock to
/// validate an id quickly; it changes only under both the registry lock
/// and this lock.
///
/// Crash consistency: a slot becomes an object by a single Release store of
/// `state = LIVE` after every field is written, and stops being one by a
/// single store of `state = FREE`: the commit point of a removal. A remover
/// that dies before that store leaves the object as it was; one that dies
/// after it leaves storage owned by an object that no longer exists (free
/// for the taking, see `region::chunks`) and sleepers that find the object
/// gone at their next look (see `wait`). A creator that dies leaves the
/// slot CREATING, and whoever takes the registry lock over from it frees
/// the slot (see `registry::lock`), which also abandons its storage.
#[repr(C)]
pub struct ObjectHeader {
    /// State, and the object's id as the slot's generation.
    pub slot: Slot,
    pub lock: RobustLock,
    pub perm: Perm,
    /// Last change time (IPC_SET, creation): `msg_ctime`, `sem_ctime`, `shm_ctime`.
    pub ctime: AtomicI64,
}

impl ObjectHeader {
    pub fn id(&self) -> i32 {
        self.slot.generation.load(Ordering::Relaxed) as i32
    }

    /// Whether this slot currently holds the object named `id`.
    pub fn holds(&self, id: i32) -> bool {
        self.slot.state.load(Ordering::Acquire) == LIVE && self.id() == id
    }

    /// Whether this slot holds a live object (whichever).
    pub fn live(&self) -> bool {
        self.slot.state.load(Ordering::Acquire) == LIVE
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
}

/// A System V object slot: an [`ObjectHeader`] first, family fields after.
///
/// # Safety
/// Implementors must be `#[repr(C)]` with the header as their first field.
pub unsafe trait Object: Shared {
    fn header(&self) -> &ObjectHeader;
}

/// A System V family's table: the registry, then the object slots.
pub type Objects<'r, T> = Table<'r, Registry, T>;

/// The [`Owner`] naming object `id` of `table` (for its chunks and waits).
pub fn owner_of<T: Object>(table: &Objects<'_, T>, id: i32) -> Owner {
    table.owner(index_of(id), id as u32)
}
