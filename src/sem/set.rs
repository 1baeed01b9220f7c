//! One semaphore set: its slot, its storage extent, and the journal through
//! which every change of its values is made.
//!
//! The storage extent holds, in order (in the slot itself for a set small
//! enough, [`INLINE_BYTES`]; otherwise in consecutive chunks the set owns):
//!
//! ```text
//! journal      len, then [JournalEntry; journal_capacity]
//! semaphores   [Sem; nsems]                       value and sempid
//! ```
//!
//! Locking: everything here runs with the set's `header.lock` held.
//!
//! Crash consistency. A semop changes several semaphores and undo
//! adjustments at once, all or nothing, and a hand-off to a sleeper also
//! settles the sleeper's wait record; so changes go through a redo journal:
//! the new values are written as entries, then one store of the journal
//! length commits them, then they are applied and the length is cleared. A
//! holder killed before the commit changed nothing; one killed after it
//! left a journal that [`Storage::redo`] (run by whoever takes the lock
//! over) applies again. Every entry sets an absolute value or frees or
//! settles a named record, so applying it twice is the same as once.

use super::undo::{UndoList, Undos};
use crate::error::{Errno, Result};
use crate::ipc::{Object, ObjectHeader};
use crate::platform::spin::Whereabouts;
use crate::process::Namespace;
use crate::region::{Extent, Owner, Region, Shared, CHUNK_SIZE};
use crate::wait::{self, WaitQueue, Waits, Wakeups};
use std::mem::size_of;
use std::sync::atomic::{AtomicI32, AtomicI64, AtomicU32, AtomicU64, Ordering::Relaxed, Ordering::Release};

/// Largest semaphore value, and largest undo adjustment (Linux's SEMVMX, SEMAEM).
pub const SEMVMX: i32 = 32767;
pub const SEMAEM: i32 = SEMVMX;

/// One slot of the semaphore set table.
#[repr(C, align(64))]
pub struct SemSet {
    pub header: ObjectHeader,
    pub nsems: AtomicU32,
    extent_first: AtomicU32,
    extent_chunks: AtomicU32,
    journal_capacity: AtomicU32,
    /// Blocked operations, in arrival order (see `wait`; the operations are
    /// in each record's payload).
    pub waiters: WaitQueue,
    /// The undo records of this set (undo table index + 1; 0: none),
    /// linked through `UndoRecord::next`. Primary.
    pub undo_head: AtomicU32,
    /// Where the last operation ran: waiters watch for the next one in the
    /// way that suits (see `platform::spin`).
    pub operated: Whereabouts,
    /// Last semop time (`sem_otime`).
    pub otime: AtomicI64,
    /// The storage of a set that fits (`extent_chunks` 0): a set of one or
    /// two semaphores, the common case, takes no chunk, so creating one
    /// claims and reserves no memory, and a semop stays in this slot.
    inline: [AtomicU64; INLINE_BYTES / 8],
}

/// Storage bytes a slot holds itself: what two semaphores need (their
/// journal included), which also makes a slot four cache lines.
pub const INLINE_BYTES: usize = 160;

const _: () = assert!(size_of::<SemSet>() == 256);

// SAFETY: repr(C), atomics only.
unsafe impl Shared for SemSet {}
// SAFETY: repr(C), the header first.
unsafe impl Object for SemSet {
    fn header(&self) -> &ObjectHeader {
        &self.header
    }
}

/// A semaphore.
#[repr(C)]
pub struct Sem {
    pub value: AtomicI32,
    pub pid: AtomicI32,
}

#[repr(C)]
struct JournalEntry {
    kind: AtomicU32,
    a: AtomicU32,
    b: AtomicU32,
    value: AtomicI32,
}

// SAFETY: repr(C), atomics only.
unsafe impl Shared for Sem {}
// SAFETY: repr(C), atomics only.
unsafe impl Shared for JournalEntry {}

/// One change, as journaled. Each sets an absolute value or acts on a named
/// record, so redo is idempotent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Semaphore `sem` takes `value`.
    Value { sem: u32, value: i32 },
    /// Semaphore `sem` was last changed by `pid`.
    Pid { sem: u32, pid: i32 },
    /// Undo record `record` holds `value` for semaphore `sem`.
    Adjust { record: u32, sem: u32, value: i32 },
    /// Every undo record of the set forgets semaphore `sem` (SETVAL).
    ForgetSem { sem: u32 },
    /// Every undo record of the set forgets every semaphore (SETALL).
    ForgetAll,
    /// Undo record `record` is applied: it leaves the set and is freed.
    FreeUndo { record: u32 },
    /// Wait record `record` is handed its operations: GRANTED.
    Grant { record: u32 },
}

