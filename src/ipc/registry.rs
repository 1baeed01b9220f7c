//! The registry of one System V family: slot allocation, ids, key lookup.
//!
//! Locking: `Registry::lock` serialises creation and removal (and so the
//! key → slot mapping); it is always taken before any object lock, never
//! after one.
//!
//! Ids are allocated exactly as Linux does (ipc/util.c, `ipc_idr_alloc`):
//! the index is the next free one cyclically after the last allocated, in a
//! window of `max(in_use * 3 / 2, 64)` indices, and the sequence number
//! advances whenever the index wraps around. So a fresh namespace hands out
//! the same ids as a fresh kernel IPC namespace, and a removed id is not
//! reused soon.
//!
//! Crash consistency: the registry holds no derived state that a dead owner
//! could leave wrong. `high_water` only grows and is raised before a slot is
//! published, so it always covers every live slot; `cursor`, `last_index`
//! and `seq` may have been advanced by a creator that died, which only skips
//! an index or a sequence number.

use super::{make_id, ObjectHeader, CREATING, FREE, LIVE, SEQ_MAX};
use crate::error::{Errno, Result};
use crate::platform::Credentials;
use crate::region::{Guard, RobustLock};
use std::sync::atomic::{AtomicU32, Ordering};

#[repr(C)]
pub struct Registry {
    pub lock: RobustLock,
    /// Sequence number of new objects (Linux's `ids->seq`).
    seq: AtomicU32,
    /// Where the cyclic index search starts (the idr's `idr_next`).
    cursor: AtomicU32,
    /// The last index allocated, plus one (0: none yet, as Linux's -1).
    last_index_plus_one: AtomicU32,
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

/// Takes the registry lock. If its holder died, any slot it was creating is
/// freed: the creation never happened.
pub fn lock<T: Table + ?Sized>(table: &T) -> Guard<'_> {
    let guard = table.registry().lock.lock();
    if guard.recovered {
        for (_, object) in used_slots(table) {
            if object.state.load(Ordering::Acquire) == CREATING {
                object.state.store(FREE, Ordering::Release);
            }
        }
    }
    guard
}

/// What a family checks and does in msgget/semget/shmget.
pub trait Family {
    /// On a found object, before the permission check (Linux's
    /// `more_checks`, e.g. semget's nsems).
    fn check_existing(&self, _object: &ObjectHeader) -> Result<()> {
        Ok(())
    }
    /// Before a new object is allocated (e.g. semget's nsems, shmget's size).
    fn check_new(&self) -> Result<()> {
        Ok(())
    }
    /// Fills in a new object's family fields while its slot is locked and
    /// CREATING.
    fn init(&self, object: &ObjectHeader) -> Result<()>;
}

/// msgget/semget/shmget: find or create the object for `req.key`.
pub fn get<T: Table + ?Sized>(table: &T, req: &GetRequest, creds: &Credentials, family: &impl Family) -> Result<i32> {
    let _registry = lock(table);
    if req.key != libc::IPC_PRIVATE {
        if let Some(object) = live_objects(table).find(|o| o.perm.key.load(Ordering::Relaxed) == req.key) {
            if req.flags & libc::IPC_CREAT != 0 && req.flags & libc::IPC_EXCL != 0 {
                return Err(Errno::EEXIST);
            }
            family.check_existing(object)?;
            object.perm.check(creds, req.flags)?;
            return Ok(object.id.load(Ordering::Relaxed));
        }
        if req.flags & libc::IPC_CREAT == 0 {
            return Err(Errno::ENOENT);
        }
    }
    family.check_new()?;
    create(table, req, creds, family)
}

fn create<T: Table + ?Sized>(table: &T, req: &GetRequest, creds: &Credentials, family: &impl Family) -> Result<i32> {
    let registry = table.registry();
    if live_objects(table).count() as u32 >= req.limit {
        return Err(Errno::ENOSPC);
    }
    let index = next_index(table)?;
    let object = table.object(index).ok_or(Errno::ENOSPC)?;
    if index < registry.last_index_plus_one.load(Ordering::Relaxed) {
        let seq = registry.seq.load(Ordering::Relaxed) + 1;
        registry.seq.store(if seq >= SEQ_MAX { 0 } else { seq }, Ordering::Relaxed);
    }
    registry.last_index_plus_one.store(index + 1, Ordering::Relaxed);
    registry.cursor.store(index + 1, Ordering::Relaxed);
    let seq = registry.seq.load(Ordering::Relaxed);
    registry.high_water.fetch_max(index + 1, Ordering::AcqRel);
    let id = make_id(seq, index);

    let _guard = object.lock.lock();
    object.id.store(id, Ordering::Relaxed);
    object.state.store(CREATING, Ordering::Release);
    object.perm.init(req.key, req.flags as u32, seq, creds);
    object.ctime.store(crate::platform::now_secs(), Ordering::Relaxed);
    if let Err(e) = family.init(object) {
        object.state.store(FREE, Ordering::Release);
        return Err(e);
    }
    // Publish: everything above becomes visible with the state.
    object.state.store(LIVE, Ordering::Release);
    Ok(id)
}

/// Linux's `idr_alloc_cyclic(0, window)`: the lowest free index at or after
/// the cursor, else the lowest free index from 0.
fn next_index<T: Table + ?Sized>(table: &T) -> Result<u32> {
    let in_use = live_objects(table).count() as u32;
    let window = (in_use * 3 / 2).max(64).min(table.slot_count());
    let cursor = table.registry().cursor.load(Ordering::Relaxed);
    let free = |i: &u32| table.object(*i).is_some_and(|o| o.state.load(Ordering::Acquire) == FREE);
    (cursor..window).find(free).or_else(|| (0..window).find(free)).ok_or(Errno::ENOSPC)
}

/// Marks `object` removed: its id stops resolving at once and its key is
/// free for a new object. The caller holds the registry lock (`_registry`)
/// and the object lock, and wakes the object's waiters.
pub fn remove(_registry: &Guard, object: &ObjectHeader) {
    object.state.store(FREE, Ordering::Release);
}
