//! What every table entry that can own chunks starts with, and the word
//! that names such an entry for as long as it holds the same object.

use super::Shared;
use std::sync::atomic::{AtomicU32, Ordering};

/// The first field of every entry that owns chunks (and of every IPC
/// object). `state` says whether the entry is in use; `generation` changes
/// each time it is reused (for IPC objects, it is the object's id), so an
/// [`Owner`] naming an old occupant never matches a new one.
#[repr(C)]
pub struct Slot {
    pub state: AtomicU32,
    pub generation: AtomicU32,
}

// SAFETY: repr(C), atomics only.
unsafe impl Shared for Slot {}

/// `Slot::state`: unused. Every other value is family-defined and means
/// "in use" to the region.
pub const FREE: u32 = 0;

impl Slot {
    /// Whether the entry holds the occupant of `generation` (in any state
    /// but FREE).
    pub fn holds(&self, generation: u32) -> bool {
        self.state.load(Ordering::Acquire) != FREE && self.generation.load(Ordering::Relaxed) == generation
    }
}

/// Names one occupant of one table entry: directory index + 1 (8 bits, so
/// that no owner is 0, which means "nobody"), entry index (24 bits) and
/// generation (32 bits). Chunk ownership and wait
/// records use it; it stays valid only while [`Slot::holds`] the
/// generation, so anything it owns is abandoned the moment the occupant
/// goes, whether or not whoever removed it lived to release it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Owner(pub u64);

impl Owner {
    pub fn new(table: usize, entry: u32, generation: u32) -> Owner {
        Owner(((table as u64 + 1) & 0xff) << 56 | (entry as u64 & 0xff_ffff) << 32 | generation as u64)
    }

    pub fn table(self) -> usize {
        ((self.0 >> 56) as usize).wrapping_sub(1)
    }

    pub fn entry(self) -> u32 {
        (self.0 >> 32) as u32 & 0xff_ffff
    }

    pub fn generation(self) -> u32 {
        self.0 as u32
    }
}
