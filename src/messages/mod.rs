//! A list of messages stored as chains of blocks in chunks that its owner
//! holds: the storage of System V message queues and of POSIX queues.
//!
//! Locking: everything here runs with the owning object's lock held.
//!
//! The list hangs from an *anchor*: the first block of the message taken
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
//! the free-block list and its count, and a [`TypedList`]'s index) is
//! *derived*, and [`MessageList::repair`] rebuilds it from the primary
//! state and the chunk ownership array. Each mutation changes the
//! primary state with one store, made after the message it publishes is
//! fully written, so whatever instruction a lock holder dies at, the next
//! holder finds every message either wholly on the list or not on it:
//!
//! - enqueue: take blocks off the free list (derived), fill them
//!   (unreachable so far), point the new message at its successor, then
//!   link it with one store to its predecessor's `next_msg` (the anchor's
//!   for the first message; before the very first, a blank anchor is made
//!   the same way and linked with one store to `head`), then update the
//!   derived totals. Dying before the link leaves blocks off every list:
//!   repair returns them to the free list.
//! - receive: copy the message out first, then unlink it with one store
//!   (`head`, making it the anchor, when it is the first; else its
//!   predecessor's `next_msg`), then free its blocks (but the first block
//!   of a new anchor) and the old anchor's. Dying before the unlink leaves
//!   the message queued for the next receiver; after it, it is consumed.
//! - chunk claim: see `region::chunks`; a chunk claimed but not yet threaded
//!   on the free list is found again by repair, which scans the owner array.
//!
//! - `typed`: the index by tag of System V queues (its own module docs).
//!
//! The `crash_point` names keep the `msg-` prefix of the family that came
//! first; they mark the same instants for every user of the list.

use crate::error::Errno;
use crate::region::{Owner, Region, Shared, CHUNK_SIZE};
use crate::user::OutBuf;
use crate::platform::spin::{self, Whereabouts};
use crate::process::{Look, Namespace};
use crate::wait::{self, Deadline, Slept, WaitQueue, Waiter, Waits, Wakeups};
use std::collections::HashSet;
use std::ops::Range;
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering::Relaxed};

mod typed;

pub use typed::TypedList;

/// Messages are stored in blocks of this size, in chunks the owner holds.
pub const BLOCK_SIZE: u64 = 256;
const BLOCKS_PER_CHUNK: u32 = (CHUNK_SIZE / BLOCK_SIZE) as u32;

/// "No block": the end of a list.
const NIL: u32 = u32::MAX;

/// No message is larger than this, whatever the limits say: a bound that
/// keeps repair from following absurd sizes in a corrupted list.
pub const MAX_TEXT: usize = 1 << 24;

/// The list, embedded in its owner's table entry.
#[repr(C)]
pub struct MessageList {
    /// The anchor (block index; see the module docs), or NIL before the
    /// first message. Primary.
    head: AtomicU32,
    /// Last message, the anchor if there is none, NIL if there is no
    /// anchor. Derived.
    tail: AtomicU32,
    /// Messages and text bytes on the list. Derived.
    count: AtomicU64,
    bytes: AtomicU64,
    /// Free blocks in the owner's chunks, linked through `Block::next`. Derived.
    free: AtomicU32,
    free_count: AtomicU32,
}

// SAFETY: repr(C), atomics only.
unsafe impl Shared for MessageList {}

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

