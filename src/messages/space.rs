//! A list's free space: the runs on the sending end's free list, the
//! runs receivers give back, how a message takes them, and how free space
//! that a mix of sizes cut up is merged again. The free list and the
//! returned list are derived state (see the parent module): a holder that
//! dies halfway through any of this leaves a list that repair rebuilds
//! from the messages and the owner's chunks.

use super::{add_to, text_at, Corrupt, MessageList, Run, Store, BLOCK, BLOCKS_PER_CHUNK, CONT_TEXT, HEAD_TEXT, NIL};
use crate::region::{Shared, CHUNK_SIZE};
use std::sync::atomic::{
    AtomicU32,
    Ordering::{Acquire, Relaxed, Release},
};

/// The first run of a chain given back to the sending end: how many
/// blocks it and the chains below it hold, and the last run of the chain
/// at the bottom, so that the sender that takes them need not walk them.
#[repr(C)]
struct Returned {
    run: Run,
    total: AtomicU32,
    bottom: AtomicU32,
}

// SAFETY: repr(C), atomics only.
unsafe impl Shared for Returned {}

/// The most blocks a message of `size` text bytes can take: when every
/// run it gets is one block long.
pub(super) fn most_blocks_for(size: usize) -> usize {
    1 + size.saturating_sub(HEAD_TEXT).div_ceil(CONT_TEXT)
}

/// The fewest runs a message of `size` text bytes can take: when each is a
/// whole chunk.
fn fewest_runs_for(size: usize) -> usize {
    let (first, later) = (CHUNK_SIZE as usize - text_at(true), CHUNK_SIZE as usize - text_at(false));
    1 + size.saturating_sub(first).div_ceil(later)
}

/// Cut-up messages that go by between two merges of the free list, at
/// least: a mix of sizes cuts it up again at once, and a merge costs a
/// sort of its runs.
const MERGE_EVERY: u32 = 16;

/// A list's `merge_wait`: how many times in a row a merge found too little
/// to merge (the top byte), and how many more cut-up messages go by before
/// the next (the rest).
struct MergeWait {
    level: u32,
    wait: u32,
}

impl From<u32> for MergeWait {
    fn from(word: u32) -> Self {
        MergeWait { level: word >> 24, wait: word & 0xff_ffff }
    }
}

impl From<MergeWait> for u32 {
    fn from(w: MergeWait) -> u32 {
        w.level << 24 | w.wait.min(0xff_ffff)
    }
}

/// How many times in a row a merge of the free list that found too little
/// to merge doubles the wait before the next (see [`MessageList::defragment`]).
const MAX_MERGE_LEVEL: u32 = 10;

/// The blocks of a run that holds `rest` more text bytes, starting at `at`.
fn blocks_holding(at: usize, rest: usize) -> u32 {
    (at + rest).div_ceil(BLOCK) as u32
}

impl MessageList {
    /// Puts the run of `blocks` blocks at `first` (which the caller knows
    /// to lie in one chunk of the owner's) on the free list.
    pub(super) fn push_free(&self, st: &Store, first: u32, blocks: u32) -> Result<(), Corrupt> {
        let s = &self.sending;
        let run = st.at_block::<Run>(first).ok_or(Corrupt)?;
        run.next.store(s.free.load(Relaxed), Relaxed);
        run.blocks.store(blocks, Relaxed);
        s.free.store(first, Relaxed);
        add_to(&s.free_count, blocks);
        Ok(())
    }

