//! A list of messages stored as chains of runs of blocks (see [`Run`]) in
//! chunks that its owner holds: the storage of System V message queues and
//! of POSIX queues.
//!
//! Locking: the list has a lock for each of its two ends (see [`Ends`]).
//!
//! The list hangs from an *anchor*: the first run of the message taken
//! off the front last (or of a blank message, before the first is taken).
//! The first message is the anchor's successor. Taking it makes it the
//! anchor, so taking a message off the front writes `head` only, never a
//! link that an append may be writing at the same moment: the list's two
//! ends share no word, whatever its length.
//!
//! Crash consistency. The *primary* state is the message list: `head` (the
//! anchor) and each message's `next_msg` link, plus the bytes of the
//! messages on it.
//! Everything else (`tail`, each message's `prev_msg`, `count`, `bytes`,
//! the free list and its count, and a [`TypedList`]'s index) is
//! *derived*, and [`MessageList::repair`] rebuilds it from the primary
//! state and the chunk ownership array. Each mutation changes the
//! primary state with one store, made after the message it publishes is
//! fully written, so whatever instruction a lock holder dies at, the next
//! holder finds every message either wholly on the list or not on it:
//!
//! - enqueue: take runs off the free list (derived), fill them
//!   (unreachable so far), point the new message at its successor, then
//!   link it with one store to its predecessor's `next_msg` (the anchor's
//!   for the first message; before the very first, a blank anchor is made
//!   the same way and linked with one store to `head`), then update the
//!   derived totals. Dying before the link leaves runs off every list:
//!   repair returns them to the free list.
//! - receive: copy the message out first, then unlink it with one store
//!   (`head`, making it the anchor, when it is the first; else its
//!   predecessor's `next_msg`), then free its runs (but the first run
//!   of a new anchor) and the old anchor's. Dying before the unlink leaves
//!   the message queued for the next receiver; after it, it is consumed.
//! - chunk claim: see `region::chunks`; a chunk claimed but not yet threaded
//!   on the free list is found again by repair, which scans the owner array.
//!
//! - `space`: the free space, how a message takes it and gives it back,
//!   and how space cut up by a mix of sizes is merged again.
//! - `typed`: the index by tag of System V queues (its own module docs).
//!
//! The `crash_point` names keep the `msg-` prefix of the family that came
//! first; they mark the same instants for every user of the list.

use crate::error::Errno;
use crate::platform::spin::{self, Whereabouts};
use crate::process::inspect::{Party, Role};
use crate::process::{Look, Namespace};
use crate::region::{Guard, Owner, Region, RobustLock, Shared, CHUNK_SIZE};
use crate::user::OutBuf;
use crate::wait::{self, Deadline, Slept, WaitQueue, Waiter, Waits, Wakeups};
use std::collections::HashSet;
use std::ops::Range;
use std::sync::atomic::{
    AtomicI32, AtomicI64, AtomicU32, AtomicU64,
    Ordering::{Acquire, Relaxed, Release},
};

pub mod locked;
mod space;
mod typed;

pub use locked::Locked;
pub use typed::TypedList;

/// Messages are stored in blocks of this size, in chunks the owner holds.
pub const BLOCK_SIZE: u64 = 256;
const BLOCKS_PER_CHUNK: u32 = (CHUNK_SIZE / BLOCK_SIZE) as u32;

/// "No block": the end of a list.
const NIL: u32 = u32::MAX;

/// No message is larger than this, whatever the limits say: a bound that
/// keeps repair from following absurd sizes in a corrupted list.
pub const MAX_TEXT: usize = 1 << 24;

/// The list, embedded in its owner's table entry: its two ends, each on
/// cache lines of its own and written by its own side only, and a word
/// both read and nobody writes unless something went wrong.
#[repr(C)]
pub struct MessageList {
    receiving_lock: LockLine,
    receiving: ReceivingEnd,
    sending: SendingEnd,
    condition: Condition,
}

/// The receiving end's lock, on a line of its own: a sender reads the
/// receiving end's counts (to judge room) and takes its returned blocks,
/// and would otherwise take the lock's line from the receiver each time.
#[repr(C, align(64))]
struct LockLine(RobustLock);

/// What receivers change, under the receiving end's lock.
#[repr(C, align(64))]
struct ReceivingEnd {
    /// The anchor (block index; see the module docs), or NIL before the
    /// first message. Primary. (Written once by a sender too: the blank
    /// anchor of a list that has none, before any receiver can use it.)
    head: AtomicU32,
    /// Blocks that receivers freed, linked through `Block::next`, for the
    /// sending end to take all at once. Derived.
    returned: AtomicU32,
    /// Messages and text bytes ever taken off the list. Derived.
    taken: AtomicU64,
    taken_bytes: AtomicU64,
}

