//! SEM_UNDO: per-process adjustments, applied when the process ends.
//!
//! One namespace-wide table holds an [`UndoRecord`] per (process, set)
//! pair: the process's key, the set, and an adjustment per semaphore
//! (inline for small sets, in chunks the record owns for large ones). A
//! set links its records through `next`, so SETVAL, SETALL and removal
//! find them; a process finds its own by that list too. There is no limit
//! per set: the table is shared, and when it is full the records of dead
//! processes are reaped before anyone is told ENOMEM.
//!
//! When adjustments are applied (Linux's `exit_sem`):
//! - at normal exit, by the exiting process itself;
//! - when the process was killed (or called `_exit`), by its reaper (see
//!   `process`), as soon as anyone notices it is dead: a sleeper on the
//!   set looks every `process::REAP_INTERVAL`, semctl's queries and a
//!   semop that would block look for the holders of the set's records.
//!
//! Adjustments change in the same journal commit as the values they undo
//! (see `set`), and applying them frees the record in that same commit.
//! Like Linux, undo survives exec (same process), is not inherited over
//! fork, and clamps the resulting values to [0, SEMVMX] (see `set`).
//!
//! Locking: a record's adjustments and links change under its set's lock.
//! A free record is claimed by CAS of `owner` from 0 to the process's key,
//! so it always names its holder.
//!
//! Crash consistency: a claimed record has `set_id == -1` and zero
//! adjustments until it is filled in and linked into the set's list with one
//! store; a claimer that dies before that leaves a record that names a dead
//! process and no set, which its reaper frees. Unlinking is one store too,
//! and freeing clears the record before giving back `owner`.

use crate::error::{Errno, Result};
use crate::process::{Namespace, ProcRef};
use crate::region::{Owner, Shared, Slot, Table, TableSpec, CHUNK_SIZE};
use std::sync::atomic::{AtomicI16, AtomicI32, AtomicU32, AtomicU64, Ordering::*};

/// Adjustments kept in the record itself, for sets this small.
const INLINE: usize = 16;

#[repr(C)]
pub struct UndoRecord {
    /// In use while claimed; the generation names it as the owner of the
    /// chunks holding a large set's adjustments.
    slot: Slot,
    /// The holding process ([`ProcRef`]); 0 when free.
    owner: AtomicU64,
    /// The set, or -1 while not (or no longer) in one.
    set_id: AtomicI32,
    /// The next record of the same set (index + 1; 0: last).
    next: AtomicU32,
    extent_first: AtomicU32,
    extent_chunks: AtomicU32,
    inline: [AtomicI16; INLINE],
}

// SAFETY: repr(C), atomics only.
unsafe impl Shared for UndoRecord {}

const TAG: u32 = TableSpec::tag(b"UND1");
const RECORDS: u32 = 32768;
const IN_USE: u32 = 1;

pub(super) fn spec() -> TableSpec {
    TableSpec { tag: TAG, prefix: 8, stride: std::mem::size_of::<UndoRecord>() as u32, count: RECORDS }
}

/// A set's list of undo records, as this module sees the set.
pub struct UndoList<'a> {
    /// The first record (index + 1; 0: none): the set's `undo_head`.
    pub head: &'a AtomicU32,
    pub set_id: i32,
    pub nsems: u32,
}

/// The undo table (its prefix: one past the highest record ever used).
#[derive(Clone, Copy)]
pub struct Undos<'r>(Table<'r, AtomicU64, UndoRecord>);

/// A record of this process and this set, cached per process (validated on
/// use: a fork child never holds its parent's).
static LAST: AtomicU64 = AtomicU64::new(0);

impl<'r> Undos<'r> {
    pub fn of(ns: &'r Namespace) -> Result<Undos<'r>> {
        ns.table(TAG).map(Undos)
    }

    #[inline]
    fn get(&self, index: u32) -> Option<&'r UndoRecord> {
        self.0.get(index)
    }

    fn used(&self) -> impl Iterator<Item = (u32, &'r UndoRecord)> + '_ {
        let end = (self.0.prefix().load(Acquire) as u32).min(self.0.len());
        (0..end).filter_map(|i| self.0.get(i).map(|r| (i, r)))
    }

    /// The records `who` holds, with their sets.
    pub fn owned_by(&self, who: ProcRef) -> Vec<(u32, i32)> {
        self.used().filter(|(_, r)| r.owner.load(Acquire) == who.0).map(|(i, r)| (i, r.set_id.load(Relaxed))).collect()
    }

    /// The records of `set`, in list order. Stops at anything that does not
    /// belong (a corrupted link) and never walks further than the table.
    pub fn of_set(&self, set: &UndoList) -> Vec<(u32, &'r UndoRecord)> {
        let id = set.set_id;
        let mut out = Vec::new();
        let mut link = set.head.load(Acquire);
        while link != 0 && out.len() < self.0.len() as usize {
            let Some(record) = self.get(link - 1) else { break };
            if record.set_id.load(Relaxed) != id || out.iter().any(|&(i, _)| i == link - 1) {
                break;
            }
            out.push((link - 1, record));
            link = record.next.load(Acquire);
        }
        out
    }

    fn owner_of(&self, index: u32, record: &UndoRecord) -> Owner {
        self.0.owner(index, record.slot.generation.load(Relaxed))
    }

    /// Adjustment `sem` of record `index` (of a set of `nsems`).
    #[inline]
    fn adjustment_word(&self, index: u32, nsems: u32, sem: u32) -> Option<&'r AtomicI16> {
        let record = self.get(index)?;
        if sem >= nsems {
            return None;
        }
        if nsems as usize <= INLINE {
            return record.inline.get(sem as usize);
        }
        let owner = self.owner_of(index, record);
        let extent =
            self.0.region().extent(owner, record.extent_first.load(Relaxed), record.extent_chunks.load(Relaxed))?;
        self.0.region().in_extent(extent, 2 * sem as u64)
    }

