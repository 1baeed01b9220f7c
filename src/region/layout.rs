//! Where everything lives in the region file.
//!
//! ```text
//! 0                 Header (one page): magic, version, sizes, registries
//! msg_table         [MsgQueue; msg_slots]            control area,
//! sem_table         [SemSet; sem_slots]              reserved when the
//! shm_table         [ShmSegment; shm_slots]          file is created
//! sem_waiters       [WaitRecord; WAIT_RECORDS]
//! shm_attachments   [Attachment; ATTACH_RECORDS]
//! chunk_owners      [AtomicU64; chunk_count]
//! chunk_committed   [AtomicU64; chunk_count / 64]
//! chunk_area        chunk_count × CHUNK_SIZE bytes   reserved chunk by chunk
//! ```
//!
//! The layout is a pure function of the [`Params`] the header records. A
//! process opening an existing file recomputes the layout from them and
//! checks the file size against it, so a corrupted header cannot direct any
//! access outside the mapping.

use crate::ipc::Registry;
use crate::msg::MsgQueue;
use crate::sem::{SemSet, WaitRecord};
use crate::shm::{Attachment, ShmSegment};
use std::mem::size_of;
use std::sync::atomic::{AtomicU32, AtomicU64};

pub const MAGIC: u64 = u64::from_le_bytes(*b"IPCSHIM\0");
/// Bumped whenever the meaning of any byte in the file changes.
pub const VERSION: u32 = 2;
pub const PAGE: u64 = 4096;
/// The unit of object storage: a page, so that small semaphore sets and
/// shm segments waste little and SEMMNI sets fit.
pub const CHUNK_SIZE: u64 = 4096;
/// Messages are stored in blocks of this size (see `msg::queue`).
pub const BLOCK_SIZE: u64 = 256;
pub const BLOCKS_PER_CHUNK: u32 = (CHUNK_SIZE / BLOCK_SIZE) as u32;
/// 1 GiB of object space unless `IPCSHIM_SIZE_MB` says otherwise when the
/// namespace is created. Only the chunks in use take memory.
pub const DEFAULT_CHUNKS: u32 = 256 * 1024;
/// Room for every block index in a u32, with u32::MAX free as "none".
pub const MAX_CHUNKS: u32 = (u32::MAX / BLOCKS_PER_CHUNK) - 1;
/// The id space: an index must fit below IPCMNI (Linux's 32768).
pub const MAX_SLOTS: u32 = 32768;
/// Semaphore operations that can be blocked at once in a namespace.
pub const WAIT_RECORDS: u32 = 4096;
/// (process, segment) pairs with attachments at once in a namespace.
pub const ATTACH_RECORDS: u32 = 16384;

/// The first bytes of the region file.
///
/// Written once by the creator while it holds an exclusive `flock` on the
/// file, `magic` last; a creator killed halfway leaves `magic == 0`, and the
/// next process to open the file initialises it again.
#[repr(C)]
pub struct Header {
    pub magic: AtomicU64,
    pub version: AtomicU32,
    pub chunk_count: AtomicU32,
    pub msg_slots: AtomicU32,
    pub sem_slots: AtomicU32,
    pub shm_slots: AtomicU32,
    /// Where the next chunk search starts (a hint: any value is safe).
    pub chunk_hint: AtomicU32,
    pub total_size: AtomicU64,
    /// One past the highest attachment record ever used: scans stop here.
    pub attach_high_water: AtomicU32,
    pub msg_registry: Registry,
    pub sem_registry: Registry,
    pub shm_registry: Registry,
}

/// What the layout is computed from, as recorded in the header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Params {
    pub chunk_count: u32,
    pub msg_slots: u32,
    pub sem_slots: u32,
    pub shm_slots: u32,
}

/// Byte offsets of each area, derived from the header's [`Params`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    pub params: Params,
    pub msg_table: u64,
    pub sem_table: u64,
    pub shm_table: u64,
    pub sem_waiters: u64,
    pub shm_attachments: u64,
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

/// Places `count` items of `T` after `at`; returns (start, end).
fn place<T>(at: u64, count: u32) -> (u64, u64) {
    let start = align_up(at, 64);
    (start, start + count as u64 * size_of::<T>() as u64)
}

impl Layout {
    /// `None` when the parameters are out of range (a corrupted header).
    pub fn compute(params: Params) -> Option<Layout> {
        let Params { chunk_count, msg_slots, sem_slots, shm_slots } = params;
        let slots_ok = |n: u32| (1..=MAX_SLOTS).contains(&n);
        if !(slots_ok(msg_slots) && slots_ok(sem_slots) && slots_ok(shm_slots)) {
            return None;
        }
        if chunk_count == 0 || chunk_count > MAX_CHUNKS {
            return None;
        }
        let (msg_table, end) = place::<MsgQueue>(align_up(size_of::<Header>() as u64, PAGE), msg_slots);
        let (sem_table, end) = place::<SemSet>(end, sem_slots);
        let (shm_table, end) = place::<ShmSegment>(end, shm_slots);
        let (sem_waiters, end) = place::<WaitRecord>(end, WAIT_RECORDS);
        let (shm_attachments, end) = place::<Attachment>(end, ATTACH_RECORDS);
        let (chunk_owners, end) = place::<AtomicU64>(end, chunk_count);
        let (chunk_committed, end) = place::<AtomicU64>(end, chunk_count.div_ceil(64));
        let control_end = align_up(end, PAGE);
        let chunk_area = control_end;
        let total_size = chunk_area + chunk_count as u64 * CHUNK_SIZE;
        Some(Layout {
            params,
            msg_table,
            sem_table,
            shm_table,
            sem_waiters,
            shm_attachments,
            chunk_owners,
            chunk_committed,
            control_end,
            chunk_area,
            total_size,
        })
    }
}
