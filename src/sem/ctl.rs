//! semctl(2).

use super::set::{Change, SemSet, SEMAEM, SEMVMX};
use super::{limits, lock, set_of, wait, Sets};
use crate::error::{Errno, Result};
use crate::ipc::{self, registry};
use crate::platform;
use crate::region::Region;
use std::sync::atomic::Ordering::Relaxed;

/// glibc's `struct seminfo` (IPC_INFO, SEM_INFO).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct SemInfo {
    pub semmap: i32,
    pub semmni: i32,
    pub semmns: i32,
    pub semmnu: i32,
    pub semmsl: i32,
    pub semopm: i32,
    pub semume: i32,
    pub semusz: i32,
    pub semvmx: i32,
    pub semaem: i32,
}

/// A semctl command with its argument, as read from the C call.
pub enum Command<'a> {
    Info {
        sem_info: bool,
    },
    /// IPC_STAT (by id), SEM_STAT and SEM_STAT_ANY (by index).
    Stat {
        by_index: bool,
        check_read: bool,
    },
    GetVal,
    GetPid,
    GetNcnt,
    GetZcnt,
    GetAll,
    SetVal(i32),
    /// SETALL: reads the caller's array once the set's size is known.
    SetAll(&'a dyn Fn(usize) -> Result<Vec<u16>>),
    /// IPC_SET with the caller's buffer (None: it could not be read).
    Set(Option<libc::semid_ds>),
    Remove,
}

pub enum Reply {
    Value(i32),
    Stat(i32, libc::semid_ds),
    Info(i32, SemInfo),
    All(Vec<u16>),
}

/// Linux's compile-time constants that IPC_INFO reports (include/uapi/linux/sem.h).
const SEMMNS_DEFAULT: i32 = 32000 * 32000;
const SEMOPM_DEFAULT: i32 = 500;
const SEMUSZ: i32 = 20;

pub fn control(region: &Region, id: i32, semnum: i32, command: Command) -> Result<Reply> {
    if id < 0 {
        return Err(Errno::EINVAL);
    }
    match command {
        Command::Info { sem_info } => Ok(info(region, sem_info)),
        Command::Stat { by_index, check_read } => stat(region, id, by_index, check_read),
        Command::SetVal(value) => set_value(region, id, semnum, value).map(Reply::Value),
        Command::Set(new) => set_attributes(region, id, &new.ok_or(Errno::EFAULT)?).map(Reply::Value),
        Command::Remove => remove(region, id).map(Reply::Value),
        Command::SetAll(read) => set_all(region, id, read).map(Reply::Value),
        query => get(region, id, semnum, query),
    }
}

fn info(region: &Region, sem_info: bool) -> Reply {
    let l = limits();
    let sets = Sets(region);
    let mut out = SemInfo {
        semmni: l.semmni as i32,
        semmns: l.semmns.min(i32::MAX as u64) as i32,
        semmsl: l.semmsl as i32,
        semopm: l.semopm as i32,
        semvmx: SEMVMX,
        semmnu: SEMMNS_DEFAULT,
        semmap: SEMMNS_DEFAULT,
        semume: SEMOPM_DEFAULT,
        semusz: SEMUSZ,
        semaem: SEMAEM,
    };
    if sem_info {
        let live: Vec<_> = registry::live_objects(&sets).collect();
        out.semusz = live.len() as i32;
        out.semaem = live
            .iter()
            .filter_map(|o| region.sem_set(ipc::index_of(o.id.load(Relaxed))))
            .map(|s| s.nsems.load(Relaxed) as i32)
            .sum();
    }
    Reply::Info(registry::max_index(&sets).map_or(0, |i| i as i32), out)
}

fn stat(region: &Region, id: i32, by_index: bool, check_read: bool) -> Result<Reply> {
    let set = if by_index {
        let set = region.sem_set(ipc::index_of(id)).ok_or(Errno::EINVAL)?;
        if !set.header.holds(set.header.id.load(Relaxed)) {
            return Err(Errno::EINVAL);
        }
        set
    } else {
        set_of(region, id)?
    };
    let live_id = set.header.id.load(Relaxed);
    let (guard, storage) = lock(region, set, live_id).map_err(|_| Errno::EINVAL)?;
    if check_read {
        platform::with_credentials(|c| set.header.perm.check(c, 0o444))?;
    }
    let woken = wait::reap(region, set, &storage, wait::Look::Quick);
    drop(guard);
    wait::wake(&woken);
    // SAFETY: semid_ds is plain data; all-zero is valid (reserved fields zero).
    let mut ds: libc::semid_ds = unsafe { std::mem::zeroed() };
    ds.sem_perm = set.header.perm.to_libc();
    ds.sem_otime = set.otime.load(Relaxed);
    ds.sem_ctime = set.header.ctime.load(Relaxed);
    ds.sem_nsems = set.nsems.load(Relaxed) as _;
    Ok(Reply::Stat(if by_index { live_id } else { 0 }, ds))
}