/// What senders change, under the list's own lock.
#[repr(C, align(64))]
struct SendingEnd {
    lock: RobustLock,
    /// Last message, the anchor if there is none, NIL if there is no
    /// anchor. Derived.
    tail: AtomicU32,
    /// Free blocks for senders, linked through `Block::next`, and how
    /// many. Derived.
    free: AtomicU32,
    free_count: AtomicU32,
    /// Messages and text bytes ever put on the list. Derived.
    sent: AtomicU64,
    sent_bytes: AtomicU64,
    /// The receiving end's `taken` and `taken_bytes` as this end last read
    /// them: never more than the truth (see [`MessageList::has_room`]).
    /// Derived.
    taken_seen: AtomicU64,
    taken_bytes_seen: AtomicU64,
    /// Set when a message took more runs than it would from uncut free
    /// space, or short runs were set aside (see
    /// [`MessageList::defragment`]); how many such messages go by before
    /// the next merge is tried, and how often the last tries found too
    /// little to merge (see `space::MergeWait`). Derived.
    cut_up: AtomicU32,
    merge_wait: AtomicU32,
    /// Short free runs that messages of several blocks passed by, linked
    /// through `Run::next`, and their blocks: free, but off the free list
    /// until a merge joins them to their neighbours (see `take_free`).
    /// Derived.
    parked: AtomicU32,
    parked_count: AtomicU32,
}

#[repr(C, align(64))]
struct Condition {
    /// Set when the list must be repaired before it is used again: a
    /// sender died holding the sending end, or a call found the list
    /// corrupt with one end locked; repair wants both (see [`Ends`]).
    damaged: AtomicU32,
}

// SAFETY: repr(C), atomics only (RobustLock is an atomic word).
unsafe impl Shared for MessageList {}

/// The ends of a list a call locks. A send locks the sending end and a
/// receive of the first message the receiving end, so
/// a sender and a receiver do not wait for each other; whatever touches
/// both ends (a message taken from the middle or put there, an index of
/// the whole list, registering a waiter, repair, the owner's control
/// calls) locks both, the receiving end first.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Ends {
    Receiving,
    Sending,
    Both,
}

/// The locks of the ends a call holds.
pub struct Held<'r> {
    _receiving: Option<Guard<'r>>,
    _sending: Option<Guard<'r>>,
    pub ends: Ends,
    /// The list (and the owner's state under its lock) must be repaired
    /// before it is used: both ends are held.
    pub recovered: bool,
}

/// Who waits on a queue of messages, and what they watch, apart from the
/// list: a would-be waiter watches while the peer rewrites the list (the
/// free list, the counts) many times per message.
#[repr(C)]
pub struct Waiting {
    /// Bumped by every send (`sent`) and every receive (`freed`), right
    /// after it unlocks: a would-be receiver (sender) watches it before it
    /// registers, and finds the lock free when it sees it change. (A
    /// registered waiter is settled under the lock instead.) On lines
    /// of their own, each written by one side: in a stream each side writes
    /// its own at every message, and would otherwise take the line from the
    /// other side each time.
    pub sent: Progress,
    pub freed: Progress,
    /// Receivers waiting for a message and senders waiting for room (see
    /// `wait`; repaired with the queue).
    pub receivers: WaitQueue,
    pub senders: WaitQueue,
}

/// One side's progress: how often it acted, where it last ran (a
/// would-be waiter watches `count` in the way that suits: see
/// `platform::spin`), and who acted last and when (`msg_lspid` and
/// `msg_stime`, or `msg_lrpid` and `msg_rtime`). Kept here, on the line
/// only this side writes, rather than beside the owner's permissions,
/// which both sides read at every call.
#[repr(C, align(64))]
pub struct Progress {
    pub count: AtomicU32,
    pub at: Whereabouts,
    pub pid: AtomicI32,
    /// Seconds since the epoch; 0 before the first action.
    pub time: AtomicI64,
}

impl Progress {
    fn clear(&self) {
        self.pid.store(0, Relaxed);
        self.time.store(0, Relaxed);
    }

    /// One more action, by the calling process, now.
    fn note(&self) {
        // A load and a store, not an atomic add: the add would wait, at
        // every message, for the line that the peer watches to come back
        // from the peer's CPU, and for every store before it; the store
        // goes through the store buffer. Two processes of the same side
        // noting at once may count one: a watcher wants to see the word
        // change, not by how much, and one that misses a change looks
        // under the lock at the end of its watch anyway.
        self.count.store(self.count.load(Relaxed).wrapping_add(1), Relaxed);
        self.at.note();
        let (pid, now) = (crate::platform::pid(), crate::platform::now_secs());
        if self.pid.load(Relaxed) != pid {
            self.pid.store(pid, Relaxed);
        }
        if self.time.load(Relaxed) != now {
            self.time.store(now, Relaxed);
        }
    }
}

// SAFETY: repr(C), atomics only.
unsafe impl Shared for Waiting {}

/// `WaitRecord::queue` of a waiting receiver and of a waiting sender.
pub const RECEIVER: u32 = 0;
pub const SENDER: u32 = 1;

impl Waiting {
    pub fn clear(&self) {
        self.receivers.clear();
        self.senders.clear();
        self.sent.clear();
        self.freed.clear();
    }

    /// A message was sent (and the lock released): for would-be receivers.
    pub fn note_sent(&self) {
        self.sent.note();
    }

    /// A message was received (and the lock released): for would-be senders.
    pub fn note_freed(&self) {
        self.freed.note();
    }

