//! System V semaphores with Linux's semantics (semop(2), semctl(2)).
//!
//! - `set`: a set's slot and storage; changes commit through a journal.
//! - `ops`: evaluating a semop against the current values (pure).
//! - `wait`: blocked operations, handed their result by whoever makes them
//!   possible.
//! - `undo`: SEM_UNDO records.
//! - `ctl`: semctl.
//!
//! A semop follows Linux's `do_semtimedop`: under the set's lock, evaluate;
//! apply (then hand off to sleepers what now can proceed), fail, or join
//! the set's wait queue and sleep until a waker grants or fails the
//! operations, the set goes away (EIDRM), a signal arrives (EINTR) or the
//! timeout passes (EAGAIN). When dead processes may be in the way (a
//! semop that would block, semctl's queries, a sleeper's periodic look),
//! the holders of the set's undo records and its sleepers are checked, and
//! the dead are reaped (their undo applied) before going on.

mod ctl;
mod ops;
mod set;
mod undo;
mod wait;

pub use ctl::{control, Command, Reply, SemInfo};
pub use ops::Sop;
pub use set::{SemSet, SEMVMX};

use crate::error::{Errno, Result};
use crate::ipc::{self, registry, Objects};
use crate::platform::{self, Once};
use crate::process::{inspect, Family, Look, Namespace, ProcRef, Scope};
use crate::region::{Guard, TableSpec};
use crate::wait::{Deadline, Slept, Waiter, Waits, Wakeups};
use ops::{evaluate, Outcome, Values};
use set::{Changes, Storage};
use smallvec::SmallVec;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;
use undo::Undos;

const TAG: u32 = TableSpec::tag(b"SEM3");

/// The system's limits, from /proc/sys/kernel/sem (Linux's defaults where
/// it is absent).
#[derive(Clone, Copy)]
pub struct Limits {
    pub semmsl: u32,
    pub semmns: u64,
    pub semopm: u32,
    pub semmni: u32,
}

pub fn limits() -> &'static Limits {
    static LIMITS: Once<Limits> = Once::new();
    LIMITS.get_or_init(|| {
        let v = platform::kernel_limits("sem").unwrap_or_default();
        let field = |i: usize, default: u64| v.get(i).copied().unwrap_or(default);
        Limits {
            semmsl: field(0, 32000).min(i32::MAX as u64) as u32,
            semmns: field(1, 1_024_000_000),
            semopm: field(2, 500).clamp(1, 65536) as u32,
            semmni: field(3, 32000).min(ipc::IPCMNI as u64) as u32,
        }
    })
}

/// Semaphore sets, as the namespace sees them.
pub struct SemFamily;

impl Family for SemFamily {
    fn tables(&self) -> Vec<TableSpec> {
        let sets = TableSpec {
            tag: TAG,
            prefix: ipc::registry::PREFIX_BYTES,
            stride: std::mem::size_of::<SemSet>() as u32,
            count: limits().semmni.max(1),
        };
        vec![sets, undo::spec()]
    }

    /// A process's waits end with its image; its undo is applied when the
    /// process ends (Linux's `exit_sem`).
    fn release(&self, ns: &Namespace, who: ProcRef, scope: Scope) {
        let (Ok(sets), Ok(waits), Ok(undos)) = (sets(ns), Waits::of(ns), Undos::of(ns)) else { return };
        for (index, record) in waits.owned_by(who) {
            let object = record.object();
            let Some(set) = sets.entry_of(object).and_then(|slot| sets.get(slot)) else { continue };
            if let Ok(locked) = lock(ns, &sets, set, object.generation() as i32) {
                waits.release_dead(ns, Some(&set.waiters), object, index, who);
                drop(locked);
            }
        }
        if scope == Scope::Image {
            return;
        }
        for (record, set_id) in undos.owned_by(who) {
            let set = registry::lookup(&sets, set_id).ok();
            match set.map(|set| lock(ns, &sets, set, set_id)) {
                // Another reaper of `who` applied it already (and someone
                // else may hold the record now).
                Some(Ok(_)) if undo::holder(&undos, record) != Some(who) => {}
                Some(Ok(locked)) => {
                    // Under the set's lock, where every reaper of `who`
                    // applies it: checked just above, applied and freed
                    // in one commit.
                    let mut wakeups = Wakeups::default();
                    let changes = locked.storage.unwind(record, who.pid());
                    if locked.storage.commit(&changes, &mut wakeups).is_ok() {
                        // As Linux's exit_sem: applying undo counts as an operation.
                        locked.storage.set.otime.store(platform::now_secs(), Relaxed);
                    }
                    wait::update_queue(&locked.storage, &mut wakeups);
                    drop(locked);
                    wakeups.wake();
                }
                // The set is gone: the record belongs to nothing.
                _ => undos.release_of(ns, record, who),
            }
        }
    }

