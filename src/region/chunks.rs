//! The chunk allocator: the object space is cut into chunks of
//! [`CHUNK_SIZE`] bytes, each owned by at most one [`Owner`] (a table entry
//! holding one object: a queue, a semaphore set, a segment, an undo record).
//!
//! `chunk_owners[c]` is the only record of who owns chunk `c` (0: nobody).
//! Ownership changes by a single CAS, so there is no lock and no
//! half-finished state: a chunk whose owner entry no longer holds the same
//! occupant (removed, perhaps by a process that died before releasing its
//! chunks) is abandoned, and the next claimer takes it over, again by CAS
//! from the exact stale value, so two claimers cannot both win. An object
//! takes chunks one at a time (found again by scanning this array) or as
//! one run of consecutive chunks (an extent) whose start it records.
//!
//! A chunk's pages are reserved before its first use (`chunk_committed`
//! bitmap), so the memory behind a claimed chunk is always there: a full
//! file system shows up as ENOMEM here, never as SIGBUS. Small extents keep
//! their pages for the next owner; a large one gives them back when
//! released and is reserved again when claimed.

use super::layout::CHUNK_SIZE;
use super::{Owner, Region};
use crate::error::{Errno, Result};
use crate::platform;
use std::sync::atomic::{AtomicU64, Ordering};

/// Extents of this many chunks (64 KiB) or more give their memory back to the
/// system when released; smaller ones keep it for the next owner.
const RETURN_MEMORY_FROM: u32 = 16;

/// A run of consecutive chunks owned by one object (or an entry's inline
/// storage, see `Region::extent_of`), checked when made.
#[derive(Clone, Copy, Debug)]
pub struct Extent {
    pub(super) offset: u64,
    pub len: u64,
}

impl Extent {
    /// Its first `len` bytes (all of it if it is shorter).
    pub fn prefix(self, len: u64) -> Extent {
        Extent { offset: self.offset, len: len.min(self.len) }
    }
}

impl Region {
    #[inline]
    fn owner_word(&self, chunk: u32) -> Option<&AtomicU64> {
        if chunk >= self.layout.chunk_count {
            return None;
        }
        self.at(self.layout.chunk_owners + chunk as u64 * 8).ok()
    }

    fn committed_word(&self, chunk: u32) -> Option<&AtomicU64> {
        if chunk >= self.layout.chunk_count {
            return None;
        }
        self.at(self.layout.chunk_committed + (chunk / 64) as u64 * 8).ok()
    }

    #[inline]
    fn chunk_offset(&self, chunk: u32) -> u64 {
        self.layout.chunk_area + chunk as u64 * CHUNK_SIZE
    }

    pub fn chunk_count(&self) -> u32 {
        self.layout.chunk_count
    }

    /// Whether `owner` holds chunk `chunk`: checked on every use, so a
    /// corrupted index cannot reach another object's storage.
    #[inline]
    pub fn chunk_owned_by(&self, chunk: u32, owner: Owner) -> bool {
        self.owner_word(chunk).is_some_and(|w| w.load(Ordering::Relaxed) == owner.0)
    }

    fn reserve(&self, chunk: u32) -> Result<()> {
        let word = self.committed_word(chunk).ok_or(Errno::EIO)?;
        let bit = 1u64 << (chunk % 64);
        if word.load(Ordering::Acquire) & bit != 0 {
            return Ok(());
        }
        let addr = self.base as usize + self.chunk_offset(chunk) as usize;
        platform::populate(addr, CHUNK_SIZE as usize).map_err(|_| Errno::ENOMEM)?;
        word.fetch_or(bit, Ordering::AcqRel);
        Ok(())
    }

    /// Claims one free (or abandoned) chunk for `owner` and reserves its pages.
    pub fn claim_chunk(&self, owner: Owner) -> Result<u32> {
        self.claim_extent(owner, 1)
    }

    /// Claims `count` consecutive chunks for `owner`; returns the first.
    /// Chunks claimed on the way to a failed run are given back; a claimer
    /// that dies halfway leaves them to an owner that does not exist yet or
    /// any more, so they are reclaimable as abandoned.
    pub fn claim_extent(&self, owner: Owner, count: u32) -> Result<u32> {
        let total = self.layout.chunk_count;
        if count == 0 || count > total {
            return Err(Errno::ENOMEM);
        }
        // Search from the hint, then from the start.
        let hint = self.header().chunk_hint.load(Ordering::Relaxed) % total;
        let mut first = if hint + count <= total { hint } else { 0 };
        let mut wrapped = first == 0;
        loop {
            if first + count > total {
                if wrapped {
                    return Err(Errno::ENOMEM);
                }
                (first, wrapped) = (0, true);
            }
            let mut claimed = first;
            while claimed < first + count && self.try_claim(claimed, owner) {
                claimed += 1;
            }
            if claimed < first + count {
                self.release_run(owner, first, claimed - first);
                first = claimed + 1;
                continue;
            }
            if let Err(e) = (first..first + count).try_for_each(|c| self.reserve(c)) {
                // Only the run just claimed: the owner's other chunks hold data.
                self.release_run(owner, first, count);
                return Err(e);
            }
            self.header().chunk_hint.store(first + count, Ordering::Relaxed);
            return Ok(first);
        }
    }

