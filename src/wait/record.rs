//! Wait records, the queues they join, and the table that holds them.

use super::{CLAIMED, REMOVED, WAITING};
use crate::error::{Errno, Result};
use crate::platform::{self, Until, Wake};
use crate::process::{Family, Look, Namespace, ProcRef, Scope};
use crate::region::{Owner, Region, Shared, Table, TableSpec};
use smallvec::SmallVec;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::*};
use std::time::Duration;

/// Words of family data in a record (what the waiter waits for).
pub const PAYLOAD_WORDS: usize = 24;

/// One waiting thread. Locking: see the module docs of [`super`].
#[repr(C, align(64))]
pub struct WaitRecord {
    /// The owning process ([`ProcRef`]); 0 when the record is free.
    /// Claimed by CAS, so a record never exists without naming its owner.
    owner: AtomicU64,
    /// The object whose queue the record is on (an [`Owner`] code), or 0.
    object: AtomicU64,
    /// Until when (monotonic µs) the owner spins: it is running, not dead.
    spin_until: AtomicU64,
    /// The futex word: CLAIMED, WAITING, or a settled state.
    pub state: AtomicU32,
    /// Set (SeqCst) while the owner is in FUTEX_WAIT: wakers skip the
    /// system call otherwise.
    asleep: AtomicU32,
    /// The next record on the same queue (index + 1; 0: last).
    next: AtomicU32,
    /// Which of the object's queues (family-defined).
    queue: AtomicU32,
    /// The owning thread, for diagnostics.
    tid: AtomicU32,
    _reserved: AtomicU32,
    /// What the owner waits for, in the family's own encoding.
    pub payload: [AtomicU64; PAYLOAD_WORDS],
}

// SAFETY: repr(C), atomics only.
unsafe impl Shared for WaitRecord {}

/// A queue of waiting records, embedded in an object. Changed only under
/// the object's lock. `head` and the records' `next` links are primary;
/// `tail` is derived ([`Waits::repair`] rebuilds it).
#[repr(C)]
pub struct WaitQueue {
    head: AtomicU32,
    tail: AtomicU32,
}

// SAFETY: repr(C), atomics only.
unsafe impl Shared for WaitQueue {}

impl WaitQueue {
    /// Empties the queue of a new object.
    pub fn clear(&self) {
        self.head.store(0, Release);
        self.tail.store(0, Relaxed);
    }

    pub fn is_empty(&self) -> bool {
        self.head.load(Acquire) == 0
    }
}

#[repr(C)]
pub struct Bookkeeping {
    /// One past the highest record ever used: scans stop here.
    high_water: AtomicU32,
    _reserved: AtomicU32,
}

// SAFETY: repr(C), atomics only.
unsafe impl Shared for Bookkeeping {}

const TAG: u32 = TableSpec::tag(b"WAI1");
const RECORDS: u32 = 8192;

impl WaitRecord {
    pub fn owner(&self) -> ProcRef {
        ProcRef(self.owner.load(Acquire))
    }

    pub fn object(&self) -> Owner {
        Owner(self.object.load(Relaxed))
    }

    pub fn queue(&self) -> u32 {
        self.queue.load(Relaxed)
    }

    /// The state, if the record has been settled (left WAITING).
    pub fn settled(&self) -> Option<u32> {
        match self.state.load(SeqCst) {
            WAITING | CLAIMED => None,
            s => Some(s),
        }
    }

    pub(super) fn spinning_for(&self, time: Duration) {
        let until = platform::monotonic_now().saturating_add(time).as_micros() as u64;
        self.spin_until.store(until, Relaxed);
    }

    /// Whether the owner is still there to take what it is handed: it is
    /// spinning right now, or has not exited.
    pub fn owner_alive(&self) -> bool {
        let now = platform::monotonic_now().as_micros() as u64;
        now < self.spin_until.load(Relaxed) || !Look::Quick.dead(self.owner())
    }

    pub(super) fn sleep(&self, until: Until) -> Wake {
        // Pairs with `Wakeups::wake`: either the waker sees `asleep` and
        // wakes us, or we see its settled state and do not sleep.
        self.asleep.store(1, SeqCst);
        let result = if self.state.load(SeqCst) == WAITING {
            platform::futex_wait(&self.state, WAITING, until)
        } else {
            Wake::Woken
        };
        self.asleep.store(0, SeqCst);
        result
    }

    /// Frees the record.
    fn release(&self) {
        self.object.store(0, Relaxed);
        self.state.store(CLAIMED, Relaxed);
        self.owner.store(0, Release);
    }
}

/// The namespace's wait records.
#[derive(Clone, Copy)]
pub struct Waits<'r>(Table<'r, Bookkeeping, WaitRecord>);

/// The wait table, as a keeper of per-process records.
pub struct WaitFamily;

