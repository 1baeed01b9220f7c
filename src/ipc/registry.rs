//! The registry of one System V family: slot allocation, ids, key lookup.
//! It is the prefix of the family's table.
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
//! reused soon. The registry counts the objects in use, so neither the
//! window nor the limit check scans the table. Keys are found through an
//! index after the registry in the table's prefix (open addressing, linear
//! probing: each entry names a slot, or is empty, or a tombstone left by a
//! removal), so msgget/semget/shmget of a key does not scan the table
//! either; an entry is only a pointer, trusted after the slot it names is
//! seen live with that key.
//!
//! Crash consistency: `high_water` only grows and is raised before a slot is
//! published, so it always covers every live slot; `cursor`, `last_index`
//! and `seq` may have been advanced by a creator that died, which only skips
//! an index or a sequence number. `in_use` is derived: whoever takes the
//! registry lock over from a dead holder recounts it; `units` likewise, when
//! next needed. The key index is derived too: it changes only under the
//! registry lock (an entry is added before the object is published, made a
//! tombstone after the object is removed, and the whole index is rebuilt
//! from the live slots when tombstones fill it), and whoever takes the lock
//! over from a dead holder rebuilds it, so a holder that died halfway
//! through any of that leaves nothing wrong behind.

use super::{make_id, Object, ObjectHeader, Objects, CREATING, LIVE, SEQ_MAX};
use crate::error::{Errno, Result};
use crate::platform::Credentials;
use crate::region::{Guard, RobustLock, Shared, FREE};
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
    /// Live objects. Derived (recounted on recovery).
    in_use: AtomicU32,
    /// What the live objects hold of the family's other limit (semaphores,
    /// for SEMMNS). Derived: UNKNOWN once a holder of the registry lock
    /// died, until [`units_in_use`] recounts it.
    units: AtomicU32,
    /// Key index entries that are not empty (live ones and tombstones).
    /// Derived.
    index_used: AtomicU32,
    _reserved: AtomicU32,
}

/// Key index entries: the slot's index + 1, or these.
const EMPTY: u32 = 0;
const TOMBSTONE: u32 = u32::MAX;

/// Entries in the key index: twice as many as a table can have slots (so
/// probes stay short), whatever its limit was when the namespace was made.
const INDEX_CAPACITY: u32 = 2 * super::IPCMNI;
const _: () = assert!(INDEX_CAPACITY.is_power_of_two());

/// The prefix of a System V family's table: the registry, then its key
/// index.
pub const PREFIX_BYTES: u32 = (std::mem::size_of::<Registry>() as u32 + INDEX_CAPACITY * 4).next_multiple_of(8);

/// `Registry::units` when it must be recounted.
const UNKNOWN: u32 = u32::MAX;

// SAFETY: repr(C), atomics only.
unsafe impl Shared for Registry {}

/// Object slots that may hold something: `0..high_water`.
fn used_slots<'r, T: Object>(table: &Objects<'r, T>) -> impl Iterator<Item = (u32, &'r T)> + 'r {
    let table = *table;
    let end = table.prefix().high_water.load(Ordering::Acquire).min(table.len());
    (0..end).filter_map(move |i| table.get(i).map(|o| (i, o)))
}

/// Finds the live object named `id`, without locking. The caller locks it
/// and calls [`ObjectHeader::holds`] again before trusting it.
pub fn lookup<'r, T: Object>(table: &Objects<'r, T>, id: i32) -> Result<&'r T> {
    if id < 0 {
        return Err(Errno::EINVAL);
    }
    let object = table.get(super::index_of(id)).ok_or(Errno::EINVAL)?;
    if object.header().holds(id) {
        Ok(object)
    } else {
        Err(Errno::EINVAL)
    }
}

