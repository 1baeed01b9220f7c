//! A FIFO [`MessageList`] with an index by tag (a System V message type),
//! so that a receive by type costs the same however many messages of other
//! types are queued.
//!
//! The index is a table (module `table`) in an extent of chunks the owner
//! holds: a dense array of entries, one per distinct tag on the list (the tag, its first
//! and its last message), and a hash of tags to entries (open addressing,
//! linear probing, at most half full). Each message links to the next one
//! of its tag (`next_same`) and carries its place in the order of sending
//! (`seq`). So:
//!
//! - the first message of a tag is one hash probe away;
//! - the first message of any tag but one, and the first of the lowest
//!   tag at most a bound, are a pass over the entries: O(distinct tags);
//! - a receive always takes the first message of its tag, so the tag's
//!   chain only ever loses its head. An entry whose chain empties stays,
//!   vacant, for the tag's next message, until the vacant entries
//!   outnumber the others by a few; then they go, each replaced by the
//!   last entry (the array stays dense).
//!
//! The entry a message's tag had when it was sent, and the one the last
//! send used, are kept as hints that spare a hash probe on the common
//! paths (checked against the tag before use: entries move).
//!
//! Crash consistency: everything here is *derived* from the list (the
//! message list's primary state, see the parent module), and
//! [`TypedList::repair`] rebuilds it, renumbering `seq` in list order. The
//! only word that is not rebuilt from the list is `place`, which says
//! where the table is; it changes with one store, when the table moves to
//! a larger extent, built beforehand (crash points `msg-index-claimed`,
//! `msg-index-moved`). Whichever side of that store a holder dies on, the
//! extent `place` does not name is storage the owner holds and nothing
//! links to, so repair hands its blocks to the free list like any other
//! unused block, and the extent `place` names is rebuilt.
//!
//! The index is made by the first receive by type that finds INDEX_FROM
//! messages or more on the list (a walk of fewer is as cheap as a probe),
//! and kept until the list is empty again: a queue only ever received from
//! in order, or by type only while short (requests and replies), never
//! pays for one. Without memory for it, receives walk. Dropping it is one
//! store of `place` (0) before its chunks go back (crash point
//! `msg-index-dropped`): dying between, the chunks are the queue's unused
//! storage, as above.
//!
//! The table grows before the message that needs the room is linked, so
//! running out of memory fails the send (ENOMEM) and never a half-done
//! change. It does not shrink: it is bounded by the most distinct types the
//! queue has held at once (24 bytes each, rounded up to chunks), which the
//! queue's limits bound.

use super::{Corrupt, Found, MessageList, Store, NIL};
use crate::region::Shared;
use std::collections::HashSet;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};

mod table;

use table::{Entry, Table, MAX_SHIFT, MIN_SHIFT};

/// Below this many messages on the list, a receive by type walks it and
/// makes no index (see the module docs).
const INDEX_FROM: u64 = 32;

/// How many more vacant entries than live ones the index keeps.
const VACANT_SLACK: u32 = 8;

/// The list and its index, embedded in the owner's table entry.
#[repr(C)]
pub struct TypedList {
    list: MessageList,
    index: TypeIndex,
}

// SAFETY: repr(C), atomics only.
unsafe impl Shared for TypedList {}

#[repr(C)]
struct TypeIndex {
    /// Where the table is: its first chunk << 8 | log2 of its capacity in
    /// tags; 0 when there is none (before the first send, or when repair
    /// found no memory for one: then receives walk the list).
    place: AtomicU64,
    /// Entries in use, and how many of them are vacant: kept for a tag
    /// whose messages are all gone (see `remove`).
    tags: AtomicU32,
    vacant: AtomicU32,
    /// The `seq` of the next message sent.
    next_seq: AtomicU64,
    /// The entry the last send used: a hint, checked before it is used.
    recent: AtomicU32,
    _reserved: AtomicU32,
}

impl TypeIndex {
    fn table<'s, 'r>(&self, st: &'s Store<'r>) -> Option<Table<'s, 'r>> {
        Table::decode(st, self.place.load(Relaxed))
    }

