//! The shared region: one file per namespace, mapped by every process that
//! uses the namespace. This module is the only code that turns offsets into
//! references, and it checks bounds and alignment every time.
//!
//! Everything in the region is addressed by offsets or indices, never by
//! pointers (each process maps the file at its own address), and every
//! structure in it consists of atomics, so any bit pattern another process
//! (or a corruption) leaves behind is a valid value to read: the worst a bad
//! value can do is fail a check, never reach outside the mapping.

mod chunks;
mod file;
pub mod layout;
pub mod lock;

pub use chunks::ChunkOwner;
pub use layout::{BLOCKS_PER_CHUNK, BLOCK_SIZE, CHUNK_SIZE};
pub use lock::{Guard, RobustLock};

use crate::error::{Errno, Result};
use crate::msg::MsgQueue;
use crate::sem::{SemSet, WaitRecord};
use crate::shm::{Attachment, ShmSegment};
use crate::user::OutBuf;
use layout::{Header, Layout};
use once_cell::sync::OnceCell;
use std::mem::{align_of, size_of};
use std::os::fd::AsRawFd;
use std::sync::atomic::AtomicU64;

/// Types that may be viewed in place inside the region.
///
/// # Safety
/// Implementors must be `#[repr(C)]`, contain only atomics (or other `Shared`
/// types), and accept every bit pattern as a valid value.
pub unsafe trait Shared: Sized {}

/// A mapped namespace.
pub struct Region {
    base: *mut u8,
    layout: Layout,
    path: std::path::PathBuf,
    file: std::fs::File,
    /// The same file opened read-only, while we still may (at load, before
    /// any uid change): SHM_RDONLY attachments map it, so that mprotect
    /// cannot make them writable.
    read_only: Option<std::fs::File>,
    _map: memmap2::MmapRaw,
}

// SAFETY: the mapping is shared memory accessed only through atomics and
// explicit copies; the raw base pointer is never used to create `&mut`.
unsafe impl Send for Region {}
unsafe impl Sync for Region {}

static REGION: OnceCell<std::result::Result<Region, Errno>> = OnceCell::new();

/// The namespace, if this process has mapped it (never maps it).
pub fn get_if_mapped() -> Option<&'static Region> {
    REGION.get().and_then(|r| r.as_ref().ok())
}

/// The calling process's namespace, mapped on first use (normally by the
/// library constructor, see [`crate::ffi`]). A failure is remembered: every
/// later call reports the same errno.
pub fn get() -> Result<&'static Region> {
    REGION.get_or_init(file::open_from_environment).as_ref().map_err(|e| *e)
}

impl Region {
    /// The region file.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// A bounds- and alignment-checked view of a `T` at `offset`.
    pub fn at<T: Shared>(&self, offset: u64) -> Result<&T> {
        let end = offset.checked_add(size_of::<T>() as u64).ok_or(Errno::EIO)?;
        if end > self.layout.total_size || !offset.is_multiple_of(align_of::<T>() as u64) {
            return Err(Errno::EIO);
        }
        // SAFETY: in bounds and aligned (checked above); `T: Shared` makes any
        // bytes a valid `T` and only allows shared (atomic) access.
        Ok(unsafe { &*(self.base.add(offset as usize) as *const T) })
    }

    pub fn header(&self) -> &Header {
        // SAFETY: offset 0 is page-aligned and the file is at least a header long.
        unsafe { &*(self.base as *const Header) }
    }

    /// Entry `index` of a table of `count` `T`s starting at `base`.
    fn entry<T: Shared>(&self, base: u64, count: u32, index: u32) -> Option<&T> {
        if index >= count {
            return None;
        }
        self.at(base + index as u64 * size_of::<T>() as u64).ok()
    }

    pub fn msg_queue(&self, index: u32) -> Option<&MsgQueue> {
        self.entry(self.layout.msg_table, self.layout.params.msg_slots, index)
    }

    pub fn sem_set(&self, index: u32) -> Option<&SemSet> {
        self.entry(self.layout.sem_table, self.layout.params.sem_slots, index)
    }

    pub fn shm_segment(&self, index: u32) -> Option<&ShmSegment> {
        self.entry(self.layout.shm_table, self.layout.params.shm_slots, index)
    }

    pub fn wait_record(&self, index: u32) -> Option<&WaitRecord> {
        self.entry(self.layout.sem_waiters, layout::WAIT_RECORDS, index)
    }

    pub fn attachment(&self, index: u32) -> Option<&Attachment> {
        self.entry(self.layout.shm_attachments, layout::ATTACH_RECORDS, index)
    }

    /// How many blocks the chunk area holds.
    pub fn total_blocks(&self) -> u64 {
        self.layout.params.chunk_count as u64 * BLOCKS_PER_CHUNK as u64
    }

