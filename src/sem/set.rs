//! One semaphore set: its slot, and its storage extent.
//!
//! The storage extent (consecutive chunks the set owns) holds, in order:
//!
//! ```text
//! journal      len, then [JournalEntry; journal_capacity]
//! semaphores   [Sem; nsems]                       value and sempid
//! undo         [UndoRecord + [AtomicI16; nsems]; undo_capacity]
//! ```
//!
//! Locking: everything here runs with the set's `header.lock` held.
//!
//! Crash consistency. A semop changes several semaphores and undo
//! adjustments at once, all or nothing, so changes go through a redo
//! journal: the new values are written as entries, then one store of the
//! journal length commits them, then they are applied and the length is
//! cleared. A holder killed before the commit changed nothing; one killed
//! after it left a journal that [`Storage::redo`] (run by whoever takes the
//! lock over) applies again. Every entry stores an absolute value, so
//! applying it twice is the same as once.

use crate::error::{Errno, Result};
use crate::ipc::ObjectHeader;
use crate::region::{ChunkOwner, Extent, Region, Shared, CHUNK_SIZE};
use std::mem::size_of;
use std::sync::atomic::{AtomicI16, AtomicI32, AtomicI64, AtomicU32, AtomicU64, Ordering::Relaxed, Ordering::Release};

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
    undo_capacity: AtomicU32,
    /// FIFO list of blocked operations: wait record index + 1, 0 for none.
    /// `waiters_head` and the records' `next` links are primary;
    /// `waiters_tail` is derived.
    pub waiters_head: AtomicU32,
    pub waiters_tail: AtomicU32,
    /// Last semop time (`sem_otime`).
    pub otime: AtomicI64,
    /// When dead processes were last looked for (ms, monotonic): a hint.
    pub last_reap_ms: AtomicU64,
}

/// A semaphore.
#[repr(C)]
pub struct Sem {
    pub value: AtomicI32,
    pub pid: AtomicI32,
}

/// The head of one process's undo adjustments for this set; the
/// adjustments follow it. `pid == 0`: free (and its adjustments all zero).
#[repr(C)]
pub struct UndoRecord {
    pub pid: AtomicI32,
    _reserved: AtomicI32,
    pub start: AtomicU64,
}

#[repr(C)]
struct JournalEntry {
    kind: AtomicU32,
    a: AtomicU32,
    b: AtomicU32,
    value: AtomicI32,
}

// SAFETY: repr(C), atomics only.
unsafe impl Shared for SemSet {}
unsafe impl Shared for Sem {}
unsafe impl Shared for UndoRecord {}
unsafe impl Shared for JournalEntry {}
unsafe impl Shared for AtomicI16 {}
unsafe impl Shared for AtomicU32 {}

/// Journal entry kinds. Each sets an absolute value, so redo is idempotent.
#[derive(Clone, Copy)]
pub enum Change {
    /// Semaphore `sem` takes `value`.
    Value { sem: u32, value: i32 },
    /// Semaphore `sem` was last changed by `pid`.
    Pid { sem: u32, pid: i32 },
    /// Undo record `record` holds `value` for semaphore `sem`.
    Adjust { record: u32, sem: u32, value: i32 },
    /// Every undo record forgets semaphore `sem` (SETVAL).
    ForgetSem { sem: u32 },
    /// Every undo record forgets every semaphore (SETALL).
    ForgetAll,
    /// Undo record `record` becomes free.
    FreeUndo { record: u32 },
}

/// A commit's changes: a few, for the common semop.
pub type Changes = smallvec::SmallVec<[Change; 8]>;

const fn align8(x: u64) -> u64 {
    x.div_ceil(8) * 8
}

/// How big a set's storage is, and where each part starts.
#[derive(Clone, Copy)]
struct Shape {
    nsems: u32,
    journal_capacity: u32,
    undo_capacity: u32,
}

impl Shape {
    fn new(nsems: u32) -> Shape {
        // A commit sets at most a value, a pid and an adjustment per
        // semaphore (operations on one semaphore collapse into one entry
        // each), plus one entry: SETALL and unwinding undo need less.
        let journal_capacity = 3 * nsems + 1;
        // Room for the undo adjustments of at least 16 processes, more for
        // small sets (a per-set bound: semop with SEM_UNDO gives ENOMEM past it).
        let undo_capacity = (2048 / Self::undo_stride(nsems)).clamp(16, 256) as u32;
        Shape { nsems, journal_capacity, undo_capacity }
    }
    fn undo_stride(nsems: u32) -> u64 {
        size_of::<UndoRecord>() as u64 + align8(2 * nsems as u64)
    }
    fn sems_at(&self) -> u64 {
        8 + self.journal_capacity as u64 * size_of::<JournalEntry>() as u64
    }
    fn undo_at(&self) -> u64 {
        self.sems_at() + self.nsems as u64 * size_of::<Sem>() as u64
    }
    fn bytes(&self) -> u64 {
        self.undo_at() + self.undo_capacity as u64 * Self::undo_stride(self.nsems)
    }
}

/// The storage of a set, located and bounds-checked.
pub struct Storage<'r> {
    region: &'r Region,
    extent: Extent,
    shape: Shape,
}

impl SemSet {
    pub fn owner(&self) -> ChunkOwner {
        ChunkOwner::sem_set(self.header.id.load(Relaxed))
    }

