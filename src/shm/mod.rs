//! System V shared memory with Linux's semantics (shmop(2), shmctl(2)).
//!
//! Each segment's memory is a run of chunks of the region file, reserved
//! in full and zeroed when the segment is created (so touching it can never
//! SIGBUS on a full file system); shmat maps those pages a second time,
//! MAP_SHARED, so processes see each other's writes exactly as with the
//! kernel. No descriptor is involved (see `region::Region::map_extent`), so
//! a process that changed its uid, or closed every descriptor, can still
//! attach. The slot holds the segment's attributes; who has it attached is
//! in [`attach`].
//!
//! Removal follows Linux: IPC_RMID on an attached segment frees its key at
//! once and marks it SHM_DEST; the id keeps working for those who hold it
//! until the last attachment ends, and then the segment is destroyed.

mod attach;
mod ctl;

pub use ctl::{control, Command, Reply, ShmInfo, ShmInfoTotals};

use crate::error::{Errno, Result};
use crate::ipc::{self, registry, Object, ObjectHeader, Objects};
use crate::platform::{self, Once};
use crate::process::{inspect, Family, Namespace, ProcRef, Scope};
use crate::region::{Extent, Guard, Shared, TableSpec, CHUNK_SIZE};
use attach::{Attachments, Local, LOCAL};
use std::sync::atomic::{AtomicI32, AtomicI64, AtomicU32, AtomicU64, Ordering::Relaxed};

pub const SHM_RDONLY: i32 = 0o10000;
pub const SHM_RND: i32 = 0o20000;
pub const SHM_REMAP: i32 = 0o40000;
pub const SHM_EXEC: i32 = 0o100000;
pub const SHM_HUGETLB: i32 = 0o4000;
pub const SHM_NORESERVE: i32 = 0o10000;
pub const SHM_DEST: u32 = 0o1000;
pub const SHM_LOCKED: u32 = 0o2000;

/// shmctl's Linux commands (as `<sys/shm.h>` defines them).
pub const SHM_LOCK: i32 = 11;
pub const SHM_UNLOCK: i32 = 12;
pub const SHM_STAT: i32 = 13;
pub const SHM_INFO: i32 = 14;
pub const SHM_STAT_ANY: i32 = 15;

const TAG: u32 = TableSpec::tag(b"SHM2");

/// One slot of the segment table. Locking and crash consistency: see
/// `ipc::ObjectHeader`; attachments are counted in [`attach`].
#[repr(C, align(64))]
pub struct ShmSegment {
    pub header: ObjectHeader,
    /// `shm_segsz`: the size asked for (the memory is rounded up to pages).
    pub size: AtomicU64,
    pub cpid: AtomicI32,
    pub lpid: AtomicI32,
    pub atime: AtomicI64,
    pub dtime: AtomicI64,
    /// The segment's memory: consecutive chunks of the region (none for a
    /// SHM_NORESERVE segment larger than the namespace, which cannot be
    /// attached, as Linux cannot map one larger than the address space).
    extent_first: AtomicU32,
    extent_chunks: AtomicU32,
    /// Who SHM_LOCKed it (uid + 1; 0: not locked): the locked memory counts
    /// against that user's RLIMIT_MEMLOCK, as in Linux.
    pub locked_by: AtomicU32,
}

// SAFETY: repr(C), atomics only.
unsafe impl Shared for ShmSegment {}
// SAFETY: repr(C), the header first.
unsafe impl Object for ShmSegment {
    fn header(&self) -> &ObjectHeader {
        &self.header
    }
}

/// The system's limits, from /proc/sys/kernel (Linux's defaults where absent).
#[derive(Clone, Copy)]
pub struct Limits {
    pub shmmax: u64,
    pub shmall: u64,
    pub shmmni: u32,
}

pub fn limits() -> &'static Limits {
    static LIMITS: Once<Limits> = Once::new();
    LIMITS.get_or_init(|| Limits {
        shmmax: platform::kernel_limit("shmmax").unwrap_or(u64::MAX - (1 << 24)),
        shmall: platform::kernel_limit("shmall").unwrap_or(u64::MAX - (1 << 24)),
        shmmni: platform::kernel_limit("shmmni").unwrap_or(4096).min(ipc::IPCMNI as u64) as u32,
    })
}

pub fn page_size() -> u64 {
    platform::page_size() as u64
}

/// SHMLBA: attach addresses are multiples of it (the page size on x86_64
/// and aarch64 Linux).
pub fn shmlba() -> u64 {
    page_size()
}

fn pages(size: u64) -> u64 {
    size.div_ceil(page_size())
}

/// Shared memory segments, as the namespace sees them.
pub struct ShmFamily;