    /// Message `block`, just linked last, joins its tag's chain in `table`
    /// (where `reserve` made room for a new tag before it was linked).
    fn append(&self, st: &Store, table: Table, block: u32, tag: i64) -> Result<(), Corrupt> {
        let head = st.msg_head(block).ok_or(Corrupt)?;
        head.next_same.store(NIL, Relaxed);
        // Loads and stores, not read-modify-writes: the lock orders every
        // access, and a locked instruction costs more than the rest here.
        let seq = self.next_seq.load(Relaxed);
        self.next_seq.store(seq + 1, Relaxed);
        head.seq.store(seq, Relaxed);
        let tags = self.tags.load(Relaxed);
        match Self::find(table, tag, self.recent.load(Relaxed), tags)? {
            (_, Some(index)) => {
                head.entry.store(index, Relaxed);
                self.recent.store(index, Relaxed);
                let entry = table.entry(index)?;
                match entry.last.load(Relaxed) {
                    NIL => {
                        entry.first.store(block, Relaxed);
                        self.vacant.store(self.vacant.load(Relaxed).saturating_sub(1), Relaxed);
                    }
                    last => st.msg_head(last).ok_or(Corrupt)?.next_same.store(block, Relaxed),
                }
                entry.last.store(block, Relaxed);
            }
            (slot, None) => {
                if tags >= table.capacity() {
                    return Err(Corrupt);
                }
                head.entry.store(tags, Relaxed);
                self.recent.store(tags, Relaxed);
                let entry = table.entry(tags)?;
                entry.tag.store(tag, Relaxed);
                entry.first.store(block, Relaxed);
                entry.last.store(block, Relaxed);
                table.slot(slot)?.store(tags + 1, Relaxed);
                self.tags.store(tags + 1, Relaxed);
            }
        }
        Ok(())
    }

    /// `found`, just unlinked, leaves its tag's chain, whose first it was.
    fn remove(&self, st: &Store, found: &Found) -> Result<(), Corrupt> {
        let table = self.table(st).ok_or(Corrupt)?;
        let tags = self.tags.load(Relaxed);
        let head = st.msg_head(found.block).ok_or(Corrupt)?;
        let (_, Some(index)) = Self::find(table, found.tag, head.entry.load(Relaxed), tags)? else {
            return Err(Corrupt);
        };
        let entry = table.entry(index)?;
        if entry.first.load(Relaxed) != found.block {
            return Err(Corrupt);
        }
        let next = head.next_same.load(Relaxed);
        entry.first.store(next, Relaxed);
        if next != NIL {
            return Ok(());
        }
        // The tag's last message is gone. Its entry stays, vacant, for the
        // tag's next message: a queue of requests and replies empties and
        // refills the same types all the time, and hashing a tag in and
        // out costs more than the rest of a send or receive. Vacant
        // entries go once they outnumber the others by VACANT_SLACK, so a
        // pass over the entries stays O(distinct tags).
        entry.last.store(NIL, Relaxed);
        let vacant = self.vacant.load(Relaxed) + 1;
        self.vacant.store(vacant, Relaxed);
        if vacant > tags.saturating_sub(vacant) + VACANT_SLACK {
            self.compact(table)?;
        }
        Ok(())
    }

    /// [`Table::probe`], unless entry `hint` is `tag`'s (then no slot is
    /// named: none is needed).
    #[inline]
    fn find(table: Table, tag: i64, hint: u32, tags: u32) -> Result<(u32, Option<u32>), Corrupt> {
        if hint < tags && table.entry(hint)?.tag.load(Relaxed) == tag {
            return Ok((NIL, Some(hint)));
        }
        table.probe(tag, tags)
    }

    /// Drops every vacant entry.
    fn compact(&self, table: Table) -> Result<(), Corrupt> {
        let mut tags = self.tags.load(Relaxed);
        // From the end: the entry that fills a hole comes from above it,
        // where none is vacant any more.
        for index in (0..tags).rev() {
            let entry = table.entry(index)?;
            if entry.last.load(Relaxed) != NIL {
                continue;
            }
            let (slot, Some(_)) = table.probe(entry.tag.load(Relaxed), tags)? else { return Err(Corrupt) };
            Self::drop_entry(table, slot, index, tags)?;
            tags -= 1;
        }
        self.tags.store(tags, Relaxed);
        self.vacant.store(0, Relaxed);
        Ok(())
    }

