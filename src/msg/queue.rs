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

use crate::error::Errno;
use crate::ipc::{Object, ObjectHeader};
use crate::region::{Owner, Region, Shared, CHUNK_SIZE};
use crate::user::OutBuf;
use crate::wait::WaitQueue;
use std::collections::HashSet;
use std::sync::atomic::{AtomicI32, AtomicI64, AtomicU32, AtomicU64, Ordering::Relaxed};

/// Messages are stored in blocks of this size, in chunks the queue owns.
pub(super) const BLOCK_SIZE: u64 = 256;
const BLOCKS_PER_CHUNK: u32 = (CHUNK_SIZE / BLOCK_SIZE) as u32;

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
    pub waiting: Waiting,
}

/// What waiters watch, on a cache line of its own: a would-be waiter spins
/// on it while the sender rewrites the fields above (the free list, the
/// counts) many times per message.
#[repr(C, align(64))]
pub struct Waiting {
    /// Bumped by every send (`sent`) and every receive (`freed`), under the
    /// lock: a would-be receiver (sender) spins on it before it registers
    /// (see `wait_on`).
    pub sent: AtomicU32,
    pub freed: AtomicU32,
    /// Receivers waiting for a message (their selector in the payload) and
    /// senders waiting for room (see `wait`; repaired with the queue).
    pub receivers: WaitQueue,
    pub senders: WaitQueue,
}

// SAFETY: repr(C), atomics only.
unsafe impl Shared for MsgQueue {}
// SAFETY: repr(C), atomics only.
unsafe impl Shared for Waiting {}
// SAFETY: repr(C), the header first.
unsafe impl Object for MsgQueue {
    fn header(&self) -> &ObjectHeader {
        &self.header
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
    /// The next message on the queue, or NIL.
    next_msg: AtomicU32,
    size: AtomicU32,
    _reserved: AtomicU32,
    mtype: AtomicI64,
}

// SAFETY: repr(C), atomics only.
unsafe impl Shared for Block {}
// SAFETY: repr(C), atomics only.
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

/// A queue's storage: the blocks in the chunks it owns.
pub struct Store<'r> {
    pub region: &'r Region,
    pub owner: Owner,
}

