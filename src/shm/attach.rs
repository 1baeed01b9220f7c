//! Who has a segment attached: the namespace's attachment records, and this
//! process's own list of attachments.
//!
//! A record counts the attachments one process has of one segment.
//! `shm_nattch` is the sum over live processes, computed when asked; the
//! records of dead processes are dropped as they are met, and by the
//! process's reaper, so an attachment ends with its process whether it
//! exits, execs or is killed:
//! - fork: the child gets a record for the attachments it inherits;
//! - exec: the new image drops the records its pid and start time still
//!   hold from the old image;
//! - exit: the process drops its records; SIGKILL leaves them to its reaper.
//!
//! Locking: a segment's records change under the segment's lock. A free
//! record is claimed by CAS of `owner` from 0 to the process's key, so it
//! always names its holder.
//!
//! Crash consistency: every change is one store. A claimed record counts
//! for no segment until `shm_id` is stored, last; a claimer that dies
//! before that leaves a record of a dead process and no segment, which its
//! reaper (or the next count) frees.

use crate::error::Result;
use crate::platform::LocalMutex;
use crate::process::{Look, Namespace, ProcRef};
use crate::region::{Shared, Table, TableSpec};
use std::cell::RefCell;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering::*};

#[repr(C)]
pub struct Attachment {
    /// The process ([`ProcRef`]); 0: free.
    owner: AtomicU64,
    /// The segment, or -1 while the record is being filled in or freed.
    shm_id: AtomicI32,
    /// Attachments, counted from both ends of a fork (see [`adjust`]), so
    /// transiently negative.
    count: AtomicI32,
}

// SAFETY: repr(C), atomics only.
unsafe impl Shared for Attachment {}

const TAG: u32 = TableSpec::tag(b"ATT1");
const RECORDS: u32 = 16384;

pub(super) fn spec() -> TableSpec {
    TableSpec { tag: TAG, prefix: 8, stride: std::mem::size_of::<Attachment>() as u32, count: RECORDS }
}

/// The attachment table (its prefix: one past the highest record ever used).
#[derive(Clone, Copy)]
pub struct Attachments<'r>(Table<'r, AtomicU64, Attachment>);

impl<'r> Attachments<'r> {
    pub fn of(ns: &'r Namespace) -> Result<Self> {
        ns.table(TAG).map(Attachments)
    }

    fn used(&self) -> impl Iterator<Item = &'r Attachment> + '_ {
        let end = (self.0.prefix().load(Acquire) as u32).min(self.0.len());
        (0..end).filter_map(|i| self.0.get(i))
    }