/// A commit's changes: a few, for the common semop.
pub type Changes = smallvec::SmallVec<[Change; 8]>;

/// How big a set's storage is, and where each part starts.
#[derive(Clone, Copy)]
struct Shape {
    nsems: u32,
    journal_capacity: u32,
}

impl Shape {
    fn new(nsems: u32) -> Shape {
        // A commit sets at most a value, a pid and an adjustment per
        // semaphore (operations on one semaphore collapse into one entry
        // each), plus one record freed or granted.
        Shape { nsems, journal_capacity: 3 * nsems + 2 }
    }
    fn sems_at(&self) -> u64 {
        8 + self.journal_capacity as u64 * size_of::<JournalEntry>() as u64
    }
    fn bytes(&self) -> u64 {
        self.sems_at() + self.nsems as u64 * size_of::<Sem>() as u64
    }
}

/// A locked set's storage, located and bounds-checked, with what a commit
/// may touch besides it (undo and wait records).
pub struct Storage<'r> {
    ns: &'r Namespace,
    extent: Extent,
    shape: Shape,
    pub set: &'r SemSet,
    /// The set's [`Owner`] (its chunks, and the object its waiters wait on).
    pub owner: Owner,
}

impl SemSet {
    /// Claims and initialises the storage of a new set (while it is CREATING).
    pub fn create_storage(&self, region: &Region, owner: Owner, nsems: u32) -> Result<()> {
        let shape = Shape::new(nsems);
        let (first, chunks, extent) = if shape.bytes() <= INLINE_BYTES as u64 {
            (0, 0, region.extent_of(&self.inline).ok_or(Errno::EIO)?)
        } else {
            let chunks = shape.bytes().div_ceil(CHUNK_SIZE) as u32;
            let first = region.claim_extent(owner, chunks)?;
            (first, chunks, region.extent(owner, first, chunks).ok_or(Errno::EIO)?)
        };
        self.nsems.store(nsems, Relaxed);
        self.extent_first.store(first, Relaxed);
        self.extent_chunks.store(chunks, Relaxed);
        self.journal_capacity.store(shape.journal_capacity, Relaxed);
        self.waiters.clear();
        self.undo_head.store(0, Relaxed);
        self.otime.store(0, Relaxed);
        // Storage may be reused: start from zero values and an empty
        // journal (the bytes past them are never read).
        region.zero(extent.prefix(shape.bytes()));
        Ok(())
    }

    /// The set's undo records, as `undo` sees them.
    pub fn undo_list(&self) -> UndoList<'_> {
        UndoList { head: &self.undo_head, set_id: self.header.id(), nsems: self.nsems.load(Relaxed) }
    }

    /// Gives the set's chunks back (at removal, once its id no longer resolves).
    pub fn release_storage(&self, region: &Region, owner: Owner) {
        let chunks = self.extent_chunks.load(Relaxed);
        if chunks > 0 {
            region.release_extent(owner, self.extent_first.load(Relaxed), chunks);
        }
    }

    /// The set's storage, if its recorded shape fits the slot or the
    /// chunks it owns.
    #[inline]
    pub fn storage<'r>(&'r self, ns: &'r Namespace, owner: Owner) -> Option<Storage<'r>> {
        let shape = Shape { nsems: self.nsems.load(Relaxed), journal_capacity: self.journal_capacity.load(Relaxed) };
        let extent = match self.extent_chunks.load(Relaxed) {
            0 => ns.extent_of(&self.inline)?,
            chunks => ns.extent(owner, self.extent_first.load(Relaxed), chunks)?,
        };
        (shape.bytes() <= extent.len).then_some(Storage { ns, extent, shape, set: self, owner })
    }
}

impl<'r> Storage<'r> {
    pub fn nsems(&self) -> u32 {
        self.shape.nsems
    }