    /// Takes runs off the free list for a message of `size` text bytes:
    /// whole runs while the text goes on past them, and of the run it ends
    /// in, the blocks it needs (the rest stays free, a run of its own).
    /// Pieces of chunks that would not finish it are set aside (`parked`)
    /// while the rest of the free list can hold it. The runs taken are
    /// chained in list order already: only the last one's link is cut, and
    /// a link that passed over runs set aside is pointed past them. The
    /// first.
    ///
    /// In a stream of like messages every run comes back as it was taken,
    /// so a sender takes whole runs and splits none.
    pub(super) fn take_free(&self, st: &Store, size: usize) -> Result<u32, Corrupt> {
        let s = &self.sending;
        let (mut run, mut rest, mut at) = (s.free.load(Relaxed), size, text_at(true));
        let (mut first, mut last) = (NIL, None::<&Run>);
        let (mut taken, mut parked, mut runs) = (0u32, 0u32, 0);
        // Blocks on the free list past the runs looked at so far.
        let mut beyond = s.free_count.load(Relaxed);
        let left = loop {
            let (head, blocks) = st.run(run).ok_or(Corrupt)?;
            let next = head.next.load(Relaxed);
            beyond = beyond.checked_sub(blocks).ok_or(Corrupt)?;
            let room = blocks as usize * BLOCK - at;
            // A piece of a chunk that would not finish the message is set
            // aside while what lies beyond it holds the rest however cut
            // up: taken, it would come back as it is and cut up every later
            // message that takes it, since its neighbours are in use in the
            // meantime (a stream with messages in flight keeps them so);
            // set aside, it stays free until a merge joins it to them.
            let worst = || if first == NIL { most_blocks_for(rest) } else { rest.div_ceil(CONT_TEXT) };
            if rest > room && blocks < BLOCKS_PER_CHUNK && beyond as usize >= worst() {
                head.next.store(s.parked.load(Relaxed), Relaxed);
                s.parked.store(run, Relaxed);
                parked += blocks;
                run = next;
                continue;
            }
            // Chained in list order already unless a run was set aside.
            match last {
                None => first = run,
                Some(prev) if prev.next.load(Relaxed) != run => prev.next.store(run, Relaxed),
                Some(_) => {}
            }
            runs += 1;
            if rest > room {
                taken += blocks;
                rest -= room;
                last = Some(head);
                (run, at) = (next, text_at(false));
                continue;
            }
            let needed = blocks_holding(at, rest);
            head.next.store(NIL, Relaxed);
            taken += needed;
            if needed == blocks {
                break next;
            }
            let after = run + needed;
            let remainder = st.at_block::<Run>(after).ok_or(Corrupt)?;
            remainder.next.store(next, Relaxed);
            remainder.blocks.store(blocks - needed, Relaxed);
            head.blocks.store(needed, Relaxed);
            break after;
        };
        s.free.store(left, Relaxed);
        add_to(&s.free_count, (taken + parked).wrapping_neg());
        add_to(&s.parked_count, parked);
        // One run more than the fewest is where a chunk's end falls.
        if runs > fewest_runs_for(size) + 1 || s.parked_count.load(Relaxed) >= BLOCKS_PER_CHUNK {
            s.cut_up.store(1, Relaxed);
        }
        // The next send's first run, which a receiver wrote last when it
        // gave it back: fetched now, it is here by then.
        if let Some(next) = st.at_block::<Run>(left) {
            crate::platform::prefetch_for_write(next);
        }
        Ok(first)
    }

    /// Returns the runs chained from `first` (a message's) to the sending
    /// end in one go: their own links are kept, the last one's joins the
    /// returned list. (Each link rewritten would be a cache line taken
    /// from the CPU of the process that wrote the message.) Only the
    /// receiving end's holder pushes; the sending end may take the whole
    /// list meanwhile, hence the compare-and-swap.
    pub(super) fn give_back(&self, st: &Store, first: u32) -> Result<(), Corrupt> {
        let (mut run, mut count) = (first, 0u32);
        let (last, last_block) = loop {
            let (head, blocks) = st.run(run).ok_or(Corrupt)?;
            count = count.saturating_add(blocks);
            if count as u64 > st.total_blocks() {
                return Err(Corrupt); // a cycle
            }
            match head.next.load(Relaxed) {
                NIL => break (head, run),
                next => run = next,
            }
        };
        let chain = st.at_block::<Returned>(first).ok_or(Corrupt)?;
        let returned = &self.receiving.returned;
        let mut top = returned.load(Relaxed);
        loop {
            last.next.store(top, Relaxed);
            // The count and the bottom below: read in a block the sending
            // end may be taking and reusing right now, but then the
            // exchange fails (only this end pushes, so the top cannot
            // come back).
            let (below, bottom) = match top {
                NIL => (0, last_block),
                t => {
                    let below = st.at_block::<Returned>(t).ok_or(Corrupt)?;
                    (below.total.load(Relaxed), below.bottom.load(Relaxed))
                }
            };
            chain.total.store(below.saturating_add(count), Relaxed);
            chain.bottom.store(bottom, Relaxed);
            // Release: the sender that takes the blocks sees them as left.
            match returned.compare_exchange_weak(top, first, Release, Relaxed) {
                Ok(_) => return Ok(()),
                Err(now) => top = now,
            }
        }
    }

