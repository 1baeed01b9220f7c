//! Where everything lives in the region file.
//!
//! ```text
//! 0                 Header (one page): magic, version, sizes, and the
//!                   directory: one record per table (tag, offset, sizes)
//! tables            each family's tables, in directory order: a prefix
//!                   (the table's own bookkeeping), then `count` entries
//!                   of `stride` bytes
//! chunk_owners      [AtomicU64; chunk_count]    who owns each chunk
//! chunk_committed   [AtomicU64; chunk_count / 64]
//! chunk_area        chunk_count × CHUNK_SIZE bytes, reserved chunk by chunk
//! ```
//!
//! The region knows no family: a family describes its tables with
//! [`TableSpec`]s when the namespace is created and finds them again by
//! tag. The layout is a pure function of the specs and the chunk count,
//! which the header records; a process opening an existing file recomputes
//! it and checks it against the header and the file size, so a corrupted
//! header cannot direct any access outside the mapping.

use std::mem::size_of;
use std::sync::atomic::{AtomicU32, AtomicU64};

pub const MAGIC: u64 = u64::from_le_bytes(*b"IPCSHIM\0");
/// Bumped whenever the meaning of the header, the directory or the chunk
/// area changes. A family that changes its own tables changes their tags.
pub const VERSION: u32 = 6;
pub const PAGE: u64 = 4096;
/// The unit of object storage: a page, so that small objects waste little.
pub const CHUNK_SIZE: u64 = 4096;
/// 1 GiB of object space unless `IPCSHIM_SIZE_MB` says otherwise when the
/// namespace is created. Only the chunks in use take memory.
pub const DEFAULT_CHUNKS: u32 = 256 * 1024;
/// Chunk numbers fit in 24 bits with room to spare (64 GiB of objects).
pub const MAX_CHUNKS: u32 = 1 << 24;
/// Tables in a namespace at most (the directory's size).
pub const MAX_TABLES: usize = 32;
/// Entries in one table at most (entry numbers fit in 24 bits).
pub const MAX_ENTRIES: u32 = 1 << 24;

/// A table as a family asks for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableSpec {
    /// Names the table and the version of its entries' layout (four ASCII
    /// bytes by convention, e.g. `b"MSG1"`).
    pub tag: u32,
    /// Bytes of the table's own bookkeeping before the first entry.
    pub prefix: u32,
    /// Bytes per entry (the entry type's size).
    pub stride: u32,
    pub count: u32,
}

impl TableSpec {
    pub const fn tag(name: &[u8; 4]) -> u32 {
        u32::from_le_bytes(*name)
    }
}

/// One record of the header's directory.
#[repr(C)]
pub struct TableRecord {
    pub tag: AtomicU32,
    pub prefix: AtomicU32,
    pub stride: AtomicU32,
    pub count: AtomicU32,
    pub offset: AtomicU64,
}

/// The first bytes of the region file.
///
/// Written once by the creator while it holds an exclusive `flock` on the
/// file, `magic` last; a creator killed halfway leaves `magic == 0`, and the
/// next process to open the file initialises it again. Nothing in it
/// changes afterwards except `chunk_hint` and `chunks_used`.
#[repr(C)]
pub struct Header {
    pub magic: AtomicU64,
    pub version: AtomicU32,
    pub table_count: AtomicU32,
    pub chunk_count: AtomicU32,
    /// Where the next chunk search starts (a hint: any value is safe).
    pub chunk_hint: AtomicU32,
    pub total_size: AtomicU64,
    /// No chunk at or above this has ever been claimed: a search for an
    /// owner's chunks stops here. Only ever raised, before the claim it
    /// covers, so a claimer that dies leaves no chunk above it.
    pub chunks_used: AtomicU32,
    pub tables: [TableRecord; MAX_TABLES],
}

const _: () = assert!(size_of::<Header>() as u64 <= PAGE);

/// A table's place in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableLayout {
    pub spec: TableSpec,
    /// Offset of the prefix; the entries follow it at `entries`.
    pub offset: u64,
    pub entries: u64,
}

/// Byte offsets of each area.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    pub tables: Vec<TableLayout>,
    pub chunk_count: u32,
    pub chunk_owners: u64,
    pub chunk_committed: u64,
    /// End of the control area (header, tables, chunk bookkeeping): all of
    /// it is reserved when the file is created.
    pub control_end: u64,
    pub chunk_area: u64,
    pub total_size: u64,
}