impl Family for WaitFamily {
    fn tables(&self) -> Vec<TableSpec> {
        vec![TableSpec {
            tag: TAG,
            prefix: std::mem::size_of::<Bookkeeping>() as u32,
            stride: std::mem::size_of::<WaitRecord>() as u32,
            count: RECORDS,
        }]
    }

    /// After the families (which unqueue their objects' records under
    /// their locks): the records `who` still owns are on no live object's
    /// queue, and nobody else will give them back.
    fn release(&self, ns: &Namespace, who: ProcRef, _scope: Scope) {
        let Ok(waits) = Waits::of(ns) else { return };
        for (index, record) in waits.owned_by(who) {
            let object = record.object();
            if object.0 == 0 || !ns.holds(object) {
                waits.release_dead(ns, None, object, index, who);
            }
        }
    }
}

impl<'r> Waits<'r> {
    pub fn of(region: &'r Region) -> Result<Waits<'r>> {
        region.table(TAG).map(Waits)
    }

    pub fn get(&self, index: u32) -> Option<&'r WaitRecord> {
        self.0.get(index)
    }

    fn used(&self) -> impl Iterator<Item = (u32, &'r WaitRecord)> + '_ {
        let end = self.0.prefix().high_water.load(Acquire).min(self.0.len());
        (0..end).filter_map(|i| self.0.get(i).map(|r| (i, r)))
    }

    /// The records `who` owns.
    pub fn owned_by(&self, who: ProcRef) -> Vec<(u32, &'r WaitRecord)> {
        self.used().filter(|(_, r)| r.owner.load(Acquire) == who.0).collect()
    }

    /// Takes a free record for the calling thread, to wait on `object`.
    /// When every record is taken, the dead are reaped first; ENOMEM only
    /// if the living hold them all.
    pub fn claim(self, ns: &Namespace, object: Owner) -> Result<Waiter<'r>> {
        let me = ns.me()?;
        ns.note_holding(me, self.0.directory_index());
        let claimed = self.try_claim(me).or_else(|| {
            ns.reap_dead(Look::Thorough, true);
            self.try_claim(me)
        });
        let (index, record) = claimed.ok_or(Errno::ENOMEM)?;
        // Dying from here until it is queued leaves a record that names a
        // dead owner and is on no queue: its reaper gives it back.
        crate::crash_point::here("wait-claimed");
        record.object.store(object.0, Relaxed);
        record.tid.store(platform::thread().id, Relaxed);
        record.spin_until.store(0, Relaxed);
        record.asleep.store(0, Relaxed);
        record.next.store(0, Relaxed);
        record.state.store(CLAIMED, Relaxed);
        Ok(Waiter { waits: self, index, record, queued: false })
    }

    fn try_claim(&self, me: ProcRef) -> Option<(u32, &'r WaitRecord)> {
        // Start where this thread's records usually are: uncontended.
        let count = self.0.len();
        let start = platform::thread().id.wrapping_mul(7) % count;
        (0..count).map(|i| (start + i) % count).find_map(|index| {
            let record = self.0.get(index)?;
            let free =
                record.owner.load(Relaxed) == 0 && record.owner.compare_exchange(0, me.0, Acquire, Relaxed).is_ok();
            free.then(|| {
                self.0.prefix().high_water.fetch_max(index + 1, AcqRel);
                (index, record)
            })
        })
    }

