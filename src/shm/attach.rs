//! Who has a segment attached: the namespace-wide attachment records, and
//! this process's own list of attachments.
//!
//! A record counts the attachments one process (pid + start time) has of
//! one segment. `shm_nattch` is the sum over live processes, computed when
//! asked; records of dead processes are dropped as they are met, so an
//! attachment ends with its process whether it exits, execs or is killed:
//! - fork: the child adds a record for the attachments it inherits;
//! - exec: the new image (if it loads the shim) drops the records its pid
//!   and start time still hold from the old image;
//! - exit: the process drops its records; SIGKILL leaves them to be dropped
//!   as dead.
//!
//! Locking: a segment's records change under the segment's lock; a free
//! record is claimed by CAS on `pid`.
//!
//! Crash consistency: every change is one store (`count`, or `pid` to claim
//! or free); a record claimed but not filled in has count 0 and names a
//! process that is dead or will fill it.

use crate::platform::{self, ThreadIdentity};
use crate::region::{layout::ATTACH_RECORDS, Region, Shared};
use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, Ordering::*};
use std::sync::Mutex;

#[repr(C)]
pub struct Attachment {
    /// 0: free.
    pid: AtomicI32,
    shm_id: AtomicI32,
    start: AtomicU64,
    /// Attachments, counted from both ends of a fork (see [`adjust`]), so
    /// transiently negative.
    count: AtomicI32,
    _reserved: AtomicU32,
}

// SAFETY: repr(C), atomics only.
unsafe impl Shared for Attachment {}

fn records(region: &Region) -> impl Iterator<Item = &Attachment> {
    let end = region.header().attach_high_water.load(Acquire).min(ATTACH_RECORDS);
    (0..end).filter_map(|i| region.attachment(i))
}

fn is(record: &Attachment, who: ThreadIdentity, shm_id: i32) -> bool {
    record.pid.load(Acquire) == who.tid as i32
        && record.start.load(Relaxed) == who.start
        && record.shm_id.load(Relaxed) == shm_id
}

/// Changes the attachments of `shm_id` counted for process `who` by
/// `delta`; false if a record was needed and the table is full.
///
/// A fork child's inherited attachments are added by its parent, right
/// after fork returns there (see `ffi::process`), while the child may
/// already have detached them: a count may go below zero for a moment, and
/// the record is freed when it reaches zero either way.
pub fn adjust(region: &Region, shm_id: i32, who: ThreadIdentity, delta: i32) -> bool {
    if let Some(record) = records(region).find(|r| is(r, who, shm_id)) {
        if record.count.fetch_add(delta, Relaxed) + delta == 0 {
            record.pid.store(0, Release);
        }
        return true;
    }
    for index in 0..ATTACH_RECORDS {
        let Some(record) = region.attachment(index) else { break };
        if record.pid.load(Relaxed) == 0 && record.pid.compare_exchange(0, -1, Acquire, Relaxed).is_ok() {
            region.header().attach_high_water.fetch_max(index + 1, AcqRel);
            record.shm_id.store(shm_id, Relaxed);
            record.start.store(who.start, Relaxed);
            record.count.store(delta, Relaxed);
            record.pid.store(who.tid as i32, Release);
            return true;
        }
    }
    false
}

/// `shm_nattch`: attachments of `shm_id` by live processes. Records of dead
/// processes are freed on the way.
pub fn count(region: &Region, shm_id: i32) -> u64 {
    let mut total = 0;
    for record in records(region) {
        let pid = record.pid.load(Acquire);
        if pid <= 0 || record.shm_id.load(Relaxed) != shm_id {
            continue;
        }
        if platform::thread_alive(ThreadIdentity { tid: pid as u32, start: record.start.load(Relaxed) }) {
            total += record.count.load(Relaxed).max(0) as u64;
        } else {
            let _ = record.pid.compare_exchange(pid, 0, AcqRel, Relaxed);
        }
    }
    total
}

/// Drops every record held by process `who` (an image that exec replaced),
/// returning the segments concerned.
pub fn forget_process(region: &Region, who: ThreadIdentity) -> Vec<i32> {
    let mut segments = Vec::new();
    for record in records(region) {
        if record.pid.load(Acquire) == who.tid as i32 && record.start.load(Relaxed) == who.start {
            segments.push(record.shm_id.load(Relaxed));
            record.pid.store(0, Release);
        }
    }
    segments
}

/// One of this process's attachments.
#[derive(Clone, Copy, Debug)]
pub struct Local {
    pub addr: usize,
    pub len: usize,
    pub shm_id: i32,
}

/// This process's attachments, with the fork generation they were made in
/// (a fork child inherits its parent's mappings and list alike).
pub static LOCAL: Mutex<Vec<Local>> = Mutex::new(Vec::new());

pub fn local() -> std::sync::MutexGuard<'static, Vec<Local>> {
    LOCAL.lock().unwrap_or_else(|p| p.into_inner())
}
