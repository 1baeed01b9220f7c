//! Blocked semaphore operations: wait records, hand-off, and reaping.
//!
//! A semop that must block takes a [`WaitRecord`] from the namespace's pool,
//! copies its operations into it and joins its set's FIFO list. Whoever
//! changes the set's values afterwards runs [`update_queue`]: it performs,
//! on the sleepers' behalf, the operations of every listed record that can
//! now proceed (Linux's `update_queue`), marks the record GRANTED and wakes
//! its owner, who returns 0 without retrying. Handing the result over this
//! way keeps a process that releases and retakes a semaphore in a loop from
//! starving the ones asleep on it.
//!
//! Locking: a record's fields and the list links are changed under the
//! set's lock; `owner` is claimed by CAS; `state` is the owner's futex word.
//!
//! Crash consistency: a record joins or leaves a list by one store (the
//! predecessor's `next`, or the set's head); the tail is derived. A sleeper
//! killed while listed is found by [`reap`] (other sleepers look every
//! [`REAP_INTERVAL`]) and unlinked; one killed after its operations were
//! granted, before it could return, has them reverted, so no semaphore is
//! ever held by a dead process.

use super::ops::{evaluate, Outcome, Sop};
use super::set::{Change, SemSet, Storage, SEMVMX};
use crate::error::{Errno, Result};
use crate::platform::{self, ThreadIdentity};
use crate::region::{layout::WAIT_RECORDS, Region, Shared};
use std::sync::atomic::{AtomicI16, AtomicI32, AtomicU16, AtomicU32, AtomicU64, Ordering::*};
use std::time::Duration;

/// Operations stored in a record. A blocked semop with more re-checks
/// itself whenever the set changes instead of being handed its result.
pub const INLINE_SOPS: usize = 16;

/// How often a sleeper looks for dead processes (holders whose undo must be
/// applied, dead sleepers, dead grantees).
pub const REAP_INTERVAL: Duration = Duration::from_millis(250);

/// `WaitRecord::state` values (the futex word).
pub const FREE: u32 = 0;
pub const WAITING: u32 = 1;
pub const GRANTED: u32 = 2;
/// Woken to evaluate its operations again itself.
pub const RECHECK: u32 = 3;
pub const REMOVED: u32 = 4;
/// FAILED + errno: the operations failed when evaluated for the sleeper.
pub const FAILED: u32 = 0x1000;

#[repr(C, align(64))]
pub struct WaitRecord {
    /// TID of the owning thread; 0 when the record is free.
    owner: AtomicU32,
    pub state: AtomicU32,
    owner_start: AtomicU64,
    /// Set (SeqCst) while the owner is in FUTEX_WAIT: wakers skip the
    /// system call otherwise.
    asleep: AtomicU32,
    pid: AtomicI32,
    set_id: AtomicI32,
    /// Next record in the set's list (index + 1; 0: last).
    next: AtomicU32,
    nsops: AtomicU32,
    /// The owner's undo record in the set, + 1 (0: none).
    undo: AtomicU32,
    /// The operation that blocks: on which semaphore, waiting for zero or
    /// for an increase (what GETNCNT and GETZCNT count).
    pub blocking_sem: AtomicU32,
    pub blocking_zero: AtomicU32,
    sops: [PackedSop; INLINE_SOPS],
}

#[repr(C)]
struct PackedSop {
    num: AtomicU16,
    op: AtomicI16,
    flags: AtomicI16,
    _reserved: AtomicU16,
}

// SAFETY: repr(C), atomics only.
unsafe impl Shared for WaitRecord {}

impl WaitRecord {
    fn sops(&self) -> Option<Vec<Sop>> {
        let n = self.nsops.load(Relaxed) as usize;
        (n <= INLINE_SOPS).then(|| {
            self.sops[..n]
                .iter()
                .map(|s| Sop { num: s.num.load(Relaxed), op: s.op.load(Relaxed), flags: s.flags.load(Relaxed) })
                .collect()
        })
    }

    fn owner_alive(&self) -> bool {
        platform::thread_alive(ThreadIdentity { tid: self.owner.load(Acquire), start: self.owner_start.load(Relaxed) })
    }

    pub fn undo_record(&self) -> Option<u32> {
        self.undo.load(Relaxed).checked_sub(1)
    }