    /// The records on `queue` (of `object`), in order. Stops at anything
    /// that does not belong (a corrupted link) and never walks further
    /// than the table.
    pub fn queued(&self, queue: &WaitQueue, object: Owner) -> SmallVec<[(u32, &'r WaitRecord); 8]> {
        let mut out: SmallVec<[(u32, &'r WaitRecord); 8]> = SmallVec::new();
        let mut link = queue.head.load(Acquire);
        while link != 0 && out.len() < self.0.len() as usize {
            let Some(record) = self.0.get(link - 1) else { break };
            if record.object.load(Relaxed) != object.0 || out.iter().any(|&(i, _)| i == link - 1) {
                break;
            }
            out.push((link - 1, record));
            link = record.next.load(Acquire);
        }
        out
    }

    /// Takes record `index` off `queue`, if it is there.
    pub fn unqueue(&self, queue: &WaitQueue, object: Owner, index: u32) {
        let records = self.queued(queue, object);
        let Some(position) = records.iter().position(|&(i, _)| i == index) else { return };
        let next = records[position].1.next.load(Relaxed);
        // The single store that takes the record off the queue.
        match position.checked_sub(1) {
            None => queue.head.store(next, Release),
            Some(p) => records[p].1.next.store(next, Release),
        }
        if queue.tail.load(Relaxed) == index + 1 {
            queue.tail.store(if position == 0 { 0 } else { records[position - 1].0 + 1 }, Relaxed);
        }
    }

    /// Settles record `index` of `queue` with `state`, takes it off the
    /// queue, and adds it to the owners to wake once the lock is dropped.
    pub fn settle(&self, queue: &WaitQueue, object: Owner, index: u32, state: u32, wakeups: &mut Wakeups<'r>) {
        let Some(record) = self.0.get(index) else { return };
        if record.object.load(Relaxed) != object.0 {
            return;
        }
        record.state.store(state, SeqCst);
        crate::crash_point::here("wait-settled");
        self.unqueue(queue, object, index);
        wakeups.push(record);
    }

    /// Settles every record of `queue` REMOVED (the object is gone).
    pub fn remove_all(&self, queue: &WaitQueue, object: Owner, wakeups: &mut Wakeups<'r>) {
        for (index, _) in self.queued(queue, object) {
            self.settle(queue, object, index, REMOVED, wakeups);
        }
        queue.head.store(0, Release);
        queue.tail.store(0, Relaxed);
    }

    /// After the lock was taken over from a dead holder: rebuilds the tail,
    /// cutting the queue at anything invalid, and finishes what a settler
    /// that died left undone (settled records still queued are unqueued
    /// and their owners woken).
    pub fn repair(&self, queue: &WaitQueue, object: Owner, wakeups: &mut Wakeups<'r>) {
        let records = self.queued(queue, object);
        match records.last() {
            Some(&(last, record)) => {
                record.next.store(0, Release);
                queue.tail.store(last + 1, Relaxed);
            }
            None => {
                queue.head.store(0, Release);
                queue.tail.store(0, Relaxed);
            }
        }
        for (index, record) in records {
            if let Some(state) = record.settled() {
                self.settle(queue, object, index, state, wakeups);
            } else if record.owner.load(Acquire) == 0 {
                self.unqueue(queue, object, index);
            }
        }
    }

    /// Gives back record `index` of `who` (dead, or exiting), queued on
    /// `queue` of `object` or on none (under the object's lock, if it is
    /// live). Nothing happens if the record is no longer `who`'s: another
    /// reaper of `who` gave it back meanwhile (see `Namespace::adopt`).
    pub fn release_dead(&self, ns: &Namespace, queue: Option<&WaitQueue>, object: Owner, index: u32, who: ProcRef) {
        let Some(record) = self.0.get(index) else { return };
        if record.object() != object || !ns.adopt(&record.owner, who, self.0.directory_index()) {
            return;
        }
        if let Some(queue) = queue {
            self.unqueue(queue, object, index);
        }
        record.release();
    }
}

/// A thread's record, from [`Waits::claim`] until it is dropped (after
/// [`Waiter::dequeue`], or without ever joining a queue).
pub struct Waiter<'r> {
    waits: Waits<'r>,
    index: u32,
    record: &'r WaitRecord,
    queued: bool,
}

impl<'r> Waiter<'r> {
    pub fn record(&self) -> &'r WaitRecord {
        self.record
    }

    pub fn index(&self) -> u32 {
        self.index
    }

    /// Joins `queue` (number `which` of the object), WAITING. Under the
    /// object's lock; the payload is filled in already.
    pub fn enqueue(&mut self, queue: &WaitQueue, which: u32) {
        let record = self.record;
        record.queue.store(which, Relaxed);
        record.next.store(0, Relaxed);
        record.state.store(WAITING, SeqCst);
        let tail = queue.tail.load(Relaxed);
        // The single store that puts the record on the queue.
        match tail.checked_sub(1).and_then(|t| self.waits.0.get(t)) {
            Some(last) => last.next.store(self.index + 1, Release),
            None => queue.head.store(self.index + 1, Release),
        }
        queue.tail.store(self.index + 1, Relaxed);
        self.queued = true;
    }

    /// Under the object's lock again (`queue`), or with the object gone
    /// (None): leaves the queue if still on it and returns the state it
    /// ended in (WAITING if nobody settled it). The record stays claimed
    /// for another round.
    pub fn dequeue(&mut self, queue: Option<&WaitQueue>) -> u32 {
        if let (Some(queue), true) = (queue, self.queued) {
            self.waits.unqueue(queue, self.record.object(), self.index);
        }
        self.queued = false;
        let state = self.record.state.swap(CLAIMED, SeqCst);
        self.record.asleep.store(0, Relaxed);
        state
    }
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        // Still queued only if the caller failed to dequeue (a panic, say):
        // leave the record to the owner's release, which unqueues it under
        // the lock.
        if !self.queued {
            self.record.release();
        }
    }
}

/// Owners of settled records, to wake once the object's lock is dropped.
#[derive(Default)]
pub struct Wakeups<'r>(SmallVec<[&'r WaitRecord; 4]>);

impl<'r> Wakeups<'r> {
    pub fn push(&mut self, record: &'r WaitRecord) {
        self.0.push(record);
    }

    /// Wakes the owners that are asleep (the others see the state).
    pub fn wake(self) {
        if self.0.is_empty() {
            return;
        }
        for record in self.0 {
            if record.asleep.load(SeqCst) != 0 {
                platform::futex_wake(&record.state, 1);
            }
        }
    }
}
