//! System V message queues with Linux's semantics (msgop(2), msgctl(2)).
//!
//! Each operation follows Linux's `do_msgsnd`/`do_msgrcv`: validate the
//! arguments, find the queue, then loop under its lock: check permission,
//! check that the queue still exists (EIDRM), try; on failure return EAGAIN
//! or ENOMSG for IPC_NOWAIT, or else wait and try again.
//!
//! Waiting: a would-be sleeper first spins briefly without the lock,
//! watching the queue's futex word (the peer is probably running on the
//! other CPU and about to act: this is where ping-pong beats the kernel),
//! then registers as asleep under the lock, re-reads the word, unlocks and
//! sleeps on it. Wakers bump the word under the lock and call FUTEX_WAKE
//! only when someone is registered, so a send or receive that finds nobody
//! asleep makes no system call.

mod ctl;
mod queue;

pub use ctl::{control, Reply};
pub use queue::MsgQueue;

use crate::error::{Errno, Result};
use crate::ipc::{self, ObjectHeader, Registry, Table};
use crate::platform::{self, Wake};
use crate::region::{Guard, Region};
use crate::user::OutBuf;
use once_cell::sync::Lazy;
use queue::{Corrupt, Select, MAX_TEXT};
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
use std::time::Duration;

pub const MSG_STAT: i32 = 11;
pub const MSG_INFO: i32 = 12;
pub const MSG_STAT_ANY: i32 = 13;
pub const MSG_COPY: i32 = 0o40000;

/// The system's limits, read once per process from /proc/sys/kernel (Linux's
/// defaults where it is absent).
pub struct Limits {
    pub msgmax: usize,
    pub msgmnb: u64,
    pub msgmni: u32,
}

pub fn limits() -> &'static Limits {
    static LIMITS: Lazy<Limits> = Lazy::new(|| Limits {
        msgmax: platform::kernel_limit("msgmax").unwrap_or(8192).min(MAX_TEXT as u64) as usize,
        msgmnb: platform::kernel_limit("msgmnb").unwrap_or(16384).min(i32::MAX as u64),
        msgmni: platform::kernel_limit("msgmni").unwrap_or(32000).min(ipc::IPCMNI as u64) as u32,
    });
    &LIMITS
}

/// The message queue slots of a region, as the registry sees them.
struct Queues<'r>(&'r Region);

impl Table for Queues<'_> {
    fn registry(&self) -> &Registry {
        &self.0.header().msg_registry
    }
    fn slot_count(&self) -> u32 {
        self.0.layout().params.msg_slots
    }
    fn object(&self, index: u32) -> Option<&ObjectHeader> {
        self.0.msg_queue(index).map(|q| &q.header)
    }
}

/// Whether `id` names a live queue (used to find abandoned chunks).
pub fn queue_is_live(region: &Region, id: i32) -> bool {
    region.msg_queue(ipc::index_of(id)).is_some_and(|q| q.header.holds(id))
}

fn queue(region: &Region, id: i32) -> Result<&MsgQueue> {
    ipc::registry::lookup(&Queues(region), id)?;
    region.msg_queue(ipc::index_of(id)).ok_or(Errno::EINVAL)
}

/// Locks `q`, repairing it if the previous holder died, and checks that it
/// still is queue `id`.
fn lock<'q>(region: &Region, q: &'q MsgQueue, id: i32) -> Result<Guard<'q>> {
    let guard = q.header.lock.lock();
    if !q.header.holds(id) {
        return Err(Errno::EIDRM);
    }
    if guard.recovered {
        crate::log::diag(|| format!("msg queue {id}: lock holder died; repairing"));
        q.repair(region);
    }
    Ok(guard)
}

/// Runs a queue mutation, repairing the queue once if it turns out corrupt.
fn with_repair<T>(region: &Region, q: &MsgQueue, mut op: impl FnMut() -> std::result::Result<T, Corrupt>) -> Result<T> {
    op().or_else(|Corrupt| {
        q.repair(region);
        op().map_err(|Corrupt| Errno::EIO)
    })
}

/// msgget(2).
pub fn get(region: &Region, key: i32, flags: i32) -> Result<i32> {
    let request = ipc::registry::GetRequest { key, flags, limit: limits().msgmni };
    platform::with_credentials(|creds| ipc::registry::get(&Queues(region), &request, creds, &NewQueue(region)))
}

struct NewQueue<'r>(&'r Region);

impl ipc::registry::Family for NewQueue<'_> {
    fn init(&self, object: &ObjectHeader) -> Result<()> {
        let q = self.0.msg_queue(ipc::index_of(object.id.load(Relaxed))).ok_or(Errno::EIO)?;
        q.init(limits().msgmnb);
        Ok(())
    }
}