    /// File offset of block `block`, if it lies in the chunk area.
    fn block_offset(&self, block: u32) -> Option<u64> {
        (u64::from(block) < self.total_blocks()).then(|| self.layout.chunk_area + block as u64 * BLOCK_SIZE)
    }

    /// A `T` stored at the start of block `block`.
    pub fn block_header<T: Shared>(&self, block: u32) -> Option<&T> {
        const { assert!(size_of::<T>() as u64 <= BLOCK_SIZE) };
        self.at(self.block_offset(block)?).ok()
    }

    /// Copies `src` into block `block` at byte `at`; false if out of the block.
    pub fn store_block_bytes(&self, block: u32, at: usize, src: &[u8]) -> bool {
        let Some(offset) = self.block_offset(block) else { return false };
        if at + src.len() > BLOCK_SIZE as usize {
            return false;
        }
        // SAFETY: the range lies inside one block inside the mapping (checked
        // above); the region is never Rust-borrowed as bytes, so no reference
        // aliases it, and `src` is caller memory outside the region.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), self.base.add(offset as usize + at), src.len()) };
        true
    }

    /// Copies `count` bytes from block `block` at byte `at` into `dst` at
    /// `dst_at`; false if either range is out of bounds.
    pub fn load_block_bytes(&self, block: u32, at: usize, count: usize, dst: &mut OutBuf, dst_at: usize) -> bool {
        let Some(offset) = self.block_offset(block) else { return false };
        if at + count > BLOCK_SIZE as usize {
            return false;
        }
        let Some(to) = dst.range_ptr(dst_at, count) else { return false };
        // SAFETY: the source lies inside one block of the mapping and the
        // destination range was bounds-checked by `OutBuf`; caller memory is
        // never inside our mapping's chunk area.
        unsafe { std::ptr::copy_nonoverlapping(self.base.add(offset as usize + at), to, count) };
        true
    }

    fn chunk_owner_word(&self, chunk: u32) -> Option<&AtomicU64> {
        if chunk >= self.layout.params.chunk_count {
            return None;
        }
        self.at(self.layout.chunk_owners + chunk as u64 * 8).ok()
    }

    fn chunk_committed_word(&self, chunk: u32) -> Option<&AtomicU64> {
        if chunk >= self.layout.params.chunk_count {
            return None;
        }
        self.at(self.layout.chunk_committed + (chunk / 64) as u64 * 8).ok()
    }
}

// SAFETY: both are plain atomics.
unsafe impl Shared for AtomicU64 {}
unsafe impl Shared for Header {}

/// A run of consecutive chunks owned by one object (see `claim_extent`).
#[derive(Clone, Copy, Debug)]
pub struct Extent {
    offset: u64,
    len: u64,
}

impl Region {
    /// Maps the first `len` bytes of `extent` into this process, MAP_SHARED
    /// (shmat): read-only mappings come from the read-only descriptor.
    pub fn map_extent(&self, extent: Extent, len: usize, prot: i32, at: Option<usize>, replace: bool) -> Result<usize> {
        if len as u64 > extent.len {
            return Err(Errno::EINVAL);
        }
        let fd = if prot & libc::PROT_WRITE == 0 {
            self.read_only.as_ref().ok_or(Errno::EACCES)?.as_raw_fd()
        } else {
            self.file.as_raw_fd()
        };
        crate::platform::map_fd(fd, extent.offset, len, prot, at, replace)
    }

    /// Zero-fills an extent (reused chunks hold their last owner's bytes).
    pub fn zero_extent(&self, extent: Extent) {
        // SAFETY: the extent lies inside the mapping (checked when it was
        // made) and its pages are reserved; no Rust reference covers it.
        unsafe { std::ptr::write_bytes(self.base.add(extent.offset as usize), 0, extent.len as usize) };
    }
}

impl Region {
    /// The extent of `count` chunks from `first`, if `owner` holds them all:
    /// checked on every use, so a corrupted index cannot reach another
    /// object's storage.
    pub fn extent(&self, owner: ChunkOwner, first: u32, count: u32) -> Option<Extent> {
        let end = first.checked_add(count)?;
        if count == 0 || end > self.layout.params.chunk_count || !(first..end).all(|c| self.chunk_owned_by(c, owner)) {
            return None;
        }
        Some(Extent { offset: self.layout.chunk_area + first as u64 * CHUNK_SIZE, len: count as u64 * CHUNK_SIZE })
    }

    /// A `T` at byte `at` of `extent` (bounds-checked against the extent).
    pub fn in_extent<T: Shared>(&self, extent: Extent, at: u64) -> Option<&T> {
        if at.checked_add(size_of::<T>() as u64)? > extent.len {
            return None;
        }
        self.at(extent.offset + at).ok()
    }
}

/// The layout of the region file at `path` (for tools and tests that look
/// inside one), after the same checks as when mapping it.
pub fn layout_of(path: &std::path::Path) -> Result<layout::Layout> {
    let file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    file::read_layout(&file, len, path)
}