    fn find(&self, who: ProcRef, shm_id: i32) -> Option<&'r Attachment> {
        self.used().find(|r| r.owner.load(Acquire) == who.0 && r.shm_id.load(Acquire) == shm_id)
    }

    /// Changes the attachments of `shm_id` counted for `who` by `delta`,
    /// under the segment's lock; false if a record was needed and the table
    /// is full.
    ///
    /// A fork child's inherited attachments are added by its parent, right
    /// after fork returns there, while the child may already have detached
    /// them: a count may go below zero for a moment, and the record is
    /// freed when it reaches zero either way.
    pub fn adjust(&self, ns: &Namespace, shm_id: i32, who: ProcRef, delta: i32) -> bool {
        if let Some(record) = self.find(who, shm_id) {
            if record.count.fetch_add(delta, Relaxed) + delta == 0 {
                free(record);
            }
            return true;
        }
        ns.note_holding(who, self.0.directory_index());
        self.claim(who, shm_id, delta).is_some() || {
            // Full: the records of the dead are the ones to go.
            ns.reap_dead(Look::Thorough, true);
            self.claim(who, shm_id, delta).is_some()
        }
    }

    fn claim(&self, who: ProcRef, shm_id: i32, count: i32) -> Option<&'r Attachment> {
        (0..self.0.len()).filter_map(|index| self.0.get(index).map(|r| (index, r))).find_map(|(index, record)| {
            if record.owner.load(Relaxed) != 0 || record.owner.compare_exchange(0, who.0, Acquire, Relaxed).is_err() {
                return None;
            }
            self.0.prefix().fetch_max(index as u64 + 1, AcqRel);
            crate::crash_point::here("shm-attachment-claimed");
            record.count.store(count, Relaxed);
            // Publishes the record: from here on it counts.
            record.shm_id.store(shm_id, Release);
            Some(record)
        })
    }

    /// The records of `shm_id` held by live processes: (process, count).
    /// Records of dead processes are freed on the way.
    fn live(&self, shm_id: i32) -> impl Iterator<Item = (ProcRef, i32)> + '_ {
        self.used().filter_map(move |record| {
            let owner = record.owner.load(Acquire);
            if owner == 0 || record.shm_id.load(Acquire) != shm_id {
                return None;
            }
            if Look::Thorough.dead(ProcRef(owner)) {
                free(record);
                return None;
            }
            Some((ProcRef(owner), record.count.load(Relaxed)))
        })
    }

    /// `shm_nattch`: attachments of `shm_id` by live processes. Records of
    /// dead processes are freed on the way.
    pub fn count(&self, shm_id: i32) -> u64 {
        self.live(shm_id).map(|(_, count)| count.max(0) as u64).sum()
    }

    /// The live processes with `shm_id` attached, and how many times each
    /// (what [`Attachments::count`] sums; records of dead processes are
    /// freed on the way, as there).
    pub fn holders(&self, shm_id: i32) -> Vec<(ProcRef, u32)> {
        self.live(shm_id)
            .filter_map(|(who, count)| u32::try_from(count).ok().filter(|&count| count > 0).map(|count| (who, count)))
            .collect()
    }

    /// The segments `who` has records for (freeing those of no segment,
    /// left by a claimer that died; see `Namespace::adopt`).
    pub fn segments_of(&self, ns: &Namespace, who: ProcRef) -> Vec<i32> {
        let mut segments = Vec::new();
        for record in self.used().filter(|r| r.owner.load(Acquire) == who.0) {
            match record.shm_id.load(Acquire) {
                -1 if ns.adopt(&record.owner, who, self.0.directory_index()) => free(record),
                -1 => {}
                id => segments.push(id),
            }
        }
        segments
    }

    /// Drops `who`'s record of `shm_id` (its attachments are all over).
    pub fn forget(&self, who: ProcRef, shm_id: i32) {
        if let Some(record) = self.find(who, shm_id) {
            free(record);
        }
    }
}

fn free(record: &Attachment) {
    record.shm_id.store(-1, Release);
    record.owner.store(0, Release);
}

/// One of this process's attachments.
#[derive(Clone, Copy, Debug)]
pub struct Local {
    pub addr: usize,
    pub len: usize,
    pub shm_id: i32,
}

/// This process's attachments. A fork child inherits the parent's list
/// with its mappings (whole: the fork handlers hold the lock across fork).
pub static LOCAL: LocalMutex<Vec<Local>> = LocalMutex::new(Vec::new());

thread_local! {
    /// The list as it was at the last fork by this thread, for the parent
    /// to count the child's inherited attachments.
    static AT_FORK: RefCell<Vec<Local>> = const { RefCell::new(Vec::new()) };
}

pub fn before_fork() {
    LOCAL.lock_for_fork();
}

pub fn after_fork(in_child: bool) {
    if !in_child {
        // SAFETY: between lock_for_fork and unlock_after_fork, in the forking thread.
        let list = unsafe { LOCAL.held_for_fork() }.clone();
        let _ = AT_FORK.try_with(|s| *s.borrow_mut() = list);
    }
    LOCAL.unlock_after_fork();
}

/// The attachments a fork child inherited: in the child its own list, in
/// the parent the list as it was at fork.
pub fn inherited(in_child: bool) -> Vec<Local> {
    if in_child {
        LOCAL.lock().clone()
    } else {
        AT_FORK.try_with(|s| std::mem::take(&mut *s.borrow_mut())).unwrap_or_default()
    }
}
