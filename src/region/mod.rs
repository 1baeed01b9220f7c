//! The shared region: one file per namespace, mapped by every process that
//! uses the namespace. This module is the only code that turns offsets into
//! references, and it checks bounds and alignment every time.
//!
//! Everything in the region is addressed by offsets or indices, never by
//! pointers (each process maps the file at its own address), and every
//! structure in it consists of atomics, so any bit pattern another process
//! (or a corruption) leaves behind is a valid value to read: the worst a bad
//! value can do is fail a check, never reach outside the mapping.
//!
//! The region knows no IPC family. Families describe their tables with
//! [`TableSpec`]s when a namespace is created, find them by tag, and own
//! chunks of the object space through [`Owner`]s naming their table entries.
//!
//! - `layout`: where everything lives; the header and its directory of tables.
//! - `file`: finding, creating, validating and mapping the file.
//! - `chunks`: the chunk allocator.
//! - `slot`: the entry header that makes an entry an owner.
//! - `lock`: the lock that survives a holder killed at any instruction.

mod chunks;
mod file;
pub mod layout;
pub mod lock;
mod slot;

pub use chunks::Extent;
#[cfg(test)]
pub use file::scratch;
pub use file::{layout_of, open, open_existing, Unmapped};
pub use layout::{Layout, TableSpec, CHUNK_SIZE};
pub use lock::{Guard, RobustLock};
pub use slot::{Owner, Slot, FREE};

use crate::error::{Errno, Result};
use crate::user::OutBuf;
use layout::Header;
use std::marker::PhantomData;
use std::mem::{align_of, size_of};
use std::path::{Path, PathBuf};

/// Types that may be viewed in place inside the region.
///
/// # Safety
/// Implementors must be `#[repr(C)]`, contain only atomics (or other `Shared`
/// types), and accept every bit pattern as a valid value.
pub unsafe trait Shared: Sized {}

// SAFETY: no bytes at all.
unsafe impl Shared for () {}
// SAFETY: a plain atomic.
unsafe impl Shared for std::sync::atomic::AtomicU64 {}
// SAFETY: a plain atomic.
unsafe impl Shared for std::sync::atomic::AtomicU32 {}
// SAFETY: a plain atomic.
unsafe impl Shared for std::sync::atomic::AtomicI16 {}
// SAFETY: repr(C), atomics only.
unsafe impl Shared for Header {}

/// A mapped namespace. It holds no file descriptor: after mapping, the
/// program may close every descriptor it has without affecting the shim.
pub struct Region {
    base: *mut u8,
    /// The same file mapped read-only (from a read-only descriptor, so the
    /// pages can never be made writable): SHM_RDONLY attachments duplicate
    /// it. Null if the file could not be opened read-only.
    read_only: *const u8,
    layout: Layout,
    /// Directory index + 1 of the table whose tag hashes to each place (0:
    /// none), so that finding a table by tag is one probe, not a scan.
    by_tag: [u8; TAG_SLOTS],
    path: PathBuf,
}

const TAG_SLOTS: usize = 64;

fn tag_slot(tag: u32) -> usize {
    (tag.wrapping_mul(0x9e37_79b9) >> 26) as usize
}

// SAFETY: the mappings are shared memory accessed only through atomics and
// explicit copies; the raw pointers are never used to create `&mut`.
unsafe impl Send for Region {}
// SAFETY: as above.
unsafe impl Sync for Region {}

impl Region {
    /// The region file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// A bounds- and alignment-checked view of a `T` at `offset`.
    #[inline]
    pub fn at<T: Shared>(&self, offset: u64) -> Result<&T> {
        let end = offset.checked_add(size_of::<T>() as u64).ok_or(Errno::EIO)?;
        if end > self.layout.total_size || !offset.is_multiple_of(align_of::<T>() as u64) {
            return Err(Errno::EIO);
        }
        // SAFETY: in bounds and aligned (checked above); `T: Shared` makes any
        // bytes a valid `T` and only allows shared (atomic) access.
        Ok(unsafe { &*(self.base.add(offset as usize) as *const T) })
    }

    pub(crate) fn header(&self) -> &Header {
        // SAFETY: offset 0 is page-aligned and the file is at least a header long.
        unsafe { &*(self.base as *const Header) }
    }

