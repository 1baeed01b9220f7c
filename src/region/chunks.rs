//! The chunk allocator: the message space is cut into chunks of
//! [`CHUNK_SIZE`](super::layout::CHUNK_SIZE) bytes, each owned by at most one
//! object.
//!
//! `chunk_owners[c]` is the only record of who owns chunk `c` (0: nobody).
//! Ownership changes by a single CAS, so there is no lock and no
//! half-finished state: a chunk whose owner died with it, or whose owner
//! object was removed without releasing it, names an object that no longer
//! exists, and the next claimer takes it over (again by CAS from the exact
//! stale value, so two claimers cannot both win). An object's own list of
//! chunks is never stored; it is found by scanning this array, which only
//! removal and crash repair need.
//!
//! A chunk's file space is reserved before its first use and then stays
//! reserved (`chunk_committed` bitmap), so the pages behind a claimed chunk
//! are always there: a full tmpfs shows up as ENOMEM here, never as SIGBUS.

use super::layout::{BLOCKS_PER_CHUNK, CHUNK_SIZE};
use super::Region;
use crate::error::{Errno, Result};
use crate::platform;
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;

/// Who owns a chunk: an object family in the high half, its IPC id in the low.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkOwner(u64);

const FAMILY_MSG: u64 = 1;

impl ChunkOwner {
    pub fn msg_queue(id: i32) -> ChunkOwner {
        ChunkOwner(FAMILY_MSG << 32 | id as u32 as u64)
    }

    /// Whether the object this value names still exists.
    fn is_live(raw: u64, region: &Region) -> bool {
        match raw >> 32 {
            FAMILY_MSG => crate::msg::queue_is_live(region, raw as u32 as i32),
            _ => false,
        }
    }
}

impl Region {
    /// Claims a free (or abandoned) chunk for `owner` and reserves its pages.
    pub fn claim_chunk(&self, owner: ChunkOwner) -> Result<u32> {
        let count = self.layout.chunk_count;
        let hint = self.header().chunk_hint.load(Ordering::Relaxed) % count;
        for i in 0..count {
            let chunk = (hint + i) % count;
            let Some(word) = self.chunk_owner_word(chunk) else { continue };
            let seen = word.load(Ordering::Acquire);
            if seen != 0 && (seen == owner.0 || Self::owner_live(seen, self)) {
                continue;
            }
            if word.compare_exchange(seen, owner.0, Ordering::AcqRel, Ordering::Relaxed).is_err() {
                continue;
            }
            if let Err(e) = self.commit_chunk(chunk) {
                let _ = word.compare_exchange(owner.0, 0, Ordering::AcqRel, Ordering::Relaxed);
                return Err(e);
            }
            self.header().chunk_hint.store(chunk + 1, Ordering::Relaxed);
            return Ok(chunk);
        }
        Err(Errno::ENOMEM)
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
        (0..self.layout.chunk_count)
            .filter(|&c| self.chunk_owner_word(c).is_some_and(|w| w.load(Ordering::Acquire) == owner.0))
            .collect()
    }

    /// Gives back every chunk `owner` holds.
    pub fn release_chunks(&self, owner: ChunkOwner) {
        for c in 0..self.layout.chunk_count {
            if let Some(word) = self.chunk_owner_word(c) {
                let _ = word.compare_exchange(owner.0, 0, Ordering::AcqRel, Ordering::Relaxed);
            }
        }
    }

    /// Whether `block` lies in a chunk that `owner` holds: checked on every
    /// link followed, so a corrupted link cannot reach another object's data.
    #[inline]
    pub fn owns_block(&self, owner: ChunkOwner, block: u32) -> bool {
        self.chunk_owner_word(block / BLOCKS_PER_CHUNK).is_some_and(|w| w.load(Ordering::Relaxed) == owner.0)
    }
}