    fn objects(&self, ns: &Namespace) -> Result<Vec<inspect::Object>> {
        ctl::describe(ns)
    }

    fn remove(&self, ns: &Namespace, kind: inspect::Kind, handle: &inspect::Handle) -> Option<Result<()>> {
        match (kind, handle) {
            (inspect::Kind::Sem, &inspect::Handle::Id(id)) => Some(control(ns, id, 0, Command::Remove).map(drop)),
            _ => None,
        }
    }
}

fn sets(ns: &Namespace) -> Result<Objects<'_, SemSet>> {
    ns.table(TAG)
}

impl Values for Storage<'_> {
    fn value(&self, sem: u32) -> i32 {
        Storage::value(self, sem)
    }
    fn adjustment(&self, undo: u32, sem: u32) -> i32 {
        self.undos().adjustment(&self.set.undo_list(), undo, sem)
    }
}

/// A set locked, with its storage.
pub(crate) struct Locked<'r> {
    pub storage: Storage<'r>,
    _guard: Guard<'r>,
}

/// Locks `set`, finishing a dead holder's journal if it left one, and
/// checks that it still is set `id` (EIDRM).
/// (Inlined: returned by value, the locked storage would be copied.)
#[inline(always)]
fn lock<'r>(ns: &'r Namespace, sets: &Objects<'r, SemSet>, set: &'r SemSet, id: i32) -> Result<Locked<'r>> {
    lock_as(ns, sets, set, id, platform::thread())
}

/// [`lock`], by the calling thread `me`.
#[inline(always)]
fn lock_as<'r>(
    ns: &'r Namespace,
    sets: &Objects<'r, SemSet>,
    set: &'r SemSet,
    id: i32,
    me: platform::Identity,
) -> Result<Locked<'r>> {
    let guard = set.header.lock.lock_as(me);
    if !set.header.holds(id) {
        return Err(Errno::EIDRM);
    }
    let owner = ipc::owner_of(sets, id);
    let storage = set.storage(ns, owner).ok_or(Errno::EIO)?;
    if guard.recovered {
        recover(&storage, id);
    }
    Ok(Locked { storage, _guard: guard })
}

/// With the lock taken over from a holder that died: finishes the commit
/// it made, if any, then the hand-offs it may not have made (whatever it
/// changed may let sleepers proceed).
#[cold]
fn recover(storage: &Storage, id: i32) {
    crate::log::diag(|| format!("sem set {id}: lock holder died; finishing its journal"));
    let mut wakeups = Wakeups::default();
    storage.redo(&mut wakeups);
    storage.waits().repair(&storage.set.waiters, storage.owner, &mut wakeups);
    wait::update_queue(storage, &mut wakeups);
    wakeups.wake();
}

