//! The one way a call waits: for a message, for room, for a semaphore, and
//! next for POSIX queues and pipes.
//!
//! A thread that must wait takes a [`WaitRecord`] from the namespace's
//! table, describes what it waits for in the record's payload, and joins a
//! [`WaitQueue`] of the object, all under the object's lock. Then it
//! unlocks and sleeps on the record's own futex word, `state`. Whoever
//! changes the object settles the records that the change concerns (under
//! the lock), and wakes their owners after unlocking; a waker may also
//! perform the waiter's operation for it (a hand-off) and settle the record
//! GRANTED, so the waiter returns without retrying and nobody starves it.
//!
//! States of `state`, and who moves them (always under the object's lock,
//! except the owner's claim and release of a record off every queue):
//!
//! | from              | to                | by                    | when                                     |
//! |-------------------|-------------------|-----------------------|------------------------------------------|
//! | FREE (owner 0)    | CLAIMED           | owner, CAS of `owner` | it may have to wait ([`Waits::claim`])   |
//! | CLAIMED           | WAITING, queued   | owner                 | it must wait ([`Waiter::enqueue`])       |
//! | WAITING           | GRANTED, FAILED+e | waker (hand-off)      | it performed the operation for the owner |
//! | WAITING           | RECHECK           | waker                 | the condition may have changed           |
//! | WAITING           | REMOVED           | remover               | the object is gone: EIDRM                |
//! | settled, queued   | settled, unqueued | the settler           | right after settling ([`Waits::settle`]) |
//! | WAITING, queued   | CLAIMED, unqueued | owner                 | time-out, signal ([`Waiter::dequeue`])   |
//! | any               | FREE              | owner, or its reaper  | the owner has its outcome, or is dead (the reaper adopts the record first, under the object's lock if it is queued) |
//!
//! A waiter spins briefly before sleeping (the peer is probably running
//! and about to act: this is where a ping-pong beats the kernel): on
//! `state`, or, before it even queues, on a word the object bumps at every
//! change (message queues do that); then it sets `asleep` and sleeps; a waker makes the FUTEX_WAKE
//! call only when `asleep` is set, so a hand-off to a spinning peer makes no
//! system call. Sleeps end at the deadline (on its own clock), on a signal
//! (EINTR), and every [`LOOK_INTERVAL`] for a look: the owner takes the
//! object's lock (which recovers it if its holder died), sees whether the
//! object still exists (a remover that died after removing it never settled
//! anyone), and lets its family look for dead processes that block it.
//!
//! Crash consistency: a record joins or leaves a queue with one store (the
//! predecessor's `next`, or the queue's head); the tail is derived. A
//! settler killed between settling and unqueuing leaves a settled record
//! queued, which the next holder of the lock unqueues ([`Waits::repair`]). A
//! record whose owner dies is given back by the owner's reaper, through the
//! family of the object it waits on (which holds the lock) or, off every
//! queue, here ([`WaitFamily`] is a `process::Family` itself).

mod record;

pub use record::{WaitFamily, WaitQueue, WaitRecord, Waiter, Waits, Wakeups, PAYLOAD_WORDS};

use crate::platform::spin::{self, Whereabouts};
use crate::platform::{self, Until, Wake};
use std::time::Duration;

/// How often a sleeper looks around (see the module docs).
pub const LOOK_INTERVAL: Duration = crate::process::REAP_INTERVAL;

/// `WaitRecord::state` values.
pub const CLAIMED: u32 = 0;
pub const WAITING: u32 = 1;
pub const GRANTED: u32 = 2;
pub const RECHECK: u32 = 3;
pub const REMOVED: u32 = 4;
/// FAILED + errno: the waker evaluated the operation for the owner and it failed.
pub const FAILED: u32 = 0x1000;

/// How a sleep ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slept {
    /// The record left WAITING: its state says why.
    Settled(u32),
    /// The deadline passed.
    TimedOut,
    /// A signal handler ran.
    Interrupted,
    /// Time for a look (see the module docs); the record is still WAITING.
    Look,
}

/// When a wait gives up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deadline {
    /// A CLOCK_MONOTONIC instant (System V relative timeouts).
    Monotonic(Duration),
    /// A CLOCK_REALTIME instant (POSIX absolute timeouts): setting the
    /// clock moves it.
    Realtime(Duration),
}

impl Deadline {
    /// A relative timeout from now.
    pub fn after(timeout: Duration) -> Deadline {
        Deadline::Monotonic(platform::monotonic_now().saturating_add(timeout))
    }

    /// How to sleep until the deadline or the next look, whichever is first;
    /// None if the deadline has passed.
    fn next_sleep(self) -> Option<(Until, bool)> {
        let (now, at) = match self {
            Deadline::Monotonic(at) => (platform::monotonic_now(), at),
            Deadline::Realtime(at) => (platform::realtime_now(), at),
        };
        let left = at.checked_sub(now).filter(|d| !d.is_zero())?;
        if left > LOOK_INTERVAL {
            return Some((Until::After(LOOK_INTERVAL), false));
        }
        Some(match self {
            Deadline::Monotonic(_) => (Until::After(left), true),
            Deadline::Realtime(at) => (Until::Realtime(at), true),
        })
    }
}

impl Waiter<'_> {
    /// Sleeps until the record is settled, the deadline passes, a signal
    /// arrives, or a look is due; first watches the record for a while
    /// (see `platform::spin`) if `watch` says where the peer that will
    /// settle it acts. Called without the object's lock.
    pub fn sleep(&self, deadline: Option<Deadline>, watch: Option<&Whereabouts>) -> Slept {
        let record = self.record();
        if let Some(peer) = watch {
            record.spinning_for(spin::SPIN_TIME);
            spin::watch(&record.state, WAITING, Some(peer), spin::SPIN_TIME);
        }
        loop {
            if let Some(state) = record.settled() {
                return Slept::Settled(state);
            }
            let (until, is_deadline) = match deadline {
                None => (Until::After(LOOK_INTERVAL), false),
                Some(d) => match d.next_sleep() {
                    Some(next) => next,
                    None => return Slept::TimedOut,
                },
            };
            match record.sleep(until) {
                Wake::Interrupted => return record.settled().map_or(Slept::Interrupted, Slept::Settled),
                Wake::TimedOut if !is_deadline => return record.settled().map_or(Slept::Look, Slept::Settled),
                Wake::TimedOut | Wake::Woken => {}
            }
        }
    }
}