    /// Moves the blocks receivers returned to the front of the sending
    /// end's free list, to be used first: the blocks given back last are
    /// the likeliest to be in the caches of both sides still, so a stream
    /// keeps to as few blocks as it needs and its writes find their lines
    /// close. (Used last, they make a 4 KiB stream across two CPUs run at
    /// less than half the speed.) Done at every send of a message of more
    /// than one block, not only when the free list runs short: a stream
    /// of them then cycles through the runs it gave back, never reaching
    /// whatever short runs lie at the end of the free list.
    fn take_returned(&self, st: &Store) -> Result<(), Corrupt> {
        // Acquire: pairs with the Release of `give_back`.
        let first = self.receiving.returned.swap(NIL, Acquire);
        if first == NIL {
            return Ok(());
        }
        let taken = st.at_block::<Returned>(first).ok_or(Corrupt)?;
        let count = taken.total.load(Relaxed);
        if count as u64 > st.total_blocks() {
            return Err(Corrupt);
        }
        let (bottom, _) = st.run(taken.bottom.load(Relaxed)).ok_or(Corrupt)?;
        let s = &self.sending;
        bottom.next.store(s.free.load(Relaxed), Relaxed);
        s.free.store(first, Relaxed);
        add_to(&s.free_count, count);
        Ok(())
    }

    /// A message took more runs than uncut free space would have given it,
    /// or a chunk's worth of runs was set aside (see `take_free`): merges
    /// the free runs that lie side by side, the returned and the parked
    /// ones included, so that the next messages are copied in as few
    /// pieces as their size allows. Without it, runs are never joined
    /// again once a mix of sizes has cut them up: each comes back as it was
    /// taken, and a queue that carried a mix of small and large messages
    /// copies every large one in pieces of a block or two for ever after.
    ///
    /// What is queued can keep the free space cut up however it is merged:
    /// each merge that shortens the free list by less than a quarter
    /// doubles the number of cut-up messages that go by before the next
    /// try (up to [`MAX_MERGE_LEVEL`]), so that such a queue pays for a
    /// merge now and then only. Under the sending end's lock: the free list
    /// and these counts are its own, and a sender that dies here leaves a
    /// damaged list, which repair rebuilds (all of it is derived).
    fn defragment(&self, st: &Store) -> Result<(), Corrupt> {
        let s = &self.sending;
        s.cut_up.store(0, Relaxed);
        let MergeWait { level, wait } = MergeWait::from(s.merge_wait.load(Relaxed));
        if wait > 0 {
            s.merge_wait.store(MergeWait { level, wait: wait - 1 }.into(), Relaxed);
            return Ok(());
        }
        self.take_returned(st)?;
        self.unpark(st)?;
        let (before, after) = self.merge_free(st)?;
        let level = if after * 4 <= before * 3 { 0 } else { (level + 1).min(MAX_MERGE_LEVEL) };
        s.merge_wait.store(MergeWait { level, wait: (MERGE_EVERY << level) - 1 }.into(), Relaxed);
        Ok(())
    }

