//! One System V message queue in the region: its slot, its limits and
//! times, and its messages (a [`MessageList`], whose module says how it
//! stays consistent when a holder of the queue's lock dies).
//!
//! Locking: everything here runs with the queue's `header.lock` held.

use crate::ipc::{Object, ObjectHeader};
use crate::messages::{Corrupt, Found, MessageList, Store, Visit, Waiting};
use crate::region::Shared;
use std::sync::atomic::{AtomicI32, AtomicI64, AtomicU64, Ordering::Relaxed};

/// One slot of the message queue table.
#[repr(C, align(64))]
pub struct MsgQueue {
    pub header: ObjectHeader,
    /// Capacity in bytes, and also in messages (as Linux: `msg_qbytes`).
    pub qbytes: AtomicU64,
    pub lspid: AtomicI32,
    pub lrpid: AtomicI32,
    pub stime: AtomicI64,
    pub rtime: AtomicI64,
    /// The messages, in the order sent (`tag` is the type).
    pub list: MessageList,
    pub waiting: Waiting,
}

// SAFETY: repr(C), atomics only.
unsafe impl Shared for MsgQueue {}
// SAFETY: repr(C), the header first.
unsafe impl Object for MsgQueue {
    fn header(&self) -> &ObjectHeader {
        &self.header
    }
}

/// Which message a receive takes (Linux's search modes).
#[derive(Clone, Copy, Debug)]
pub enum Select {
    Any,
    Equal(i64),
    NotEqual(i64),
    /// The first message of the lowest type <= the bound.
    LessEqual(i64),
    /// MSG_COPY: the message at this position.
    Position(i64),
}

impl Select {
    /// Whether a message of type `mtype` would do (a position always may).
    pub fn accepts(self, mtype: i64) -> bool {
        match self {
            Select::Any | Select::Position(_) => true,
            Select::Equal(t) => mtype == t,
            Select::NotEqual(t) => mtype != t,
            Select::LessEqual(b) => mtype <= b,
        }
    }

    /// Two words, for a wait record's payload.
    pub fn encode(self) -> [u64; 2] {
        match self {
            Select::Any => [0, 0],
            Select::Equal(t) => [1, t as u64],
            Select::NotEqual(t) => [2, t as u64],
            Select::LessEqual(b) => [3, b as u64],
            Select::Position(p) => [4, p as u64],
        }
    }

    pub fn decode(words: [u64; 2]) -> Select {
        let value = words[1] as i64;
        match words[0] {
            1 => Select::Equal(value),
            2 => Select::NotEqual(value),
            3 => Select::LessEqual(value),
            4 => Select::Position(value),
            _ => Select::Any,
        }
    }
}

impl MsgQueue {
    /// Resets the family fields of a newly created queue.
    pub fn init(&self, qbytes: u64) {
        self.qbytes.store(qbytes, Relaxed);
        for pid in [&self.lspid, &self.lrpid] {
            pid.store(0, Relaxed);
        }
        for time in [&self.stime, &self.rtime] {
            time.store(0, Relaxed);
        }
        self.list.init();
        self.waiting.clear();
    }

    /// Appends a message (after `list.reserve`).
    pub fn enqueue(&self, st: &Store, mtype: i64, text: &[u8]) -> Result<(), Corrupt> {
        self.list.enqueue(st, mtype, text, |_| false)
    }

    /// Finds the message a receive with `select` would take.
    pub fn find(&self, st: &Store, select: Select) -> Result<Option<Found>, Corrupt> {
        let mut position = 0i64;
        let mut bound = match select {
            Select::LessEqual(b) => b,
            _ => 0,
        };
        self.list.find(st, |mtype| {
            let here = position;
            position += 1;
            match select {
                Select::Any => Visit::Take,
                Select::Equal(t) if mtype == t => Visit::Take,
                Select::NotEqual(t) if mtype != t => Visit::Take,
                Select::Position(p) if here == p => Visit::Take,
                // The lowest type wins; none is below 1.
                Select::LessEqual(_) if mtype <= bound && mtype == 1 => Visit::Take,
                Select::LessEqual(_) if mtype <= bound => {
                    bound = mtype - 1;
                    Visit::Remember
                }
                _ => Visit::Next,
            }
        })
    }
}
