//! System V shared memory with Linux's semantics (shmop(2), shmctl(2)).
//!
//! Each segment's memory is a run of chunks of the region file, reserved
//! in full and zeroed when the segment is created (so touching it can never
//! SIGBUS on a full tmpfs); shmat maps that range of the region file
//! MAP_SHARED, so processes see each other's writes exactly as with the
//! kernel, and a process that changed its uid since it loaded the library
//! can still attach (its descriptors were opened before the change). The
//! slot holds the segment's attributes; who has it attached is in [`attach`].
//!
//! Removal follows Linux: IPC_RMID on an attached segment frees its key at
//! once and marks it SHM_DEST; the id keeps working for those who hold it
//! until the last attachment ends, and then the segment is destroyed.

mod attach;
mod ctl;

pub use attach::Attachment;
pub use ctl::{control, Command, Reply, ShmInfo, ShmInfoTotals};

use crate::error::{Errno, Result};
use crate::ipc::{self, registry, ObjectHeader, Registry, Table};
use crate::platform;
use crate::region::{ChunkOwner, Region, Shared, CHUNK_SIZE};
use once_cell::sync::Lazy;
use std::sync::atomic::{AtomicI32, AtomicI64, AtomicU32, AtomicU64, Ordering::Relaxed};

pub const SHM_RDONLY: i32 = 0o10000;
pub const SHM_RND: i32 = 0o20000;
pub const SHM_REMAP: i32 = 0o40000;
pub const SHM_EXEC: i32 = 0o100000;
pub const SHM_DEST: u32 = 0o1000;
pub const SHM_LOCKED: u32 = 0o2000;

/// One slot of the segment table. Locking and crash consistency: see
/// `ipc::ObjectHeader`; attachments are counted in [`attach`].
#[repr(C, align(64))]
pub struct ShmSegment {
    pub header: ObjectHeader,
    /// `shm_segsz`: the size asked for (the file is rounded up to pages).
    pub size: AtomicU64,
    pub cpid: AtomicI32,
    pub lpid: AtomicI32,
    pub atime: AtomicI64,
    pub dtime: AtomicI64,
    /// The segment's memory: consecutive chunks of the region.
    extent_first: AtomicU32,
    extent_chunks: AtomicU32,
    /// Who SHM_LOCKed it (uid + 1; 0: not locked): the locked memory counts
    /// against that user's RLIMIT_MEMLOCK, as in Linux.
    pub locked_by: AtomicU32,
}

impl ShmSegment {
    fn owner(&self) -> ChunkOwner {
        ChunkOwner::shm_segment(self.header.id.load(Relaxed))
    }

    fn extent(&self, region: &Region) -> Option<crate::region::Extent> {
        region.extent(self.owner(), self.extent_first.load(Relaxed), self.extent_chunks.load(Relaxed))
    }
}

// SAFETY: repr(C), atomics only.
unsafe impl Shared for ShmSegment {}

/// The system's limits, from /proc/sys/kernel (Linux's defaults where absent).
pub struct Limits {
    pub shmmax: u64,
    pub shmall: u64,
    pub shmmni: u32,
}

pub fn limits() -> &'static Limits {
    static LIMITS: Lazy<Limits> = Lazy::new(|| Limits {
        shmmax: platform::kernel_limit("shmmax").unwrap_or(u64::MAX - (1 << 24)),
        shmall: platform::kernel_limit("shmall").unwrap_or(u64::MAX - (1 << 24)),
        shmmni: platform::kernel_limit("shmmni").unwrap_or(4096).min(ipc::IPCMNI as u64) as u32,
    });
    &LIMITS
}

pub fn page_size() -> u64 {
    static PAGE: Lazy<u64> = Lazy::new(|| {
        // SAFETY: sysconf has no preconditions.
        (unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).max(4096) as u64
    });
    *PAGE
}

/// SHMLBA: attach addresses are multiples of it (the page size on x86_64
/// and aarch64 Linux).
pub fn shmlba() -> u64 {
    page_size()
}

struct Segments<'r>(&'r Region);

impl Table for Segments<'_> {
    fn registry(&self) -> &Registry {
        &self.0.header().shm_registry
    }
    fn slot_count(&self) -> u32 {
        self.0.layout().params.shm_slots
    }
    fn object(&self, index: u32) -> Option<&ObjectHeader> {
        self.0.shm_segment(index).map(|s| &s.header)
    }
}

fn segment(region: &Region, id: i32) -> Result<&ShmSegment> {
    registry::lookup(&Segments(region), id)?;
    region.shm_segment(ipc::index_of(id)).ok_or(Errno::EINVAL)
}

fn pages(size: u64) -> u64 {
    size.div_ceil(page_size())
}

/// shmget(2).
pub fn get(region: &Region, key: i32, size: usize, flags: i32) -> Result<i32> {
    let request = registry::GetRequest { key, flags, limit: limits().shmmni };
    let family = NewSegment { region, size: size as u64 };
    sweep(region);
    platform::with_credentials(|creds| registry::get(&Segments(region), &request, creds, &family))
}

