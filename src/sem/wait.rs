//! Blocked semaphore operations: what a sleeper's wait record holds, and
//! the hand-off that performs its operations for it.
//!
//! A semop that must block joins its set's wait queue (see `wait`) with its
//! operations in the record's payload. Whoever changes the set's values
//! afterwards runs [`update_queue`]: it performs, on the sleepers' behalf,
//! the operations of every queued record that can now proceed (Linux's
//! `update_queue`), and settles the record GRANTED in the same journal
//! commit as the values (see `set`), so a granter killed at any instruction
//! either granted nothing or granted exactly once. Handing the result over
//! this way keeps a process that releases and retakes a semaphore in a loop
//! from starving the ones asleep on it.

use super::ops::{evaluate, Outcome, Sop};
use super::set::{Change, Changes, Storage};
use crate::process::ProcRef;
use crate::wait::{self, WaitRecord, Wakeups, PAYLOAD_WORDS};
use smallvec::SmallVec;
use std::sync::atomic::Ordering::Relaxed;

/// Operations a record holds. A blocked semop with more re-evaluates itself
/// whenever the set changes instead of being handed its result.
pub const INLINE_SOPS: usize = PAYLOAD_WORDS - 2;

/// Payload word 0: the number of operations and the undo record (+1, 0:
/// none); word 1: the blocking operation (what GETNCNT and GETZCNT count);
/// then the operations.
pub fn describe(record: &WaitRecord, sops: &[Sop], undo: Option<u32>, blocking: (u16, bool)) {
    let undo = undo.map_or(0, |u| u as u64 + 1);
    record.payload[0].store(sops.len() as u64 | undo << 32, Relaxed);
    set_blocking(record, blocking);
    for (word, sop) in record.payload[2..].iter().zip(sops) {
        word.store(sop.encode(), Relaxed);
    }
}

fn set_blocking(record: &WaitRecord, (sem, zero): (u16, bool)) {
    record.payload[1].store(sem as u64 | (zero as u64) << 16, Relaxed);
}

/// The blocking operation: on which semaphore, waiting for zero or not.
pub fn blocking(record: &WaitRecord) -> (u32, bool) {
    let word = record.payload[1].load(Relaxed);
    (word as u16 as u32, word >> 16 & 1 != 0)
}

fn undo_of(record: &WaitRecord) -> Option<u32> {
    (record.payload[0].load(Relaxed) >> 32).checked_sub(1).map(|u| u as u32)
}

/// The record's operations, unless there are more than it holds.
fn sops(record: &WaitRecord) -> Option<SmallVec<[Sop; 8]>> {
    let n = record.payload[0].load(Relaxed) as u32 as usize;
    (n <= INLINE_SOPS).then(|| record.payload[2..2 + n].iter().map(|w| Sop::decode(w.load(Relaxed))).collect())
}

/// Performs every queued operation that can now proceed, in FIFO order,
/// restarting after each success (it may enable earlier ones). Owners to
/// wake go to `wakeups`; sleepers found dead are taken off the queue and
/// returned, for the caller to reap once the set is unlocked.
pub fn update_queue<'r>(storage: &Storage<'r>, wakeups: &mut Wakeups<'r>) -> SmallVec<[ProcRef; 2]> {
    let mut dead = SmallVec::new();
    let (set, owner) = (storage.set, storage.owner);
    if set.waiters.is_empty() {
        return dead;
    }
    let waits = storage.waits();
    let mut changes = Changes::new();
    'scan: loop {
        for (index, record) in waits.queued(&set.waiters, owner) {
            let Some(sops) = sops(record) else {
                waits.settle(&set.waiters, owner, index, wait::RECHECK, wakeups);
                continue;
            };
            let pid = record.owner().pid();
            match evaluate(storage, &sops, undo_of(record), pid, &mut changes) {
                // Never hand a semaphore to a sleeper that is gone.
                Outcome::Apply if !record.owner_alive() => {
                    let who = record.owner();
                    dead.push(who);
                    waits.release_dead(storage.ns(), Some(&set.waiters), owner, index, who);
                    continue 'scan;
                }
                Outcome::Apply => {
                    changes.push(Change::Grant { record: index });
                    if storage.commit(&changes, wakeups).is_err() {
                        continue;
                    }
                    set.otime.store(crate::platform::now_secs(), Relaxed);
                    continue 'scan;
                }
                Outcome::Block { sem, zero } => set_blocking(record, (sem, zero)),
                Outcome::Fail(e) => waits.settle(&set.waiters, owner, index, wait::FAILED + e.0 as u32, wakeups),
            }
        }
        return dead;
    }
}

/// GETNCNT / GETZCNT: sleepers whose blocking operation waits on `sem`
/// for an increase (`zero == false`) or for zero.
pub fn count_waiting(storage: &Storage, sem: u32, zero: bool) -> i32 {
    sleepers(storage).iter().filter(|&&(_, s, z)| (s, z) == (sem, zero)).count() as i32
}

/// The sleepers GETNCNT and GETZCNT count, in queue order: each with its
/// blocking operation's semaphore, and whether it waits for zero.
pub fn sleepers(storage: &Storage) -> SmallVec<[(ProcRef, u32, bool); 4]> {
    let queued = storage.waits().queued(&storage.set.waiters, storage.owner);
    queued
        .iter()
        .filter(|(_, r)| r.settled().is_none())
        .map(|(_, r)| (r.owner(), blocking(r).0, blocking(r).1))
        .collect()
}