/// GETVAL, GETPID, GETNCNT, GETZCNT, GETALL.
fn get(region: &Region, id: i32, semnum: i32, query: Command) -> Result<Reply> {
    let set = set_of(region, id)?;
    let (guard, storage) = lock(region, set, id)?;
    platform::with_credentials(|c| set.header.perm.check(c, 0o444))?;
    // Dead processes must not be counted as waiting, nor hold what their
    // undo would give back.
    let counting = matches!(query, Command::GetNcnt | Command::GetZcnt);
    let look = if counting || wait::reap_due(set) { wait::Look::Thorough } else { wait::Look::Quick };
    let woken = wait::reap(region, set, &storage, look);
    let reply = if let Command::GetAll = query {
        Ok(Reply::All((0..storage.nsems()).map(|s| storage.value(s) as u16).collect()))
    } else if semnum < 0 || semnum as u32 >= storage.nsems() {
        Err(Errno::EINVAL)
    } else {
        let sem = semnum as u32;
        Ok(Reply::Value(match query {
            Command::GetVal => storage.value(sem),
            Command::GetPid => storage.sem(sem).map_or(0, |s| s.pid.load(Relaxed)),
            Command::GetNcnt => wait::count_waiting(region, set, sem, false),
            _ => wait::count_waiting(region, set, sem, true),
        }))
    };
    drop(guard);
    wait::wake(&woken);
    reply
}

/// Runs a change of values by semctl: permission (write), journal, ctime,
/// then whatever the change makes possible.
fn change_values(
    region: &Region,
    id: i32,
    make: impl FnOnce(&SemSet, &super::set::Storage) -> Result<Vec<Change>>,
) -> Result<i32> {
    let set = set_of(region, id)?;
    let (guard, storage) = lock(region, set, id)?;
    platform::with_credentials(|c| set.header.perm.check(c, 0o222))?;
    let changes = make(set, &storage)?;
    storage.commit(&changes)?;
    set.header.ctime.store(platform::now_secs(), Relaxed);
    let woken = wait::update_queue(region, set, &storage);
    drop(guard);
    wait::wake(&woken);
    Ok(0)
}

fn set_value(region: &Region, id: i32, semnum: i32, value: i32) -> Result<i32> {
    if !(0..=SEMVMX).contains(&value) {
        return Err(Errno(libc::ERANGE));
    }
    let set = set_of(region, id)?;
    if semnum < 0 || semnum as u32 >= set.nsems.load(Relaxed) {
        return Err(Errno::EINVAL);
    }
    let sem = semnum as u32;
    let pid = platform::pid();
    change_values(region, id, |_, _| {
        Ok(vec![Change::Value { sem, value }, Change::Pid { sem, pid }, Change::ForgetSem { sem }])
    })
}

fn set_all(region: &Region, id: i32, read: &dyn Fn(usize) -> Result<Vec<u16>>) -> Result<i32> {
    let pid = platform::pid();
    change_values(region, id, |_, storage| {
        let values = read(storage.nsems() as usize)?;
        if values.iter().any(|&v| v as i32 > SEMVMX) {
            return Err(Errno(libc::ERANGE));
        }
        let mut changes: Vec<Change> = Vec::with_capacity(values.len() * 2 + 1);
        for (sem, &value) in values.iter().enumerate() {
            changes.push(Change::Value { sem: sem as u32, value: value as i32 });
            changes.push(Change::Pid { sem: sem as u32, pid });
        }
        changes.push(Change::ForgetAll);
        Ok(changes)
    })
}

fn set_attributes(region: &Region, id: i32, new: &libc::semid_ds) -> Result<i32> {
    let set = set_of(region, id)?;
    let (_guard, _storage) = lock(region, set, id)?;
    set.header.set_perm(&new.sem_perm).map(|()| 0)
}

fn remove(region: &Region, id: i32) -> Result<i32> {
    let sets = Sets(region);
    let registry_guard = registry::lock(&sets);
    let set = set_of(region, id)?;
    let (guard, _storage) = lock(region, set, id)?;
    platform::with_credentials(|c| set.header.perm.check_owner(c))?;
    registry::remove(&registry_guard, &set.header);
    let woken = wait::remove_all(region, set);
    set.release_storage(region);
    drop(guard);
    wait::wake(&woken);
    Ok(0)
}
