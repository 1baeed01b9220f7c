//! SEM_UNDO: per-process adjustments, applied when the process ends.
//!
//! Each set keeps a fixed number of undo records, one per process that used
//! SEM_UNDO on it, named by pid and process start time (so a recycled pid
//! is never mistaken for the original process). Adjustments change in the
//! same journal commit as the values they undo (see `set`).
//!
//! When they are applied:
//! - at normal exit (and `exit()` from any thread), by the exiting process
//!   itself, for every set it used SEM_UNDO on ([`apply_at_exit`]);
//! - when the process was killed (or called `_exit`), by the first process
//!   that looks for dead processes around the set: every sleeper on the
//!   set does so every `wait::REAP_INTERVAL`, so a waiter blocked on a
//!   semaphore whose holder is killed gets it within that interval; semctl's
//!   queries and an IPC_NOWAIT semop that would block look too.
//!
//! Like Linux, undo survives exec (same process), is not inherited over
//! fork, and clamps the resulting values to [0, SEMVMX].

use super::set::{Change, Storage, SEMVMX};
use crate::error::{Errno, Result};
use crate::platform;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::Mutex;

/// Sets this process used SEM_UNDO on, with the fork generation they
/// belong to: a child starts with none.
static USED: Mutex<(u64, Vec<i32>)> = Mutex::new((0, Vec::new()));

/// The calling process's undo record in this set, claimed if it has none.
pub fn own_record(storage: &Storage, set_id: i32) -> Result<u32> {
    let me = platform::process_identity();
    let mine = |r: u32| {
        storage.undo(r).is_some_and(|u| u.pid.load(Acquire) == me.tid as i32 && u.start.load(Relaxed) == me.start)
    };
    if let Some(record) = (0..storage.undo_capacity()).find(|&r| mine(r)) {
        return Ok(record);
    }
    let free = (0..storage.undo_capacity())
        .find(|&r| storage.undo(r).is_some_and(|u| u.pid.load(Acquire) == 0))
        .ok_or(Errno::ENOMEM)?;
    let undo = storage.undo(free).ok_or(Errno::EIO)?;
    // A free record's adjustments are all zero: claiming it is the store of
    // the pid, after the start time.
    undo.start.store(me.start, Relaxed);
    undo.pid.store(me.tid as i32, Release);
    remember(set_id);
    Ok(free)
}

fn remember(set_id: i32) {
    let generation = platform::fork_generation();
    let mut used = USED.lock().unwrap_or_else(|p| p.into_inner());
    if used.0 != generation {
        *used = (generation, Vec::new());
    }
    if !used.1.contains(&set_id) {
        used.1.push(set_id);
    }
}

/// The changes that apply undo record `record` of process `pid` and free it.
pub fn unwind(storage: &Storage, record: u32, pid: i32) -> Vec<Change> {
    let mut changes = Vec::new();
    for sem in 0..storage.nsems() {
        let adjustment = storage.adjustment(record, sem).map_or(0, |a| a.load(Relaxed) as i32);
        if adjustment != 0 {
            let value = (storage.value(sem) + adjustment).clamp(0, SEMVMX);
            changes.push(Change::Value { sem, value });
            changes.push(Change::Pid { sem, pid });
        }
    }
    changes.push(Change::FreeUndo { record });
    changes
}

/// Applies the calling process's adjustments in every set it used SEM_UNDO
/// on. Called when the process exits.
pub fn apply_at_exit(region: &crate::region::Region) {
    let sets = {
        let used = USED.lock().unwrap_or_else(|p| p.into_inner());
        if used.0 != platform::fork_generation() {
            return;
        }
        used.1.clone()
    };
    let me = platform::process_identity();
    for id in sets {
        let _ = super::with_set(region, id, |set, storage| {
            let record = (0..storage.undo_capacity()).find(|&r| {
                storage
                    .undo(r)
                    .is_some_and(|u| u.pid.load(Acquire) == me.tid as i32 && u.start.load(Relaxed) == me.start)
            });
            if let Some(record) = record {
                storage.commit(&unwind(storage, record, me.tid as i32))?;
                set.otime.store(platform::now_secs(), Relaxed);
                return Ok(super::wait::update_queue(region, set, storage));
            }
            Ok(Vec::new())
        });
    }
}
