//! The chunk allocator: the object space (messages, semaphore sets, shm
//! segments) is cut into chunks of [`CHUNK_SIZE`](super::layout::CHUNK_SIZE)
//! bytes, each owned by at most one object.
//!
//! `chunk_owners[c]` is the only record of who owns chunk `c` (0: nobody).
//! Ownership changes by a single CAS, so there is no lock and no
//! half-finished state: a chunk whose owner died with it, or whose owner
//! object was removed without releasing it, names an object that no longer
//! exists, and the next claimer takes it over (again by CAS from the exact
//! stale value, so two claimers cannot both win). A message queue's chunks
//! are found by scanning this array (only removal and crash repair need
//! them); semaphore sets and shm segments take one run of consecutive
//! chunks (an extent) and record where it starts.
//!
//! A chunk's file space is reserved before its first use (`chunk_committed`
//! bitmap), so the pages behind a claimed chunk are always there: a full
//! tmpfs shows up as ENOMEM here, never as SIGBUS. Small chunks keep their
//! pages for the next owner; a large extent gives them back when released
//! and is reserved again when claimed.

use super::layout::{BLOCKS_PER_CHUNK, CHUNK_SIZE};
use super::Region;
use crate::error::{Errno, Result};
use crate::ipc;
use crate::platform;
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;

/// Extents of this many chunks (64 KiB) or more give their memory back to the
/// system when released; smaller ones keep it for the next owner.
const RETURN_MEMORY_FROM: u32 = 16;

/// Who owns a chunk: an object family in the high half, its IPC id in the low.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkOwner(u64);

const FAMILY_MSG: u64 = 1;
const FAMILY_SEM: u64 = 2;
const FAMILY_SHM: u64 = 3;

impl ChunkOwner {
    pub fn msg_queue(id: i32) -> ChunkOwner {
        ChunkOwner(FAMILY_MSG << 32 | id as u32 as u64)
    }

    pub fn sem_set(id: i32) -> ChunkOwner {
        ChunkOwner(FAMILY_SEM << 32 | id as u32 as u64)
    }

    pub fn shm_segment(id: i32) -> ChunkOwner {
        ChunkOwner(FAMILY_SHM << 32 | id as u32 as u64)
    }

    /// Whether the object this value names still exists. A set being
    /// created holds its chunks before it is published: its registry lock
    /// is held meanwhile, and a creator that dies leaves them abandoned.
    fn is_live(raw: u64, region: &Region) -> bool {
        let id = raw as u32 as i32;
        let index = ipc::index_of(id);
        match raw >> 32 {
            FAMILY_MSG => region.msg_queue(index).is_some_and(|q| q.header.holds(id)),
            FAMILY_SEM => region.sem_set(index).is_some_and(|s| s.header.holds(id) || s.header.creating(id)),
            FAMILY_SHM => region.shm_segment(index).is_some_and(|s| s.header.holds(id) || s.header.creating(id)),
            _ => false,
        }
    }
}

impl Region {
    /// Claims a free (or abandoned) chunk for `owner` and reserves its pages.
    pub fn claim_chunk(&self, owner: ChunkOwner) -> Result<u32> {
        self.claim_extent(owner, 1)
    }

    fn owner_live(raw: u64, region: &Region) -> bool {
        ChunkOwner::is_live(raw, region)
    }

    fn commit_chunk(&self, chunk: u32) -> Result<()> {
        let word = self.chunk_committed_word(chunk).ok_or(Errno::EIO)?;
        let bit = 1u64 << (chunk % 64);
        if word.load(Ordering::Acquire) & bit != 0 {
            return Ok(());
        }
        let offset = self.layout.chunk_area + chunk as u64 * CHUNK_SIZE;
        platform::reserve_file_space(self.file.as_raw_fd(), offset, CHUNK_SIZE).map_err(|_| Errno::ENOMEM)?;
        word.fetch_or(bit, Ordering::AcqRel);
        Ok(())
    }

    /// Every chunk `owner` holds, in index order.
    pub fn chunks_of(&self, owner: ChunkOwner) -> Vec<u32> {
        (0..self.layout.params.chunk_count)
            .filter(|&c| self.chunk_owner_word(c).is_some_and(|w| w.load(Ordering::Acquire) == owner.0))
            .collect()
    }