/// Where a table's entries start, given where the table (its prefix) does.
pub const fn entries_offset(table_offset: u64, prefix: u32) -> u64 {
    align_up(table_offset + prefix as u64, 64)
}

const fn align_up(x: u64, to: u64) -> u64 {
    x.div_ceil(to) * to
}

impl Layout {
    /// `None` when the specs are out of range (a corrupted header, or too
    /// many tables): duplicate tags, empty or oversized tables, entries
    /// that are not multiples of 8 bytes.
    pub fn compute(specs: &[TableSpec], chunk_count: u32) -> Option<Layout> {
        if specs.len() > MAX_TABLES || chunk_count == 0 || chunk_count > MAX_CHUNKS {
            return None;
        }
        let mut at = PAGE;
        let mut tables = Vec::with_capacity(specs.len());
        for (i, spec) in specs.iter().enumerate() {
            let sound = spec.tag != 0
                && specs[..i].iter().all(|s| s.tag != spec.tag)
                && (1..=MAX_ENTRIES).contains(&spec.count)
                && spec.stride > 0
                && spec.stride % 8 == 0
                && spec.prefix % 8 == 0
                && spec.stride <= 1 << 20
                && spec.prefix <= 1 << 20;
            if !sound {
                return None;
            }
            let offset = align_up(at, 64);
            let entries = entries_offset(offset, spec.prefix);
            at = entries + spec.count as u64 * spec.stride as u64;
            tables.push(TableLayout { spec: *spec, offset, entries });
        }
        let chunk_owners = align_up(at, 64);
        let chunk_committed = align_up(chunk_owners + chunk_count as u64 * 8, 64);
        let control_end = align_up(chunk_committed + chunk_count.div_ceil(64) as u64 * 8, PAGE);
        let chunk_area = control_end;
        let total_size = chunk_area + chunk_count as u64 * CHUNK_SIZE;
        Some(Layout { tables, chunk_count, chunk_owners, chunk_committed, control_end, chunk_area, total_size })
    }

    /// The table with this tag, and its position in the directory.
    pub fn table(&self, tag: u32) -> Option<(usize, &TableLayout)> {
        self.tables.iter().enumerate().find(|(_, t)| t.spec.tag == tag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(tag: &[u8; 4], prefix: u32, stride: u32, count: u32) -> TableSpec {
        TableSpec { tag: TableSpec::tag(tag), prefix, stride, count }
    }

    #[test]
    fn tables_follow_the_header_in_order_aligned_and_disjoint() {
        let specs = [spec(b"AAA1", 24, 40, 3), spec(b"BBB1", 0, 64, 10)];
        let layout = Layout::compute(&specs, 100).expect("sound");
        let (a, b) = (layout.tables[0], layout.tables[1]);
        assert_eq!(a.offset, PAGE);
        assert_eq!(a.entries, PAGE + 64);
        assert_eq!(b.offset % 64, 0);
        assert!(b.offset >= a.entries + 3 * 40);
        assert!(layout.chunk_owners >= b.entries + 10 * 64);
        assert!(layout.chunk_committed >= layout.chunk_owners + 800);
        assert_eq!(layout.control_end % PAGE, 0);
        assert_eq!(layout.total_size, layout.chunk_area + 100 * CHUNK_SIZE);
        assert_eq!(layout.table(TableSpec::tag(b"BBB1")).map(|(i, _)| i), Some(1));
        assert!(layout.table(TableSpec::tag(b"CCC1")).is_none());
    }

    #[test]
    fn unsound_specs_have_no_layout() {
        let ok = spec(b"AAA1", 0, 8, 1);
        assert!(Layout::compute(&[ok, ok], 1).is_none(), "duplicate tag");
        assert!(Layout::compute(&[spec(b"AAA1", 0, 12, 1)], 1).is_none(), "stride not a multiple of 8");
        assert!(Layout::compute(&[spec(b"AAA1", 0, 8, 0)], 1).is_none(), "empty table");
        assert!(Layout::compute(&[spec(b"AAA1", 0, 8, MAX_ENTRIES + 1)], 1).is_none(), "too many entries");
        assert!(Layout::compute(&[ok], 0).is_none(), "no chunks");
        assert!(Layout::compute(&[ok], MAX_CHUNKS + 1).is_none(), "too many chunks");
        let many: Vec<_> = (0..=MAX_TABLES as u32).map(|i| TableSpec { tag: i + 1, ..ok }).collect();
        assert!(Layout::compute(&many[..MAX_TABLES], 1).is_some());
        assert!(Layout::compute(&many, 1).is_none(), "too many tables");
    }
}