struct NewSegment<'r> {
    region: &'r Region,
    size: u64,
}

impl registry::Family for NewSegment<'_> {
    fn check_existing(&self, object: &ObjectHeader) -> Result<()> {
        let seg = self.region.shm_segment(ipc::index_of(object.id.load(Relaxed))).ok_or(Errno::EIO)?;
        if seg.size.load(Relaxed) < self.size {
            return Err(Errno::EINVAL);
        }
        Ok(())
    }

    fn check_new(&self) -> Result<()> {
        let l = limits();
        if self.size < 1 || self.size > l.shmmax {
            return Err(Errno::EINVAL);
        }
        let numpages = pages(self.size);
        let total: u64 = live_segments(self.region).iter().map(|s| pages(s.size.load(Relaxed))).sum();
        if numpages.checked_mul(page_size()).is_none() || total.checked_add(numpages).is_none_or(|t| t > l.shmall) {
            return Err(Errno::ENOSPC);
        }
        Ok(())
    }

    fn init(&self, object: &ObjectHeader) -> Result<()> {
        let id = object.id.load(Relaxed);
        let seg = self.region.shm_segment(ipc::index_of(id)).ok_or(Errno::EIO)?;
        let chunks = (pages(self.size) * page_size()).div_ceil(CHUNK_SIZE);
        let chunks = u32::try_from(chunks).map_err(|_| Errno::ENOMEM)?;
        let first = self.region.claim_extent(seg.owner(), chunks)?;
        seg.extent_first.store(first, Relaxed);
        seg.extent_chunks.store(chunks, Relaxed);
        // Reused chunks hold old bytes: a new segment reads as zeros.
        self.region.zero_extent(seg.extent(self.region).ok_or(Errno::EIO)?);
        seg.size.store(self.size, Relaxed);
        seg.locked_by.store(0, Relaxed);
        seg.cpid.store(platform::pid(), Relaxed);
        seg.lpid.store(0, Relaxed);
        seg.atime.store(0, Relaxed);
        seg.dtime.store(0, Relaxed);
        Ok(())
    }
}

fn live_segments(region: &Region) -> Vec<&ShmSegment> {
    let segments = Segments(region);
    registry::live_objects(&segments).filter_map(|o| region.shm_segment(ipc::index_of(o.id.load(Relaxed)))).collect()
}

/// The address checks shmat makes first (Linux's do_shmat): the address
/// to map at (None: anywhere).
pub fn check_attach_address(addr: usize, flags: i32) -> Result<Option<usize>> {
    let lba = shmlba() as usize;
    if addr == 0 {
        return if flags & SHM_REMAP != 0 { Err(Errno::EINVAL) } else { Ok(None) };
    }
    if addr & (lba - 1) != 0 {
        if flags & SHM_RND == 0 {
            return Err(Errno::EINVAL);
        }
        let rounded = addr & !(lba - 1);
        if rounded == 0 && flags & SHM_REMAP != 0 {
            return Err(Errno::EINVAL);
        }
        return Ok(Some(rounded));
    }
    Ok(Some(addr))
}

/// shmat(2), after [`check_attach_address`]: maps segment `id`.
pub fn attach(region: &Region, id: i32, at: Option<usize>, flags: i32) -> Result<usize> {
    if id < 0 {
        return Err(Errno::EINVAL);
    }
    let seg = segment(region, id)?;
    let readonly = flags & SHM_RDONLY != 0;
    let mut access = if readonly { 0o444 } else { 0o666 };
    if flags & SHM_EXEC != 0 {
        access |= 0o111;
    }
    platform::with_credentials(|c| seg.header.perm.check(c, access))?;
    let len = (pages(seg.size.load(Relaxed)) * page_size()) as usize;
    let replace = flags & SHM_REMAP != 0;
    if at.is_some_and(|a| a.checked_add(len).is_none()) && !replace {
        return Err(Errno::EINVAL);
    }
    let extent = seg.extent(region).ok_or(Errno::EIDRM)?;
    let mut prot = libc::PROT_READ;
    if !readonly {
        prot |= libc::PROT_WRITE;
    }
    if flags & SHM_EXEC != 0 {
        prot |= libc::PROT_EXEC;
    }
    let addr = region.map_extent(extent, len, prot, at, replace)?;
    {
        let _guard = seg.header.lock.lock();
        if !seg.header.holds(id) || !attach::adjust(region, id, platform::process_identity(), 1) {
            platform::unmap(addr, len);
            return Err(if seg.header.holds(id) { Errno::ENOMEM } else { Errno::EIDRM });
        }
        seg.lpid.store(platform::pid(), Relaxed);
        seg.atime.store(platform::now_secs(), Relaxed);
    }
    // SHM_REMAP may have mapped over attachments of ours: those are over.
    let replaced: Vec<_> = {
        let mut list = attach::local();
        let (inside, kept): (Vec<_>, Vec<_>) =
            list.drain(..).partition(|a| a.addr >= addr && a.addr + a.len <= addr + len);
        *list = kept;
        list.push(attach::Local { addr, len, shm_id: id });
        inside
    };
    for old in replaced {
        end_attachment(region, old.shm_id, platform::process_identity(), false);
    }
    Ok(addr)
}

