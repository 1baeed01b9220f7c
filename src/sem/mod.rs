//! System V semaphores with Linux's semantics (semop(2), semctl(2)).
//!
//! - `set`: a set's slot and storage; changes commit through a journal.
//! - `ops`: evaluating a semop against the current values.
//! - `wait`: blocked operations, handed their result by whoever makes
//!   them possible; reaping of dead processes.
//! - `undo`: SEM_UNDO adjustments.
//! - `ctl`: semctl.

mod ctl;
mod ops;
mod set;
mod undo;
mod wait;

pub use ctl::{control, Command, Reply, SemInfo};
pub use ops::Sop;
pub use set::{SemSet, SEMVMX};
pub use undo::apply_at_exit;
pub use wait::WaitRecord;

use crate::error::{Errno, Result};
use crate::ipc::{self, registry, ObjectHeader, Registry, Table};
use crate::platform::{self, Wake};
use crate::region::{Guard, Region};
use once_cell::sync::Lazy;
use ops::{evaluate, Outcome};
use set::Storage;
use std::sync::atomic::Ordering::{Acquire, Relaxed};
use std::time::Duration;

/// The system's limits, from /proc/sys/kernel/sem (Linux's defaults where
/// it is absent).
pub struct Limits {
    pub semmsl: u32,
    pub semmns: u64,
    pub semopm: u32,
    pub semmni: u32,
}

pub fn limits() -> &'static Limits {
    static LIMITS: Lazy<Limits> = Lazy::new(|| {
        let v = platform::kernel_limits("sem").unwrap_or_default();
        let field = |i: usize, default: u64| v.get(i).copied().unwrap_or(default);
        Limits {
            semmsl: field(0, 32000).min(i32::MAX as u64) as u32,
            semmns: field(1, 1_024_000_000),
            semopm: field(2, 500).clamp(1, 65536) as u32,
            semmni: field(3, 32000).min(ipc::IPCMNI as u64) as u32,
        }
    });
    &LIMITS
}

/// The semaphore set slots of a region, as the registry sees them.
struct Sets<'r>(&'r Region);

impl Table for Sets<'_> {
    fn registry(&self) -> &Registry {
        &self.0.header().sem_registry
    }
    fn slot_count(&self) -> u32 {
        self.0.layout().params.sem_slots
    }
    fn object(&self, index: u32) -> Option<&ObjectHeader> {
        self.0.sem_set(index).map(|s| &s.header)
    }
}

fn set_of(region: &Region, id: i32) -> Result<&SemSet> {
    registry::lookup(&Sets(region), id)?;
    region.sem_set(ipc::index_of(id)).ok_or(Errno::EINVAL)
}

/// Locks `set`, finishing a dead holder's journal if it left one, and
/// checks that it still is set `id`.
fn lock<'r>(region: &'r Region, set: &'r SemSet, id: i32) -> Result<(Guard<'r>, Storage<'r>)> {
    let guard = set.header.lock.lock();
    if !set.header.holds(id) {
        return Err(Errno::EIDRM);
    }
    let storage = set.storage(region).ok_or(Errno::EIO)?;
    if guard.recovered {
        crate::log::diag(|| format!("sem set {id}: lock holder died; finishing its journal"));
        storage.redo();
        wait::repair_list(region, set);
    }
    Ok((guard, storage))
}

/// Runs `f` on set `id`, locked; wakes the records it returns afterwards.
pub(crate) fn with_set<'r>(
    region: &'r Region,
    id: i32,
    f: impl FnOnce(&'r SemSet, &Storage<'r>) -> Result<Vec<&'r WaitRecord>>,
) -> Result<()> {
    let set = set_of(region, id)?;
    let (guard, storage) = lock(region, set, id)?;
    let woken = f(set, &storage)?;
    drop(guard);
    wait::wake(&woken);
    Ok(())
}

/// semget(2).
pub fn get(region: &Region, key: i32, nsems: i32, flags: i32) -> Result<i32> {
    let l = limits();
    if nsems < 0 || nsems as u32 > l.semmsl {
        return Err(Errno::EINVAL);
    }
    let request = registry::GetRequest { key, flags, limit: l.semmni };
    let family = NewSet { region, nsems: nsems as u32 };
    platform::with_credentials(|creds| registry::get(&Sets(region), &request, creds, &family))
}

struct NewSet<'r> {
    region: &'r Region,
    nsems: u32,
}