/// The live object at `index` (the *_STAT commands take an index).
pub fn at_index<'r, T: Object>(table: &Objects<'r, T>, index: i32) -> Result<&'r T> {
    let object = table.get(super::index_of(index)).ok_or(Errno::EINVAL)?;
    if object.header().live() {
        Ok(object)
    } else {
        Err(Errno::EINVAL)
    }
}

/// Highest index in use, as IPC_INFO and friends report it.
pub fn max_index<T: Object>(table: &Objects<'_, T>) -> Option<u32> {
    used_slots(table).filter(|(_, o)| o.header().live()).map(|(i, _)| i).last()
}

pub fn live_objects<'r, T: Object>(table: &Objects<'r, T>) -> impl Iterator<Item = &'r T> + 'r {
    used_slots(table).map(|(_, o)| o).filter(|o| o.header().live())
}

/// Takes the registry lock. If its holder died, any slot it was creating is
/// freed (the creation never happened) and the count of live objects is
/// made right.
pub fn lock<'r, T: Object>(table: &Objects<'r, T>) -> Guard<'r> {
    let registry = table.prefix();
    let guard = registry.lock.lock();
    if guard.recovered {
        let mut live = 0;
        for (_, object) in used_slots(table) {
            let slot = &object.header().slot;
            match slot.state.load(Ordering::Acquire) {
                CREATING => slot.state.store(FREE, Ordering::Release),
                LIVE => live += 1,
                _ => {}
            }
        }
        registry.in_use.store(live, Ordering::Relaxed);
        registry.units.store(UNKNOWN, Ordering::Relaxed);
        KeyIndex::of(table).rebuild();
    }
    guard
}

/// The key index of a locked registry.
struct KeyIndex<'t, 'r, T> {
    table: &'t Objects<'r, T>,
}

impl<'t, 'r, T: Object> KeyIndex<'t, 'r, T> {
    fn of(table: &'t Objects<'r, T>) -> Self {
        KeyIndex { table }
    }

    fn entry(&self, i: u32) -> Option<&'r AtomicU32> {
        self.table.prefix_item(i as u64)
    }

    /// Entry positions in probe order for `key`.
    fn probe(&self, key: i32) -> impl Iterator<Item = u32> {
        let mask = INDEX_CAPACITY - 1;
        let start = ((key as u32).wrapping_mul(0x9e37_79b9) >> 16 ^ key as u32).wrapping_mul(0x85eb_ca6b) & mask;
        (0..INDEX_CAPACITY).map(move |n| (start + n) & mask)
    }

    /// The live object holding `key`.
    fn find(&self, key: i32) -> Option<&'r T> {
        for i in self.probe(key) {
            match self.entry(i)?.load(Ordering::Relaxed) {
                EMPTY => return None,
                TOMBSTONE => {}
                named => {
                    let object = self.table.get(named - 1);
                    if let Some(o) =
                        object.filter(|o| o.header().live() && o.header().perm.key.load(Ordering::Relaxed) == key)
                    {
                        return Some(o);
                    }
                }
            }
        }
        None
    }

    /// Adds slot `index`, which is to hold `key`; rebuilds the index first
    /// if tombstones would leave it too full.
    fn insert(&self, key: i32, index: u32) {
        let used = &self.table.prefix().index_used;
        if used.load(Ordering::Relaxed) >= INDEX_CAPACITY / 4 * 3 {
            self.rebuild();
        }
        for i in self.probe(key) {
            let Some(entry) = self.entry(i) else { return };
            match entry.load(Ordering::Relaxed) {
                EMPTY => {
                    used.fetch_add(1, Ordering::Relaxed);
                    entry.store(index + 1, Ordering::Relaxed);
                    return;
                }
                TOMBSTONE => {
                    entry.store(index + 1, Ordering::Relaxed);
                    return;
                }
                _ => {}
            }
        }
    }

    /// Slot `index` no longer holds `key`.
    fn remove(&self, key: i32, index: u32) {
        for i in self.probe(key) {
            let Some(entry) = self.entry(i) else { return };
            match entry.load(Ordering::Relaxed) {
                EMPTY => return,
                named if named == index + 1 => entry.store(TOMBSTONE, Ordering::Relaxed),
                _ => {}
            }
        }
    }

    /// Empties the index and adds every live object that has a key.
    fn rebuild(&self) {
        for i in 0..INDEX_CAPACITY {
            if let Some(entry) = self.entry(i) {
                entry.store(EMPTY, Ordering::Relaxed);
            }
        }
        self.table.prefix().index_used.store(0, Ordering::Relaxed);
        for (index, object) in used_slots(self.table) {
            let key = object.header().perm.key.load(Ordering::Relaxed);
            if object.header().live() && key != libc::IPC_PRIVATE {
                self.insert(key, index);
            }
        }
    }
}

