//! shmctl(2).

use super::attach::Attachments;
use super::{destroy, limits, live_segments, lock, page_size, pages, segments, sweep, ShmSegment};
use super::{SHM_DEST, SHM_LOCKED};
use crate::error::{Errno, Result};
use crate::ipc::registry;
use crate::platform::{self, CAP_IPC_LOCK};
use crate::process::inspect::{Detail, Object, Party, Role};
use crate::process::Namespace;
use std::sync::atomic::Ordering::Relaxed;

/// glibc's `struct shminfo` (IPC_INFO).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct ShmInfo {
    pub shmmax: libc::c_ulong,
    pub shmmin: libc::c_ulong,
    pub shmmni: libc::c_ulong,
    pub shmseg: libc::c_ulong,
    pub shmall: libc::c_ulong,
    pub unused: [libc::c_ulong; 4],
}

/// glibc's `struct shm_info` (SHM_INFO).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct ShmInfoTotals {
    pub used_ids: libc::c_int,
    pub shm_tot: libc::c_ulong,
    pub shm_rss: libc::c_ulong,
    pub shm_swp: libc::c_ulong,
    pub swap_attempts: libc::c_ulong,
    pub swap_successes: libc::c_ulong,
}

pub enum Command {
    Info,
    InfoTotals,
    /// IPC_STAT (by id), SHM_STAT and SHM_STAT_ANY (by index).
    Stat {
        by_index: bool,
        check_read: bool,
    },
    /// IPC_SET with the caller's buffer (None: it could not be read).
    Set(Option<libc::shmid_ds>),
    Remove,
    Lock(bool),
}

pub enum Reply {
    Done(i32),
    Stat(i32, libc::shmid_ds),
    Info(i32, ShmInfo),
    Totals(i32, ShmInfoTotals),
}

/// Linux's SHMSEG: attachments per process (not enforced), reported by IPC_INFO.
const SHMSEG: libc::c_ulong = 4096;

pub fn control(ns: &Namespace, id: i32, command: Command) -> Result<Reply> {
    if id < 0 {
        return Err(Errno::EINVAL);
    }
    match command {
        Command::Info => {
            let l = limits();
            let info = ShmInfo {
                shmmax: l.shmmax as _,
                shmmin: 1,
                shmmni: l.shmmni as _,
                shmseg: SHMSEG,
                shmall: l.shmall as _,
                unused: [0; 4],
            };
            Ok(Reply::Info(max_index(ns)?, info))
        }
        Command::InfoTotals => {
            let segments = segments(ns)?;
            sweep(ns, &segments);
            let (mut count, mut total) = (0, 0u64);
            for s in live_segments(&segments) {
                count += 1;
                total += pages(s.size.load(Relaxed));
            }
            let totals =
                ShmInfoTotals { used_ids: count, shm_tot: total as _, shm_rss: total as _, ..Default::default() };
            Ok(Reply::Totals(max_index(ns)?, totals))
        }
        Command::Stat { by_index, check_read } => stat(ns, id, by_index, check_read),
        Command::Set(new) => set_attributes(ns, id, &new.ok_or(Errno::EFAULT)?).map(Reply::Done),
        Command::Remove => remove(ns, id).map(Reply::Done),
        Command::Lock(on) => lock_memory(ns, id, on).map(Reply::Done),
    }
}

fn max_index(ns: &Namespace) -> Result<i32> {
    Ok(registry::max_index(&segments(ns)?).map_or(0, |i| i as i32))
}

fn stat(ns: &Namespace, id: i32, by_index: bool, check_read: bool) -> Result<Reply> {
    let segments = segments(ns)?;
    sweep(ns, &segments);
    let seg = if by_index { registry::at_index(&segments, id)? } else { registry::lookup(&segments, id)? };
    let live_id = seg.header.id();
    let _guard = lock(seg, live_id).map_err(|_| Errno::EINVAL)?;
    if check_read {
        platform::with_credentials(|c| seg.header.perm.check(c, 0o444))?;
    }
    // SAFETY: shmid_ds is plain data; all-zero is valid.
    let mut ds: libc::shmid_ds = unsafe { std::mem::zeroed() };
    ds.shm_perm = seg.header.perm.to_libc();
    ds.shm_segsz = seg.size.load(Relaxed) as _;
    ds.shm_atime = seg.atime.load(Relaxed);
    ds.shm_dtime = seg.dtime.load(Relaxed);
    ds.shm_ctime = seg.header.ctime.load(Relaxed);
    ds.shm_cpid = seg.cpid.load(Relaxed);
    ds.shm_lpid = seg.lpid.load(Relaxed);
    ds.shm_nattch = Attachments::of(ns)?.count(live_id) as _;
    Ok(Reply::Stat(if by_index { live_id } else { 0 }, ds))
}