    /// How patiently a would-be waiter of queue `which` watches (see
    /// `spin::watch_paced`). A sender waits for room on a full queue,
    /// which the receiver takes about a message per look to start
    /// emptying: the longer the queue, the less often it need look, and
    /// it still finds room long before the receiver runs out of messages.
    /// (The counts, each written by its own side, tell the length well
    /// enough for a pace.) A receiver waits on an empty queue for the
    /// very next message: it looks all the time.
    pub fn pace(&self, which: u32) -> u32 {
        match which {
            SENDER => {
                let backlog = self.sent.count.load(Relaxed).wrapping_sub(self.freed.count.load(Relaxed));
                // Counts that lost a note each can make it "negative".
                if backlog > i32::MAX as u32 {
                    1
                } else {
                    backlog / 2
                }
            }
            _ => 1,
        }
    }

    /// What a would-be waiter of queue `which` watches: a sender, the
    /// receivers' progress; a receiver, the senders'.
    pub fn watched_by(&self, which: u32) -> &Progress {
        if which == SENDER {
            &self.freed
        } else {
            &self.sent
        }
    }

    /// The receivers' or the senders' queue.
    pub fn queue(&self, which: u32) -> &WaitQueue {
        if which == SENDER {
            &self.senders
        } else {
            &self.receivers
        }
    }

    /// After a lock of the list was taken over from a dead holder: it may
    /// have sent or received without settling the waiters its change
    /// concerned, so everyone tries again.
    pub fn recover(&self, region: &Region, owner: Owner) -> crate::error::Result<()> {
        let waits = Waits::of(region)?;
        let mut wakeups = Wakeups::default();
        for queue in [&self.receivers, &self.senders] {
            waits.repair(queue, owner, &mut wakeups);
            for (index, _) in waits.queued(queue, owner) {
                waits.settle(queue, owner, index, wait::RECHECK, &mut wakeups);
            }
        }
        wakeups.wake();
        Ok(())
    }

    /// The processes waiting, receivers first, in queue order, leaving out
    /// those that have exited (their reaper has yet to come). Under the
    /// owner's lock.
    pub fn parties(&self, region: &Region, owner: Owner) -> Vec<Party> {
        let Ok(waits) = Waits::of(region) else { return Vec::new() };
        let mut parties = Vec::new();
        for (queue, role) in [(&self.receivers, Role::Receiver), (&self.senders, Role::Sender)] {
            for (_, record) in waits.queued(queue, owner) {
                let who = record.owner();
                if who.0 != 0 && record.settled().is_none() && !Look::Quick.dead(who) {
                    parties.push(Party { pid: who.pid(), role });
                }
            }
        }
        parties
    }

    /// Settles every waiter of queue `which` with `state`, to be woken
    /// once the lock is released; no lookup at all when nobody waits.
    pub fn settle_all<'r>(&self, region: &'r Region, owner: Owner, which: u32, state: u32, wakeups: &mut Wakeups<'r>) {
        let queue = self.queue(which);
        if queue.is_empty() {
            return;
        }
        let Ok(waits) = Waits::of(region) else { return };
        for (index, _) in waits.queued(queue, owner) {
            waits.settle(queue, owner, index, state, wakeups);
        }
    }
}

/// A send or receive that must wait for its queue, across its tries.
#[derive(Default)]
pub struct Wait<'r> {
    waiter: Option<Waiter<'r>>,
    spun: bool,
}

impl<'r> Wait<'r> {
    /// Waits as `which` (RECEIVER or SENDER) on `waiting`, owned by
    /// `owner`, whose list's `ends` `locked` holds: until settled, the
    /// deadline, a signal or a look. `describe` writes what the waiter
    /// waits for into its record; `relock` locks the ends it is given
    /// again (and checks the queue still exists). Returns the lock, for
    /// the caller to try once more, with how the sleep ended and the
    /// record's state, or the relock's error.
    ///
    /// The first time, it only watches the queue's `sent` (or `freed`)
    /// word (for as long as `platform::spin` finds it pays), unregistered,
    /// and locks the same ends again: in a ping-pong the answer usually comes within
    /// microseconds, and then nobody had to queue or be settled. A waiter
    /// registers only with both ends held (so the peer, which settles
    /// waiters under its own end, cannot have missed it): holding one, it
    /// locks both and has the caller look once more first.
    #[allow(clippy::too_many_arguments)] // the state of one wait, threaded through the caller's loop
    pub fn step<G>(
        &mut self,
        ns: &'r Namespace,
        waiting: &'r Waiting,
        owner: Owner,
        which: u32,
        locked: G,
        ends: Ends,
        deadline: Option<Deadline>,
        describe: impl FnOnce(&Waiter),
        relock: impl Fn(Ends) -> crate::error::Result<G>,
    ) -> crate::error::Result<(G, Slept, u32)> {
        let again = |g| (g, Slept::Settled(wait::RECHECK), wait::RECHECK);
        let progress = waiting.watched_by(which);
        if !self.spun && spin::worth_watching(Some(&progress.at)) {
            self.spun = true;
            let seen = progress.count.load(Relaxed);
            drop(locked);
            spin::watch_paced(&progress.count, seen, Some(&progress.at), spin::SPIN_TIME, waiting.pace(which));
            return relock(ends).map(again);
        }
        if ends != Ends::Both {
            drop(locked);
            return relock(Ends::Both).map(again);
        }
        if self.waiter.is_none() {
            self.waiter = Some(Waits::of(ns)?.claim(ns, owner)?);
        }
        let w = self.waiter.as_mut().expect("claimed above");
        describe(w);
        w.enqueue(waiting.queue(which), which);
        drop(locked);
        let slept = w.sleep(deadline, None);
        if slept == Slept::Look {
            ns.reap_dead(Look::Thorough, false);
        }
        let relocked = relock(Ends::Both);
        let state = w.dequeue(relocked.as_ref().ok().map(|_| waiting.queue(which)));
        Ok((relocked?, slept, state))
    }
}