/// The processes that may be in the way on a locked set and are dead by
/// `look`: holders of its undo records, and its sleepers.
fn dead_around(storage: &Storage, look: Look) -> SmallVec<[ProcRef; 2]> {
    let mut dead: SmallVec<[ProcRef; 2]> = SmallVec::new();
    let holders = storage
        .undos()
        .of_set(&storage.set.undo_list())
        .into_iter()
        .filter_map(|(i, _)| undo::holder(&storage.undos(), i));
    let sleepers = storage.waits().queued(&storage.set.waiters, storage.owner).into_iter().map(|(_, r)| r.owner());
    for who in holders.chain(sleepers) {
        if !dead.contains(&who) && look.dead(who) {
            dead.push(who);
        }
    }
    dead
}

/// Reaps `dead` (with no set locked).
fn reap(ns: &Namespace, dead: &[ProcRef]) {
    for &who in dead {
        ns.reap(who);
    }
}

/// Locks set `id` after reaping the dead processes that `look` finds
/// around it: what queries see is what Linux shows after their exit.
fn lock_after_reaping<'r>(
    ns: &'r Namespace,
    sets: &Objects<'r, SemSet>,
    set: &'r SemSet,
    id: i32,
    look: Look,
) -> Result<Locked<'r>> {
    let locked = lock(ns, sets, set, id)?;
    let dead = dead_around(&locked.storage, look);
    if dead.is_empty() {
        return Ok(locked);
    }
    drop(locked);
    reap(ns, &dead);
    lock(ns, sets, set, id)
}

/// Runs `f` on set `id`, locked; wakes the sleepers it settles afterwards.
fn with_set<'r, R>(
    ns: &'r Namespace,
    id: i32,
    look: Option<Look>,
    f: impl FnOnce(&Storage<'r>, &mut Wakeups<'r>) -> Result<R>,
) -> Result<R> {
    let sets = sets(ns)?;
    let set = registry::lookup(&sets, id)?;
    let locked = match look {
        Some(look) => lock_after_reaping(ns, &sets, set, id, look)?,
        None => lock(ns, &sets, set, id)?,
    };
    let mut wakeups = Wakeups::default();
    let result = f(&locked.storage, &mut wakeups);
    let dead = if result.is_ok() { wait::update_queue(&locked.storage, &mut wakeups) } else { SmallVec::new() };
    drop(locked);
    wakeups.wake();
    reap(ns, &dead);
    result
}

/// semget(2).
pub fn get(ns: &Namespace, key: i32, nsems: i32, flags: i32) -> Result<i32> {
    let l = limits();
    if nsems < 0 || nsems as u32 > l.semmsl {
        return Err(Errno::EINVAL);
    }
    let sets = sets(ns)?;
    let request = registry::GetRequest { key, flags, limit: l.semmni, units: nsems as u32 };
    let family = NewSet { ns, sets, nsems: nsems as u32 };
    platform::with_credentials(|creds| registry::get(&sets, &request, creds, &family))
}

struct NewSet<'r> {
    ns: &'r Namespace,
    sets: Objects<'r, SemSet>,
    nsems: u32,
}

impl registry::Family<SemSet> for NewSet<'_> {
    fn check_existing(&self, set: &SemSet) -> Result<()> {
        if self.nsems > set.nsems.load(Relaxed) {
            return Err(Errno::EINVAL);
        }
        Ok(())
    }

    fn check_new(&self) -> Result<()> {
        if self.nsems == 0 {
            return Err(Errno::EINVAL);
        }
        let used = registry::units_in_use(&self.sets, |s| s.nsems.load(Relaxed)) as u64;
        if used + self.nsems as u64 > limits().semmns {
            return Err(Errno::ENOSPC);
        }
        Ok(())
    }

    fn init(&self, set: &SemSet, id: i32) -> Result<()> {
        set.otime.store(0, Relaxed);
        set.create_storage(self.ns, ipc::owner_of(&self.sets, id), self.nsems)
    }
}