    /// Puts the runs set aside back at the front of the free list.
    fn unpark(&self, st: &Store) -> Result<(), Corrupt> {
        let s = &self.sending;
        let (first, count) = (s.parked.load(Relaxed), s.parked_count.load(Relaxed));
        if first == NIL {
            return Ok(());
        }
        let (mut run, mut seen) = (first, 0u32);
        let last = loop {
            let (head, blocks) = st.run(run).ok_or(Corrupt)?;
            seen = seen.checked_add(blocks).filter(|&n| n <= count).ok_or(Corrupt)?;
            match head.next.load(Relaxed) {
                NIL => break head,
                next => run = next,
            }
        };
        if seen != count {
            return Err(Corrupt);
        }
        last.next.store(s.free.load(Relaxed), Relaxed);
        s.free.store(first, Relaxed);
        add_to(&s.free_count, count);
        s.parked.store(NIL, Relaxed);
        s.parked_count.store(0, Relaxed);
        Ok(())
    }

    /// Rebuilds the free list with every stretch of its runs that lie side
    /// by side in one chunk made one run. The runs before and after.
    fn merge_free(&self, st: &Store) -> Result<(usize, usize), Corrupt> {
        let s = &self.sending;
        let total = s.free_count.load(Relaxed);
        let mut runs = Vec::new();
        let (mut run, mut seen) = (s.free.load(Relaxed), 0u32);
        while run != NIL {
            let (head, blocks) = st.run(run).ok_or(Corrupt)?;
            // More blocks than the count says: a cycle, or a wrong count.
            seen = seen.checked_add(blocks).filter(|&n| n <= total).ok_or(Corrupt)?;
            runs.push((run, blocks));
            run = head.next.load(Relaxed);
        }
        if seen != total {
            return Err(Corrupt);
        }
        runs.sort_unstable();
        let mut merged: Vec<(u32, u32)> = Vec::with_capacity(runs.len());
        for &(start, blocks) in &runs {
            match merged.last_mut() {
                Some((at, n)) if *at + *n > start => return Err(Corrupt), // overlapping runs
                Some((at, n)) if *at + *n == start && *at / BLOCKS_PER_CHUNK == start / BLOCKS_PER_CHUNK => {
                    *n += blocks
                }
                _ => merged.push((start, blocks)),
            }
        }
        let count = merged.len();
        // Longest first: a stream then keeps to whole runs, as it does in
        // the whole chunks of a new queue, and leaves the short ones be.
        merged.sort_unstable_by_key(|&(start, blocks)| (std::cmp::Reverse(blocks), start));
        s.free.store(NIL, Relaxed);
        s.free_count.store(0, Relaxed);
        for (i, &(start, blocks)) in merged.iter().rev().enumerate() {
            if i == count / 2 {
                crate::crash_point::here("msg-free-merging");
            }
            self.push_free(st, start, blocks)?;
        }
        Ok((runs.len(), count))
    }