    /// Sleeps until the state leaves WAITING or `timeout` passes.
    pub fn sleep(&self, timeout: Duration) -> platform::Wake {
        self.asleep.store(1, SeqCst);
        let result = if self.state.load(SeqCst) == WAITING {
            platform::futex_wait(&self.state, WAITING, timeout)
        } else {
            platform::Wake::Woken
        };
        self.asleep.store(0, SeqCst);
        result
    }

    /// Gives the record back to the pool.
    pub fn release(&self) {
        self.state.store(FREE, Relaxed);
        self.owner.store(0, Release);
    }
}

/// Takes a free record for the calling thread, filled in for a blocked
/// semop on set `set_id` (not yet listed).
pub fn claim<'r>(region: &'r Region, set_id: i32, sops: &[Sop], undo: Option<u32>) -> Result<(u32, &'r WaitRecord)> {
    claim_free(region, set_id, sops, undo).or_else(|_| {
        // The pool is full: records of dead processes whose set is gone are
        // nobody's (those of live sets are their sets' to reap).
        for index in 0..WAIT_RECORDS {
            let Some(record) = region.wait_record(index) else { break };
            let id = record.set_id.load(Relaxed);
            let set_gone = !region.sem_set(crate::ipc::index_of(id)).is_some_and(|s| s.header.holds(id));
            if record.owner.load(Relaxed) != 0 && set_gone && !record.owner_alive() {
                record.release();
            }
        }
        claim_free(region, set_id, sops, undo)
    })
}

fn claim_free<'r>(region: &'r Region, set_id: i32, sops: &[Sop], undo: Option<u32>) -> Result<(u32, &'r WaitRecord)> {
    let me = platform::thread_identity();
    for index in 0..WAIT_RECORDS {
        let Some(record) = region.wait_record(index) else { break };
        if record.owner.load(Relaxed) != 0 || record.owner.compare_exchange(0, me.tid, Acquire, Relaxed).is_err() {
            continue;
        }
        record.owner_start.store(me.start, Relaxed);
        record.pid.store(platform::pid(), Relaxed);
        record.set_id.store(set_id, Relaxed);
        record.next.store(0, Relaxed);
        record.undo.store(undo.map_or(0, |u| u + 1), Relaxed);
        record.nsops.store(sops.len() as u32, Relaxed);
        for (slot, sop) in record.sops.iter().zip(sops) {
            slot.num.store(sop.num, Relaxed);
            slot.op.store(sop.op, Relaxed);
            slot.flags.store(sop.flags, Relaxed);
        }
        record.asleep.store(0, Relaxed);
        record.state.store(WAITING, Release);
        return Ok((index, record));
    }
    Err(Errno::ENOMEM)
}

/// The records listed on `set`, in order. Stops at anything that does not
/// belong (a corrupted link) and never walks further than the pool.
pub fn listed<'r>(region: &'r Region, set: &SemSet) -> Vec<(u32, &'r WaitRecord)> {
    let id = set.header.id.load(Relaxed);
    let mut out = Vec::new();
    let mut link = set.waiters_head.load(Relaxed);
    while link != 0 && out.len() < WAIT_RECORDS as usize {
        let Some(record) = region.wait_record(link - 1) else { break };
        if record.set_id.load(Relaxed) != id || out.iter().any(|&(i, _)| i == link - 1) {
            break;
        }
        out.push((link - 1, record));
        link = record.next.load(Relaxed);
    }
    out
}

/// Appends record `index` to `set`'s list.
pub fn append(region: &Region, set: &SemSet, index: u32) {
    let tail = set.waiters_tail.load(Relaxed);
    match tail.checked_sub(1).and_then(|t| region.wait_record(t)) {
        Some(last) => last.next.store(index + 1, Release),
        None => set.waiters_head.store(index + 1, Release),
    }
    set.waiters_tail.store(index + 1, Relaxed);
}

/// Takes record `index` off `set`'s list, if it is there.
pub fn unlink(region: &Region, set: &SemSet, index: u32) {
    let records = listed(region, set);
    let Some(position) = records.iter().position(|&(i, _)| i == index) else { return };
    let next = records[position].1.next.load(Relaxed);
    // The single store that takes the record off the list.
    match position.checked_sub(1) {
        None => set.waiters_head.store(next, Release),
        Some(p) => records[p].1.next.store(next, Release),
    }
    if set.waiters_tail.load(Relaxed) == index + 1 {
        set.waiters_tail.store(if position == 0 { 0 } else { records[position - 1].0 + 1 }, Relaxed);
    }
}