impl Store<'_> {
    /// Where a block lives: its chunk, and its offset in the chunk.
    fn place(block: u32) -> (u32, u64) {
        (block / BLOCKS_PER_CHUNK, (block % BLOCKS_PER_CHUNK) as u64 * BLOCK_SIZE)
    }

    /// A `T` at the start of block `block`, if it lies in a chunk the queue
    /// owns: checked on every link followed, so a corrupted link cannot
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
        for list in [&self.head, &self.tail, &self.free] {
            list.store(NIL, Relaxed);
        }
        for count in [&self.qnum, &self.cbytes] {
            count.store(0, Relaxed);
        }
        self.free_count.store(0, Relaxed);
        self.waiting.receivers.clear();
        self.waiting.senders.clear();
    }

    fn push_free(&self, st: &Store, block: u32) -> Result<(), Corrupt> {
        st.block(block).ok_or(Corrupt)?.next.store(self.free.load(Relaxed), Relaxed);
        self.free.store(block, Relaxed);
        self.free_count.fetch_add(1, Relaxed);
        Ok(())
    }

    fn pop_free(&self, st: &Store) -> Result<u32, Corrupt> {
        let block = self.free.load(Relaxed);
        let next = st.block(block).ok_or(Corrupt)?.next.load(Relaxed);
        self.free.store(next, Relaxed);
        self.free_count.fetch_sub(1, Relaxed);
        Ok(block)
    }

    /// Makes sure a message of `size` bytes will find free blocks, claiming
    /// chunks as needed (ENOMEM when the region is full).
    pub fn reserve(&self, st: &Store, size: usize) -> crate::error::Result<()> {
        let count = blocks_for(size);
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

    /// Appends a message, after [`MsgQueue::reserve`]. The caller has
    /// checked the queue's limits.
    pub fn enqueue(&self, st: &Store, mtype: i64, text: &[u8]) -> Result<(), Corrupt> {
        let first = self.pop_free(st)?;
        let mut block = first;
        let mut done = 0;
        let mut pieces = text_pieces(text.len()).peekable();
        while let Some((at, len)) = pieces.next() {
            if !st.store_bytes(block, at, &text[done..done + len]) {
                return Err(Corrupt);
            }
            done += len;
            let next = if pieces.peek().is_some() { self.pop_free(st)? } else { NIL };
            st.block(block).ok_or(Corrupt)?.next.store(next, Relaxed);
            block = next;
        }
        let head = st.msg_head(first).ok_or(Corrupt)?;
        head.next_msg.store(NIL, Relaxed);
        head.size.store(text.len() as u32, Relaxed);
        head.mtype.store(mtype, Relaxed);

        crate::crash_point::here("msg-send-before-link");
        // The single store that publishes the message (see module docs).
        match self.tail.load(Relaxed) {
            NIL => self.head.store(first, Relaxed),
            last => st.msg_head(last).ok_or(Corrupt)?.next_msg.store(first, Relaxed),
        }
        crate::crash_point::here("msg-send-after-link");
        self.tail.store(first, Relaxed);
        self.qnum.fetch_add(1, Relaxed);
        self.cbytes.fetch_add(text.len() as u64, Relaxed);
        Ok(())
    }

    /// Finds the message a receive with `select` would take.
    pub fn find(&self, st: &Store, select: Select) -> Result<Option<Found>, Corrupt> {
        let mut best = None;
        let mut bound = match select {
            Select::LessEqual(b) => b,
            _ => 0,
        };
        let mut prev = NIL;
        let mut block = self.head.load(Relaxed);
        let mut position = 0i64;
        // Every message takes a block: a longer list is a cycle.
        let limit = self.qnum.load(Relaxed).min(st.total_blocks());
        let mut seen = 0u64;
        while block != NIL {
            seen += 1;
            if seen > limit {
                return Err(Corrupt); // more messages linked than counted: a cycle?
            }
            let head = st.msg_head(block).ok_or(Corrupt)?;
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

    /// Takes `found` off the queue and frees its blocks.
    pub fn unlink(&self, st: &Store, found: &Found) -> Result<(), Corrupt> {
        let next = st.msg_head(found.block).ok_or(Corrupt)?.next_msg.load(Relaxed);
        // The single store that consumes the message (see module docs).
        match found.prev {
            NIL => self.head.store(next, Relaxed),
            prev => st.msg_head(prev).ok_or(Corrupt)?.next_msg.store(next, Relaxed),
        }
        crate::crash_point::here("msg-receive-after-unlink");
        if self.tail.load(Relaxed) == found.block {
            self.tail.store(found.prev, Relaxed);
        }
        self.qnum.fetch_sub(1, Relaxed);
        self.cbytes.fetch_sub(found.size as u64, Relaxed);
        let mut block = found.block;
        for _ in 0..blocks_for(found.size) {
            let next = st.block(block).ok_or(Corrupt)?.next.load(Relaxed);
            self.push_free(st, block)?;
            block = next;
        }
        Ok(())
    }

    /// Rebuilds all derived state from the message list and the chunks the
    /// queue owns. Run by whoever takes the lock over from a dead owner, or
    /// finds the queue inconsistent. A message whose blocks are not all
    /// ours, or that shares a block with another, can only come from
    /// corruption: the list is cut before it.
    pub fn repair(&self, st: &Store) {
        let chunks = st.region.chunks_of(st.owner);
        let mut used = HashSet::new();
        let (mut prev, mut block) = (NIL, self.head.load(Relaxed));
        let (mut qnum, mut cbytes) = (0u64, 0u64);
        while block != NIL {
            match self.message_blocks(st, block, &used) {
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
                            if let Some(h) = st.msg_head(p) {
                                h.next_msg.store(NIL, Relaxed)
                            }
                        }
                    }
                    crate::log::diag(|| format!("msg queue {}: corrupted message list cut", self.header.id()));
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
                    let _ = self.push_free(st, block);
                }
            }
        }
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