impl registry::Family for NewSet<'_> {
    fn check_existing(&self, object: &ObjectHeader) -> Result<()> {
        let set = self.region.sem_set(ipc::index_of(object.id.load(Relaxed))).ok_or(Errno::EIO)?;
        if self.nsems > set.nsems.load(Relaxed) {
            return Err(Errno::EINVAL);
        }
        Ok(())
    }

    fn check_new(&self) -> Result<()> {
        if self.nsems == 0 {
            return Err(Errno::EINVAL);
        }
        let used: u64 = registry::live_objects(&Sets(self.region))
            .filter_map(|o| self.region.sem_set(ipc::index_of(o.id.load(Relaxed))))
            .map(|s| s.nsems.load(Relaxed) as u64)
            .sum();
        if used + self.nsems as u64 > limits().semmns {
            return Err(Errno::ENOSPC);
        }
        Ok(())
    }

    fn init(&self, object: &ObjectHeader) -> Result<()> {
        let set = self.region.sem_set(ipc::index_of(object.id.load(Relaxed))).ok_or(Errno::EIO)?;
        set.otime.store(0, Relaxed);
        set.create_storage(self.region, self.nsems)
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
pub fn op(region: &Region, id: i32, sops: &[Sop], timeout: Option<Duration>) -> Result<()> {
    let deadline = timeout.map(|t| platform::monotonic_now() + t);
    let max = sops.iter().map(|s| s.num as u32).max().unwrap_or(0);
    let alter = sops.iter().any(|s| s.op != 0);
    let undos = sops.iter().any(Sop::undo);
    let set = set_of(region, id)?;
    loop {
        let (guard, storage) = lock(region, set, id)?;
        // Linux allocates the undo record first: it exists (and its
        // process's exit counts as an operation) even if the call fails.
        let undo = if undos { Some(undo::own_record(&storage, id)?) } else { None };
        if max >= storage.nsems() {
            return Err(Errno(libc::EFBIG));
        }
        platform::with_credentials(|c| set.header.perm.check(c, if alter { 0o222 } else { 0o444 }))?;
        let pid = platform::pid();
        let mut changes = set::Changes::new();
        let mut outcome = evaluate(&storage, sops, undo, pid, &mut changes);
        if matches!(outcome, Outcome::Fail(Errno::EAGAIN) | Outcome::Block { .. }) {
            // A dead holder's undo may be all that stands in the way.
            let look = if wait::reap_due(set) { wait::Look::Thorough } else { wait::Look::Quick };
            let woken = wait::reap(region, set, &storage, look);
            wait::wake(&woken);
            outcome = evaluate(&storage, sops, undo, pid, &mut changes);
        }
        match outcome {
            Outcome::Apply => {
                storage.commit(&changes)?;
                set.otime.store(platform::now_secs(), Relaxed);
                let woken = if alter { wait::update_queue(region, set, &storage) } else { Vec::new() };
                drop(guard);
                wait::wake(&woken);
                return Ok(());
            }
            Outcome::Fail(e) => return Err(e),
            Outcome::Block { sem, zero } => {
                let (index, record) = wait::claim(region, id, sops, undo)?;
                record.blocking_sem.store(sem as u32, Relaxed);
                record.blocking_zero.store(zero as u32, Relaxed);
                wait::append(region, set, index);
                drop(guard);
                match sleep(region, set, id, (index, record), deadline)? {
                    Settled::Done(result) => return result,
                    Settled::Retry => continue,
                }
            }
        }
    }
}

enum Settled {
    Done(Result<()>),
    /// Woken to evaluate its operations again (too many to hand over).
    Retry,
}

/// Waits on `record` until its operations are granted or fail, the set
/// goes away, a signal arrives or the deadline passes; then settles the
/// record under the lock (a grant that raced with a signal still counts).
fn sleep(
    region: &Region,
    set: &SemSet,
    id: i32,
    (index, record): (u32, &WaitRecord),
    deadline: Option<Duration>,
) -> Result<Settled> {
    let mut gave_up = None;
    if platform::spinning_pays() {
        platform::spin_while_equal(&record.state, wait::WAITING, platform::SPIN_TIME);
    }
    while record.state.load(Acquire) == wait::WAITING {
        let now = platform::monotonic_now();
        let slice = match deadline {
            Some(d) if d <= now => {
                gave_up = Some(Errno::EAGAIN);
                break;
            }
            Some(d) => (d - now).min(wait::REAP_INTERVAL),
            None => wait::REAP_INTERVAL,
        };
        match record.sleep(slice) {
            Wake::Interrupted => {
                gave_up = Some(Errno::EINTR);
                break;
            }
            Wake::TimedOut => {
                if let Ok((guard, storage)) = lock(region, set, id) {
                    let woken = wait::reap(region, set, &storage, wait::Look::Thorough);
                    drop(guard);
                    wait::wake(&woken);
                }
            }
            Wake::Woken => {}
        }
    }
    let locked = lock(region, set, id);
    let state = record.state.load(Acquire);
    let settled = match state {
        wait::GRANTED => Settled::Done(Ok(())),
        wait::RECHECK => Settled::Retry,
        wait::REMOVED => Settled::Done(Err(Errno::EIDRM)),
        s if s > wait::FAILED => Settled::Done(Err(Errno((s - wait::FAILED) as i32))),
        _ => {
            if locked.is_ok() {
                wait::unlink(region, set, index);
            }
            Settled::Done(Err(if locked.is_err() { Errno::EIDRM } else { gave_up.unwrap_or(Errno::EINTR) }))
        }
    };
    record.release();
    drop(locked);
    Ok(settled)
}
