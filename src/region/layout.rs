//! Where everything lives in the region file.
//!
//! ```text
//! 0                 Header (one page): magic, version, sizes, registries
//! msg_table         [MsgQueue; msg_slots]            control area,
//! chunk_owners      [AtomicU64; chunk_count]         reserved when the
//! chunk_committed   [AtomicU64; chunk_count / 64]    file is created
//! chunk_area        chunk_count × CHUNK_SIZE bytes   reserved chunk by chunk
//! ```
//!
//! The layout is a pure function of `(msg_slots, chunk_count)`, which the
//! header records. A process opening an existing file recomputes the layout
//! from those two numbers and checks the file size against it, so a corrupted
//! header cannot direct any access outside the mapping.

use crate::ipc::Registry;
use crate::msg::MsgQueue;
use std::mem::size_of;
use std::sync::atomic::{AtomicU32, AtomicU64};

pub const MAGIC: u64 = u64::from_le_bytes(*b"IPCSHIM\0");
/// Bumped whenever the meaning of any byte in the file changes.
pub const VERSION: u32 = 1;
pub const PAGE: u64 = 4096;
pub const CHUNK_SIZE: u64 = 64 * 1024;
/// Messages are stored in blocks of this size (see `msg::storage`).
pub const BLOCK_SIZE: u64 = 256;
pub const BLOCKS_PER_CHUNK: u32 = (CHUNK_SIZE / BLOCK_SIZE) as u32;
/// 1 GiB of message space unless `IPCSHIM_SIZE_MB` says otherwise when the
/// namespace is created. Only the chunks in use take memory.
pub const DEFAULT_CHUNKS: u32 = 16 * 1024;
/// Room for every block index in a u32, with u32::MAX free as "none".
pub const MAX_CHUNKS: u32 = (u32::MAX / BLOCKS_PER_CHUNK) - 1;
/// The id space: an index must fit below IPCMNI (Linux's 32768).
pub const MAX_SLOTS: u32 = 32768;

/// The first bytes of the region file.
///
/// Written once by the creator while it holds an exclusive `flock` on the
/// file, `magic` last; a creator killed halfway leaves `magic == 0`, and the
/// next process to open the file initialises it again.
#[repr(C)]
pub struct Header {
    pub magic: AtomicU64,
    pub version: AtomicU32,
    pub msg_slots: AtomicU32,
    pub chunk_count: AtomicU32,
    /// Where the next chunk search starts (a hint: any value is safe).
    pub chunk_hint: AtomicU32,
    pub total_size: AtomicU64,
    pub msg_registry: Registry,
}

/// Byte offsets of each area, derived from the header's two parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    pub msg_slots: u32,
    pub chunk_count: u32,
    pub msg_table: u64,
    pub chunk_owners: u64,
    pub chunk_committed: u64,
    /// End of the control area: everything before it is reserved at creation.
    pub control_end: u64,
    pub chunk_area: u64,
    pub total_size: u64,
}

const fn align_up(x: u64, to: u64) -> u64 {
    x.div_ceil(to) * to
}

impl Layout {
    /// `None` when the parameters are out of range (a corrupted header).
    pub fn compute(msg_slots: u32, chunk_count: u32) -> Option<Layout> {
        if msg_slots == 0 || msg_slots > MAX_SLOTS || chunk_count == 0 || chunk_count > MAX_CHUNKS {
            return None;
        }
        let msg_table = align_up(size_of::<Header>() as u64, PAGE);
        let chunk_owners = align_up(msg_table + msg_slots as u64 * size_of::<MsgQueue>() as u64, 64);
        let chunk_committed = chunk_owners + chunk_count as u64 * size_of::<AtomicU64>() as u64;
        let control_end =
            align_up(chunk_committed + chunk_count.div_ceil(64) as u64 * size_of::<AtomicU64>() as u64, PAGE);
        let chunk_area = control_end;
        let total_size = chunk_area + chunk_count as u64 * CHUNK_SIZE;
        Some(Layout {
            msg_slots,
            chunk_count,
            msg_table,
            chunk_owners,
            chunk_committed,
            control_end,
            chunk_area,
            total_size,
        })
    }
}