    /// Takes entry `index`, hashed at `slot`, out of the `tags` in use:
    /// its slot empties and the last entry takes its place.
    fn drop_entry(table: Table, slot: u32, index: u32, tags: u32) -> Result<(), Corrupt> {
        let entry = table.entry(index)?;
        table.clear_slot(slot, tags)?;
        let last = tags - 1;
        if index != last {
            let moved = table.entry(last)?;
            let (moved_slot, Some(_)) = table.probe(moved.tag.load(Relaxed), tags)? else { return Err(Corrupt) };
            entry.tag.store(moved.tag.load(Relaxed), Relaxed);
            entry.first.store(moved.first.load(Relaxed), Relaxed);
            entry.last.store(moved.last.load(Relaxed), Relaxed);
            table.slot(moved_slot)?.store(index + 1, Relaxed);
        }
        Ok(())
    }

    /// The entries of tags on the list (not the vacant ones).
    fn entries<'s>(&self, table: Table<'s, '_>) -> impl Iterator<Item = Result<&'s Entry, Corrupt>> {
        let live = |entry: &Result<&Entry, Corrupt>| entry.as_ref().map_or(true, |e| e.last.load(Relaxed) != NIL);
        (0..self.tags.load(Relaxed)).map(move |i| table.entry(i)).filter(live)
    }

    /// Makes `table` (cleared here) index the list from scratch, numbering
    /// the messages in list order.
    fn build(&self, st: &Store, list: &MessageList, table: Table) -> Result<(), Corrupt> {
        table.clear()?;
        self.tags.store(0, Relaxed);
        self.vacant.store(0, Relaxed);
        self.next_seq.store(0, Relaxed);
        let mut blocks = Vec::new();
        list.walk(st, |block, head| {
            blocks.push((block, head.tag.load(Relaxed)));
            true
        })?;
        blocks.into_iter().try_for_each(|(block, tag)| self.append(st, table, block, tag))
    }

    /// Moves the index to a new table of 2^`shift` tags, built from the
    /// current one (O(tags); `copy`) or from the list.
    fn move_to(&self, st: &Store, list: &MessageList, shift: u32, copy: bool) -> crate::error::Result<()> {
        let chunks = Table::chunks_for(shift);
        let first = st.region.claim_extent(st.owner, chunks)?;
        crate::crash_point::here("msg-index-claimed");
        let new = Table::new(st, first, shift);
        let old = self.table(st);
        let copied = copy && old.is_some_and(|old| self.copy(old, new).is_ok());
        if !copied && self.build(st, list, new).is_err() {
            st.region.release_extent(st.owner, first, chunks);
            return Err(crate::error::Errno::EIO);
        }
        // The single store that moves the index (see module docs).
        self.place.store(new.place(), Relaxed);
        crate::crash_point::here("msg-index-moved");
        if let Some(old) = old {
            let range = old.chunks();
            st.region.release_extent(st.owner, range.start, range.end - range.start);
        }
        Ok(())
    }

    /// Copies the entries of `old` into `new` and hashes them there.
    fn copy(&self, old: Table, new: Table) -> Result<(), Corrupt> {
        let tags = self.tags.load(Relaxed);
        if tags > new.capacity() {
            return Err(Corrupt);
        }
        new.clear()?;
        for index in 0..tags {
            let (from, to) = (old.entry(index)?, new.entry(index)?);
            to.tag.store(from.tag.load(Relaxed), Relaxed);
            to.first.store(from.first.load(Relaxed), Relaxed);
            to.last.store(from.last.load(Relaxed), Relaxed);
            new.hash(index, index + 1)?;
        }
        Ok(())
    }
}

impl TypedList {
    /// Empties the list of a new owner. The owner's old table, if any,
    /// went with its chunks.
    pub fn init(&self) {
        self.list.init();
        self.index.place.store(0, Relaxed);
        self.index.tags.store(0, Relaxed);
        self.index.vacant.store(0, Relaxed);
        self.index.next_seq.store(0, Relaxed);
        self.index.recent.store(0, Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.list.count()
    }

    /// [`MessageList::lock`].
    pub fn lock(&self, ends: super::Ends) -> super::Held<'_> {
        self.list.lock(ends)
    }

    /// [`MessageList::RECEIVING_LOCK`].
    pub const RECEIVING_LOCK: usize = std::mem::offset_of!(TypedList, list) + MessageList::RECEIVING_LOCK;

    /// [`MessageList::mark_damaged`].
    pub fn mark_damaged(&self) {
        self.list.mark_damaged()
    }