/// What a family checks and does in msgget/semget/shmget.
pub trait Family<T> {
    /// On a found object, before the permission check (Linux's
    /// `more_checks`, e.g. semget's nsems).
    fn check_existing(&self, _object: &T) -> Result<()> {
        Ok(())
    }
    /// Before a new object is allocated (e.g. semget's nsems, shmget's size).
    fn check_new(&self) -> Result<()> {
        Ok(())
    }
    /// Fills in a new object's family fields while its slot is locked and
    /// CREATING; `id` is its id to be.
    fn init(&self, object: &T, id: i32) -> Result<()>;
}

/// What `get` needs from the family besides the table.
pub struct GetRequest {
    pub key: i32,
    pub flags: i32,
    /// The family's current object limit (MSGMNI, SEMMNI, SHMMNI).
    pub limit: u32,
    /// What a new object would hold of the family's other limit (see
    /// [`units_in_use`]; 0 for families without one).
    pub units: u32,
}

/// What the live objects hold of the family's other limit, with the
/// registry locked: kept up to date by creation and removal, recounted
/// with `units_of` (once) after a holder of the lock died.
pub fn units_in_use<T: Object>(table: &Objects<'_, T>, units_of: impl Fn(&T) -> u32) -> u32 {
    let units = &table.prefix().units;
    match units.load(Ordering::Relaxed) {
        UNKNOWN => {
            let total = live_objects(table).map(|o| units_of(o) as u64).sum::<u64>().min(UNKNOWN as u64 - 1) as u32;
            units.store(total, Ordering::Relaxed);
            total
        }
        known => known,
    }
}

/// Adds `delta` to the units in use, unless they are to be recounted.
fn add_units<T: Object>(table: &Objects<'_, T>, delta: i64) {
    let _ = table.prefix().units.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
        (n != UNKNOWN).then(|| (n as i64 + delta).clamp(0, UNKNOWN as i64 - 1) as u32)
    });
}

/// msgget/semget/shmget: find or create the object for `req.key`.
pub fn get<T: Object>(
    table: &Objects<'_, T>,
    req: &GetRequest,
    creds: &Credentials,
    family: &impl Family<T>,
) -> Result<i32> {
    let _registry = lock(table);
    if req.key != libc::IPC_PRIVATE {
        if let Some(object) = KeyIndex::of(table).find(req.key) {
            if req.flags & libc::IPC_CREAT != 0 && req.flags & libc::IPC_EXCL != 0 {
                return Err(Errno::EEXIST);
            }
            family.check_existing(object)?;
            object.header().perm.check(creds, req.flags)?;
            return Ok(object.header().id());
        }
        if req.flags & libc::IPC_CREAT == 0 {
            return Err(Errno::ENOENT);
        }
    }
    family.check_new()?;
    create(table, req, creds, family)
}