/// The first bytes of every run: blocks side by side in one chunk that a
/// message's text (or the free space) fills from one end to the other,
/// across the blocks' boundaries, so that it is copied in one piece.
/// A message is a chain of runs: one when the free space allows, as it
/// does in a stream of like messages, where each run taken comes back
/// whole; more when the free space is cut up.
#[repr(C)]
struct Run {
    /// The next run of the same message, or of the free list, or NIL.
    next: AtomicU32,
    /// The blocks it spans, its first included: 1 to the end of its chunk
    /// (checked by [`Store::run`] before the run is used).
    blocks: AtomicU32,
}

/// The first run of a message.
#[repr(C)]
struct MsgHead {
    run: Run,
    /// The next message on the list, or NIL.
    next_msg: AtomicU32,
    size: AtomicU32,
    /// The previous message on the list, or NIL. Derived: it makes taking
    /// a message out of the middle of the list O(1).
    prev_msg: AtomicU32,
    /// Kept by a [`TypedList`] only (derived, see `typed`): the next
    /// message of the same tag, or NIL, and the message's place in the
    /// order of sending.
    next_same: AtomicU32,
    /// What the owner orders and selects by (a System V type, a POSIX priority).
    tag: AtomicI64,
    seq: AtomicU64,
    /// Kept by a [`TypedList`]: its tag's entry in the index when it was
    /// sent (a hint, checked before it is used: entries move).
    entry: AtomicU32,
}

// SAFETY: repr(C), atomics only.
unsafe impl Shared for Run {}
// SAFETY: repr(C), atomics only.
unsafe impl Shared for MsgHead {}

const BLOCK: usize = BLOCK_SIZE as usize;
const HEAD_TEXT: usize = BLOCK - std::mem::size_of::<MsgHead>();
const CONT_TEXT: usize = BLOCK - std::mem::size_of::<Run>();

/// Adds to a count that only the holder of its end's lock writes: a load
/// and a store, without the full barrier of an atomic add.
fn add_to(count: &AtomicU32, n: u32) {
    count.store(count.load(Relaxed).wrapping_add(n), Relaxed);
}

/// Where text starts in a message's first run (`first`) or a later one.
fn text_at(first: bool) -> usize {
    if first {
        std::mem::size_of::<MsgHead>()
    } else {
        std::mem::size_of::<Run>()
    }
}

/// A message located by [`MessageList::find`] or a [`TypedList`].
pub struct Found {
    block: u32,
    pub size: usize,
    pub tag: i64,
}

/// What [`MessageList::find`] makes of a message, given its tag.
pub enum Visit {
    /// This one.
    Take,
    /// This one unless a later one is taken or remembered.
    Remember,
    /// Not this one.
    Next,
}

/// The list is inconsistent in a way only corruption explains; the caller
/// repairs it and retries.
pub struct Corrupt;

/// Why a copy out of the queue failed.
pub enum Fault {
    Corrupt,
    /// The caller's buffer (EFAULT).
    Caller(Errno),
}

impl From<Corrupt> for Fault {
    fn from(_: Corrupt) -> Fault {
        Fault::Corrupt
    }
}

/// A list's storage: the blocks in the chunks its owner holds.
pub struct Store<'r> {
    pub region: &'r Region,
    pub owner: Owner,
}