/// Rebuilds the derived tail, cutting the list at anything invalid.
pub fn repair_list(region: &Region, set: &SemSet) {
    let records = listed(region, set);
    match records.last() {
        Some(&(last, record)) => {
            record.next.store(0, Release);
            set.waiters_tail.store(last + 1, Relaxed);
        }
        None => {
            set.waiters_head.store(0, Release);
            set.waiters_tail.store(0, Relaxed);
        }
    }
}

/// Performs every listed operation that can now proceed, in FIFO order,
/// restarting after each success (it may enable earlier ones). Returns the
/// records whose owners must be woken (after the set is unlocked).
pub fn update_queue<'r>(region: &'r Region, set: &SemSet, storage: &Storage) -> Vec<&'r WaitRecord> {
    let mut wake = Vec::new();
    if set.waiters_head.load(Relaxed) == 0 {
        return wake;
    }
    let mut changes = super::set::Changes::new();
    'scan: loop {
        for (index, record) in listed(region, set) {
            if record.state.load(Relaxed) != WAITING {
                continue;
            }
            let Some(sops) = record.sops() else {
                unlink(region, set, index);
                record.state.store(RECHECK, SeqCst);
                wake.push(record);
                continue;
            };
            match evaluate(storage, &sops, record.undo_record(), record.pid.load(Relaxed), &mut changes) {
                // Never hand a semaphore to a sleeper that is gone (one
                // system call per hand-off; zombies are caught by `reap`).
                Outcome::Apply if record.owner_dead(Look::Quick) => {
                    unlink(region, set, index);
                    record.release();
                    continue 'scan;
                }
                Outcome::Apply => {
                    if storage.commit(&changes).is_err() {
                        continue;
                    }
                    set.otime.store(platform::now_secs(), Relaxed);
                    unlink(region, set, index);
                    record.state.store(GRANTED, SeqCst);
                    wake.push(record);
                    continue 'scan;
                }
                Outcome::Block { sem, zero } => {
                    record.blocking_sem.store(sem as u32, Relaxed);
                    record.blocking_zero.store(zero as u32, Relaxed);
                }
                Outcome::Fail(e) => {
                    unlink(region, set, index);
                    record.state.store(FAILED + e.0 as u32, SeqCst);
                    wake.push(record);
                }
            }
        }
        return wake;
    }
}

/// Wakes the owners of `records` (those asleep: the others see the state).
pub fn wake(records: &[&WaitRecord]) {
    for record in records {
        if record.asleep.load(SeqCst) != 0 {
            platform::futex_wake(&record.state, 1);
        }
    }
}

/// How hard [`reap`] looks for dead processes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Look {
    /// Processes that are gone altogether (exited and reaped): one cheap
    /// system call per process concerned. Enough to see, right after
    /// waitpid, what Linux did at the child's exit.
    Quick,
    /// Also zombies and recycled pids, by reading /proc: every
    /// [`REAP_INTERVAL`] at most.
    Thorough,
}

impl WaitRecord {
    fn owner_dead(&self, look: Look) -> bool {
        match look {
            Look::Quick => platform::gone(self.owner.load(Acquire)),
            Look::Thorough => !self.owner_alive(),
        }
    }
}

fn process_dead(pid: i32, start: u64, look: Look) -> bool {
    match look {
        Look::Quick => platform::gone(pid as u32),
        Look::Thorough => !platform::thread_alive(ThreadIdentity { tid: pid as u32, start }),
    }
}

