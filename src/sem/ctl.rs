//! semctl(2).

use super::set::{Change, SEMAEM, SEMVMX};
use super::{limits, lock, lock_after_reaping, sets, undo, wait, with_set, SemSet};
use crate::error::{Errno, Result};
use crate::ipc::{self, registry};
use crate::platform;
use crate::process::inspect::{Detail, Object, Party, Role, Semaphore};
use crate::process::{Look, Namespace};
use crate::wait::Wakeups;
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

pub fn control(ns: &Namespace, id: i32, semnum: i32, command: Command) -> Result<Reply> {
    if id < 0 {
        return Err(Errno::EINVAL);
    }
    match command {
        Command::Info { sem_info } => info(ns, sem_info),
        Command::Stat { by_index, check_read } => stat(ns, id, by_index, check_read),
        Command::SetVal(value) => set_value(ns, id, semnum, value).map(Reply::Value),
        Command::Set(new) => set_attributes(ns, id, &new.ok_or(Errno::EFAULT)?).map(Reply::Value),
        Command::Remove => remove(ns, id).map(Reply::Value),
        Command::SetAll(read) => set_all(ns, id, read).map(Reply::Value),
        query => get(ns, id, semnum, query),
    }
}

fn info(ns: &Namespace, sem_info: bool) -> Result<Reply> {
    let l = limits();
    let sets = sets(ns)?;
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
        let live: Vec<&SemSet> = registry::live_objects(&sets).collect();
        out.semusz = live.len() as i32;
        out.semaem = live.iter().map(|s| s.nsems.load(Relaxed) as i32).sum();
    }
    Ok(Reply::Info(registry::max_index(&sets).map_or(0, |i| i as i32), out))
}

fn stat(ns: &Namespace, id: i32, by_index: bool, check_read: bool) -> Result<Reply> {
    let sets = sets(ns)?;
    let set = if by_index { registry::at_index(&sets, id)? } else { registry::lookup(&sets, id)? };
    let live_id = set.header.id();
    let _locked = lock_after_reaping(ns, &sets, set, live_id, Look::Quick).map_err(|_| Errno::EINVAL)?;
    if check_read {
        platform::with_credentials(|c| set.header.perm.check(c, 0o444))?;
    }
    // SAFETY: semid_ds is plain data; all-zero is valid (reserved fields zero).
    let mut ds: libc::semid_ds = unsafe { std::mem::zeroed() };
    ds.sem_perm = set.header.perm.to_libc();
    ds.sem_otime = set.otime.load(Relaxed);
    ds.sem_ctime = set.header.ctime.load(Relaxed);
    ds.sem_nsems = set.nsems.load(Relaxed) as _;
    Ok(Reply::Stat(if by_index { live_id } else { 0 }, ds))
}

/// Every live set, as SEM_STAT_ANY shows it, with each semaphore's value,
/// waiters and last pid, and the processes waiting on it or holding undo
/// records in it: read as GETVAL and the other queries read them (after
/// reaping the dead around the set, with read permission), in one hold of
/// its lock. A set the caller may not read shows zeros and no processes.
pub(super) fn describe(ns: &Namespace) -> Result<Vec<Object>> {
    let Some(last) = registry::max_index(&sets(ns)?) else { return Ok(Vec::new()) };
    let mut rows = Vec::new();
    for index in 0..=last as i32 {
        let Ok(Reply::Stat(id, ds)) = stat(ns, index, true, false) else { continue };
        let read = with_set(ns, id, Some(Look::Thorough), |storage, _| {
            platform::with_credentials(|c| storage.set.header.perm.check(c, 0o444))?;
            Ok(activity(storage))
        });
        let (semaphores, parties) = read.unwrap_or_else(|_| {
            let zero = Semaphore { value: 0, waiting_increase: 0, waiting_zero: 0, last_pid: 0 };
            (vec![zero; ds.sem_nsems as usize], Vec::new())
        });
        let detail = Detail::Sem { semaphores, op_time: ds.sem_otime, change_time: ds.sem_ctime };
        rows.push(Object::from_ipc_perm(id, &ds.sem_perm, detail, parties));
    }
    Ok(rows)
}

/// A locked set's semaphores, its sleepers (by the operation that blocks
/// them) and the holders of its undo records.
fn activity(storage: &super::Storage) -> (Vec<Semaphore>, Vec<Party>) {
    let sleepers = wait::sleepers(storage);
    let count = |sem: u32, zero: bool| sleepers.iter().filter(|&&(_, s, z)| (s, z) == (sem, zero)).count() as i32;
    let semaphores = (0..storage.nsems())
        .map(|sem| Semaphore {
            value: storage.value(sem),
            waiting_increase: count(sem, false),
            waiting_zero: count(sem, true),
            last_pid: storage.sem(sem).map_or(0, |s| s.pid.load(Relaxed)),
        })
        .collect();
    let waiting = sleepers.iter().map(|&(who, sem, zero)| Party {
        pid: who.pid(),
        role: if zero { Role::Zero(sem) } else { Role::Increase(sem) },
    });
    let undos = storage.undos();
    let holding = undos
        .of_set(&storage.set.undo_list())
        .into_iter()
        .filter_map(|(record, _)| undo::holder(&undos, record))
        .map(|who| Party { pid: who.pid(), role: Role::Undo });
    (semaphores, waiting.chain(holding).collect())
}