/// One side's progress: how often it acted, and where it last ran (a
/// would-be waiter watches `count` in the way that suits: see
/// `platform::spin`).
#[repr(C, align(64))]
pub struct Progress {
    pub count: AtomicU32,
    pub at: Whereabouts,
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
    }

    /// A message was sent (and the lock released): for would-be receivers.
    pub fn note_sent(&self) {
        self.sent.count.fetch_add(1, Relaxed);
        self.sent.at.note();
    }

    /// A message was received (and the lock released): for would-be senders.
    pub fn note_freed(&self) {
        self.freed.count.fetch_add(1, Relaxed);
        self.freed.at.note();
    }

    /// The receivers' or the senders' queue.
    pub fn queue(&self, which: u32) -> &WaitQueue {
        if which == SENDER {
            &self.senders
        } else {
            &self.receivers
        }
    }

    /// After the owner's lock was taken over from a dead holder: it may
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
    /// `owner`, whose lock `locked` holds: until settled, the deadline, a
    /// signal or a look. `describe` writes what the waiter waits for into
    /// its record; `relock` takes the lock again (and checks the queue
    /// still exists). Returns the lock, for the caller to try once more,
    /// with how the sleep ended and the record's state, or the relock's
    /// error.
    ///
    /// The first time, it only spins (when the peer can run meanwhile) on
    /// the queue's `sent` (or `freed`) word, unregistered: in a ping-pong
    /// the answer usually comes within microseconds, and then nobody had
    /// to queue or be settled.
    #[allow(clippy::too_many_arguments)] // the state of one wait, threaded through the caller's loop
    pub fn step<G>(
        &mut self,
        ns: &'r Namespace,
        waiting: &'r Waiting,
        owner: Owner,
        which: u32,
        locked: G,
        deadline: Option<Deadline>,
        describe: impl FnOnce(&Waiter),
        relock: impl Fn() -> crate::error::Result<G>,
    ) -> crate::error::Result<(G, Slept, u32)> {
        if !self.spun && !spin::quiet() {
            self.spun = true;
            let progress = if which == SENDER { &waiting.freed } else { &waiting.sent };
            let seen = progress.count.load(Relaxed);
            drop(locked);
            spin::watch(&progress.count, seen, Some(&progress.at), spin::SPIN_TIME);
            return relock().map(|g| (g, Slept::Settled(wait::RECHECK), wait::RECHECK));
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
        let relocked = relock();
        let state = w.dequeue(relocked.as_ref().ok().map(|_| waiting.queue(which)));
        Ok((relocked?, slept, state))
    }
}

/// The first bytes of every block: the next block of the same message, or
/// of the free list.
#[repr(C)]
struct Block {
    next: AtomicU32,
}

/// The first block of a message.
#[repr(C)]
struct MsgHead {
    next: AtomicU32,
    /// The next message on the list, or NIL.
    next_msg: AtomicU32,
    size: AtomicU32,
    /// The previous message on the list, or NIL. Derived: it makes taking
    /// a message out of the middle of the list O(1).
    prev_msg: AtomicU32,
    /// What the owner orders and selects by (a System V type, a POSIX priority).
    tag: AtomicI64,
    /// Kept by a [`TypedList`] only (derived, see `typed`): the next
    /// message of the same tag, or NIL, and the message's place in the
    /// order of sending.
    next_same: AtomicU32,
    /// Kept by a [`TypedList`]: its tag's entry in the index when it was
    /// sent (a hint, checked before it is used: entries move).
    entry: AtomicU32,
    seq: AtomicU64,
}

// SAFETY: repr(C), atomics only.
unsafe impl Shared for Block {}
// SAFETY: repr(C), atomics only.
unsafe impl Shared for MsgHead {}

const HEAD_TEXT: usize = BLOCK_SIZE as usize - std::mem::size_of::<MsgHead>();
const CONT_TEXT: usize = BLOCK_SIZE as usize - std::mem::size_of::<Block>();

fn blocks_for(size: usize) -> usize {
    1 + size.saturating_sub(HEAD_TEXT).div_ceil(CONT_TEXT)
}