/// shmdt(2).
pub fn detach(region: &Region, addr: usize) -> Result<()> {
    let local = {
        let mut list = attach::local();
        // The latest attachment at that address is the one whose pages are
        // there (SHM_REMAP may have mapped over the start of an older one).
        let position = list.iter().rposition(|a| a.addr == addr).ok_or(Errno::EINVAL)?;
        list.remove(position)
    };
    platform::unmap(local.addr, local.len);
    end_attachment(region, local.shm_id, platform::process_identity(), true);
    Ok(())
}

/// The program unmapped `[addr, addr + len)` itself: attachments wholly
/// inside it are over, as when Linux closes their mappings.
pub fn unmapped(region: &Region, addr: usize, len: usize) {
    let gone: Vec<_> = {
        let mut list = attach::local();
        if list.is_empty() {
            return;
        }
        let (inside, kept): (Vec<_>, Vec<_>) =
            list.drain(..).partition(|a| a.addr >= addr && a.addr + a.len <= addr.saturating_add(len));
        *list = kept;
        inside
    };
    for a in gone {
        end_attachment(region, a.shm_id, platform::process_identity(), false);
    }
}

/// One attachment of `id` by `who` is over; destroys the segment if it
/// was the last one of a removed segment.
fn end_attachment(region: &Region, id: i32, who: platform::ThreadIdentity, by_detach: bool) {
    let Some(seg) = region.shm_segment(ipc::index_of(id)) else { return };
    {
        let _guard = seg.header.lock.lock();
        if !seg.header.holds(id) {
            return;
        }
        attach::adjust(region, id, who, -1);
        if by_detach {
            seg.lpid.store(platform::pid(), Relaxed);
            seg.dtime.store(platform::now_secs(), Relaxed);
        }
    }
    destroy_if_unused(region, id);
}

/// Destroys segment `id` if it is marked SHM_DEST and nobody has it
/// attached. Takes the registry lock first (lock order), then the segment's.
fn destroy_if_unused(region: &Region, id: i32) {
    let Some(seg) = region.shm_segment(ipc::index_of(id)) else { return };
    if seg.header.perm.mode.load(Relaxed) & SHM_DEST == 0 {
        return;
    }
    let segments = Segments(region);
    let registry_guard = registry::lock(&segments);
    let _guard = seg.header.lock.lock();
    if seg.header.holds(id) && seg.header.perm.mode.load(Relaxed) & SHM_DEST != 0 && attach::count(region, id) == 0 {
        destroy(region, &registry_guard, seg, id);
    }
}

/// Removes the segment: its id stops resolving, then its memory goes back.
/// Dying in between leaves chunks owned by a segment that no longer
/// exists, which the next claimer takes over.
fn destroy(region: &Region, registry_guard: &crate::region::Guard, seg: &ShmSegment, id: i32) {
    registry::remove(registry_guard, &seg.header);
    region.release_extent(ChunkOwner::shm_segment(id), seg.extent_first.load(Relaxed), seg.extent_chunks.load(Relaxed));
}

/// Destroys removed segments whose last attached process died.
fn sweep(region: &Region) {
    let doomed: Vec<i32> = live_segments(region)
        .into_iter()
        .filter(|s| s.header.perm.mode.load(Relaxed) & SHM_DEST != 0)
        .map(|s| s.header.id.load(Relaxed))
        .collect();
    for id in doomed {
        destroy_if_unused(region, id);
    }
}

/// In the parent, right after fork: the attachments the child inherited
/// count for it too (Linux counts them before fork returns).
pub fn after_fork_in_parent(region: &Region, child: i32) {
    let child = platform::ThreadIdentity { tid: child as u32, start: platform::start_time_of(child as u32) };
    count_inherited(region, child);
}

/// In a child forked by a fork that was not interposed (libc's internal
/// ones, e.g. in daemon()): the child counts its inherited attachments
/// itself, a moment later than Linux would.
pub fn after_fork_in_child(region: &Region) {
    count_inherited(region, platform::process_identity());
}

fn count_inherited(region: &Region, child: platform::ThreadIdentity) {
    let list: Vec<_> = attach::local().clone();
    for a in list {
        if let Some(seg) = region.shm_segment(ipc::index_of(a.shm_id)) {
            let _guard = seg.header.lock.lock();
            if seg.header.holds(a.shm_id) {
                attach::adjust(region, a.shm_id, child, 1);
            }
        }
    }
}

/// At load: records this pid and start time still hold belong to the image
/// that exec replaced; its attachments are gone.
pub fn after_exec(region: &Region) {
    let me = platform::process_identity();
    for id in attach::forget_process(region, me) {
        destroy_if_unused(region, id);
    }
}

/// At exit: this process's attachments end.
pub fn at_exit(region: &Region) {
    let me = platform::process_identity();
    let list: Vec<_> = std::mem::take(&mut *attach::local());
    for a in list {
        end_attachment(region, a.shm_id, me, false);
    }
}