    /// Takes chunk `chunk` for `owner` if it is free or abandoned.
    fn try_claim(&self, chunk: u32, owner: Owner) -> bool {
        let Some(word) = self.owner_word(chunk) else { return false };
        let seen = word.load(Ordering::Acquire);
        let free = seen == 0 || (seen != owner.0 && !self.holds(Owner(seen)));
        if !free {
            return false;
        }
        // Raised before the claim, so that every owned chunk lies below it
        // whatever instruction the claimer dies at (a failed claim leaves
        // it a little high, which costs a search a few words).
        let used = &self.header().chunks_used;
        if used.load(Ordering::Relaxed) <= chunk {
            used.fetch_max(chunk + 1, Ordering::Release);
        }
        word.compare_exchange(seen, owner.0, Ordering::AcqRel, Ordering::Relaxed).is_ok()
    }

    /// The chunks that anybody may hold: those below the high-water mark
    /// (see `Header::chunks_used`), which a corrupted header cannot push
    /// past the chunk count.
    fn chunks_used(&self) -> u32 {
        self.header().chunks_used.load(Ordering::Acquire).min(self.layout.chunk_count)
    }

    /// Frees `owner`'s chunks in the run and moves the search hint back to
    /// the first one freed: the next claim reuses it, and a small extent's
    /// pages, still reserved, spare it the system call that reserves new
    /// ones (and the memory the file would grow by).
    fn release_run(&self, owner: Owner, first: u32, count: u32) {
        let mut lowest = None;
        for chunk in first..first.saturating_add(count) {
            if let Some(word) = self.owner_word(chunk).filter(|w| w.load(Ordering::Relaxed) == owner.0) {
                if word.compare_exchange(owner.0, 0, Ordering::AcqRel, Ordering::Relaxed).is_ok() {
                    lowest.get_or_insert(chunk);
                }
            }
        }
        if let Some(chunk) = lowest {
            self.header().chunk_hint.fetch_min(chunk, Ordering::Relaxed);
        }
    }

    /// Gives back the `count` chunks from `first` that `owner` holds. A
    /// large extent's memory goes back to the system first (one call for
    /// the whole run; its chunks are reserved again when next claimed).
    pub fn release_extent(&self, owner: Owner, first: u32, count: u32) {
        let end = first.saturating_add(count).min(self.layout.chunk_count);
        if count >= RETURN_MEMORY_FROM && (first..end).all(|c| self.chunk_owned_by(c, owner)) {
            for chunk in first..end {
                if let Some(word) = self.committed_word(chunk) {
                    word.fetch_and(!(1u64 << (chunk % 64)), Ordering::AcqRel);
                }
            }
            let addr = self.base as usize + self.chunk_offset(first) as usize;
            platform::remove_pages(addr, (end - first) as usize * CHUNK_SIZE as usize);
        }
        self.release_run(owner, first, end.saturating_sub(first));
    }

    /// Every chunk `owner` holds, in index order (a scan of the owner
    /// array, up to the chunks ever used).
    pub fn chunks_of(&self, owner: Owner) -> Vec<u32> {
        (0..self.chunks_used()).filter(|&c| self.chunk_owned_by(c, owner)).collect()
    }

    /// Gives back every chunk `owner` holds: a scan of the chunks ever
    /// used, not of the whole object space (a million words at the
    /// default size), since every removal of a queue does it.
    pub fn release_chunks(&self, owner: Owner) {
        self.release_run(owner, 0, self.chunks_used());
    }

    /// The extent of `count` chunks from `first`, if `owner` holds them all.
    #[inline]
    pub fn extent(&self, owner: Owner, first: u32, count: u32) -> Option<Extent> {
        let end = first.checked_add(count)?;
        if count == 0 || end > self.layout.chunk_count || !(first..end).all(|c| self.chunk_owned_by(c, owner)) {
            return None;
        }
        Some(Extent { offset: self.chunk_offset(first), len: count as u64 * CHUNK_SIZE })
    }

    /// The extent of the single chunk `chunk`, if `owner` holds it.
    #[inline]
    pub fn chunk(&self, owner: Owner, chunk: u32) -> Option<Extent> {
        if !self.chunk_owned_by(chunk, owner) {
            return None;
        }
        Some(Extent { offset: self.chunk_offset(chunk), len: CHUNK_SIZE })
    }
}

#[cfg(test)]
mod tests {
    use super::super::{scratch, Owner};
    use std::sync::atomic::Ordering;

    #[test]
    fn an_owners_chunks_are_found_and_released_wherever_the_search_put_them() {
        let region = scratch("chunks", 4, 64);
        let (a, b) = (Owner::new(0, 1, 1), Owner::new(0, 2, 1));
        assert!(region.chunks_of(a).is_empty());

        // The search starts at the hint: A's chunks land far from the start.
        region.header().chunk_hint.store(40, Ordering::Relaxed);
        let first = region.claim_extent(a, 3).expect("claim for A");
        let other = region.claim_chunk(b).expect("claim for B");
        assert_eq!(region.chunks_of(a), (first..first + 3).collect::<Vec<_>>());
        assert_eq!(region.chunks_of(b), vec![other]);

        region.release_chunks(a);
        assert!(region.chunks_of(a).is_empty());
        assert!((first..first + 3).all(|c| !region.chunk_owned_by(c, a)));
        assert_eq!(region.chunks_of(b), vec![other]);
    }
}