    /// The table tagged `tag`, with prefix `P` and entries `T`: EIO if the
    /// namespace has none, or one whose entries are not `T`-sized or whose
    /// prefix cannot hold a `P` (made by a library with another layout for
    /// it). The prefix may be longer: see [`Table::prefix_item`].
    pub fn table<P: Shared, T: Shared>(&self, tag: u32) -> Result<Table<'_, P, T>> {
        let hinted = (self.by_tag[tag_slot(tag)] as usize).checked_sub(1);
        let found = hinted
            .and_then(|i| self.layout.tables.get(i).map(|t| (i, t)))
            .filter(|(_, t)| t.spec.tag == tag)
            .or_else(|| self.layout.table(tag));
        let (index, layout) = found.ok_or(Errno::EIO)?;
        let spec = layout.spec;
        if spec.stride as usize != size_of::<T>() || (spec.prefix as usize) < size_of::<P>() {
            return Err(Errno::EIO);
        }
        if !layout.offset.is_multiple_of(align_of::<P>() as u64)
            || !layout.entries.is_multiple_of(align_of::<T>() as u64)
        {
            return Err(Errno::EIO);
        }
        let (prefix, entries, count) = (layout.offset, layout.entries, spec.count);
        let prefix_len = spec.prefix as u64;
        Ok(Table { region: self, index: index as u32, count, prefix, prefix_len, entries, _types: PhantomData })
    }

    /// Whether `owner` still names the occupant of its table entry.
    pub fn holds(&self, owner: Owner) -> bool {
        let Some(table) = self.layout.tables.get(owner.table()) else { return false };
        if owner.entry() >= table.spec.count || (table.spec.stride as usize) < size_of::<Slot>() {
            return false;
        }
        let offset = table.entries + owner.entry() as u64 * table.spec.stride as u64;
        self.at::<Slot>(offset).is_ok_and(|slot| slot.holds(owner.generation()))
    }

    /// The extent made of `field`'s own bytes, where `field` lies in the
    /// region (a table entry's inline storage); None if it does not.
    pub fn extent_of<T>(&self, field: &T) -> Option<Extent> {
        let offset = (field as *const T as usize).checked_sub(self.base as usize)? as u64;
        let len = size_of::<T>() as u64;
        (offset.checked_add(len)? <= self.layout.total_size).then_some(Extent { offset, len })
    }

    /// A `T` at byte `at` of `extent` (bounds-checked against the extent).
    #[inline]
    pub fn in_extent<T: Shared>(&self, extent: Extent, at: u64) -> Option<&T> {
        if at.checked_add(size_of::<T>() as u64)? > extent.len {
            return None;
        }
        self.at(extent.offset + at).ok()
    }

    /// Copies `src` into `extent` at byte `at`; false if it does not fit.
    #[inline]
    pub fn copy_in(&self, extent: Extent, at: u64, src: &[u8]) -> bool {
        if at.checked_add(src.len() as u64).is_none_or(|end| end > extent.len) {
            return false;
        }
        // SAFETY: the range lies inside the extent inside the mapping
        // (checked above and when the extent was made); the region is never
        // Rust-borrowed as bytes, so no reference aliases it, and `src` is
        // memory outside the object space.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), self.base.add((extent.offset + at) as usize), src.len()) };
        true
    }

    /// Copies `count` bytes from `extent` at byte `at` into `dst` at
    /// `dst_at`: EIO if the source range is outside the extent, EFAULT if
    /// the caller's buffer cannot take them.
    pub fn copy_out(&self, extent: Extent, at: u64, count: usize, dst: &mut OutBuf, dst_at: usize) -> Result<()> {
        if at.checked_add(count as u64).is_none_or(|end| end > extent.len) {
            return Err(Errno::EIO);
        }
        // SAFETY: as in `copy_in`; the bytes change only under the object's
        // lock, which the caller holds.
        let src = unsafe { std::slice::from_raw_parts(self.base.add((extent.offset + at) as usize), count) };
        dst.write_at(dst_at, src)
    }

    /// Zero-fills an extent (reused chunks hold their last owner's bytes).
    pub fn zero(&self, extent: Extent) {
        // SAFETY: the extent lies inside the mapping (checked when it was
        // made) and its pages are reserved; no Rust reference covers it.
        unsafe { std::ptr::write_bytes(self.base.add(extent.offset as usize), 0, extent.len as usize) };
    }

    /// Maps the first `len` bytes of `extent` once more, MAP_SHARED, for
    /// shmat: read-write, or read-only from the read-only mapping (so that
    /// mprotect cannot make it writable), then `prot` applied.
    pub fn map_extent(&self, extent: Extent, len: usize, prot: i32, at: Option<usize>, replace: bool) -> Result<usize> {
        if len as u64 > extent.len {
            return Err(Errno::EINVAL);
        }
        let source = if prot & libc::PROT_WRITE == 0 {
            if self.read_only.is_null() {
                return Err(Errno::EACCES);
            }
            self.read_only as usize + extent.offset as usize
        } else {
            self.base as usize + extent.offset as usize
        };
        let addr = crate::platform::duplicate(source, len, at, replace)?;
        let base_prot = if prot & libc::PROT_WRITE == 0 { libc::PROT_READ } else { libc::PROT_READ | libc::PROT_WRITE };
        if prot != base_prot {
            if let Err(e) = crate::platform::protect(addr, len, prot) {
                crate::platform::unmap(addr, len);
                return Err(e);
            }
        }
        Ok(addr)
    }
}

