//! One message queue in the region: its slot, and its messages stored as
//! chains of blocks in chunks that the queue owns.
//!
//! Locking: everything here runs with the queue's `header.lock` held.
//!
//! Crash consistency. The *primary* state is the message list: `head` and
//! each message's `next_msg` link, plus the bytes of the messages on it.
//! Everything else (`tail`, `qnum`, `cbytes`, the free-block list and its
//! count) is *derived*, and [`MsgQueue::repair`] rebuilds it from the
//! primary state and the chunk ownership array. Each mutation changes the
//! primary state with one store, made after the message it publishes is fully
//! written, so whatever instruction a lock holder dies at, the next holder
//! finds every message either wholly on the list or not on it:
//!
//! - send: pop blocks from the free list (derived), fill them (unreachable so
//!   far), then link the message with one store to `head` or to the old last
//!   message's `next_msg`, then update the derived totals. Dying before the
//!   link leaves blocks off every list: repair returns them to the free list.
//! - receive: copy the message out first, then unlink it with one store, then
//!   push its blocks on the free list. Dying before the unlink leaves the
//!   message queued for the next receiver; after it, the message is consumed.
//! - chunk claim: see `region::chunks`; a chunk claimed but not yet threaded
//!   on the free list is found again by repair, which scans the owner array.

use crate::ipc::ObjectHeader;
use crate::region::{ChunkOwner, Region, Shared, BLOCKS_PER_CHUNK, BLOCK_SIZE};
use crate::user::OutBuf;
use std::collections::HashSet;
use std::sync::atomic::{AtomicI32, AtomicI64, AtomicU32, AtomicU64, Ordering::Relaxed};

/// "No block": the end of a list.
pub(super) const NIL: u32 = u32::MAX;

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
    /// First message (block index), or NIL. Primary.
    head: AtomicU32,
    /// Last message, or NIL. Derived.
    tail: AtomicU32,
    /// Messages and text bytes on the queue. Derived.
    pub qnum: AtomicU64,
    pub cbytes: AtomicU64,
    /// Free blocks in the queue's chunks, linked through `Block::next`. Derived.
    free: AtomicU32,
    free_count: AtomicU32,
    /// Futex word bumped whenever a message arrives or the queue goes away;
    /// receivers sleep on it.
    pub sent: AtomicU32,
    /// Futex word bumped whenever space frees up or the queue goes away;
    /// senders sleep on it.
    pub freed: AtomicU32,
    /// Threads asleep on `sent` / `freed`, so that wakers can skip the
    /// FUTEX_WAKE system call when nobody sleeps. Changed under the lock. A
    /// waker changes the word, takes the count to zero and wakes everyone
    /// asleep on it: the next senders make no system call while those
    /// sleepers are waking up. A sleeper that wakes with the word unchanged
    /// (time-out, signal) takes its own registration back. A sleeper killed
    /// while asleep leaves its count behind until the next wake-up.
    pub receivers_asleep: AtomicU32,
    pub senders_asleep: AtomicU32,
}

// SAFETY: repr(C), atomics only.
unsafe impl Shared for MsgQueue {}

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
    /// The next message on the queue, or NIL.
    next_msg: AtomicU32,
    size: AtomicU32,
    _reserved: AtomicU32,
    mtype: AtomicI64,
}

// SAFETY: repr(C), atomics only.
unsafe impl Shared for Block {}
unsafe impl Shared for MsgHead {}

const HEAD_TEXT: usize = BLOCK_SIZE as usize - std::mem::size_of::<MsgHead>();
const CONT_TEXT: usize = BLOCK_SIZE as usize - std::mem::size_of::<Block>();
/// No message is larger than this, whatever msgmax says: a bound that keeps
/// repair from following absurd sizes in a corrupted queue.
pub(super) const MAX_TEXT: usize = 1 << 24;

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

/// A message located by [`MsgQueue::find`].
pub struct Found {
    prev: u32,
    block: u32,
    pub size: usize,
    pub mtype: i64,
}

/// The queue is inconsistent in a way only corruption explains; the caller
/// repairs it and retries.
pub struct Corrupt;

impl MsgQueue {
    fn owner(&self) -> ChunkOwner {
        ChunkOwner::msg_queue(self.header.id.load(Relaxed))
    }