/// Where each piece of a message's text lives: (offset in block, length).
fn text_pieces(size: usize) -> impl Iterator<Item = (usize, usize)> {
    let first = size.min(HEAD_TEXT);
    std::iter::once((std::mem::size_of::<MsgHead>(), first)).chain(
        (0..size.saturating_sub(HEAD_TEXT).div_ceil(CONT_TEXT)).map(move |i| {
            let done = HEAD_TEXT + i * CONT_TEXT;
            (std::mem::size_of::<Block>(), (size - done).min(CONT_TEXT))
        }),
    )
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

    fn block(&self, block: u32) -> Option<&Block> {
        self.at_block(block)
    }

    fn store_bytes(&self, block: u32, at: usize, src: &[u8]) -> bool {
        let (chunk, offset) = Self::place(block);
        at + src.len() <= BLOCK_SIZE as usize
            && self.region.chunk(self.owner, chunk).is_some_and(|e| self.region.copy_in(e, offset + at as u64, src))
    }

    fn load_bytes(&self, block: u32, at: usize, count: usize, dst: &mut OutBuf, dst_at: usize) -> Result<(), Fault> {
        let (chunk, offset) = Self::place(block);
        let extent = self.region.chunk(self.owner, chunk).filter(|_| at + count <= BLOCK_SIZE as usize);
        let extent = extent.ok_or(Fault::Corrupt)?;
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
        for list in [&self.head, &self.tail, &self.free] {
            list.store(NIL, Relaxed);
        }
        for count in [&self.count, &self.bytes] {
            count.store(0, Relaxed);
        }
        self.free_count.store(0, Relaxed);
    }

    /// Messages on the list.
    pub fn count(&self) -> u64 {
        self.count.load(Relaxed)
    }

    /// Text bytes on the list.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Relaxed)
    }

    fn push_free(&self, st: &Store, block: u32) -> Result<(), Corrupt> {
        st.block(block).ok_or(Corrupt)?.next.store(self.free.load(Relaxed), Relaxed);
        self.free.store(block, Relaxed);
        self.free_count.fetch_add(1, Relaxed);
        Ok(())
    }

    /// Takes the first `count` blocks off the free list. They are chained
    /// through `next` already, in list order, so a message's blocks need no
    /// linking of their own: only the last one's link is cut. The first.
    fn take_free(&self, st: &Store, count: usize) -> Result<u32, Corrupt> {
        let first = self.free.load(Relaxed);
        let mut last = first;
        for _ in 1..count {
            last = st.block(last).ok_or(Corrupt)?.next.load(Relaxed);
        }
        let last = st.block(last).ok_or(Corrupt)?;
        self.free.store(last.next.load(Relaxed), Relaxed);
        last.next.store(NIL, Relaxed);
        self.free_count.fetch_sub(count as u32, Relaxed);
        Ok(first)
    }

    /// Gives back the `count` blocks chained from `first` (a message's) in
    /// one go: their own links are kept, the last one's joins the free
    /// list. (Each link rewritten would be a cache line taken from the CPU
    /// of the process that wrote the message, under the lock.)
    fn give_free(&self, st: &Store, first: u32, count: usize) -> Result<(), Corrupt> {
        let mut last = first;
        for _ in 1..count {
            last = st.block(last).ok_or(Corrupt)?.next.load(Relaxed);
        }
        st.block(last).ok_or(Corrupt)?.next.store(self.free.load(Relaxed), Relaxed);
        self.free.store(first, Relaxed);
        self.free_count.fetch_add(count as u32, Relaxed);
        Ok(())
    }

    /// Makes sure a message of `size` bytes will find free blocks, claiming
    /// chunks for the owner as needed (ENOMEM when the region is full).
    pub fn reserve(&self, st: &Store, size: usize) -> crate::error::Result<()> {
        // The first message also needs the blank anchor.
        let count = blocks_for(size) + (self.head.load(Relaxed) == NIL) as usize;
        while (self.free_count.load(Relaxed) as usize) < count {
            let chunk = st.region.claim_chunk(st.owner)?;
            crate::crash_point::here("msg-chunk-claimed");
            for i in (0..BLOCKS_PER_CHUNK).rev() {
                // A freshly claimed chunk is ours: this cannot fail.
                let _ = self.push_free(st, chunk * BLOCKS_PER_CHUNK + i);
            }
        }
        Ok(())
    }

    /// Puts a message on the list, after [`MessageList::reserve`] (the
    /// owner has checked its limits): before the first message whose tag
    /// `goes_before` accepts, or last. The list stays in the order that
    /// `goes_before` defines, so the last message is looked at first: when
    /// it may stay ahead (always, for a FIFO), the new one is appended at
    /// no cost. Returns the new message's block.
    pub fn enqueue(&self, st: &Store, tag: i64, text: &[u8], goes_before: impl Fn(i64) -> bool) -> Result<u32, Corrupt> {
        let first = self.take_free(st, blocks_for(text.len()))?;
        let mut block = first;
        let mut done = 0;
        for (at, len) in text_pieces(text.len()) {
            if !st.store_bytes(block, at, &text[done..done + len]) {
                return Err(Corrupt);
            }
            done += len;
            block = st.block(block).ok_or(Corrupt)?.next.load(Relaxed);
        }
        let anchor = match self.head.load(Relaxed) {
            NIL => self.make_anchor(st)?,
            anchor => anchor,
        };
        let (prev, next) = self.place_for(st, anchor, &goes_before)?;
        let head = st.msg_head(first).ok_or(Corrupt)?;
        head.next_msg.store(next, Relaxed);
        head.prev_msg.store(prev, Relaxed);
        head.size.store(text.len() as u32, Relaxed);
        head.tag.store(tag, Relaxed);

        crate::crash_point::here("msg-send-before-link");
        // The single store that publishes the message (see module docs).
        st.msg_head(prev).ok_or(Corrupt)?.next_msg.store(first, Relaxed);
        crate::crash_point::here("msg-send-after-link");
        match next {
            NIL => self.tail.store(first, Relaxed),
            n => st.msg_head(n).ok_or(Corrupt)?.prev_msg.store(first, Relaxed),
        }
        self.count.fetch_add(1, Relaxed);
        self.bytes.fetch_add(text.len() as u64, Relaxed);
        Ok(first)
    }

    /// Makes a blank anchor for a list that never had one, and hangs the
    /// list from it with one store. Its block.
    fn make_anchor(&self, st: &Store) -> Result<u32, Corrupt> {
        let anchor = self.take_free(st, 1)?;
        let blank = st.msg_head(anchor).ok_or(Corrupt)?;
        for link in [&blank.next_msg, &blank.prev_msg] {
            link.store(NIL, Relaxed);
        }
        blank.size.store(0, Relaxed);
        blank.tag.store(0, Relaxed);
        self.head.store(anchor, Relaxed);
        self.tail.store(anchor, Relaxed);
        Ok(anchor)
    }

    /// The first message, or NIL.
    fn first(&self, st: &Store) -> Result<u32, Corrupt> {
        match self.head.load(Relaxed) {
            NIL => Ok(NIL),
            anchor => Ok(st.msg_head(anchor).ok_or(Corrupt)?.next_msg.load(Relaxed)),
        }
    }

    /// Where a new message goes: between `prev` (the anchor, or a
    /// message) and `next` (NIL: at the end).
    fn place_for(&self, st: &Store, anchor: u32, goes_before: &impl Fn(i64) -> bool) -> Result<(u32, u32), Corrupt> {
        let tail = self.tail.load(Relaxed);
        if tail == anchor || !goes_before(st.msg_head(tail).ok_or(Corrupt)?.tag.load(Relaxed)) {
            return Ok((tail, NIL));
        }
        let mut prev = anchor;
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
        let limit = self.count.load(Relaxed).min(st.total_blocks());
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
        let mut block = found.block;
        let mut done = 0;
        for (piece_at, len) in text_pieces(found.size) {
            if done >= count {
                break;
            }
            let len = len.min(count - done);
            st.load_bytes(block, piece_at, len, dst, at + done)?;
            done += len;
            block = st.block(block).ok_or(Fault::Corrupt)?.next.load(Relaxed);
        }
        crate::crash_point::here("msg-receive-after-copy");
        Ok(())
    }

    /// Takes `found` off the list and frees its blocks.
    pub fn unlink(&self, st: &Store, found: &Found) -> Result<(), Corrupt> {
        let head = st.msg_head(found.block).ok_or(Corrupt)?;
        let (prev, next) = (head.prev_msg.load(Relaxed), head.next_msg.load(Relaxed));
        // `prev_msg` is derived: checked before it is trusted with the one
        // store that matters, so a wrong one changes nothing.
        let link = &st.msg_head(prev).ok_or(Corrupt)?.next_msg;
        if link.load(Relaxed) != found.block {
            return Err(Corrupt);
        }
        let anchor = self.head.load(Relaxed);
        if prev != anchor {
            // The single store that consumes the message (see module docs).
            link.store(next, Relaxed);
            crate::crash_point::here("msg-receive-after-unlink");
            match next {
                NIL => self.tail.store(prev, Relaxed),
                n => st.msg_head(n).ok_or(Corrupt)?.prev_msg.store(prev, Relaxed),
            }
            self.count.fetch_sub(1, Relaxed);
            self.bytes.fetch_sub(found.size as u64, Relaxed);
            return self.give_free(st, found.block, blocks_for(found.size));
        }
        // The first message: the single store that consumes it makes it
        // the anchor (the tail still, if it was the last).
        self.head.store(found.block, Relaxed);
        crate::crash_point::here("msg-receive-after-unlink");
        self.count.fetch_sub(1, Relaxed);
        self.bytes.fetch_sub(found.size as u64, Relaxed);
        let text = st.block(found.block).ok_or(Corrupt)?.next.swap(NIL, Relaxed);
        if text != NIL {
            self.give_free(st, text, blocks_for(found.size) - 1)?;
        }
        self.give_free(st, anchor, 1)
    }

    /// Rebuilds all derived state from the message list and the chunks the
    /// owner holds. Run by whoever takes the lock over from a dead holder,
    /// or finds the list inconsistent. A message whose blocks are not all
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
        let anchor = self.head.load(Relaxed);
        // An anchor is one block: the text blocks of a message that became
        // the anchor are free, even if it died before it said so.
        let anchor = match st.block(anchor) {
            Some(block) => {
                block.next.store(NIL, Relaxed);
                used.insert(anchor);
                anchor
            }
            None => {
                if anchor != NIL {
                    crate::log::diag(|| format!("{:?}: corrupted message list anchor dropped", st.owner));
                }
                self.head.store(NIL, Relaxed);
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
        self.tail.store(prev, Relaxed);
        self.count.store(count, Relaxed);
        self.bytes.store(bytes, Relaxed);
        self.free.store(NIL, Relaxed);
        self.free_count.store(0, Relaxed);
        let kept = !used.iter().any(|block| keep.contains(&(block / BLOCKS_PER_CHUNK)));
        for chunk in chunks.iter().rev().filter(|c| !(kept && keep.contains(c))) {
            for block in (chunk * BLOCKS_PER_CHUNK..(chunk + 1) * BLOCKS_PER_CHUNK).rev() {
                if !used.contains(&block) {
                    let _ = self.push_free(st, block);
                }
            }
        }
        kept
    }

    /// The blocks of the message at `block`, its size and the next message,
    /// if it is intact and shares no block with `used`.
    fn message_blocks(&self, st: &Store, first: u32, used: &HashSet<u32>) -> Option<(Vec<u32>, usize, u32)> {
        let head = st.msg_head(first)?;
        let size = head.size.load(Relaxed) as usize;
        if size > MAX_TEXT {
            return None;
        }
        let mut blocks = Vec::with_capacity(blocks_for(size));
        let mut block = first;
        for _ in 0..blocks_for(size) {
            if used.contains(&block) || blocks.contains(&block) {
                return None;
            }
            blocks.push(block);
            block = st.block(block)?.next.load(Relaxed);
        }
        (block == NIL).then_some((blocks, size, head.next_msg.load(Relaxed)))
    }
}
