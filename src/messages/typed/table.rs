//! The index's table: in an extent of chunks the owner holds, a dense
//! array of [`Entry`]s (one per distinct tag), then a hash of tags to
//! entries: 2 × capacity slots, each an entry's index + 1 or 0 for none
//! (open addressing, linear probing, so at most half full). Every access
//! checks that the owner holds the chunk it falls in, so a corrupted
//! `place` cannot reach another object's storage.

use super::super::{Corrupt, Store};
use crate::region::{Extent, Shared, CHUNK_SIZE};
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering::Relaxed};

/// One tag on the list.
#[repr(C)]
pub(super) struct Entry {
    pub(super) tag: AtomicI64,
    pub(super) first: AtomicU32,
    pub(super) last: AtomicU32,
}

// SAFETY: repr(C), atomics only.
unsafe impl Shared for Entry {}

const ENTRY_SIZE: u64 = std::mem::size_of::<Entry>() as u64;
/// A hash slot: an entry's index + 1, or 0 for none.
const SLOT_SIZE: u64 = std::mem::size_of::<AtomicU32>() as u64;
/// The smallest table: 128 tags, which fit one chunk.
pub(super) const MIN_SHIFT: u32 = 7;
/// The largest table: 2^30 tags, more than the largest region has blocks
/// (2^28), and whose slots can still be counted in a u32.
pub(super) const MAX_SHIFT: u32 = 30;

/// The table `place` names, checked chunk by chunk as it is used.
#[derive(Clone, Copy)]
pub(super) struct Table<'s, 'r> {
    st: &'s Store<'r>,
    pub(super) first: u32,
    pub(super) shift: u32,
    /// The first chunk, checked once: a table of up to 128 tags lies all
    /// in it, and every operation but a move touches only it then.
    head: Option<Extent>,
}

impl<'s, 'r> Table<'s, 'r> {
    #[inline]
    pub(super) fn decode(st: &'s Store<'r>, place: u64) -> Option<Table<'s, 'r>> {
        let shift = (place & 0xff) as u32;
        let first = u32::try_from(place >> 8).ok()?;
        (MIN_SHIFT..=MAX_SHIFT).contains(&shift).then(|| Self::new(st, first, shift))
    }

    /// The table of 2^`shift` tags from chunk `first`.
    #[inline]
    pub(super) fn new(st: &'s Store<'r>, first: u32, shift: u32) -> Table<'s, 'r> {
        Table { st, first, shift, head: st.region.chunk(st.owner, first) }
    }

    #[inline]
    pub(super) fn place(self) -> u64 {
        (self.first as u64) << 8 | self.shift as u64
    }

    #[inline]
    pub(super) fn capacity(self) -> u32 {
        1 << self.shift
    }

    #[inline]
    fn slots(self) -> u32 {
        2 << self.shift
    }

    /// Chunks a table of 2^`shift` tags takes: the entries, then the slots.
    pub(super) fn chunks_for(shift: u32) -> u32 {
        ((ENTRY_SIZE + 2 * SLOT_SIZE) << shift).div_ceil(CHUNK_SIZE) as u32
    }

    pub(super) fn chunks(self) -> std::ops::Range<u32> {
        self.first..self.first.saturating_add(Self::chunks_for(self.shift))
    }

    /// Whether the owner holds every chunk of the table (checked once, by
    /// repair; every access checks its own chunk).
    pub(super) fn owned(self) -> bool {
        self.chunks().all(|c| self.st.region.chunk_owned_by(c, self.st.owner))
    }

    /// A `T` at byte `at` of the table. Entries and slots divide the chunk
    /// size, so none straddles two chunks.
    #[inline]
    fn at<T: Shared>(self, at: u64) -> Result<&'s T, Corrupt> {
        if at < CHUNK_SIZE {
            return self.st.region.in_extent(self.head.ok_or(Corrupt)?, at).ok_or(Corrupt);
        }
        let chunk = self.first.checked_add((at / CHUNK_SIZE) as u32).ok_or(Corrupt)?;
        let extent = self.st.region.chunk(self.st.owner, chunk).ok_or(Corrupt)?;
        self.st.region.in_extent(extent, at % CHUNK_SIZE).ok_or(Corrupt)
    }

    #[inline]
    pub(super) fn entry(self, index: u32) -> Result<&'s Entry, Corrupt> {
        if index >= self.capacity() {
            return Err(Corrupt);
        }
        self.at(index as u64 * ENTRY_SIZE)
    }

    #[inline]
    pub(super) fn slot(self, slot: u32) -> Result<&'s AtomicU32, Corrupt> {
        self.at((self.capacity() as u64) * ENTRY_SIZE + slot as u64 * SLOT_SIZE)
    }

    /// Where the probe for `tag` starts (Fibonacci hashing).
    #[inline]
    fn home(self, tag: i64) -> u32 {
        ((tag as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (63 - self.shift)) as u32
    }

    /// The slot of `tag`'s entry and the entry, or the empty slot where
    /// it would go. `tags` entries are in use.
    #[inline]
    pub(super) fn probe(self, tag: i64, tags: u32) -> Result<(u32, Option<u32>), Corrupt> {
        let mask = self.slots() - 1;
        let mut slot = self.home(tag);
        // At most half full: an empty slot comes long before a full circle.
        for _ in 0..self.slots() {
            let index = match self.slot(slot)?.load(Relaxed) {
                0 => return Ok((slot, None)),
                i if i > tags => return Err(Corrupt),
                i => i - 1,
            };
            if self.entry(index)?.tag.load(Relaxed) == tag {
                return Ok((slot, Some(index)));
            }
            slot = (slot + 1) & mask;
        }
        Err(Corrupt)
    }

    /// Empties `slot`, moving back the entries after it that their probe
    /// would no longer reach (deletion from a linear-probing hash).
    pub(super) fn clear_slot(self, mut hole: u32, tags: u32) -> Result<(), Corrupt> {
        let mask = self.slots() - 1;
        let mut slot = hole;
        for _ in 0..self.slots() {
            slot = (slot + 1) & mask;
            let value = self.slot(slot)?.load(Relaxed);
            if value == 0 {
                break;
            }
            if value > tags {
                return Err(Corrupt);
            }
            let home = self.home(self.entry(value - 1)?.tag.load(Relaxed));
            // Whether `home` lies cyclically in (hole, slot]: then the
            // entry is reachable without the hole and stays.
            let stays = if hole <= slot { hole < home && home <= slot } else { hole < home || home <= slot };
            if !stays {
                self.slot(hole)?.store(value, Relaxed);
                hole = slot;
            }
        }
        self.slot(hole)?.store(0, Relaxed);
        Ok(())
    }

    /// Empties the hash (the entries need no clearing: `tags` says which
    /// are in use).
    pub(super) fn clear(self) -> Result<(), Corrupt> {
        (0..self.slots()).try_for_each(|s| self.slot(s).map(|w| w.store(0, Relaxed)))
    }

    /// Hashes entry `index` (newly written or moved) into an empty slot.
    pub(super) fn hash(self, index: u32, tags: u32) -> Result<(), Corrupt> {
        let tag = self.entry(index)?.tag.load(Relaxed);
        match self.probe(tag, tags)? {
            (slot, None) => {
                self.slot(slot)?.store(index + 1, Relaxed);
                Ok(())
            }
            (_, Some(_)) => Err(Corrupt), // the tag is there twice
        }
    }
}
