//! One POSIX message queue in the region, and the table of them.
//!
//! A queue lives in a slot of the table from `mq_open(O_CREAT)` until its
//! name is gone *and* no open description refers to it. Slot states:
//!
//! | from     | to       | by                                    |
//! |----------|----------|---------------------------------------|
//! | FREE     | CREATING | mq_open, under the names lock         |
//! | CREATING | NAMED    | mq_open, once every field is written  |
//! | NAMED    | UNLINKED | mq_unlink                             |
//! | UNLINKED | FREE     | whoever finds no description left (see `descriptor`) |
//! | CREATING | FREE     | whoever takes the names lock over from a creator that died |
//!
//! Every transition is one store of `slot.state`, under the names lock;
//! `generation` changes at each creation, so a descriptor or a waiter that
//! names an old occupant never matches a new one.
//!
//! Locking: the names lock (the table's prefix) serialises creation,
//! lookup by name, unlinking and freeing; the queue's own `lock` its
//! messages, waiters and notification. The names lock comes first.
//!
//! Crash consistency: the name, attributes and owner are written while the
//! slot is CREATING and never change after it is published; the messages
//! are a [`MessageList`] (see its module); the notification's `owner` word
//! is its commit point (see `notify`). Nothing else is kept: the counts
//! that limits apply to (queues, bytes per user) are computed from the
//! slots when they are needed, so there is nothing derived to repair.

use crate::messages::{MessageList, Waiting};
use crate::region::{RobustLock, Shared, Slot};
use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, Ordering::Relaxed};

/// `Slot::state` values besides `region::FREE`.
pub const CREATING: u32 = 1;
pub const NAMED: u32 = 2;
pub const UNLINKED: u32 = 3;

/// Longest name (after the leading '/'), as mqueue's NAME_MAX.
pub const NAME_MAX: usize = 255;

/// The table's prefix.
#[repr(C)]
pub struct Names {
    pub lock: RobustLock,
}

// SAFETY: repr(C), atomics only.
unsafe impl Shared for Names {}

/// One slot of the queue table. Laid out by who writes what: the slot,
/// attributes, name and registration change only at creation and on
/// mq_notify, and every call reads them; the messages (with the locks of
/// their two ends) change at every send and receive; waiters watch
/// `waiting`. Each group has cache lines of its own, so a sender and a
/// receiver on two CPUs do not steal each other's read-only lines.
#[repr(C, align(64))]
pub struct MqQueue {
    pub slot: Slot,
    /// Set at creation, constant after (see the module docs).
    pub attr: Attributes,
    name: [AtomicU64; 32],
    pub notify: Registration,
    /// The messages, highest priority first, FIFO within one (`tag` is
    /// the priority).
    pub list: MessageList,
    pub waiting: Waiting,
}

/// What mq_open fixed.
#[repr(C)]
pub struct Attributes {
    pub name_len: AtomicU32,
    pub mode: AtomicU32,
    pub uid: AtomicU32,
    pub gid: AtomicU32,
    pub maxmsg: AtomicU64,
    pub msgsize: AtomicU64,
    /// Whose RLIMIT_MSGQUEUE it counts against (the creator's real uid),
    /// and how many bytes.
    pub charged_uid: AtomicU32,
    _reserved: AtomicU32,
    pub charge: AtomicU64,
}

/// A process's request to hear when the queue stops being empty.
#[repr(C, align(64))]
pub struct Registration {
    /// The registered process (a `ProcRef`), 0 when nobody: the commit
    /// point of registering and of dropping a registration.
    pub owner: AtomicU64,
    /// SIGEV_NONE, SIGEV_SIGNAL or SIGEV_THREAD, and the signal.
    pub kind: AtomicI32,
    pub signo: AtomicI32,
    /// `sigev_value`, delivered as is.
    pub value: AtomicU64,
    /// The descriptor the owner registered through (it ends the
    /// registration when it is closed), and its file position.
    pub fd: AtomicI32,
    /// Bumped whenever a registration is made or ends; a helper of the
    /// owner sleeps on it (see `notify`).
    pub serial: AtomicU32,
    /// The serial of the registration whose helper must act: run the
    /// function (SIGEV_THREAD), or send the signal that the sender was
    /// not allowed to send (SIGEV_SIGNAL to another user's process); any
    /// other ending only stops the helper.
    pub fired: AtomicU32,
    /// The sender that fired it, for the signal's si_pid and si_uid.
    pub sender_uid: AtomicU32,
    pub sender_pid: AtomicI32,
    /// The serial of the last registration whose helper sent the signal.
    pub relayed: AtomicU32,
}

// SAFETY: repr(C), atomics only.
unsafe impl Shared for MqQueue {}

impl MqQueue {
    /// Whether the slot holds a queue (named or not) of `generation`.
    pub fn holds(&self, generation: u32) -> bool {
        matches!(self.slot.state.load(std::sync::atomic::Ordering::Acquire), NAMED | UNLINKED)
            && self.slot.generation.load(Relaxed) == generation
    }

    pub fn set_name(&self, name: &[u8]) {
        let mut words = [0u64; 32];
        for (i, b) in name.iter().enumerate() {
            words[i / 8] |= (*b as u64) << (8 * (i % 8));
        }
        for (slot, w) in self.name.iter().zip(words) {
            slot.store(w, Relaxed);
        }
        self.attr.name_len.store(name.len() as u32, Relaxed);
    }

    pub fn name(&self) -> Vec<u8> {
        let len = (self.attr.name_len.load(Relaxed) as usize).min(NAME_MAX);
        (0..len).map(|i| (self.name[i / 8].load(Relaxed) >> (8 * (i % 8))) as u8).collect()
    }

    pub fn maxmsg(&self) -> u64 {
        self.attr.maxmsg.load(Relaxed)
    }

    pub fn msgsize(&self) -> u64 {
        self.attr.msgsize.load(Relaxed)
    }
}