fn create<T: Object>(
    table: &Objects<'_, T>,
    req: &GetRequest,
    creds: &Credentials,
    family: &impl Family<T>,
) -> Result<i32> {
    let registry = table.prefix();
    let in_use = registry.in_use.load(Ordering::Relaxed);
    if in_use >= req.limit {
        return Err(Errno::ENOSPC);
    }
    let window = (in_use * 3 / 2).max(64).min(table.len());
    let free = |i: u32| table.get(i).is_some_and(|o| o.header().slot.state.load(Ordering::Acquire) == FREE);
    let cursor = registry.cursor.load(Ordering::Relaxed);
    let index = next_index(cursor, window, free).ok_or(Errno::ENOSPC)?;
    let object = table.get(index).ok_or(Errno::ENOSPC)?;
    if index < registry.last_index_plus_one.load(Ordering::Relaxed) {
        let seq = registry.seq.load(Ordering::Relaxed) + 1;
        registry.seq.store(if seq >= SEQ_MAX { 0 } else { seq }, Ordering::Relaxed);
    }
    registry.last_index_plus_one.store(index + 1, Ordering::Relaxed);
    registry.cursor.store(index + 1, Ordering::Relaxed);
    let seq = registry.seq.load(Ordering::Relaxed);
    registry.high_water.fetch_max(index + 1, Ordering::AcqRel);
    let id = make_id(seq, index);

    let header: &ObjectHeader = object.header();
    let _guard = header.lock.lock();
    header.slot.generation.store(id as u32, Ordering::Relaxed);
    header.slot.state.store(CREATING, Ordering::Release);
    header.perm.init(req.key, req.flags as u32, seq, creds);
    header.ctime.store(crate::platform::now_secs(), Ordering::Relaxed);
    if let Err(e) = family.init(object, id) {
        header.slot.state.store(FREE, Ordering::Release);
        return Err(e);
    }
    if req.key != libc::IPC_PRIVATE {
        KeyIndex::of(table).insert(req.key, index);
    }
    // Publish: everything above becomes visible with the state.
    header.slot.state.store(LIVE, Ordering::Release);
    registry.in_use.fetch_add(1, Ordering::Relaxed);
    add_units(table, req.units as i64);
    Ok(id)
}

/// Linux's `idr_alloc_cyclic(0, window)`: the lowest free index at or after
/// the cursor, else the lowest free index from 0.
fn next_index(cursor: u32, window: u32, free: impl Fn(u32) -> bool) -> Option<u32> {
    (cursor..window).find(|&i| free(i)).or_else(|| (0..window).find(|&i| free(i)))
}

/// Marks `object` (holding `units`, see [`units_in_use`]) removed: its id
/// stops resolving at once and its key is free for a new object. The
/// commit point of every removal. The caller holds the registry lock
/// (`_registry`) and the object lock.
pub fn remove<T: Object>(table: &Objects<'_, T>, _registry: &Guard, object: &T, units: u32) {
    object.header().slot.state.store(FREE, Ordering::Release);
    let key = object.header().perm.key.load(Ordering::Relaxed);
    if key != libc::IPC_PRIVATE {
        KeyIndex::of(table).remove(key, crate::ipc::index_of(object.header().id()));
    }
    let in_use = &table.prefix().in_use;
    let _ = in_use.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    add_units(table, -(units as i64));
}

#[cfg(test)]
mod tests {
    use super::next_index;

    #[test]
    fn the_next_index_is_the_first_free_one_after_the_cursor_then_from_zero() {
        let used = [0u32, 1, 2, 5];
        let free = |i: u32| !used.contains(&i);
        assert_eq!(next_index(0, 64, free), Some(3));
        assert_eq!(next_index(3, 64, free), Some(3));
        assert_eq!(next_index(4, 64, free), Some(4));
        assert_eq!(next_index(5, 64, free), Some(6));
        // Past the window: wrap to the lowest free index.
        assert_eq!(next_index(64, 64, free), Some(3));
        assert_eq!(next_index(7, 6, free), Some(3));
        let none_free = |_| false;
        assert_eq!(next_index(0, 64, none_free), None);
    }
}