    /// Whether the list has an index, which sends and receives must keep
    /// with both ends locked. (Made and dropped only with both locked, so
    /// stable while either is held.)
    pub fn has_index(&self) -> bool {
        self.index.place.load(Relaxed) != 0
    }

    pub fn bytes(&self) -> u64 {
        self.list.bytes()
    }

    /// [`MessageList::has_room`].
    pub fn has_room(&self, room: impl Fn(u64, u64) -> bool) -> bool {
        self.list.has_room(room)
    }

    /// [`MessageList::totals`].
    pub fn totals(&self) -> (u64, u64) {
        self.list.totals()
    }

    /// [`MessageList::reserve`], and room in the index for one more tag.
    pub fn reserve(&self, st: &Store, size: usize) -> crate::error::Result<()> {
        self.list.reserve(st, size)?;
        let table = self.index.table(st);
        let tags = self.index.tags.load(Relaxed);
        match table {
            Some(t) if tags < t.capacity() => Ok(()),
            Some(t) if self.index.vacant.load(Relaxed) > 0 => {
                // Room enough, once the vacant entries go.
                self.index.compact(t).or_else(|Corrupt| {
                    self.repair(st);
                    Ok(())
                })
            }
            Some(t) if t.shift >= MAX_SHIFT => Err(crate::error::Errno::ENOMEM),
            Some(t) => self.index.move_to(st, &self.list, t.shift + 1, true),
            None => Ok(()),
        }
    }

    /// The smallest table with room for one tag more than `tags`.
    fn shift_for(tags: usize) -> u32 {
        (tags + 1).next_power_of_two().trailing_zeros().clamp(MIN_SHIFT, MAX_SHIFT)
    }

    /// Distinct tags on the list, counted by a walk (rare: no table yet, or
    /// repair).
    fn distinct_tags(&self, st: &Store) -> usize {
        let mut tags = HashSet::new();
        let _ = self.list.walk(st, |_, head| {
            tags.insert(head.tag.load(Relaxed));
            true
        });
        tags.len()
    }

    /// Appends a message (after [`TypedList::reserve`]).
    pub fn append(&self, st: &Store, tag: i64, text: &[u8]) -> Result<(), Corrupt> {
        let block = self.list.enqueue(st, tag, text, |_| false)?;
        // The message is sent: a broken index is rebuilt, not a reason to
        // send it again.
        if let Some(table) = self.index.table(st) {
            if self.index.append(st, table, block, tag).is_err() {
                self.repair(st);
            }
        }
        Ok(())
    }

    /// Takes `found` off the list (the first message of its tag, as every
    /// receive takes) and frees its blocks.
    pub fn unlink(&self, st: &Store, found: &Found) -> Result<(), Corrupt> {
        self.list.unlink(st, found)?;
        let Some(table) = self.index.table(st) else { return Ok(()) };
        if self.list.count() == 0 {
            // An empty list wants no index: a stream received in order
            // after one receive by type stops paying for it here.
            self.index.place.store(0, Relaxed);
            crate::crash_point::here("msg-index-dropped");
            let chunks = table.chunks();
            st.region.release_extent(st.owner, chunks.start, chunks.end - chunks.start);
        } else if self.index.remove(st, found).is_err() {
            self.repair(st);
        }
        Ok(())
    }

    /// The first message.
    pub fn head(&self, st: &Store) -> Result<Option<Found>, Corrupt> {
        self.list.head(st)
    }

    /// The index, made now if the list is long enough to want one (see
    /// the module docs); none if it is not, or there is no memory for it.
    fn indexed<'s, 'r>(&self, st: &'s Store<'r>) -> Option<Table<'s, 'r>> {
        if let Some(table) = self.index.table(st) {
            return Some(table);
        }
        if self.list.count() < INDEX_FROM {
            return None;
        }
        self.index.move_to(st, &self.list, Self::shift_for(self.distinct_tags(st)), false).ok()?;
        self.index.table(st)
    }

    /// The first message of tag `tag`: O(1).
    pub fn first_of(&self, st: &Store, tag: i64) -> Result<Option<Found>, Corrupt> {
        let Some(table) = self.indexed(st) else {
            return self.list.find(st, |t| if t == tag { super::Visit::Take } else { super::Visit::Next });
        };
        match TypeIndex::find(table, tag, self.index.recent.load(Relaxed), self.index.tags.load(Relaxed))? {
            (_, Some(index)) => match table.entry(index)?.first.load(Relaxed) {
                NIL => Ok(None), // vacant
                first => self.list.found(st, first).map(Some),
            },
            (_, None) => Ok(None),
        }
    }