    /// Resets the family fields of a newly created queue.
    pub fn init(&self, qbytes: u64) {
        self.qbytes.store(qbytes, Relaxed);
        for pid in [&self.lspid, &self.lrpid] {
            pid.store(0, Relaxed);
        }
        for time in [&self.stime, &self.rtime] {
            time.store(0, Relaxed);
        }
        for list in [&self.head, &self.tail, &self.free] {
            list.store(NIL, Relaxed);
        }
        for count in [&self.qnum, &self.cbytes] {
            count.store(0, Relaxed);
        }
        for count in [&self.free_count, &self.receivers_asleep, &self.senders_asleep] {
            count.store(0, Relaxed);
        }
    }

    fn msg_head<'r>(&self, region: &'r Region, block: u32) -> Option<&'r MsgHead> {
        if !region.owns_block(self.owner(), block) {
            return None;
        }
        region.block_header(block)
    }

    fn block<'r>(&self, region: &'r Region, block: u32) -> Option<&'r Block> {
        if !region.owns_block(self.owner(), block) {
            return None;
        }
        region.block_header(block)
    }

    fn push_free(&self, region: &Region, block: u32) -> Result<(), Corrupt> {
        self.block(region, block).ok_or(Corrupt)?.next.store(self.free.load(Relaxed), Relaxed);
        self.free.store(block, Relaxed);
        self.free_count.fetch_add(1, Relaxed);
        Ok(())
    }

    fn pop_free(&self, region: &Region) -> Result<u32, Corrupt> {
        let block = self.free.load(Relaxed);
        let next = self.block(region, block).ok_or(Corrupt)?.next.load(Relaxed);
        self.free.store(next, Relaxed);
        self.free_count.fetch_sub(1, Relaxed);
        Ok(block)
    }

    /// Makes sure a message of `size` bytes will find free blocks, claiming
    /// chunks as needed (ENOMEM when the region is full).
    pub fn reserve(&self, region: &Region, size: usize) -> crate::error::Result<()> {
        let count = blocks_for(size);
        while (self.free_count.load(Relaxed) as usize) < count {
            let chunk = region.claim_chunk(self.owner())?;
            crate::crash_point::here("msg-chunk-claimed");
            for i in (0..BLOCKS_PER_CHUNK).rev() {
                // A freshly claimed chunk is ours: this cannot fail.
                let _ = self.push_free(region, chunk * BLOCKS_PER_CHUNK + i);
            }
        }
        Ok(())
    }

    /// Appends a message, after [`MsgQueue::reserve`]. The caller has
    /// checked the queue's limits.
    pub fn enqueue(&self, region: &Region, mtype: i64, text: &[u8]) -> Result<(), Corrupt> {
        let first = self.pop_free(region)?;
        let mut block = first;
        let mut done = 0;
        let mut pieces = text_pieces(text.len()).peekable();
        while let Some((at, len)) = pieces.next() {
            if !region.store_block_bytes(block, at, &text[done..done + len]) {
                return Err(Corrupt);
            }
            done += len;
            let next = if pieces.peek().is_some() { self.pop_free(region)? } else { NIL };
            self.block(region, block).ok_or(Corrupt)?.next.store(next, Relaxed);
            block = next;
        }
        let head = self.msg_head(region, first).ok_or(Corrupt)?;
        head.next_msg.store(NIL, Relaxed);
        head.size.store(text.len() as u32, Relaxed);
        head.mtype.store(mtype, Relaxed);

        crate::crash_point::here("msg-send-before-link");
        // The single store that publishes the message (see module docs).
        match self.tail.load(Relaxed) {
            NIL => self.head.store(first, Relaxed),
            last => self.msg_head(region, last).ok_or(Corrupt)?.next_msg.store(first, Relaxed),
        }
        crate::crash_point::here("msg-send-after-link");
        self.tail.store(first, Relaxed);
        self.qnum.fetch_add(1, Relaxed);
        self.cbytes.fetch_add(text.len() as u64, Relaxed);
        Ok(())
    }

    /// Finds the message a receive with `select` would take.
    pub fn find(&self, region: &Region, select: Select) -> Result<Option<Found>, Corrupt> {
        let mut best = None;
        let mut bound = match select {
            Select::LessEqual(b) => b,
            _ => 0,
        };
        let mut prev = NIL;
        let mut block = self.head.load(Relaxed);
        let mut position = 0i64;
        // Every message takes a block: a longer list is a cycle.
        let limit = self.qnum.load(Relaxed).min(region.total_blocks());
        let mut seen = 0u64;
        while block != NIL {
            seen += 1;
            if seen > limit {
                return Err(Corrupt); // more messages linked than counted: a cycle?
            }
            let head = self.msg_head(region, block).ok_or(Corrupt)?;
            let mtype = head.mtype.load(Relaxed);
            let found = || Found { prev, block, size: head.size.load(Relaxed) as usize, mtype };
            match select {
                Select::Any => return Ok(Some(found())),
                Select::Equal(t) if mtype == t => return Ok(Some(found())),
                Select::NotEqual(t) if mtype != t => return Ok(Some(found())),
                Select::Position(p) if position == p => return Ok(Some(found())),
                Select::LessEqual(_) if mtype <= bound => {
                    best = Some(found());
                    if mtype == 1 {
                        break;
                    }
                    bound = mtype - 1;
                }
                _ => {}
            }
            position += 1;
            prev = block;
            block = head.next_msg.load(Relaxed);
        }
        Ok(best)
    }

    /// Copies the first `count` text bytes of `found` into `dst` at `at`.
    pub fn copy_out(
        &self,
        region: &Region,
        found: &Found,
        dst: &mut OutBuf,
        at: usize,
        count: usize,
    ) -> Result<(), Corrupt> {
        let mut block = found.block;
        let mut done = 0;
        for (piece_at, len) in text_pieces(found.size) {
            if done >= count {
                break;
            }
            let len = len.min(count - done);
            if !region.load_block_bytes(block, piece_at, len, dst, at + done) {
                return Err(Corrupt);
            }
            done += len;
            block = self.block(region, block).ok_or(Corrupt)?.next.load(Relaxed);
        }
        crate::crash_point::here("msg-receive-after-copy");
        Ok(())
    }

    /// Takes `found` off the queue and frees its blocks.
    pub fn unlink(&self, region: &Region, found: &Found) -> Result<(), Corrupt> {
        let next = self.msg_head(region, found.block).ok_or(Corrupt)?.next_msg.load(Relaxed);
        // The single store that consumes the message (see module docs).
        match found.prev {
            NIL => self.head.store(next, Relaxed),
            prev => self.msg_head(region, prev).ok_or(Corrupt)?.next_msg.store(next, Relaxed),
        }
        crate::crash_point::here("msg-receive-after-unlink");
        if self.tail.load(Relaxed) == found.block {
            self.tail.store(found.prev, Relaxed);
        }
        self.qnum.fetch_sub(1, Relaxed);
        self.cbytes.fetch_sub(found.size as u64, Relaxed);
        let mut block = found.block;
        for _ in 0..blocks_for(found.size) {
            let next = self.block(region, block).ok_or(Corrupt)?.next.load(Relaxed);
            self.push_free(region, block)?;
            block = next;
        }
        Ok(())
    }

    /// Rebuilds all derived state from the message list and the chunks the
    /// queue owns. Run by whoever takes the lock over from a dead owner, or
    /// finds the queue inconsistent. A message whose blocks are not all
    /// ours, or that shares a block with another, can only come from
    /// corruption: the list is cut before it.
    pub fn repair(&self, region: &Region) {
        let chunks = region.chunks_of(self.owner());
        let mut used = HashSet::new();
        let (mut prev, mut block) = (NIL, self.head.load(Relaxed));
        let (mut qnum, mut cbytes) = (0u64, 0u64);
        while block != NIL {
            match self.message_blocks(region, block, &used) {
                Some((blocks, size, next)) => {
                    used.extend(blocks);
                    qnum += 1;
                    cbytes += size as u64;
                    prev = block;
                    block = next;
                }
                None => {
                    match prev {
                        NIL => self.head.store(NIL, Relaxed),
                        p => {
                            if let Some(h) = self.msg_head(region, p) {
                                h.next_msg.store(NIL, Relaxed)
                            }
                        }
                    }
                    crate::log::diag(|| {
                        format!("msg queue {}: corrupted message list cut", self.header.id.load(Relaxed))
                    });
                    break;
                }
            }
        }
        self.tail.store(prev, Relaxed);
        self.qnum.store(qnum, Relaxed);
        self.cbytes.store(cbytes, Relaxed);
        self.free.store(NIL, Relaxed);
        self.free_count.store(0, Relaxed);
        for chunk in chunks.iter().rev() {
            for block in (chunk * BLOCKS_PER_CHUNK..(chunk + 1) * BLOCKS_PER_CHUNK).rev() {
                if !used.contains(&block) {
                    let _ = self.push_free(region, block);
                }
            }
        }
    }

    /// The blocks of the message at `block`, its size and the next message,
    /// if it is intact and shares no block with `used`.
    fn message_blocks(&self, region: &Region, first: u32, used: &HashSet<u32>) -> Option<(Vec<u32>, usize, u32)> {
        let head = self.msg_head(region, first)?;
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
            block = self.block(region, block)?.next.load(Relaxed);
        }
        (block == NIL).then_some((blocks, size, head.next_msg.load(Relaxed)))
    }
}