impl Family for ShmFamily {
    fn tables(&self) -> Vec<TableSpec> {
        let segments = TableSpec {
            tag: TAG,
            prefix: ipc::registry::PREFIX_BYTES,
            stride: std::mem::size_of::<ShmSegment>() as u32,
            count: limits().shmmni.max(1),
        };
        vec![segments, attach::spec()]
    }

    /// Attachments live in the process's memory: they end with its image.
    fn release(&self, ns: &Namespace, who: ProcRef, _scope: Scope) {
        let Ok(attachments) = Attachments::of(ns) else { return };
        for id in attachments.segments_of(ns, who) {
            end_attachments(ns, id, who);
        }
    }

    fn fork(&self, ns: &Namespace, _parent: ProcRef, child: ProcRef) {
        let in_child = ProcRef::from(platform::process()) == child;
        let (Ok(segments), Ok(attachments)) = (segments(ns), Attachments::of(ns)) else { return };
        for a in attach::inherited(in_child) {
            if let Ok(seg) = registry::lookup(&segments, a.shm_id) {
                let _guard = seg.header.lock.lock();
                if seg.header.holds(a.shm_id) {
                    attachments.adjust(ns, a.shm_id, child, 1);
                }
            }
        }
    }

    fn before_fork(&self) {
        attach::before_fork();
    }

    fn after_fork(&self, in_child: bool) {
        attach::after_fork(in_child);
    }

    fn objects(&self, ns: &Namespace) -> Result<Vec<inspect::Object>> {
        ctl::describe(ns)
    }

    fn remove(&self, ns: &Namespace, kind: inspect::Kind, handle: &inspect::Handle) -> Option<Result<()>> {
        match (kind, handle) {
            (inspect::Kind::Shm, &inspect::Handle::Id(id)) => Some(control(ns, id, Command::Remove).map(drop)),
            _ => None,
        }
    }
}

fn segments(ns: &Namespace) -> Result<Objects<'_, ShmSegment>> {
    ns.table(TAG)
}

impl ShmSegment {
    fn extent(&self, ns: &Namespace, segments: &Objects<ShmSegment>) -> Option<Extent> {
        let owner = ipc::owner_of(segments, self.header.id());
        ns.extent(owner, self.extent_first.load(Relaxed), self.extent_chunks.load(Relaxed))
    }
}

/// shmget(2).
pub fn get(ns: &Namespace, key: i32, size: usize, flags: i32) -> Result<i32> {
    let segments = segments(ns)?;
    let request = registry::GetRequest { key, flags, limit: limits().shmmni, units: 0 };
    let family = NewSegment { ns, segments, size: size as u64, flags };
    sweep(ns, &segments);
    platform::with_credentials(|creds| registry::get(&segments, &request, creds, &family))
}

struct NewSegment<'r> {
    ns: &'r Namespace,
    segments: Objects<'r, ShmSegment>,
    size: u64,
    flags: i32,
}

impl registry::Family<ShmSegment> for NewSegment<'_> {
    fn check_existing(&self, seg: &ShmSegment) -> Result<()> {
        if seg.size.load(Relaxed) < self.size {
            return Err(Errno::EINVAL);
        }
        Ok(())
    }

    /// Linux's `newseg` checks, in its order.
    fn check_new(&self) -> Result<()> {
        let l = limits();
        if self.size < 1 || self.size > l.shmmax {
            return Err(Errno::EINVAL);
        }
        let numpages = pages(self.size);
        let total: u64 = live_segments(&self.segments).map(|s| pages(s.size.load(Relaxed))).sum();
        if numpages.checked_mul(page_size()).is_none() || total.checked_add(numpages).is_none_or(|t| t > l.shmall) {
            return Err(Errno::ENOSPC);
        }
        if self.flags & SHM_HUGETLB != 0 {
            return hugetlb_check(self.size, self.flags);
        }
        // shmem's file setup: a size that is negative as a loff_t.
        if self.size > i64::MAX as u64 {
            return Err(Errno::EINVAL);
        }
        Ok(())
    }

    fn init(&self, seg: &ShmSegment, id: i32) -> Result<()> {
        let chunks = (pages(self.size) * page_size()).div_ceil(CHUNK_SIZE);
        let owner = ipc::owner_of(&self.segments, id);
        let unbacked = self.flags & SHM_NORESERVE != 0 && chunks > self.ns.chunk_count() as u64;
        if unbacked {
            // Linux makes it, and fails to map it (it exceeds the address
            // space); it never needs memory here either.
            seg.extent_first.store(0, Relaxed);
            seg.extent_chunks.store(0, Relaxed);
        } else {
            let chunks = u32::try_from(chunks).map_err(|_| Errno::ENOMEM)?;
            let first = self.ns.claim_extent(owner, chunks)?;
            seg.extent_first.store(first, Relaxed);
            seg.extent_chunks.store(chunks, Relaxed);
            // Reused chunks hold old bytes: a new segment reads as zeros.
            self.ns.zero(self.ns.extent(owner, first, chunks).ok_or(Errno::EIO)?);
        }
        seg.size.store(self.size, Relaxed);
        seg.locked_by.store(0, Relaxed);
        seg.cpid.store(platform::pid(), Relaxed);
        seg.lpid.store(0, Relaxed);
        seg.atime.store(0, Relaxed);
        seg.dtime.store(0, Relaxed);
        Ok(())
    }
}