    /// The first message of any tag but `tag`: O(distinct tags).
    pub fn first_not(&self, st: &Store, tag: i64) -> Result<Option<Found>, Corrupt> {
        let head = self.list.head(st)?;
        if head.as_ref().is_none_or(|h| h.tag != tag) {
            return Ok(head);
        }
        let Some(table) = self.indexed(st) else {
            return self.list.find(st, |t| if t != tag { super::Visit::Take } else { super::Visit::Next });
        };
        let mut best: Option<(u64, u32)> = None;
        for entry in self.index.entries(table) {
            let entry = entry?;
            if entry.tag.load(Relaxed) == tag {
                continue;
            }
            let first = entry.first.load(Relaxed);
            let seq = st.msg_head(first).ok_or(Corrupt)?.seq.load(Relaxed);
            if best.is_none_or(|(s, _)| seq < s) {
                best = Some((seq, first));
            }
        }
        best.map(|(_, block)| self.list.found(st, block)).transpose()
    }

    /// The first message of the lowest tag at most `bound`: O(distinct tags).
    pub fn lowest_at_most(&self, st: &Store, bound: i64) -> Result<Option<Found>, Corrupt> {
        let Some(table) = self.indexed(st) else {
            return self.lowest_by_walk(st, bound);
        };
        let mut best: Option<(i64, u32)> = None;
        for entry in self.index.entries(table) {
            let entry = entry?;
            let tag = entry.tag.load(Relaxed);
            if tag <= bound && best.is_none_or(|(t, _)| tag < t) {
                best = Some((tag, entry.first.load(Relaxed)));
            }
        }
        best.map(|(_, block)| self.list.found(st, block)).transpose()
    }

    /// [`TypedList::lowest_at_most`] without an index.
    fn lowest_by_walk(&self, st: &Store, mut bound: i64) -> Result<Option<Found>, Corrupt> {
        self.list.find(st, |tag| match tag {
            // The lowest type wins; none is below 1.
            t if t <= bound && t <= 1 => super::Visit::Take,
            t if t <= bound => {
                bound = t - 1;
                super::Visit::Remember
            }
            _ => super::Visit::Next,
        })
    }

    /// The message at `position` (0 the first): a walk.
    pub fn at_position(&self, st: &Store, position: i64) -> Result<Option<Found>, Corrupt> {
        let mut here = 0i64;
        self.list.find(st, |_| {
            here += 1;
            if here - 1 == position {
                super::Visit::Take
            } else {
                super::Visit::Next
            }
        })
    }

    /// [`MessageList::copy_out`].
    pub fn copy_out(
        &self,
        st: &Store,
        found: &Found,
        dst: &mut crate::user::OutBuf,
        at: usize,
        count: usize,
    ) -> Result<(), super::Fault> {
        self.list.copy_out(st, found, dst, at, count)
    }

    /// Rebuilds the list's derived state, then the index in its table, or
    /// in a new one if it is unsound or too small (which only corruption
    /// explains). Without memory for a new one, the index is dropped and
    /// receives walk the list until one of them makes it again. A list
    /// without an index stays without.
    pub fn repair(&self, st: &Store) {
        let Some(table) = self.index.table(st) else {
            self.list.repair(st);
            return;
        };
        let table = Some(table).filter(|t| t.owned());
        let kept = self.list.repair_keeping(st, table.map_or(0..0, |t| t.chunks()));
        // A table that is not ours, or in which a message lies, is none.
        let table = table.filter(|_| kept);
        self.index.place.store(table.map_or(0, |t| t.place()), Relaxed);
        let tags = self.distinct_tags(st);
        if table.is_some_and(|t| tags <= t.capacity() as usize && self.index.build(st, &self.list, t).is_ok()) {
            return;
        }
        if self.index.move_to(st, &self.list, Self::shift_for(tags), false).is_err() {
            self.index.place.store(0, Relaxed);
            if let Some(range) = table.map(|t| t.chunks()) {
                st.region.release_extent(st.owner, range.start, range.end - range.start);
            }
        }
    }
}
