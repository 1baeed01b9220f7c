//! The registry of one System V family: slot allocation, ids, key lookup.
//!
//! Locking: `Registry::lock` serialises creation and removal (and so the
//! key → slot mapping); it is always taken before any object lock, never
//! after one.
//!
//! Crash consistency: the registry holds no derived state that a dead owner
//! could leave wrong. `high_water` only grows and is raised before a slot is
//! published, so it always covers every live slot; `next_seq` may have been
//! advanced by a creator that died, which only skips a sequence number.

use super::{make_id, ObjectHeader, FREE, LIVE, SEQ_MAX};
use crate::error::{Errno, Result};
use crate::platform::Credentials;
use crate::region::{Guard, RobustLock};
use std::sync::atomic::{AtomicU32, Ordering};

#[repr(C)]
pub struct Registry {
    pub lock: RobustLock,
    /// Sequence number of the next object created (Linux's `ids->seq`).
    next_seq: AtomicU32,
    /// One past the highest slot index ever used: scans stop here.
    high_water: AtomicU32,
}

/// A family's slot table, as the registry sees it.
pub trait Table {
    fn registry(&self) -> &Registry;
    fn slot_count(&self) -> u32;
    fn object(&self, index: u32) -> Option<&ObjectHeader>;
}

/// What `get` needs from the family besides the table.
pub struct GetRequest {
    pub key: i32,
    pub flags: i32,
    /// The family's current object limit (MSGMNI, SEMMNI, SHMMNI).
    pub limit: u32,
}

/// Object slots that may hold something: `0..high_water`.
fn used_slots<T: Table + ?Sized>(table: &T) -> impl Iterator<Item = (u32, &ObjectHeader)> {
    let end = table.registry().high_water.load(Ordering::Acquire).min(table.slot_count());
    (0..end).filter_map(move |i| table.object(i).map(|o| (i, o)))
}

/// Finds the live object named `id`, without locking. The caller locks it
/// and calls [`ObjectHeader::holds`] again before trusting it.
pub fn lookup<T: Table + ?Sized>(table: &T, id: i32) -> Result<&ObjectHeader> {
    if id < 0 {
        return Err(Errno::EINVAL);
    }
    let object = table.object(super::index_of(id)).ok_or(Errno::EINVAL)?;
    if object.holds(id) {
        Ok(object)
    } else {
        Err(Errno::EINVAL)
    }
}

/// Highest index in use, as IPC_INFO and friends report it.
pub fn max_index<T: Table + ?Sized>(table: &T) -> Option<u32> {
    used_slots(table).filter(|(_, o)| o.state.load(Ordering::Acquire) == LIVE).map(|(i, _)| i).last()
}

pub fn live_objects<T: Table + ?Sized>(table: &T) -> impl Iterator<Item = &ObjectHeader> {
    used_slots(table).map(|(_, o)| o).filter(|o| o.state.load(Ordering::Acquire) == LIVE)
}

/// msgget/semget/shmget: find or create the object for `req.key`.
///
/// `existing` runs on a found object before the permission check (Linux's
/// `more_checks`, e.g. semget's nsems); `init` fills the family fields of a
/// new object while its slot is locked and not yet visible.
pub fn get<T: Table + ?Sized>(
    table: &T,
    req: &GetRequest,
    creds: &Credentials,
    existing: impl FnOnce(&ObjectHeader) -> Result<()>,
    init: impl FnOnce(&ObjectHeader, &Guard) -> Result<()>,
) -> Result<i32> {
    let _registry = table.registry().lock.lock();
    if req.key != libc::IPC_PRIVATE {
        if let Some(object) = live_objects(table).find(|o| o.perm.key.load(Ordering::Relaxed) == req.key) {
            if req.flags & libc::IPC_CREAT != 0 && req.flags & libc::IPC_EXCL != 0 {
                return Err(Errno::EEXIST);
            }
            existing(object)?;
            object.perm.check(creds, req.flags)?;
            return Ok(object.id.load(Ordering::Relaxed));
        }
        if req.flags & libc::IPC_CREAT == 0 {
            return Err(Errno::ENOENT);
        }
    }
    create(table, req, creds, init)
}

fn create<T: Table + ?Sized>(
    table: &T,
    req: &GetRequest,
    creds: &Credentials,
    init: impl FnOnce(&ObjectHeader, &Guard) -> Result<()>,
) -> Result<i32> {
    let registry = table.registry();
    if live_objects(table).count() as u32 >= req.limit {
        return Err(Errno::ENOSPC);
    }
    let index = (0..table.slot_count())
        .find(|&i| table.object(i).is_some_and(|o| o.state.load(Ordering::Acquire) == FREE))
        .ok_or(Errno::ENOSPC)?;
    let object = table.object(index).ok_or(Errno::ENOSPC)?;
    let seq = registry.next_seq.load(Ordering::Relaxed);
    registry.next_seq.store(if seq >= SEQ_MAX { 0 } else { seq + 1 }, Ordering::Relaxed);
    registry.high_water.fetch_max(index + 1, Ordering::AcqRel);
    let id = make_id(seq, index);

    let guard = object.lock.lock();
    object.id.store(id, Ordering::Relaxed);
    object.perm.init(req.key, req.flags as u32, seq, creds);
    object.ctime.store(crate::platform::now_secs(), Ordering::Relaxed);
    init(object, &guard)?;
    // Publish: everything above becomes visible with the state.
    object.state.store(LIVE, Ordering::Release);
    Ok(id)
}

/// Marks `object` removed: its id stops resolving at once and its key is
/// free for a new object. The caller holds the registry lock (`_registry`)
/// and the object lock, and wakes the object's waiters.
pub fn remove(_registry: &Guard, object: &ObjectHeader) {
    object.state.store(FREE, Ordering::Release);
}