/// Every live segment (and every removed one still attached), as
/// SHM_STAT_ANY shows it, with the processes that have it attached.
pub(super) fn describe(ns: &Namespace) -> Result<Vec<Object>> {
    let last = max_index(ns)?;
    let attachments = Attachments::of(ns)?;
    let stat = |index| control(ns, index, Command::Stat { by_index: true, check_read: false });
    let rows = (0..=last).filter_map(|index| match stat(index) {
        Ok(Reply::Stat(id, ds)) => {
            let parties = holders(ns, &attachments, id);
            Some(Object::from_ipc_perm(id, &ds.shm_perm, detail_of(&ds), parties))
        }
        _ => None,
    });
    Ok(rows.collect())
}

/// The processes that have segment `id` attached, read under its lock
/// (none if it is gone meanwhile).
fn holders(ns: &Namespace, attachments: &Attachments, id: i32) -> Vec<Party> {
    let Ok(segments) = segments(ns) else { return Vec::new() };
    let Ok(seg) = registry::lookup(&segments, id) else { return Vec::new() };
    let Ok(_guard) = lock(seg, id) else { return Vec::new() };
    let holders = attachments.holders(id);
    holders.into_iter().map(|(who, count)| Party { pid: who.pid(), role: Role::Attached(count) }).collect()
}

#[allow(clippy::unnecessary_cast)] // the fields are narrower on 32-bit targets
fn detail_of(ds: &libc::shmid_ds) -> Detail {
    Detail::Shm {
        size: ds.shm_segsz as u64,
        attached: ds.shm_nattch as u64,
        creator_pid: ds.shm_cpid,
        last_pid: ds.shm_lpid,
        attach_time: ds.shm_atime,
        detach_time: ds.shm_dtime,
        change_time: ds.shm_ctime,
    }
}

fn set_attributes(ns: &Namespace, id: i32, new: &libc::shmid_ds) -> Result<i32> {
    let seg = registry::lookup(&segments(ns)?, id)?;
    let _guard = lock(seg, id)?;
    seg.header.set_perm(&new.shm_perm).map(|()| 0)
}

/// IPC_RMID: the key is freed at once; the segment lives on, SHM_DEST,
/// until its last attachment ends.
fn remove(ns: &Namespace, id: i32) -> Result<i32> {
    let segments = segments(ns)?;
    let registry_guard = registry::lock(&segments);
    let seg: &ShmSegment = registry::lookup(&segments, id)?;
    let _guard = lock(seg, id).map_err(|_| Errno::EINVAL)?;
    platform::with_credentials(|c| seg.header.perm.check_owner(c))?;
    if Attachments::of(ns)?.count(id) == 0 {
        destroy(ns, &segments, &registry_guard, seg, id);
    } else {
        seg.header.perm.mode.fetch_or(SHM_DEST, Relaxed);
        seg.header.perm.key.store(libc::IPC_PRIVATE, Relaxed);
    }
    Ok(0)
}

/// SHM_LOCK / SHM_UNLOCK: the SHM_LOCKED flag, with Linux's checks and
/// its accounting of locked memory against the locking user's
/// RLIMIT_MEMLOCK (the pages themselves are reserved pages of the
/// region, never swapped out by us).
fn lock_memory(ns: &Namespace, id: i32, on: bool) -> Result<i32> {
    let segments = segments(ns)?;
    let seg = registry::lookup(&segments, id)?;
    let _guard = lock(seg, id)?;
    let (euid, privileged) = platform::with_credentials(|c| {
        if !c.has_cap(CAP_IPC_LOCK) {
            if c.euid != seg.header.perm.uid.load(Relaxed) && c.euid != seg.header.perm.cuid.load(Relaxed) {
                return Err(Errno::EPERM);
            }
            if on && platform::memlock_limit() == Some(0) {
                return Err(Errno::EPERM);
            }
        }
        Ok((c.euid, c.has_cap(CAP_IPC_LOCK)))
    })?;
    let locked = seg.header.perm.mode.load(Relaxed) & SHM_LOCKED != 0;
    if on && !locked {
        let limit_pages = platform::memlock_limit().map(|bytes| bytes / page_size());
        let already: u64 = live_segments(&segments)
            .filter(|s| s.locked_by.load(Relaxed) == euid + 1)
            .map(|s| pages(s.size.load(Relaxed)))
            .sum();
        if !privileged && limit_pages.is_some_and(|limit| already + pages(seg.size.load(Relaxed)) > limit) {
            return Err(Errno::ENOMEM);
        }
        seg.locked_by.store(euid + 1, Relaxed);
        seg.header.perm.mode.fetch_or(SHM_LOCKED, Relaxed);
    } else if !on && locked {
        seg.locked_by.store(0, Relaxed);
        seg.header.perm.mode.fetch_and(!SHM_LOCKED, Relaxed);
    }
    Ok(0)
}
