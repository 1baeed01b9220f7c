//! One System V message queue in the region: its slot, its limit, and its
//! messages (a [`TypedList`]: indexed by type; its module says how it
//! stays consistent when a holder of one of its locks dies). The last
//! sender and receiver and their times are kept with who waits for them
//! (`Waiting`), each on the line its side writes.
//!
//! Locking: everything here runs with the list's ends locked (see
//! `messages::Ends`); the header's lock is the registry's, taken while the
//! queue is made.

use crate::ipc::{Object, ObjectHeader};
use crate::messages::{Corrupt, Found, Store, TypedList, Waiting};
use crate::region::Shared;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// One slot of the message queue table.
#[repr(C, align(64))]
pub struct MsgQueue {
    pub header: ObjectHeader,
    /// Capacity in bytes, and also in messages (as Linux: `msg_qbytes`).
    pub qbytes: AtomicU64,
    /// The messages, in the order sent (`tag` is the type).
    pub list: TypedList,
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
    /// Where, in a slot, the lock that every receive takes lies (for
    /// tests that scribble on it).
    pub const RECEIVING_LOCK: usize = std::mem::offset_of!(MsgQueue, list) + TypedList::RECEIVING_LOCK;

    /// Resets the family fields of a newly created queue.
    pub fn init(&self, qbytes: u64) {
        self.qbytes.store(qbytes, Relaxed);
        self.list.init();
        self.waiting.clear();
    }

    /// Appends a message (after `list.reserve`).
    pub fn enqueue(&self, st: &Store, mtype: i64, text: &[u8]) -> Result<(), Corrupt> {
        self.list.append(st, mtype, text)
    }

    /// Finds the message a receive with `select` would take: by the index
    /// of types, except MSG_COPY's position, which is a walk.
    pub fn find(&self, st: &Store, select: Select) -> Result<Option<Found>, Corrupt> {
        match select {
            Select::Any => self.list.head(st),
            Select::Equal(t) => self.list.first_of(st, t),
            Select::NotEqual(t) => self.list.first_not(st, t),
            Select::LessEqual(bound) => self.list.lowest_at_most(st, bound),
            Select::Position(p) => self.list.at_position(st, p),
        }
    }
}
