//! A queue of either family locked, with what its operations need: the
//! namespace, the queue, the storage of its messages, and the ends of its
//! list that are held.

use super::{Corrupt, Ends, Held, MessageList, Store, TypedList, Waiting};
use crate::error::{Errno, Result};
use crate::process::Namespace;
use crate::wait::{self, Wakeups};

/// A queue of either family as its locked operations see it.
pub trait Queue {
    type List: List;
    /// Its list of messages, and who waits on it.
    fn parts(&self) -> (&Self::List, &Waiting);
}

/// A list of messages found corrupt: repaired with both ends held, or
/// flagged for the next holder of both.
pub trait List {
    fn repair(&self, st: &Store);
    fn mark_damaged(&self);
}

impl List for MessageList {
    fn repair(&self, st: &Store) {
        MessageList::repair(self, st)
    }

    fn mark_damaged(&self) {
        MessageList::mark_damaged(self)
    }
}

impl List for TypedList {
    fn repair(&self, st: &Store) {
        TypedList::repair(self, st)
    }

    fn mark_damaged(&self) {
        TypedList::mark_damaged(self)
    }
}

pub struct Locked<'r, Q> {
    pub ns: &'r Namespace,
    pub q: &'r Q,
    pub st: Store<'r>,
    pub held: Held<'r>,
}

impl<'r, Q: Queue> Locked<'r, Q> {
    /// Queue `q` with the ends `held`, its messages stored for `st.owner`;
    /// repaired first if a previous holder died (`name` says which queue
    /// it is in the log).
    pub fn new(
        ns: &'r Namespace,
        q: &'r Q,
        st: Store<'r>,
        held: Held<'r>,
        name: impl FnOnce() -> String,
    ) -> Result<Self> {
        if held.recovered {
            crate::log::diag(|| format!("{}: lock holder died; repairing", name()));
            let (list, waiting) = q.parts();
            list.repair(&st);
            waiting.recover(ns, st.owner)?;
        }
        Ok(Locked { ns, q, st, held })
    }

    /// The list was found corrupt: repaired now with both ends held, else
    /// flagged for the next holder of both.
    pub fn repair(&self) {
        let (list, _) = self.q.parts();
        match self.held.ends {
            Ends::Both => list.repair(&self.st),
            _ => list.mark_damaged(),
        }
    }

    /// Settles every waiter of `which` to try again (woken afterwards).
    pub fn settle_all(&self, which: u32, wakeups: &mut Wakeups<'r>) {
        let (_, waiting) = self.q.parts();
        waiting.settle_all(self.ns, self.st.owner, which, wait::RECHECK, wakeups);
    }

    /// Runs a queue mutation, repairing the queue once if it turns out
    /// corrupt; with one end locked, the call fails (EIO) and the next one
    /// to lock both ends repairs.
    pub fn with_repair<T>(&self, mut op: impl FnMut() -> std::result::Result<T, Corrupt>) -> Result<T> {
        op().or_else(|Corrupt| {
            self.repair();
            match self.held.ends {
                Ends::Both => op().map_err(|Corrupt| Errno::EIO),
                _ => Err(Errno::EIO),
            }
        })
    }
}