/// SHM_HUGETLB: Linux backs the segment with huge pages, reserved at
/// creation (unless SHM_NORESERVE): ENOMEM when the pool does not have them
/// free, EINVAL for a page size the system does not have. The shim backs
/// it with ordinary pages once Linux would have agreed.
fn hugetlb_check(size: u64, flags: i32) -> Result<()> {
    const SHM_HUGE_SHIFT: i32 = 26;
    let log2 = (flags >> SHM_HUGE_SHIFT) & 0x3f;
    let page_kib = match log2 {
        0 => meminfo("Hugepagesize:").unwrap_or(0),
        n => 1u64.checked_shl(n as u32).map_or(0, |b| b / 1024),
    };
    let sysfs = format!("/sys/kernel/mm/hugepages/hugepages-{page_kib}kB/free_hugepages");
    let free = platform::sysctl_values(&sysfs).and_then(|v| v.first().copied());
    let Some(free) = free else { return Err(Errno::EINVAL) }; // no such huge page size
                                                              // Without CAP_IPC_LOCK or the hugetlb_shm_group, the pages count as
                                                              // locked memory, within RLIMIT_MEMLOCK (Linux's user_shm_lock).
    let group = platform::sysctl_values("/proc/sys/vm/hugetlb_shm_group").and_then(|v| v.first().copied());
    let privileged = platform::with_credentials(|c| {
        c.has_cap(platform::CAP_IPC_LOCK) || group.is_some_and(|g| c.in_group(g as u32))
    });
    if !privileged && platform::memlock_limit().is_some_and(|limit| pages(size) > limit / page_size()) {
        return Err(Errno::EPERM);
    }
    if flags & SHM_NORESERVE != 0 {
        return Ok(());
    }
    let needed = size.div_ceil(page_kib.max(1) * 1024);
    if needed > free {
        return Err(Errno::ENOMEM);
    }
    Ok(())
}

/// A value (kB) from /proc/meminfo.
fn meminfo(field: &str) -> Option<u64> {
    let mut buf = vec![0u8; 8192];
    let text = std::str::from_utf8(platform::read_small(c"/proc/meminfo", &mut buf)?).ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    line[field.len()..].split_whitespace().next()?.parse().ok()
}

fn live_segments<'r>(segments: &Objects<'r, ShmSegment>) -> impl Iterator<Item = &'r ShmSegment> + 'r {
    registry::live_objects(segments)
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

/// Locks segment `seg`, and checks that it still is segment `id`.
fn lock<'r>(seg: &'r ShmSegment, id: i32) -> Result<Guard<'r>> {
    let guard = seg.header.lock.lock();
    if !seg.header.holds(id) {
        return Err(Errno::EIDRM);
    }
    Ok(guard)
}

/// shmat(2), after [`check_attach_address`]: maps segment `id`.
pub fn attach(ns: &Namespace, id: i32, at: Option<usize>, flags: i32) -> Result<usize> {
    if id < 0 {
        return Err(Errno::EINVAL);
    }
    let segments = segments(ns)?;
    let attachments = Attachments::of(ns)?;
    let seg = registry::lookup(&segments, id)?;
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
    let extent = seg.extent(ns, &segments).ok_or(Errno::ENOMEM)?;
    let mut prot = libc::PROT_READ;
    if !readonly {
        prot |= libc::PROT_WRITE;
    }
    if flags & SHM_EXEC != 0 {
        prot |= libc::PROT_EXEC;
    }
    let me = ns.me()?;
    let addr = ns.map_extent(extent, len, prot, at, replace)?;
    {
        let counted = lock(seg, id).map(|_guard| {
            let counted = attachments.adjust(ns, id, me, 1);
            if counted {
                seg.lpid.store(platform::pid(), Relaxed);
                seg.atime.store(platform::now_secs(), Relaxed);
            }
            counted
        });
        if counted != Ok(true) {
            platform::unmap(addr, len);
            return Err(counted.err().unwrap_or(Errno::ENOMEM));
        }
    }
    // SHM_REMAP may have mapped over attachments of ours: those are over.
    let replaced: Vec<Local> = {
        let mut list = LOCAL.lock();
        let inside = take_inside(&mut list, addr, len);
        list.push(Local { addr, len, shm_id: id });
        inside
    };
    for old in replaced {
        end_attachment(ns, old.shm_id, me, false);
    }
    Ok(addr)
}