    /// Gives back the `count` chunks from `first` that `owner` holds. A
    /// large extent's memory goes back to the system first (one call for
    /// the whole run; its chunks are reserved again when next claimed).
    pub fn release_extent(&self, owner: ChunkOwner, first: u32, count: u32) {
        let end = first.saturating_add(count).min(self.layout.params.chunk_count);
        if count >= RETURN_MEMORY_FROM && (first..end).all(|c| self.chunk_owned_by(c, owner)) {
            let offset = self.layout.chunk_area + first as u64 * CHUNK_SIZE;
            for chunk in first..end {
                if let Some(word) = self.chunk_committed_word(chunk) {
                    word.fetch_and(!(1u64 << (chunk % 64)), Ordering::AcqRel);
                }
            }
            platform::punch_hole(self.file.as_raw_fd(), offset, (end - first) as u64 * CHUNK_SIZE);
        }
        for chunk in first..end {
            if let Some(word) = self.chunk_owner_word(chunk) {
                let _ = word.compare_exchange(owner.0, 0, Ordering::AcqRel, Ordering::Relaxed);
            }
        }
    }

    /// Gives back every chunk `owner` holds.
    pub fn release_chunks(&self, owner: ChunkOwner) {
        for c in 0..self.layout.params.chunk_count {
            if let Some(word) = self.chunk_owner_word(c) {
                let _ = word.compare_exchange(owner.0, 0, Ordering::AcqRel, Ordering::Relaxed);
            }
        }
    }

    /// Claims `count` consecutive chunks for `owner`; returns the first.
    /// Chunks claimed on the way to a failed run are given back; a claimer
    /// that dies halfway leaves them to an owner that does not exist yet or
    /// any more, so they are reclaimable as abandoned.
    pub fn claim_extent(&self, owner: ChunkOwner, count: u32) -> Result<u32> {
        let total = self.layout.params.chunk_count;
        // Search from the hint, then from the start.
        let hint = self.header().chunk_hint.load(Ordering::Relaxed) % total;
        let mut first = if hint + count <= total { hint } else { 0 };
        let mut wrapped = first == 0;
        'search: loop {
            if first + count > total {
                if wrapped {
                    break;
                }
                (first, wrapped) = (0, true);
            }
            let mut claimed = first;
            while claimed < first + count && self.try_claim(claimed, owner) {
                claimed += 1;
            }
            if claimed < first + count {
                self.unclaim(owner, first..claimed);
                first = claimed + 1;
                continue 'search;
            }
            if let Err(e) = (first..first + count).try_for_each(|c| self.commit_chunk(c)) {
                // Only the run just claimed: the owner's other chunks hold data.
                self.unclaim(owner, first..first + count);
                return Err(e);
            }
            self.header().chunk_hint.store(first + count, Ordering::Relaxed);
            return Ok(first);
        }
        Err(Errno::ENOMEM)
    }

    /// Gives back chunks just claimed for `owner`.
    fn unclaim(&self, owner: ChunkOwner, chunks: std::ops::Range<u32>) {
        for chunk in chunks {
            if let Some(word) = self.chunk_owner_word(chunk) {
                let _ = word.compare_exchange(owner.0, 0, Ordering::AcqRel, Ordering::Relaxed);
            }
        }
    }

    /// Takes chunk `chunk` for `owner` if it is free or abandoned.
    fn try_claim(&self, chunk: u32, owner: ChunkOwner) -> bool {
        let Some(word) = self.chunk_owner_word(chunk) else { return false };
        let seen = word.load(Ordering::Acquire);
        let free = seen == 0 || (seen != owner.0 && !Self::owner_live(seen, self));
        free && word.compare_exchange(seen, owner.0, Ordering::AcqRel, Ordering::Relaxed).is_ok()
    }

    pub(super) fn chunk_owned_by(&self, chunk: u32, owner: ChunkOwner) -> bool {
        self.chunk_owner_word(chunk).is_some_and(|w| w.load(Ordering::Relaxed) == owner.0)
    }

    /// Whether `block` lies in a chunk that `owner` holds: checked on every
    /// link followed, so a corrupted link cannot reach another object's data.
    #[inline]
    pub fn owns_block(&self, owner: ChunkOwner, block: u32) -> bool {
        self.chunk_owned_by(block / BLOCKS_PER_CHUNK, owner)
    }
}