/// semop's check of the operation count, made before the operations are
/// read (Linux takes the count as an unsigned int).
pub fn check_nsops(nsops: u32) -> Result<()> {
    if nsops > limits().semopm {
        return Err(Errno::E2BIG);
    }
    if nsops < 1 {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

/// semop's checks after the operations are read: the id, then the timeout.
pub fn check_id_and_timeout(id: i32, timeout: Option<&libc::timespec>) -> Result<Option<Duration>> {
    if id < 0 {
        return Err(Errno::EINVAL);
    }
    timeout
        .map(|ts| {
            if ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= 1_000_000_000 {
                return Err(Errno::EINVAL);
            }
            Ok(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
        })
        .transpose()
}

/// semop(2)/semtimedop(2), after [`check_nsops`] and [`check_id_and_timeout`].
pub fn op(ns: &Namespace, id: i32, sops: &[Sop], timeout: Option<Duration>) -> Result<()> {
    if let [sop] = sops {
        if !sop.undo() {
            let sets = sets(ns)?;
            let set = registry::lookup(&sets, id)?;
            if op_at_once(ns, &sets, set, id, *sop)? {
                return Ok(());
            }
        }
    }
    op_in_full(ns, id, sops, timeout)
}

/// semop for any operations: evaluated on scratch copies, committed
/// through the journal, or queued to wait. (Kept out of line: its large
/// frame would otherwise be set up for every call.)
#[inline(never)]
fn op_in_full(ns: &Namespace, id: i32, sops: &[Sop], timeout: Option<Duration>) -> Result<()> {
    let deadline = timeout.map(Deadline::after);
    let max = sops.iter().map(|s| s.num as u32).max().unwrap_or(0);
    let alter = sops.iter().any(|s| s.op != 0);
    let undos = sops.iter().any(Sop::undo);
    let sets = sets(ns)?;
    let set = registry::lookup(&sets, id)?;
    let mut waiter: Option<Waiter> = None;
    let (mut reaped, mut looked) = (false, false);
    let mut changes = Changes::new();
    loop {
        let locked = lock(ns, &sets, set, id)?;
        let storage = &locked.storage;
        // Linux allocates the undo record first: it exists (and its
        // process's exit counts as an operation) even if the call fails.
        let undo = match undos.then(|| storage.undos().own(ns, &set.undo_list())).transpose() {
            Ok(undo) => undo,
            // Full: reap the dead, whose records are the ones to go, and retry.
            Err(Errno::ENOMEM) if !reaped => {
                drop(locked);
                ns.reap_dead(Look::Thorough, true);
                reaped = true;
                continue;
            }
            Err(e) => return Err(e),
        };
        if max >= storage.nsems() {
            return Err(Errno::EFBIG);
        }
        platform::with_credentials(|c| set.header.perm.check(c, if alter { 0o222 } else { 0o444 }))?;
        let outcome = evaluate(storage, sops, undo, platform::pid(), &mut changes);
        if matches!(outcome, Outcome::Fail(Errno::EAGAIN) | Outcome::Block { .. }) && !looked {
            // A dead process's undo may be all that stands in the way.
            looked = true;
            let dead = dead_around(storage, Look::Quick);
            if !dead.is_empty() {
                drop(locked);
                reap(ns, &dead);
                continue;
            }
        }
        match outcome {
            Outcome::Apply => {
                let mut wakeups = Wakeups::default();
                storage.commit(&changes, &mut wakeups)?;
                set.otime.store(platform::now_secs(), Relaxed);
                set.operated.note();
                let dead = if alter { wait::update_queue(storage, &mut wakeups) } else { SmallVec::new() };
                drop(locked);
                wakeups.wake();
                reap(ns, &dead);
                return Ok(());
            }
            Outcome::Fail(e) => return Err(e),
            Outcome::Block { sem, zero } => {
                if waiter.is_none() {
                    waiter = Some(storage.waits().claim(ns, storage.owner)?);
                }
                let w = waiter.as_mut().expect("claimed above");
                wait::describe(w.record(), sops, undo, (sem, zero));
                w.enqueue(&set.waiters, 0);
                drop(locked);
                match sleep(ns, &sets, set, id, w, deadline)? {
                    Some(result) => return result,
                    None => continue,
                }
            }
        }
    }
}

/// The common semop, one operation without SEM_UNDO, when it can proceed
/// at once: what the general path does for it, without the scratch copies
/// and the journal that several operations need. The semaphore number and
/// the permission are checked before the set is locked, as Linux does
/// (the general path's undo record, which comes first there, is not
/// needed); a set removed meanwhile is EIDRM once locked. False when it
/// would fail with EAGAIN or wait: the general path takes over (it first
/// looks for dead processes in the way).
#[inline]
fn op_at_once(ns: &Namespace, sets: &Objects<SemSet>, set: &SemSet, id: i32, sop: Sop) -> Result<bool> {
    if sop.num as u32 >= set.nsems.load(Relaxed) {
        return Err(Errno::EFBIG);
    }
    let alter = sop.op != 0;
    let flag = if alter { 0o222 } else { 0o444 };
    // The thread's identity comes with its credentials: one look into
    // thread storage for both.
    let me = platform::with_caller(|me, creds| set.header.perm.check(creds, flag).map(|()| me))?;
    let locked = lock_as(ns, sets, set, id, me)?;
    let sem = locked.storage.sem(sop.num as u32).ok_or(Errno::EFBIG)?;
    let current = sem.value.load(Relaxed);
    let result = current + sop.op as i32;
    if (sop.op == 0 && current != 0) || result < 0 {
        return Ok(false);
    }
    if result > SEMVMX {
        return Err(Errno::ERANGE);
    }
    // One value and its sempid (only a record): a single store is all or
    // nothing, as in `Storage::commit`.
    sem.value.store(result, Relaxed);
    sem.pid.store(platform::pid(), Relaxed);
    set.otime.store(platform::now_secs(), Relaxed);
    set.operated.note();
    if alter && !set.waiters.is_empty() {
        let mut wakeups = Wakeups::default();
        let dead = wait::update_queue(&locked.storage, &mut wakeups);
        drop(locked);
        wakeups.wake();
        reap(ns, &dead);
    }
    Ok(true)
}

/// Sleeps until the queued operations are granted or fail, the set goes
/// away, a signal arrives or the deadline passes, looking for dead
/// processes at each look. Some(result) when the call is over, None to
/// evaluate again (RECHECK).
fn sleep(
    ns: &Namespace,
    sets: &Objects<SemSet>,
    set: &SemSet,
    id: i32,
    w: &mut Waiter,
    deadline: Option<Deadline>,
) -> Result<Option<Result<()>>> {
    loop {
        let slept = w.sleep(deadline, Some(&set.operated));
        let relocked = lock(ns, sets, set, id);
        let look = match (&relocked, slept) {
            (Ok(locked), Slept::Look) if w.record().settled().is_none() => {
                Some(dead_around(&locked.storage, Look::Thorough))
            }
            _ => None,
        };
        if let Some(dead) = look {
            drop(relocked);
            reap(ns, &dead);
            ns.reap_dead(Look::Thorough, false);
            continue;
        }
        let state = w.dequeue(relocked.as_ref().ok().map(|_| &set.waiters));
        let gone = relocked.as_ref().err().copied();
        drop(relocked);
        return Ok(Some(match (state, slept, gone) {
            (crate::wait::GRANTED, _, _) => Ok(()),
            (crate::wait::RECHECK, _, None) => return Ok(None),
            (crate::wait::REMOVED, _, _) => Err(Errno::EIDRM),
            (s, _, _) if s >= crate::wait::FAILED => Err(Errno((s - crate::wait::FAILED) as i32)),
            // Still waiting: the set is gone (a remover that died did not
            // settle us), or we give up.
            (_, _, Some(e)) => Err(e),
            (_, Slept::TimedOut, None) => Err(Errno::EAGAIN),
            (_, Slept::Interrupted, None) => Err(Errno::EINTR),
            (_, _, None) => return Ok(None),
        }));
    }
}