/// The argument checks msgsnd makes before touching the queue.
pub fn check_send(id: i32, size: usize, mtype: i64) -> Result<()> {
    if size > limits().msgmax || id < 0 || mtype < 1 {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

/// msgsnd(2), after [`check_send`].
pub fn send(region: &Region, id: i32, mtype: i64, text: &[u8], flags: i32) -> Result<()> {
    let q = queue(region, id)?;
    let mut waiter = Waiter::default();
    let mut guard = lock(region, q, id)?;
    loop {
        platform::with_credentials(|c| q.header.perm.check(c, 0o222))?;
        let qbytes = q.qbytes.load(Relaxed);
        if text.len() as u64 + q.cbytes.load(Relaxed) <= qbytes && q.qnum.load(Relaxed) < qbytes {
            q.reserve(region, text.len())?;
            with_repair(region, q, || q.enqueue(region, mtype, text))?;
            q.lspid.store(platform::pid(), Relaxed);
            q.stime.store(platform::now_secs(), Relaxed);
            q.sent.fetch_add(1, Relaxed);
            let wake = q.receivers_asleep.swap(0, Relaxed) != 0;
            drop(guard);
            if wake {
                platform::futex_wake(&q.sent, i32::MAX);
            }
            return Ok(());
        }
        if flags & libc::IPC_NOWAIT != 0 {
            return Err(Errno::EAGAIN);
        }
        guard = waiter.wait(region, q, id, guard, &q.freed, &q.senders_asleep)?;
    }
}

/// msgrcv(2)'s argument checks; returns how to select the message.
pub fn check_receive(id: i32, size: usize, msgtyp: i64, flags: i32) -> Result<Select> {
    if id < 0 || (size as isize) < 0 {
        return Err(Errno::EINVAL);
    }
    if flags & MSG_COPY != 0 {
        if flags & libc::MSG_EXCEPT != 0 || flags & libc::IPC_NOWAIT == 0 {
            return Err(Errno::EINVAL);
        }
        return Ok(Select::Position(msgtyp));
    }
    Ok(match msgtyp {
        0 => Select::Any,
        t if t < 0 => Select::LessEqual(t.checked_neg().unwrap_or(i64::MAX)),
        t if flags & libc::MSG_EXCEPT != 0 => Select::NotEqual(t),
        t => Select::Equal(t),
    })
}

/// The `long mtype` that starts a `struct msgbuf`, before the text.
const MTYPE: usize = std::mem::size_of::<libc::c_long>();

/// msgrcv(2), after [`check_receive`]: fills the caller's `struct msgbuf`
/// (`buffer`: mtype, then room for the text) and returns the message type
/// and the length of text copied.
pub fn receive(region: &Region, id: i32, buffer: &mut OutBuf, select: Select, flags: i32) -> Result<(i64, usize)> {
    let q = queue(region, id)?;
    let capacity = buffer.len().saturating_sub(MTYPE);
    let mut waiter = Waiter::default();
    let mut guard = lock(region, q, id)?;
    loop {
        platform::with_credentials(|c| q.header.perm.check(c, 0o444))?;
        if let Some(found) = with_repair(region, q, || q.find(region, select))? {
            if found.size > capacity {
                if flags & libc::MSG_NOERROR == 0 {
                    return Err(Errno::E2BIG);
                }
                if flags & MSG_COPY != 0 {
                    // Linux copies into a buffer of the caller's size and fails
                    // when the message does not fit, despite MSG_NOERROR.
                    return Err(Errno::EINVAL);
                }
            }
            // A bad buffer: Linux would consume the message and then fail to
            // copy it out; we fail without losing it.
            let count = found.size.min(capacity);
            if !buffer.writable(MTYPE + count) {
                return Err(Errno::EFAULT);
            }
            buffer.write_at(0, &found.mtype.to_ne_bytes());
            with_repair(region, q, || q.copy_out(region, &found, buffer, MTYPE, count))?;
            if flags & MSG_COPY == 0 {
                with_repair(region, q, || q.unlink(region, &found))?;
                q.lrpid.store(platform::pid(), Relaxed);
                q.rtime.store(platform::now_secs(), Relaxed);
                q.freed.fetch_add(1, Relaxed);
                let wake = q.senders_asleep.swap(0, Relaxed) != 0;
                drop(guard);
                if wake {
                    platform::futex_wake(&q.freed, i32::MAX);
                }
            }
            return Ok((found.mtype, count));
        }
        if flags & libc::IPC_NOWAIT != 0 {
            return Err(Errno::ENOMSG);
        }
        guard = waiter.wait(region, q, id, guard, &q.sent, &q.receivers_asleep)?;
    }
}

/// How long one futex sleep lasts before the sleeper re-checks on its own.
/// Nothing depends on it (every change wakes sleepers); it only bounds the
/// damage of a wake-up lost to a corrupted region.
const SLEEP_SLICE: Duration = Duration::from_secs(5);

/// A receive or send that has to wait: spins once, then sleeps.
#[derive(Default)]
struct Waiter {
    spun: bool,
}

impl Waiter {
    /// Called with the queue locked and the caller's condition false; returns
    /// with the queue locked again once the condition may have changed.
    fn wait<'r>(
        &mut self,
        region: &'r Region,
        q: &'r MsgQueue,
        id: i32,
        guard: Guard<'r>,
        word: &'r AtomicU32,
        asleep: &'r AtomicU32,
    ) -> Result<Guard<'r>> {
        let seen = word.load(Relaxed);
        if !self.spun && platform::spinning_pays() {
            self.spun = true;
            drop(guard);
            platform::spin_while_equal(word, seen, platform::SPIN_TIME);
            return lock(region, q, id);
        }
        // Registered and read `seen` under the lock: a waker changes the
        // word under the same lock after we unlock, so either FUTEX_WAIT sees
        // the new value and returns at once, or we are asleep when it wakes.
        asleep.fetch_add(1, Relaxed);
        drop(guard);
        let woke = platform::futex_wait(word, seen, SLEEP_SLICE);
        let guard = q.header.lock.lock();
        if !q.header.holds(id) {
            // Removed (perhaps reused): IPC_RMID already reset the counts.
            return Err(Errno::EIDRM);
        }
        // A waker that changed the word took every registration with it
        // (see `MsgQueue::receivers_asleep`); otherwise ours still counts.
        if word.load(Relaxed) == seen {
            asleep.fetch_sub(1, Relaxed);
        }
        if guard.recovered {
            q.repair(region);
        }
        if woke == Wake::Interrupted {
            return Err(Errno::EINTR);
        }
        Ok(guard)
    }
}