/// GETVAL, GETPID, GETNCNT, GETZCNT, GETALL: after reaping the dead around
/// the set, so that what a query shows is what Linux shows once they exit
/// (a killed sleeper is no longer counted, a killed holder's undo is applied).
fn get(ns: &Namespace, id: i32, semnum: i32, query: Command) -> Result<Reply> {
    let counting = matches!(query, Command::GetNcnt | Command::GetZcnt);
    with_set(ns, id, Some(if counting { Look::Thorough } else { Look::Quick }), |storage, _| {
        platform::with_credentials(|c| storage.set.header.perm.check(c, 0o444))?;
        if let Command::GetAll = query {
            return Ok(Reply::All((0..storage.nsems()).map(|s| storage.value(s) as u16).collect()));
        }
        if semnum < 0 || semnum as u32 >= storage.nsems() {
            return Err(Errno::EINVAL);
        }
        let sem = semnum as u32;
        Ok(Reply::Value(match query {
            Command::GetVal => storage.value(sem),
            Command::GetPid => storage.sem(sem).map_or(0, |s| s.pid.load(Relaxed)),
            Command::GetNcnt => wait::count_waiting(storage, sem, false),
            _ => wait::count_waiting(storage, sem, true),
        }))
    })
}

/// Runs a change of values by semctl: permission (write), journal, ctime,
/// then whatever the change makes possible.
fn change_values(
    ns: &Namespace,
    id: i32,
    make: impl FnOnce(&super::Storage<'_>) -> Result<Vec<Change>>,
) -> Result<i32> {
    with_set(ns, id, None, |storage, wakeups| {
        platform::with_credentials(|c| storage.set.header.perm.check(c, 0o222))?;
        let changes = make(storage)?;
        storage.commit(&changes, wakeups)?;
        storage.set.header.ctime.store(platform::now_secs(), Relaxed);
        Ok(0)
    })
}

fn set_value(ns: &Namespace, id: i32, semnum: i32, value: i32) -> Result<i32> {
    if !(0..=SEMVMX).contains(&value) {
        return Err(Errno::ERANGE);
    }
    let set = registry::lookup(&sets(ns)?, id)?;
    if semnum < 0 || semnum as u32 >= set.nsems.load(Relaxed) {
        return Err(Errno::EINVAL);
    }
    let sem = semnum as u32;
    let pid = platform::pid();
    change_values(ns, id, |_| {
        Ok(vec![Change::Value { sem, value }, Change::Pid { sem, pid }, Change::ForgetSem { sem }])
    })
}

fn set_all(ns: &Namespace, id: i32, read: &dyn Fn(usize) -> Result<Vec<u16>>) -> Result<i32> {
    let pid = platform::pid();
    change_values(ns, id, |storage| {
        let values = read(storage.nsems() as usize)?;
        if values.iter().any(|&v| v as i32 > SEMVMX) {
            return Err(Errno::ERANGE);
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

fn set_attributes(ns: &Namespace, id: i32, new: &libc::semid_ds) -> Result<i32> {
    let sets = sets(ns)?;
    let set = registry::lookup(&sets, id)?;
    let _locked = lock(ns, &sets, set, id)?;
    set.header.set_perm(&new.sem_perm).map(|()| 0)
}

/// IPC_RMID. The commit point is the store that frees the slot (see
/// `ipc::ObjectHeader`): from then on the set's chunks are abandoned, its
/// undo records belong to nothing (their holders free them as they go),
/// and its sleepers return EIDRM, settled here or, if we die first, at
/// their next look.
fn remove(ns: &Namespace, id: i32) -> Result<i32> {
    let sets = sets(ns)?;
    let registry_guard = registry::lock(&sets);
    let set = registry::lookup(&sets, id)?;
    let locked = lock(ns, &sets, set, id)?;
    platform::with_credentials(|c| set.header.perm.check_owner(c))?;
    registry::remove(&sets, &registry_guard, set, set.nsems.load(Relaxed));
    crate::crash_point::here("sem-remove-after-commit");
    let storage = &locked.storage;
    let mut wakeups = Wakeups::default();
    storage.waits().remove_all(&set.waiters, storage.owner, &mut wakeups);
    let undos = storage.undos();
    for (record, _) in undos.of_set(&set.undo_list()) {
        undos.release(record);
    }
    set.undo_head.store(0, Relaxed);
    set.release_storage(ns, ipc::owner_of(&sets, id));
    drop(locked);
    drop(registry_guard);
    wakeups.wake();
    Ok(0)
}