impl Region {
    fn new(base: *mut u8, read_only: *const u8, layout: Layout, path: PathBuf) -> Region {
        let mut by_tag = [0u8; TAG_SLOTS];
        for (i, table) in layout.tables.iter().enumerate() {
            let slot = &mut by_tag[tag_slot(table.spec.tag)];
            if *slot == 0 {
                *slot = i as u8 + 1;
            }
        }
        Region { base, read_only, layout, by_tag, path }
    }
}

/// A table of the region: a prefix `P`, then entries `T`.
pub struct Table<'r, P, T> {
    region: &'r Region,
    /// Its place in the directory.
    index: u32,
    count: u32,
    /// Offsets of the prefix and of the first entry, and the prefix's size.
    prefix: u64,
    prefix_len: u64,
    entries: u64,
    _types: PhantomData<(&'r P, &'r T)>,
}

impl<P, T> Clone for Table<'_, P, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<P, T> Copy for Table<'_, P, T> {}

impl<'r, P: Shared, T: Shared> Table<'r, P, T> {
    pub fn region(&self) -> &'r Region {
        self.region
    }

    pub fn prefix(&self) -> &'r P {
        // Size and alignment were checked in `Region::table`, and the layout
        // puts the prefix inside the file.
        self.region.at(self.prefix).expect("table prefix inside the region")
    }

    pub fn len(&self) -> u32 {
        self.count
    }

    /// The `i`-th `U` after the `P` in the prefix (a table's bookkeeping may
    /// go on past `P`, as far as its spec's prefix size), if it is inside.
    #[inline]
    pub fn prefix_item<U: Shared>(&self, i: u64) -> Option<&'r U> {
        let start = (size_of::<P>() as u64).next_multiple_of(align_of::<U>() as u64);
        let at = i.checked_mul(size_of::<U>() as u64)?.checked_add(start)?;
        if at.checked_add(size_of::<U>() as u64)? > self.prefix_len {
            return None;
        }
        self.region.at(self.prefix + at).ok()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Entry `index`, if there is one.
    #[inline]
    pub fn get(&self, index: u32) -> Option<&'r T> {
        if index >= self.count {
            return None;
        }
        self.region.at(self.entries + index as u64 * size_of::<T>() as u64).ok()
    }

    /// The table's place in the header's directory (the bit for it in a
    /// process's `holds`).
    pub fn directory_index(&self) -> usize {
        self.index as usize
    }

    /// The [`Owner`] naming entry `index` while it holds `generation`.
    pub fn owner(&self, index: u32, generation: u32) -> Owner {
        Owner::new(self.index as usize, index, generation)
    }

    /// Whether `owner` names an entry of this table; its index if so.
    pub fn entry_of(&self, owner: Owner) -> Option<u32> {
        (owner.table() == self.index as usize && owner.entry() < self.len()).then_some(owner.entry())
    }
}