/// shmdt(2); how many bytes it unmapped.
pub fn detach(ns: &Namespace, addr: usize) -> Result<usize> {
    let local = {
        let mut list = LOCAL.lock();
        // The latest attachment at that address is the one whose pages are
        // there (SHM_REMAP may have mapped over the start of an older one).
        let position = list.iter().rposition(|a| a.addr == addr).ok_or(Errno::EINVAL)?;
        list.remove(position)
    };
    platform::unmap(local.addr, local.len);
    end_attachment(ns, local.shm_id, ns.me()?, true);
    Ok(local.len)
}

/// The program unmapped `[addr, addr + len)` itself: attachments wholly
/// inside it are over, as when Linux closes their mappings.
pub fn unmapped(ns: &Namespace, addr: usize, len: usize) {
    let gone = take_inside(&mut LOCAL.lock(), addr, len);
    let me = ProcRef::from(platform::process());
    for a in gone {
        end_attachment(ns, a.shm_id, me, false);
    }
}

/// Takes the attachments that lie wholly inside `[addr, addr + len)` out
/// of `list` (without allocating when there are none, the usual case).
fn take_inside(list: &mut Vec<Local>, addr: usize, len: usize) -> Vec<Local> {
    let inside = |a: &Local| a.addr >= addr && a.addr + a.len <= addr.saturating_add(len);
    if !list.iter().any(inside) {
        return Vec::new();
    }
    let (inside, kept) = list.drain(..).partition(inside);
    *list = kept;
    inside
}

/// One attachment of `id` by `who` is over; destroys the segment if it
/// was the last one of a removed segment.
fn end_attachment(ns: &Namespace, id: i32, who: ProcRef, by_detach: bool) {
    let (Ok(segments), Ok(attachments)) = (segments(ns), Attachments::of(ns)) else { return };
    let Ok(seg) = registry::lookup(&segments, id) else { return };
    if let Ok(_guard) = lock(seg, id) {
        attachments.adjust(ns, id, who, -1);
        if by_detach {
            seg.lpid.store(platform::pid(), Relaxed);
            seg.dtime.store(platform::now_secs(), Relaxed);
        }
    }
    destroy_if_unused(ns, &segments, id);
}

/// All of `who`'s attachments of `id` are over (its image is gone).
fn end_attachments(ns: &Namespace, id: i32, who: ProcRef) {
    let (Ok(segments), Ok(attachments)) = (segments(ns), Attachments::of(ns)) else { return };
    match registry::lookup(&segments, id) {
        Ok(seg) => {
            if let Ok(_guard) = lock(seg, id) {
                attachments.forget(who, id);
            }
            destroy_if_unused(ns, &segments, id);
        }
        Err(_) => attachments.forget(who, id),
    }
}

/// Destroys segment `id` if it is marked SHM_DEST and nobody has it
/// attached. Takes the registry lock first (lock order), then the segment's.
fn destroy_if_unused(ns: &Namespace, segments: &Objects<ShmSegment>, id: i32) {
    let Ok(seg) = registry::lookup(segments, id) else { return };
    if seg.header.perm.mode.load(Relaxed) & SHM_DEST == 0 {
        return;
    }
    let registry_guard = registry::lock(segments);
    let Ok(_guard) = lock(seg, id) else { return };
    let attachments = Attachments::of(ns);
    let unused = attachments.is_ok_and(|a| a.count(id) == 0);
    if seg.header.perm.mode.load(Relaxed) & SHM_DEST != 0 && unused {
        destroy(ns, segments, &registry_guard, seg, id);
    }
}

/// Removes the segment: its id stops resolving (the commit point), then its
/// memory goes back. Dying in between leaves chunks owned by a segment that
/// no longer exists, which the next claimer takes over.
fn destroy(ns: &Namespace, segments: &Objects<ShmSegment>, registry_guard: &Guard, seg: &ShmSegment, id: i32) {
    registry::remove(segments, registry_guard, seg, 0);
    let owner = ipc::owner_of(segments, id);
    ns.release_extent(owner, seg.extent_first.load(Relaxed), seg.extent_chunks.load(Relaxed));
}

/// Destroys removed segments whose last attached process died.
fn sweep(ns: &Namespace, segments: &Objects<ShmSegment>) {
    for seg in live_segments(segments).filter(|s| s.header.perm.mode.load(Relaxed) & SHM_DEST != 0) {
        destroy_if_unused(ns, segments, seg.header.id());
    }
}