/// Looks for dead processes around `set` and undoes their effects: dead
/// sleepers leave the list, operations granted to a process that died
/// before returning are reverted, and the undo adjustments of dead
/// processes are applied. Then whatever can proceed does.
pub fn reap<'r>(region: &'r Region, set: &SemSet, storage: &Storage, look: Look) -> Vec<&'r WaitRecord> {
    if look == Look::Thorough {
        set.last_reap_ms.store(platform::monotonic_now().as_millis() as u64, Relaxed);
    }
    let mut changed = false;
    for (index, record) in listed(region, set) {
        if record.owner_dead(look) {
            unlink(region, set, index);
            record.release();
        }
    }
    let id = set.header.id.load(Relaxed);
    // Grants to the dead are rare and the pool is large: only a thorough look.
    let pool = if look == Look::Thorough { WAIT_RECORDS } else { 0 };
    for index in 0..pool {
        let Some(record) = region.wait_record(index) else { break };
        if record.owner.load(Relaxed) == 0 || record.set_id.load(Relaxed) != id || !record.owner_dead(look) {
            continue;
        }
        match record.state.load(Acquire) {
            GRANTED => {
                if let Some(sops) = record.sops() {
                    let changes = revert(storage, &sops, record.undo_record(), record.pid.load(Relaxed));
                    changed |= storage.commit(&changes).is_ok();
                }
                record.release();
            }
            // Dead before it was listed (its owner died holding the lock
            // between taking the record and listing it), or listed and
            // unlinked above: either way nobody's.
            WAITING => {
                unlink(region, set, index);
                record.release();
            }
            _ => {}
        }
    }
    for undo in 0..storage.undo_capacity() {
        let Some(owner) = storage.undo(undo) else { break };
        let pid = owner.pid.load(Acquire);
        if pid != 0 && process_dead(pid, owner.start.load(Relaxed), look) {
            changed |= storage.commit(&super::undo::unwind(storage, undo, pid)).is_ok();
        }
    }
    if changed {
        // As Linux's exit_sem: applying undo counts as an operation.
        set.otime.store(platform::now_secs(), Relaxed);
    }
    update_queue(region, set, storage)
}

/// Whether `set` is due for a look for dead processes.
pub fn reap_due(set: &SemSet) -> bool {
    let now = platform::monotonic_now().as_millis() as u64;
    now.saturating_sub(set.last_reap_ms.load(Relaxed)) >= REAP_INTERVAL.as_millis() as u64
}

/// The inverse of operations granted to process `pid`: values and
/// adjustments back where they would be had they never been performed.
///
/// If the process's undo adjustments were already applied (its undo
/// record is free, or another process's, by now), they already took back
/// what its SEM_UNDO operations did: only the others are reverted.
fn revert(storage: &Storage, sops: &[Sop], undo: Option<u32>, pid: i32) -> Vec<Change> {
    let undo = undo.filter(|&r| storage.undo(r).is_some_and(|u| u.pid.load(Acquire) == pid));
    let undone_already = sops.iter().any(Sop::undo) && undo.is_none();
    let mut values: Vec<(u32, i32)> = Vec::new();
    let mut adjustments: Vec<(u32, i32)> = Vec::new();
    for sop in sops {
        if sop.undo() && undone_already {
            continue;
        }
        let sem = sop.num as u32;
        let value = values.iter().find(|(s, _)| *s == sem).map_or(storage.value(sem), |&(_, v)| v);
        upsert(&mut values, sem, (value - sop.op as i32).clamp(0, SEMVMX));
        if let (true, Some(record)) = (sop.undo(), undo) {
            let current = adjustments
                .iter()
                .find(|(s, _)| *s == sem)
                .map_or_else(|| storage.adjustment(record, sem).map_or(0, |a| a.load(Relaxed) as i32), |&(_, a)| a);
            upsert(&mut adjustments, sem, current + sop.op as i32);
        }
    }
    let mut changes: Vec<Change> = values.into_iter().map(|(sem, value)| Change::Value { sem, value }).collect();
    if let Some(record) = undo {
        changes.extend(adjustments.into_iter().map(|(sem, value)| Change::Adjust { record, sem, value }));
    }
    changes
}

fn upsert(pairs: &mut Vec<(u32, i32)>, key: u32, value: i32) {
    match pairs.iter_mut().find(|(k, _)| *k == key) {
        Some(pair) => pair.1 = value,
        None => pairs.push((key, value)),
    }
}

/// GETNCNT / GETZCNT: sleepers whose blocking operation waits on `sem`
/// for an increase (`zero == false`) or for zero.
pub fn count_waiting(region: &Region, set: &SemSet, sem: u32, zero: bool) -> i32 {
    listed(region, set)
        .iter()
        .filter(|(_, r)| {
            r.state.load(Relaxed) == WAITING
                && r.blocking_sem.load(Relaxed) == sem
                && (r.blocking_zero.load(Relaxed) != 0) == zero
        })
        .count() as i32
}

/// Marks every listed record REMOVED (the set is gone) and empties the list.
pub fn remove_all<'r>(region: &'r Region, set: &SemSet) -> Vec<&'r WaitRecord> {
    let records: Vec<_> = listed(region, set).into_iter().map(|(_, r)| r).collect();
    set.waiters_head.store(0, Release);
    set.waiters_tail.store(0, Relaxed);
    for record in &records {
        record.state.store(REMOVED, SeqCst);
    }
    records
}