impl Store<'_> {
    /// Where a block lives: its chunk, and its offset in the chunk.
    fn place(block: u32) -> (u32, u64) {
        (block / BLOCKS_PER_CHUNK, (block % BLOCKS_PER_CHUNK) as u64 * BLOCK_SIZE)
    }

    /// A `T` at the start of block `block`, if it lies in a chunk the owner
    /// holds: checked on every link followed, so a corrupted link cannot
    /// reach another object's data.
    fn at_block<T: Shared>(&self, block: u32) -> Option<&T> {
        let (chunk, at) = Self::place(block);
        self.region.in_extent(self.region.chunk(self.owner, chunk)?, at)
    }

    fn msg_head(&self, block: u32) -> Option<&MsgHead> {
        self.at_block(block)
    }

    /// The run at `block` and the blocks it spans, if it lies in a chunk
    /// the owner holds and ends in that chunk.
    fn run(&self, block: u32) -> Option<(&Run, u32)> {
        let run: &Run = self.at_block(block)?;
        let blocks = run.blocks.load(Relaxed);
        (blocks >= 1 && blocks <= BLOCKS_PER_CHUNK - block % BLOCKS_PER_CHUNK).then_some((run, blocks))
    }

    /// Calls `piece(run, at, len)` for each piece of the first `size` text
    /// bytes of the message at `first`, in order: the run that holds it,
    /// where in the run it starts, and how long it is. Each run holds at
    /// least a block's worth less its header, so a corrupted chain ends
    /// soon, at a run that is not the owner's.
    fn pieces<E: From<Corrupt>>(
        &self,
        first: u32,
        size: usize,
        mut piece: impl FnMut(u32, usize, usize) -> Result<(), E>,
    ) -> Result<(), E> {
        let (mut run, mut done, mut at) = (first, 0, text_at(true));
        loop {
            let (head, blocks) = self.run(run).ok_or(Corrupt)?;
            // Read before the piece is copied: a load that follows a long
            // copy into the same line waits for all of the copy's stores.
            let next = head.next.load(Relaxed);
            let len = (blocks as usize * BLOCK - at).min(size - done);
            piece(run, at, len)?;
            done += len;
            if done == size {
                return Ok(());
            }
            (run, at) = (next, text_at(false));
        }
    }

    /// Copies `src` into the run at `block`, from byte `at` of the run:
    /// false if that leaves the run's chunk (the run was checked to lie in it).
    fn store_bytes(&self, block: u32, at: usize, src: &[u8]) -> bool {
        let (chunk, offset) = Self::place(block);
        self.region.chunk(self.owner, chunk).is_some_and(|e| self.region.copy_in(e, offset + at as u64, src))
    }

    fn load_bytes(&self, block: u32, at: usize, count: usize, dst: &mut OutBuf, dst_at: usize) -> Result<(), Fault> {
        let (chunk, offset) = Self::place(block);
        let extent = self.region.chunk(self.owner, chunk).ok_or(Fault::Corrupt)?;
        self.region.copy_out(extent, offset + at as u64, count, dst, dst_at).map_err(|e| match e {
            Errno::EFAULT => Fault::Caller(e),
            _ => Fault::Corrupt,
        })
    }

    fn total_blocks(&self) -> u64 {
        self.region.chunk_count() as u64 * BLOCKS_PER_CHUNK as u64
    }
}

impl MessageList {
    /// Empties the list of a new owner (whose chunks are all new).
    pub fn init(&self) {
        let (r, s) = (&self.receiving, &self.sending);
        for list in [&r.head, &r.returned, &s.tail, &s.free, &s.parked] {
            list.store(NIL, Relaxed);
        }
        for count in [&r.taken, &r.taken_bytes, &s.sent, &s.sent_bytes, &s.taken_seen, &s.taken_bytes_seen] {
            count.store(0, Relaxed);
        }
        for word in [&s.free_count, &s.cut_up, &s.merge_wait, &s.parked_count] {
            word.store(0, Relaxed);
        }
        self.condition.damaged.store(0, Relaxed);
    }