    pub fn ns(&self) -> &'r Namespace {
        self.ns
    }

    /// The undo table (looked up when needed, one probe: most semops touch
    /// no undo record, and a small `Storage` is cheap to pass around).
    pub fn undos(&self) -> Undos<'r> {
        Undos::of(self.ns).expect("checked when the namespace was opened")
    }

    /// The wait table (looked up only when someone waits).
    pub fn waits(&self) -> Waits<'r> {
        Waits::of(self.ns).expect("checked when the namespace was opened")
    }

    fn journal_len(&self) -> Option<&'r AtomicU32> {
        self.ns.in_extent(self.extent, 0)
    }

    fn journal_entry(&self, i: u32) -> Option<&'r JournalEntry> {
        if i >= self.shape.journal_capacity {
            return None;
        }
        self.ns.in_extent(self.extent, 8 + i as u64 * size_of::<JournalEntry>() as u64)
    }

    #[inline]
    pub fn sem(&self, sem: u32) -> Option<&'r Sem> {
        if sem >= self.shape.nsems {
            return None;
        }
        self.ns.in_extent(self.extent, self.shape.sems_at() + sem as u64 * size_of::<Sem>() as u64)
    }

    pub fn value(&self, sem: u32) -> i32 {
        self.sem(sem).map_or(0, |s| s.value.load(Relaxed))
    }

    /// Applies `changes` all or nothing (see the module docs); settled wait
    /// records go to `wakeups`. E2BIG if they do not fit in the journal.
    pub fn commit(&self, changes: &[Change], wakeups: &mut Wakeups<'r>) -> Result<()> {
        // One semaphore's value (and its sempid, which is only a record):
        // a single store is all or nothing already, no journal needed.
        if let [Change::Value { sem, value }, Change::Pid { sem: pid_sem, pid }] = changes {
            if sem == pid_sem {
                let s = self.sem(*sem).ok_or(Errno::EIO)?;
                s.value.store((*value).clamp(0, SEMVMX), Relaxed);
                s.pid.store(*pid, Relaxed);
                return Ok(());
            }
        }
        let len = self.journal_len().ok_or(Errno::EIO)?;
        if changes.len() > self.shape.journal_capacity as usize {
            return Err(Errno::E2BIG);
        }
        for (i, change) in changes.iter().enumerate() {
            let entry = self.journal_entry(i as u32).ok_or(Errno::EIO)?;
            let (kind, a, b, value) = match *change {
                Change::Value { sem, value } => (1, sem, 0, value),
                Change::Pid { sem, pid } => (2, sem, 0, pid),
                Change::Adjust { record, sem, value } => (3, record, sem, value),
                Change::ForgetSem { sem } => (4, sem, 0, 0),
                Change::ForgetAll => (5, 0, 0, 0),
                Change::FreeUndo { record } => (6, record, 0, 0),
                Change::Grant { record } => (7, record, 0, 0),
            };
            entry.kind.store(kind, Relaxed);
            entry.a.store(a, Relaxed);
            entry.b.store(b, Relaxed);
            entry.value.store(value, Relaxed);
        }
        crate::crash_point::here("sem-before-commit");
        // The commit point: from here on the changes happen, even if we die.
        len.store(changes.len() as u32, Release);
        crate::crash_point::here("sem-after-commit");
        self.redo(wakeups);
        Ok(())
    }

    /// The changes that apply undo record `record` of process `pid` (its
    /// adjustments, clamped to [0, SEMVMX] as Linux's exit_sem does) and
    /// free the record.
    pub fn unwind(&self, record: u32, pid: i32) -> Vec<Change> {
        let list = self.set.undo_list();
        let mut changes = Vec::new();
        for sem in 0..self.nsems() {
            let adjustment = self.undos().adjustment(&list, record, sem);
            if adjustment != 0 {
                let value = (self.value(sem) + adjustment).clamp(0, SEMVMX);
                changes.push(Change::Value { sem, value });
                changes.push(Change::Pid { sem, pid });
            }
        }
        changes.push(Change::FreeUndo { record });
        changes
    }

    /// Applies a committed journal (again) and clears it.
    pub fn redo(&self, wakeups: &mut Wakeups<'r>) {
        let Some(len) = self.journal_len() else { return };
        let count = len.load(Relaxed).min(self.shape.journal_capacity);
        for i in 0..count {
            let Some(entry) = self.journal_entry(i) else { break };
            let (a, b, value) = (entry.a.load(Relaxed), entry.b.load(Relaxed), entry.value.load(Relaxed));
            match entry.kind.load(Relaxed) {
                1 => {
                    if let Some(s) = self.sem(a) {
                        s.value.store(value.clamp(0, SEMVMX), Relaxed);
                    }
                }
                2 => {
                    if let Some(s) = self.sem(a) {
                        s.pid.store(value, Relaxed);
                    }
                }
                3 => self.undos().set_adjustment(&self.set.undo_list(), a, b, value as i16),
                4 => self.undos().forget(&self.set.undo_list(), Some(a)),
                5 => self.undos().forget(&self.set.undo_list(), None),
                6 => self.undos().free(&self.set.undo_list(), a),
                7 => self.waits().settle(&self.set.waiters, self.owner, a, wait::GRANTED, wakeups),
                _ => {}
            }
        }
        len.store(0, Release);
    }
}