    /// Claims and initialises the storage of a new set (while it is CREATING).
    pub fn create_storage(&self, region: &Region, nsems: u32) -> Result<()> {
        let shape = Shape::new(nsems);
        let chunks = shape.bytes().div_ceil(CHUNK_SIZE) as u32;
        let first = region.claim_extent(self.owner(), chunks)?;
        self.nsems.store(nsems, Relaxed);
        self.extent_first.store(first, Relaxed);
        self.extent_chunks.store(chunks, Relaxed);
        self.journal_capacity.store(shape.journal_capacity, Relaxed);
        self.undo_capacity.store(shape.undo_capacity, Relaxed);
        self.waiters_head.store(0, Relaxed);
        self.waiters_tail.store(0, Relaxed);
        self.otime.store(0, Relaxed);
        let storage = self.storage(region).ok_or(Errno::EIO)?;
        // Chunks may be reused: start from zero values and free undo records.
        storage.journal_len().ok_or(Errno::EIO)?.store(0, Relaxed);
        for sem in 0..nsems {
            let s = storage.sem(sem).ok_or(Errno::EIO)?;
            s.value.store(0, Relaxed);
            s.pid.store(0, Relaxed);
        }
        for record in 0..shape.undo_capacity {
            storage.clear_undo(record);
        }
        Ok(())
    }

    /// Gives the set's chunks back (at removal, once its id no longer resolves).
    pub fn release_storage(&self, region: &Region) {
        region.release_extent(self.owner(), self.extent_first.load(Relaxed), self.extent_chunks.load(Relaxed));
    }

    /// The set's storage, if its recorded shape fits the chunks it owns.
    pub fn storage<'r>(&self, region: &'r Region) -> Option<Storage<'r>> {
        let shape = Shape {
            nsems: self.nsems.load(Relaxed),
            journal_capacity: self.journal_capacity.load(Relaxed),
            undo_capacity: self.undo_capacity.load(Relaxed),
        };
        let extent = region.extent(self.owner(), self.extent_first.load(Relaxed), self.extent_chunks.load(Relaxed))?;
        let storage = Storage { region, extent, shape };
        (shape.bytes() <= self.extent_chunks.load(Relaxed) as u64 * CHUNK_SIZE).then_some(storage)
    }
}

impl<'r> Storage<'r> {
    pub fn nsems(&self) -> u32 {
        self.shape.nsems
    }

    pub fn undo_capacity(&self) -> u32 {
        self.shape.undo_capacity
    }

    fn journal_len(&self) -> Option<&'r AtomicU32> {
        self.region.in_extent(self.extent, 0)
    }

    fn journal_entry(&self, i: u32) -> Option<&'r JournalEntry> {
        if i >= self.shape.journal_capacity {
            return None;
        }
        self.region.in_extent(self.extent, 8 + i as u64 * size_of::<JournalEntry>() as u64)
    }

    pub fn sem(&self, sem: u32) -> Option<&'r Sem> {
        if sem >= self.shape.nsems {
            return None;
        }
        self.region.in_extent(self.extent, self.shape.sems_at() + sem as u64 * size_of::<Sem>() as u64)
    }

    pub fn value(&self, sem: u32) -> i32 {
        self.sem(sem).map_or(0, |s| s.value.load(Relaxed))
    }

    pub fn undo(&self, record: u32) -> Option<&'r UndoRecord> {
        if record >= self.shape.undo_capacity {
            return None;
        }
        let at = self.shape.undo_at() + record as u64 * Shape::undo_stride(self.shape.nsems);
        self.region.in_extent(self.extent, at)
    }

    pub fn adjustment(&self, record: u32, sem: u32) -> Option<&'r AtomicI16> {
        if record >= self.shape.undo_capacity || sem >= self.shape.nsems {
            return None;
        }
        let at = self.shape.undo_at()
            + record as u64 * Shape::undo_stride(self.shape.nsems)
            + size_of::<UndoRecord>() as u64
            + 2 * sem as u64;
        self.region.in_extent(self.extent, at)
    }

    fn clear_undo(&self, record: u32) {
        for sem in 0..self.shape.nsems {
            if let Some(adj) = self.adjustment(record, sem) {
                adj.store(0, Relaxed);
            }
        }
        if let Some(undo) = self.undo(record) {
            undo.pid.store(0, Release);
        }
    }

    /// Applies `changes` all or nothing (see the module docs); E2BIG if they
    /// do not fit in the journal.
    pub fn commit(&self, changes: &[Change]) -> Result<()> {
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
        self.redo();
        Ok(())
    }

    /// Applies a committed journal (again) and clears it.
    pub fn redo(&self) {
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
                3 => {
                    if let Some(adj) = self.adjustment(a, b) {
                        adj.store(value as i16, Relaxed);
                    }
                }
                4 => (0..self.shape.undo_capacity).for_each(|r| {
                    if let Some(adj) = self.adjustment(r, a) {
                        adj.store(0, Relaxed);
                    }
                }),
                5 => (0..self.shape.undo_capacity).flat_map(|r| (0..self.shape.nsems).map(move |s| (r, s))).for_each(
                    |(r, s)| {
                        if let Some(adj) = self.adjustment(r, s) {
                            adj.store(0, Relaxed);
                        }
                    },
                ),
                6 => self.clear_undo(a),
                _ => {}
            }
        }
        len.store(0, Release);
    }
}