    /// Locks `ends` of the list. Whoever finds the list damaged, or takes a
    /// lock over from a dead holder, gets both ends, `recovered`, and
    /// must repair before anything else: by the lock order, one who
    /// finds the sending end so first lets it go, flags the list, and
    /// takes both.
    pub fn lock(&self, ends: Ends) -> Held<'_> {
        let damaged = &self.condition.damaged;
        if ends == Ends::Sending {
            let guard = self.sending.lock.lock();
            if !guard.recovered && damaged.load(Relaxed) == 0 {
                return Held { _receiving: None, _sending: Some(guard), ends, recovered: false };
            }
            damaged.store(1, Relaxed);
            drop(guard);
            return self.lock(Ends::Both);
        }
        let first = self.receiving_lock.0.lock();
        if ends == Ends::Receiving && !first.recovered && damaged.load(Relaxed) == 0 {
            return Held { _receiving: Some(first), _sending: None, ends, recovered: false };
        }
        let second = self.sending.lock.lock();
        let recovered = first.recovered || second.recovered || damaged.load(Relaxed) != 0;
        Held { _receiving: Some(first), _sending: Some(second), ends: Ends::Both, recovered }
    }

    /// Where the receiving end's lock lies in a list (for tests that
    /// scribble on it).
    pub const RECEIVING_LOCK: usize = std::mem::offset_of!(MessageList, receiving_lock);

    /// Flags the list for repair by the next holder of both ends (after it
    /// was found corrupt with one end locked).
    pub fn mark_damaged(&self) {
        self.condition.damaged.store(1, Relaxed);
    }

    /// Messages on the list: exact with both ends locked, else what one
    /// end saw last (each end counts what it did, after doing it).
    pub fn count(&self) -> u64 {
        let taken = self.receiving.taken.load(Relaxed);
        self.sending.sent.load(Relaxed).saturating_sub(taken)
    }

    /// Text bytes on the list, as [`MessageList::count`].
    pub fn bytes(&self) -> u64 {
        let taken = self.receiving.taken_bytes.load(Relaxed);
        self.sending.sent_bytes.load(Relaxed).saturating_sub(taken)
    }

    /// Whether a sender, holding the sending end, finds room: what
    /// `room(messages, bytes)` says of the messages on the list. Asked
    /// first of the receiving end's counts as this end last read them,
    /// which can only overstate what is on the list, so that a yes holds;
    /// only a no reads them afresh. A stream's sender thus reads the
    /// receiving end's line once in a while, not at every message, and
    /// leaves it in the receiver's cache.
    pub fn has_room(&self, room: impl Fn(u64, u64) -> bool) -> bool {
        let s = &self.sending;
        let on_list = |taken: u64, taken_bytes: u64| {
            let sent = s.sent.load(Relaxed).saturating_sub(taken);
            (sent, s.sent_bytes.load(Relaxed).saturating_sub(taken_bytes))
        };
        let (count, bytes) = on_list(s.taken_seen.load(Relaxed), s.taken_bytes_seen.load(Relaxed));
        if room(count, bytes) {
            return true;
        }
        let (taken, taken_bytes) = (self.receiving.taken.load(Relaxed), self.receiving.taken_bytes.load(Relaxed));
        s.taken_seen.store(taken, Relaxed);
        s.taken_bytes_seen.store(taken_bytes, Relaxed);
        let (count, bytes) = on_list(taken, taken_bytes);
        room(count, bytes)
    }

    /// Messages ever put on the list and taken off it, as
    /// [`MessageList::count`] (a repair starts them again).
    pub fn totals(&self) -> (u64, u64) {
        (self.sending.sent.load(Relaxed), self.receiving.taken.load(Relaxed))
    }

    /// Puts a message on the list, after [`MessageList::reserve`] (the
    /// owner has checked its limits): before the first message whose tag
    /// `goes_before` accepts, or last. The list stays in the order that
    /// `goes_before` defines, so the last message is looked at first: when
    /// it may stay ahead (always, for a FIFO), the new one is appended at
    /// no cost. Returns the new message's block.
    pub fn enqueue(
        &self,
        st: &Store,
        tag: i64,
        text: &[u8],
        goes_before: impl Fn(i64) -> bool,
    ) -> Result<u32, Corrupt> {
        let first = self.take_free(st, text.len())?;
        let mut done = 0;
        st.pieces(first, text.len(), |run, at, len| {
            if !st.store_bytes(run, at, &text[done..done + len]) {
                return Err(Corrupt);
            }
            done += len;
            Ok(())
        })?;
        // The sending end knows whether there is an anchor (its tail is
        // NIL until there is), without reading the receiving end's line.
        if self.sending.tail.load(Relaxed) == NIL {
            self.make_anchor(st)?;
        }
        let (prev, next) = self.place_for(st, &goes_before)?;
        let head = st.msg_head(first).ok_or(Corrupt)?;
        head.next_msg.store(next, Relaxed);
        head.prev_msg.store(prev, Relaxed);
        head.size.store(text.len() as u32, Relaxed);
        head.tag.store(tag, Relaxed);

        crate::crash_point::here("msg-send-before-link");
        // The single store that publishes the message (see module docs).
        // Release: a receiver that sees the link sees the message.
        st.msg_head(prev).ok_or(Corrupt)?.next_msg.store(first, Release);
        crate::crash_point::here("msg-send-after-link");
        let s = &self.sending;
        match next {
            NIL => s.tail.store(first, Relaxed),
            n => st.msg_head(n).ok_or(Corrupt)?.prev_msg.store(first, Relaxed),
        }
        // Loads and stores: only the sending end's holder writes these.
        s.sent.store(s.sent.load(Relaxed) + 1, Relaxed);
        s.sent_bytes.store(s.sent_bytes.load(Relaxed) + text.len() as u64, Relaxed);
        Ok(first)
    }

    /// Whether a message that goes before those whose tag `goes_before`
    /// accepts would go last, so that the sending end alone may put it
    /// there (see [`MessageList::enqueue`]).
    pub fn appends(&self, st: &Store, goes_before: impl Fn(i64) -> bool) -> bool {
        self.goes_last(st, &goes_before).unwrap_or(false)
    }

    /// [`MessageList::appends`], for a list that may have no anchor yet
    /// (then the message goes last, after a new one).
    fn goes_last(&self, st: &Store, goes_before: &impl Fn(i64) -> bool) -> Result<bool, Corrupt> {
        let tail = self.sending.tail.load(Relaxed);
        if tail == NIL {
            return Ok(true);
        }
        // The tail stays allocated while the sending end is held: a
        // receiver frees a message's first block only once a later one
        // is linked. When the tail is the anchor, its tag is a taken
        // message's and counts for nothing; the receiving end's head, which
        // tells, is read last, so that a stream in order leaves that end's
        // line alone.
        let tag = st.msg_head(tail).ok_or(Corrupt)?.tag.load(Relaxed);
        Ok(!goes_before(tag) || tail == self.receiving.head.load(Relaxed))
    }

    /// Makes a blank anchor for a list that never had one, and hangs the
    /// list from it with one store. Its block.
    fn make_anchor(&self, st: &Store) -> Result<u32, Corrupt> {
        let anchor = self.take_free(st, 0)?;
        let blank = st.msg_head(anchor).ok_or(Corrupt)?;
        for link in [&blank.next_msg, &blank.prev_msg] {
            link.store(NIL, Relaxed);
        }
        blank.size.store(0, Relaxed);
        blank.tag.store(0, Relaxed);
        // Release: a receiver that sees the anchor sees it blank.
        self.receiving.head.store(anchor, Release);
        self.sending.tail.store(anchor, Relaxed);
        Ok(anchor)
    }

    /// The first message, or NIL.
    fn first(&self, st: &Store) -> Result<u32, Corrupt> {
        // Acquire: pairs with the Release of the sender's link (and of the
        // blank anchor's), which may have been made under the other end.
        match self.receiving.head.load(Acquire) {
            NIL => Ok(NIL),
            anchor => Ok(st.msg_head(anchor).ok_or(Corrupt)?.next_msg.load(Acquire)),
        }
    }

    /// Where a new message goes: between `prev` (the anchor, or a
    /// message) and `next` (NIL: at the end). Anywhere but last only with
    /// both ends held (see [`MessageList::appends`]).
    fn place_for(&self, st: &Store, goes_before: &impl Fn(i64) -> bool) -> Result<(u32, u32), Corrupt> {
        if self.goes_last(st, goes_before)? {
            return Ok((self.sending.tail.load(Relaxed), NIL));
        }
        let mut prev = self.receiving.head.load(Relaxed);
        let mut found = None;
        self.walk(st, |block, head| {
            if goes_before(head.tag.load(Relaxed)) {
                found = Some((prev, block));
                return false;
            }
            prev = block;
            true
        })?;
        found.ok_or(Corrupt)
    }

    /// Calls `visit` on each message in order while it returns true.
    fn walk(&self, st: &Store, mut visit: impl FnMut(u32, &MsgHead) -> bool) -> Result<(), Corrupt> {
        let mut block = self.first(st)?;
        // Every message takes a block: a longer list is a cycle.
        let limit = st.total_blocks();
        let mut seen = 0u64;
        while block != NIL {
            seen += 1;
            if seen > limit {
                return Err(Corrupt); // more messages linked than counted: a cycle?
            }
            let head = st.msg_head(block).ok_or(Corrupt)?;
            if !visit(block, head) {
                break;
            }
            block = head.next_msg.load(Relaxed);
        }
        Ok(())
    }

    /// The message `visit` chooses, looking at the tags in order: the
    /// first it takes, else the last it remembers.
    pub fn find(&self, st: &Store, mut visit: impl FnMut(i64) -> Visit) -> Result<Option<Found>, Corrupt> {
        let mut best = None;
        self.walk(st, |block, head| {
            let tag = head.tag.load(Relaxed);
            let found = Found { block, size: head.size.load(Relaxed) as usize, tag };
            match visit(tag) {
                Visit::Take => {
                    best = Some(found);
                    false
                }
                Visit::Remember => {
                    best = Some(found);
                    true
                }
                Visit::Next => true,
            }
        })?;
        Ok(best)
    }

    /// The first message, if any.
    pub fn head(&self, st: &Store) -> Result<Option<Found>, Corrupt> {
        match self.first(st)? {
            NIL => Ok(None),
            block => self.found(st, block).map(Some),
        }
    }

    /// The message at `block` (which the caller found on the list).
    fn found(&self, st: &Store, block: u32) -> Result<Found, Corrupt> {
        let head = st.msg_head(block).ok_or(Corrupt)?;
        Ok(Found { block, size: head.size.load(Relaxed) as usize, tag: head.tag.load(Relaxed) })
    }

    /// Copies the first `count` text bytes of `found` into `dst` at `at`.
    pub fn copy_out(&self, st: &Store, found: &Found, dst: &mut OutBuf, at: usize, count: usize) -> Result<(), Fault> {
        let mut done = 0;
        st.pieces(found.block, count.min(found.size), |run, piece_at, len| {
            st.load_bytes(run, piece_at, len, dst, at + done)?;
            done += len;
            Ok::<(), Fault>(())
        })?;
        crate::crash_point::here("msg-receive-after-copy");
        Ok(())
    }

    /// Takes `found` off the list and frees its blocks: the first message
    /// with the receiving end held, any with both.
    pub fn unlink(&self, st: &Store, found: &Found) -> Result<(), Corrupt> {
        let head = st.msg_head(found.block).ok_or(Corrupt)?;
        let (prev, next) = (head.prev_msg.load(Relaxed), head.next_msg.load(Relaxed));
        // `prev_msg` is derived: checked before it is trusted with the one
        // store that matters, so a wrong one changes nothing.
        let link = &st.msg_head(prev).ok_or(Corrupt)?.next_msg;
        if link.load(Relaxed) != found.block {
            return Err(Corrupt);
        }
        let r = &self.receiving;
        let anchor = r.head.load(Relaxed);
        let taken = |r: &ReceivingEnd| {
            // Loads and stores: only the receiving end's holder writes these.
            r.taken.store(r.taken.load(Relaxed) + 1, Relaxed);
            r.taken_bytes.store(r.taken_bytes.load(Relaxed) + found.size as u64, Relaxed);
        };
        if prev != anchor {
            // The single store that consumes the message (see module docs).
            link.store(next, Relaxed);
            crate::crash_point::here("msg-receive-after-unlink");
            match next {
                NIL => self.sending.tail.store(prev, Relaxed),
                n => st.msg_head(n).ok_or(Corrupt)?.prev_msg.store(prev, Relaxed),
            }
            taken(r);
            return self.give_back(st, found.block);
        }
        // The first message: the single store that consumes it makes it
        // the anchor (the tail still, if it was the last).
        r.head.store(found.block, Relaxed);
        crate::crash_point::here("msg-receive-after-unlink");
        taken(r);
        // The next receive's message, if one is queued already (a sender
        // wrote it on its own CPU): fetched now, it is here by then.
        if let Some(next) = st.msg_head(next) {
            crate::platform::prefetch(next);
        }
        // The old anchor and the runs after the new one's first go back
        // together. An anchor keeps its first run whole, so that the run
        // comes back as it was taken. (Loads and stores: only the
        // receiving end's holder writes a queued message's run links.)
        let (old_anchor, _) = st.run(anchor).ok_or(Corrupt)?;
        let (new_anchor, _) = st.run(found.block).ok_or(Corrupt)?;
        let text = new_anchor.next.load(Relaxed);
        new_anchor.next.store(NIL, Relaxed);
        old_anchor.next.store(text, Relaxed);
        self.give_back(st, anchor)
    }

    /// Rebuilds all derived state from the message list and the chunks the
    /// owner holds, with both ends locked. Run by whoever takes a lock over
    /// from a dead holder, or finds the list inconsistent. A message whose blocks are not all
    /// ours, or that shares a block with another, can only come from
    /// corruption: the list is cut before it.
    pub fn repair(&self, st: &Store) {
        self.repair_keeping(st, 0..0);
    }

    /// [`MessageList::repair`], for an owner whose chunks in `keep` hold
    /// something else: their blocks stay off the free list, unless a
    /// message turns out to lie in them (corruption), in which case they
    /// are storage like the others and the answer is false.
    fn repair_keeping(&self, st: &Store, keep: Range<u32>) -> bool {
        let chunks = st.region.chunks_of(st.owner);
        let mut used = HashSet::new();
        let (r, s) = (&self.receiving, &self.sending);
        let anchor = r.head.load(Relaxed);
        // An anchor is its first run: the later runs of a message that
        // became the anchor are free, even if it died before it said so.
        let anchor = match st.run(anchor) {
            Some((run, blocks)) => {
                run.next.store(NIL, Relaxed);
                used.extend(anchor..anchor + blocks);
                anchor
            }
            None => {
                if anchor != NIL {
                    crate::log::diag(|| format!("{:?}: corrupted message list anchor dropped", st.owner));
                }
                r.head.store(NIL, Relaxed);
                NIL
            }
        };
        let first = match anchor {
            NIL => NIL,
            a => st.msg_head(a).map_or(NIL, |h| h.next_msg.load(Relaxed)),
        };
        let (mut prev, mut block) = (anchor, first);
        let (mut count, mut bytes) = (0u64, 0u64);
        while block != NIL {
            match self.message_blocks(st, block, &used) {
                Some((blocks, size, next)) => {
                    used.extend(blocks);
                    if let Some(head) = st.msg_head(block) {
                        head.prev_msg.store(prev, Relaxed);
                    }
                    count += 1;
                    bytes += size as u64;
                    prev = block;
                    block = next;
                }
                None => {
                    if let Some(h) = st.msg_head(prev) {
                        h.next_msg.store(NIL, Relaxed)
                    }
                    crate::log::diag(|| format!("{:?}: corrupted message list cut", st.owner));
                    break;
                }
            }
        }
        s.tail.store(prev, Relaxed);
        for taken in [&r.taken, &r.taken_bytes, &s.taken_seen, &s.taken_bytes_seen] {
            taken.store(0, Relaxed);
        }
        s.sent.store(count, Relaxed);
        s.sent_bytes.store(bytes, Relaxed);
        r.returned.store(NIL, Relaxed);
        s.free.store(NIL, Relaxed);
        s.parked.store(NIL, Relaxed);
        for word in [&s.free_count, &s.cut_up, &s.merge_wait, &s.parked_count] {
            word.store(0, Relaxed);
        }
        self.condition.damaged.store(0, Relaxed);
        let kept = !used.iter().any(|block| keep.contains(&(block / BLOCKS_PER_CHUNK)));
        // Each stretch of free blocks becomes one run; runs are pushed from
        // the top down, so the list starts with the lowest.
        for chunk in chunks.iter().rev().filter(|c| !(kept && keep.contains(c))) {
            let start = chunk * BLOCKS_PER_CHUNK;
            // The stretch found so far ends before `end`.
            let mut end = start + BLOCKS_PER_CHUNK;
            for block in (start..end).rev() {
                if used.contains(&block) {
                    if block + 1 < end {
                        let _ = self.push_free(st, block + 1, end - block - 1);
                    }
                    end = block;
                }
            }
            if start < end {
                let _ = self.push_free(st, start, end - start);
            }
        }
        kept
    }

    /// The blocks of the message at `first`, its size and the next message,
    /// if it is intact and shares no block with `used`.
    fn message_blocks(&self, st: &Store, first: u32, used: &HashSet<u32>) -> Option<(Vec<u32>, usize, u32)> {
        let head = st.msg_head(first)?;
        let size = head.size.load(Relaxed) as usize;
        if size > MAX_TEXT {
            return None;
        }
        let mut blocks = HashSet::new();
        let (mut run, mut rest, mut at) = (first, size, text_at(true));
        loop {
            let (link, count) = st.run(run)?;
            for block in run..run + count {
                if used.contains(&block) || !blocks.insert(block) {
                    return None;
                }
            }
            let room = count as usize * BLOCK - at;
            let next = link.next.load(Relaxed);
            if rest <= room {
                return (next == NIL).then(|| (blocks.into_iter().collect(), size, head.next_msg.load(Relaxed)));
            }
            (run, rest, at) = (next, rest - room, text_at(false));
        }
    }
}