    /// Makes sure a message of `size` bytes will find free blocks, claiming
    /// chunks for the owner as needed (ENOMEM when the region is full).
    pub fn reserve(&self, st: &Store, size: usize) -> crate::error::Result<()> {
        // The first message also needs the blank anchor.
        let count = most_blocks_for(size) + (self.sending.tail.load(Relaxed) == NIL) as usize;
        let free_count = &self.sending.free_count;
        let cut_up = self.sending.cut_up.load(Relaxed) != 0;
        // A message of one block fits any run; it takes what was given back
        // only once the free list runs short, as one batch.
        let short = || (free_count.load(Relaxed) as usize) < count;
        let collect = size > HEAD_TEXT || short();
        if (cut_up && self.defragment(st).is_err())
            || (collect && self.take_returned(st).is_err())
            || (short() && self.unpark(st).is_err())
        {
            self.mark_damaged();
            return Err(crate::error::Errno::EIO);
        }
        while (free_count.load(Relaxed) as usize) < count {
            let chunk = st.region.claim_chunk(st.owner)?;
            crate::crash_point::here("msg-chunk-claimed");
            // A freshly claimed chunk is ours: this cannot fail.
            let _ = self.push_free(st, chunk * BLOCKS_PER_CHUNK, BLOCKS_PER_CHUNK);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::Visit;
    use super::*;
    use crate::region::{scratch, Owner};

    /// The runs the message at `first` takes.
    fn runs_of(st: &Store, first: u32) -> usize {
        let size = st.msg_head(first).expect("a message").size.load(Relaxed) as usize;
        let mut runs = 0;
        st.pieces::<Corrupt>(first, size, |_, _, _| {
            runs += 1;
            Ok(())
        })
        .ok()
        .expect("an intact message");
        runs
    }

    fn send(list: &MessageList, st: &Store, text: &[u8]) -> u32 {
        list.reserve(st, text.len()).expect("room in the region");
        list.enqueue(st, 1, text, |_| false).ok().expect("an intact list")
    }

    fn receive(list: &MessageList, st: &Store) -> usize {
        let found = list.find(st, |_| Visit::Take).ok().flatten().expect("a queued message");
        list.unlink(st, &found).ok().expect("an intact list");
        found.size
    }

    /// A mix of sizes cuts the free space up into runs of a block or two;
    /// once the mix is over, large messages are copied in as few pieces as
    /// their size allows again, not in pieces of a block for ever, also
    /// when several are in flight (and keep the pieces' neighbours in use).
    #[test]
    fn free_space_cut_up_by_a_mix_of_sizes_is_merged_again() {
        let region = scratch("messages", 1, 64);
        let st = Store { region: &region, owner: Owner::new(0, 0, 1) };
        // SAFETY: all-zero atomics are valid; `init` gives them their values.
        let list = unsafe { Box::<MessageList>::new_zeroed().assume_init() };
        list.init();

        let text = [7u8; 4096];
        let most = fewest_runs_for(text.len()) + 1;
        // `count` messages of 4 KiB, `in_flight` sent before they are
        // received: the runs each took.
        let stream = |count: usize, in_flight: usize| -> Vec<usize> {
            let mut runs = Vec::with_capacity(count);
            while runs.len() < count {
                for _ in 0..in_flight {
                    runs.push(runs_of(&st, send(&list, &st, &text)));
                }
                for _ in 0..in_flight {
                    assert_eq!(receive(&list, &st), text.len());
                }
            }
            runs
        };
        for in_flight in [1, 3] {
            let fresh = stream(40, in_flight);
            assert!(fresh.iter().all(|&n| n <= most), "4 KiB messages in a new queue took {fresh:?} runs");
        }

        let (mut x, mut queued) = (0x2545_f491u32, std::collections::VecDeque::new());
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let size = 1 + x as usize % 2048;
            if x >> 28 & 1 == 1 && queued.iter().sum::<usize>() + size <= 16384 {
                send(&list, &st, &text[..size]);
                queued.push_back(size);
            } else if let Some(size) = queued.pop_front() {
                assert_eq!(receive(&list, &st), size);
            }
        }
        while let Some(size) = queued.pop_front() {
            assert_eq!(receive(&list, &st), size);
        }
        let pieces = free_pieces(&list, &st);
        assert!(pieces > 2 * region.chunks_of(st.owner).len(), "the mix left the free space in {pieces} pieces only");
        // However long the merges were put off, the stream is whole again
        // once they are done, and stays so, with messages in flight too.
        stream(((MERGE_EVERY as usize) << MAX_MERGE_LEVEL) + 1, 1);
        for in_flight in [1, 3] {
            let after = stream(2000, in_flight);
            let last = &after[after.len() - 40..];
            assert!(
                last.iter().all(|&n| n <= most),
                "4 KiB messages after the mix, {in_flight} in flight, took {last:?} runs"
            );
        }
    }

    /// The free runs of `list`: on its free list, given back, set aside.
    fn free_pieces(list: &MessageList, st: &Store) -> usize {
        [&list.sending.free, &list.receiving.returned, &list.sending.parked]
            .into_iter()
            .map(|first| {
                let (mut run, mut count) = (first.load(Relaxed), 0);
                while let Some((head, _)) = st.run(run) {
                    count += 1;
                    run = head.next.load(Relaxed);
                }
                count
            })
            .sum()
    }
}
