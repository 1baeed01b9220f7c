//! The process table: one entry per process that holds something.

use crate::error::Result;
use crate::platform::{self, Identity};
use crate::region::{Region, Shared, Table, TableSpec, Unmapped};
use std::ffi::CStr;
use std::mem::{offset_of, size_of};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// A process, by pid and start time ([`Identity::key`]): never 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProcRef(pub u64);

impl ProcRef {
    pub fn identity(self) -> Identity {
        Identity::from_key(self.0)
    }

    pub fn pid(self) -> i32 {
        self.identity().id as i32
    }
}

/// One process. Locking: none; `key` is taken and given back by CAS, the
/// bits of `holds` are set by fetch_or.
#[repr(C)]
pub struct ProcessEntry {
    /// The process's [`ProcRef`], or 0 when the entry is free.
    key: AtomicU64,
    /// One bit per table (directory index) in which the process holds
    /// records: the families the reaper has to ask.
    pub holds: AtomicU64,
}

/// The table's own bookkeeping.
#[repr(C)]
pub struct Bookkeeping {
    /// When the table was last looked over for dead processes (ms, monotonic).
    last_reap_ms: AtomicU64,
    /// One past the highest entry ever used: scans stop here.
    high_water: AtomicU32,
    _reserved: AtomicU32,
}

// SAFETY: repr(C), atomics only.
unsafe impl Shared for ProcessEntry {}
// SAFETY: repr(C), atomics only.
unsafe impl Shared for Bookkeeping {}

const TAG: u32 = TableSpec::tag(b"PRC1");
const ENTRIES: u32 = 16384;
/// An entry is looked for within this many places from where its pid
/// hashes to, so finding one never scans the table.
const WINDOW: u32 = 64;

pub(super) fn spec() -> TableSpec {
    TableSpec {
        tag: TAG,
        prefix: std::mem::size_of::<Bookkeeping>() as u32,
        stride: std::mem::size_of::<ProcessEntry>() as u32,
        count: ENTRIES,
    }
}

/// Whether the table in the region file at `path` lists a process with id
/// `pid` (whatever its start time), read without mapping the file: a few
/// system calls. It looks where [`ProcessTable::find`] would. False when
/// there is no file, or no such table in it.
pub fn lists_in_file(path: &CStr, pid: u32) -> bool {
    let Ok(file) = Unmapped::open(path) else { return false };
    let Some(spec) = file.table(TAG).filter(|t| t.stride as usize == size_of::<ProcessEntry>() && t.count > 0) else {
        return false;
    };
    const STRIDE: usize = size_of::<ProcessEntry>();
    let mut buf = [0u8; WINDOW as usize * STRIDE];
    // The window, in at most two runs of adjacent entries (it may wrap).
    let (mut first, mut left) = (pid % spec.count, WINDOW.min(spec.count) as usize);
    while left > 0 {
        let read = match file.read_entries(TAG, first, &mut buf[..left * STRIDE]) {
            Ok(0) | Err(_) => return false,
            Ok(read) => read,
        };
        // A key torn by a store racing with the read can only make a false
        // match, which costs the caller a mapping and nothing else.
        let key = |entry: &[u8]| u64::from_le_bytes(entry[offset_of!(ProcessEntry, key)..][..8].try_into().expect("8"));
        if buf[..read * STRIDE].chunks_exact(STRIDE).map(key).any(|k| k != 0 && ProcRef(k).identity().id == pid) {
            return true;
        }
        left -= read;
        first = (first + read as u32) % spec.count;
    }
    false
}

impl ProcessEntry {
    /// Sets `table`'s bit, if the entry still belongs to `who`.
    pub fn note(&self, who: ProcRef, table: usize) {
        if self.key.load(Ordering::Acquire) == who.0 {
            // SeqCst: a reaper that reads `holds` after taking `who` for
            // dead sees the bit (we set it before making the record).
            self.holds.fetch_or(1 << (table % 64), Ordering::SeqCst);
        }
    }

    /// Gives the entry back, if it still belongs to `who`.
    pub fn forget(&self, who: ProcRef) {
        if self.key.load(Ordering::Acquire) == who.0 {
            self.holds.store(0, Ordering::Relaxed);
            let _ = self.key.compare_exchange(who.0, 0, Ordering::AcqRel, Ordering::Relaxed);
        }
    }
}

pub struct ProcessTable<'r>(Table<'r, Bookkeeping, ProcessEntry>);

impl<'r> ProcessTable<'r> {
    pub fn of(region: &'r Region) -> Result<Self> {
        region.table(TAG).map(ProcessTable)
    }

    pub fn entry(&self, index: u32) -> Option<&'r ProcessEntry> {
        self.0.get(index)
    }

    fn window(&self, who: ProcRef) -> impl Iterator<Item = (u32, &'r ProcessEntry)> + '_ {
        let start = who.identity().id % self.0.len();
        (0..WINDOW.min(self.0.len())).filter_map(move |i| {
            let index = (start + i) % self.0.len();
            self.0.get(index).map(|e| (index, e))
        })
    }

    /// The entry of `who`, if it is registered.
    pub fn find(&self, who: ProcRef) -> Option<u32> {
        self.window(who).find(|(_, e)| e.key.load(Ordering::Acquire) == who.0).map(|(i, _)| i)
    }

    /// Takes a free entry for `who` (or finds its own); None if its window is full.
    pub fn claim(&self, who: ProcRef) -> Option<u32> {
        if let Some(index) = self.find(who) {
            return Some(index);
        }
        for (index, entry) in self.window(who) {
            if entry.key.load(Ordering::Relaxed) == 0
                && entry.key.compare_exchange(0, who.0, Ordering::AcqRel, Ordering::Relaxed).is_ok()
            {
                entry.holds.store(0, Ordering::Relaxed);
                self.0.prefix().high_water.fetch_max(index + 1, Ordering::AcqRel);
                return Some(index);
            }
        }
        None
    }

    /// Every registered process.
    pub fn registered(&self) -> Vec<ProcRef> {
        let end = self.0.prefix().high_water.load(Ordering::Acquire).min(self.0.len());
        (0..end)
            .filter_map(|i| self.0.get(i))
            .map(|e| e.key.load(Ordering::Acquire))
            .filter(|&k| k != 0)
            .map(ProcRef)
            .collect()
    }

    /// Whether a look for dead processes is due, claiming it if so (only one
    /// process looks per interval).
    pub fn reap_due(&self) -> bool {
        let now = platform::monotonic_now().as_millis() as u64;
        let last = &self.0.prefix().last_reap_ms;
        let seen = last.load(Ordering::Relaxed);
        now.saturating_sub(seen) >= super::REAP_INTERVAL.as_millis() as u64
            && last.compare_exchange(seen, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
    }
}