    pub fn adjustment(&self, set: &UndoList, index: u32, sem: u32) -> i32 {
        self.adjustment_word(index, set.nsems, sem).map_or(0, |a| a.load(Relaxed) as i32)
    }

    pub fn set_adjustment(&self, set: &UndoList, index: u32, sem: u32, value: i16) {
        if self.get(index).is_some_and(|r| r.set_id.load(Relaxed) == set.set_id) {
            if let Some(word) = self.adjustment_word(index, set.nsems, sem) {
                word.store(value, Relaxed);
            }
        }
    }

    /// Every record of `set` forgets semaphore `sem` (or all of them).
    pub fn forget(&self, set: &UndoList, sem: Option<u32>) {
        let nsems = set.nsems;
        for (index, _) in self.of_set(set) {
            for s in sem.map_or(0..nsems, |s| s..s + 1) {
                if let Some(word) = self.adjustment_word(index, nsems, s) {
                    word.store(0, Relaxed);
                }
            }
        }
    }

    /// The calling process's record in the locked `set`, claimed if it has
    /// none. ENOMEM when the table is full (the caller reaps and retries).
    pub fn own(&self, ns: &Namespace, set: &UndoList) -> Result<u32> {
        let id = set.set_id;
        let cached = LAST.load(Relaxed);
        // The record used last, if it still is ours for this set (a
        // record of ours exists only once we are registered).
        let key = crate::platform::process().key();
        let mine =
            |index: u32| self.get(index).is_some_and(|r| r.owner.load(Acquire) == key && r.set_id.load(Relaxed) == id);
        if cached as u32 as i32 == id && mine((cached >> 32) as u32) {
            return Ok((cached >> 32) as u32);
        }
        let me = ns.me()?;
        let index = match self.of_set(set).into_iter().find(|(_, r)| r.owner.load(Acquire) == me.0) {
            Some((index, _)) => index,
            None => {
                ns.note_holding(me, self.0.directory_index());
                self.claim(ns, set, me)?
            }
        };
        LAST.store((index as u64) << 32 | id as u32 as u64, Relaxed);
        Ok(index)
    }

    fn claim(&self, ns: &Namespace, set: &UndoList, me: ProcRef) -> Result<u32> {
        let (index, record) = (0..self.0.len())
            .filter_map(|i| self.get(i).map(|r| (i, r)))
            .find(|(_, r)| r.owner.load(Relaxed) == 0 && r.owner.compare_exchange(0, me.0, Acquire, Relaxed).is_ok())
            .ok_or(Errno::ENOMEM)?;
        self.0.prefix().fetch_max(index as u64 + 1, AcqRel);
        crate::crash_point::here("sem-undo-claimed");
        let generation = record.slot.generation.load(Relaxed).wrapping_add(1);
        record.slot.generation.store(generation, Relaxed);
        record.slot.state.store(IN_USE, Release);
        let nsems = set.nsems;
        if nsems as usize > INLINE {
            let chunks = (2 * nsems as u64).div_ceil(CHUNK_SIZE) as u32;
            let owner = self.0.owner(index, generation);
            let first = match ns.claim_extent(owner, chunks) {
                Ok(first) => first,
                Err(e) => {
                    self.release(index);
                    return Err(e);
                }
            };
            record.extent_first.store(first, Relaxed);
            record.extent_chunks.store(chunks, Relaxed);
            if let Some(extent) = ns.extent(owner, first, chunks) {
                ns.zero(extent);
            }
        }
        record.set_id.store(set.set_id, Relaxed);
        record.next.store(set.head.load(Relaxed), Relaxed);
        // The single store that puts the record in the set's list.
        set.head.store(index + 1, Release);
        Ok(index)
    }

    /// Takes record `index` out of `set`'s list (if it is there) and frees
    /// it. Under the set's lock, or with the set gone.
    pub fn free(&self, set: &UndoList, index: u32) {
        let Some(record) = self.get(index) else { return };
        let records = self.of_set(set);
        if let Some(position) = records.iter().position(|&(i, _)| i == index) {
            let next = record.next.load(Relaxed);
            // The single store that takes the record off the list.
            match position.checked_sub(1) {
                None => set.head.store(next, Release),
                Some(p) => records[p].1.next.store(next, Release),
            }
        }
        self.release(index);
    }

    /// Frees record `index` if it still is `who`'s (on no live set's list;
    /// see `Namespace::adopt`).
    pub fn release_of(&self, ns: &Namespace, index: u32, who: ProcRef) {
        if self.get(index).is_some_and(|r| ns.adopt(&r.owner, who, self.0.directory_index())) {
            self.release(index);
        }
    }

    /// Frees a record that is on no live set's list.
    pub fn release(&self, index: u32) {
        let Some(record) = self.get(index) else { return };
        let chunks = record.extent_chunks.load(Relaxed);
        if chunks != 0 {
            let owner = self.owner_of(index, record);
            self.0.region().release_extent(owner, record.extent_first.load(Relaxed), chunks);
        }
        record.set_id.store(-1, Relaxed);
        record.extent_first.store(0, Relaxed);
        record.extent_chunks.store(0, Relaxed);
        for word in &record.inline {
            word.store(0, Relaxed);
        }
        record.slot.state.store(crate::region::FREE, Relaxed);
        record.owner.store(0, Release);
    }
}

/// Which process's undo `record` is.
pub fn holder(undos: &Undos, record: u32) -> Option<ProcRef> {
    undos.get(record).map(|r| ProcRef(r.owner.load(Acquire))).filter(|p| p.0 != 0)
}
