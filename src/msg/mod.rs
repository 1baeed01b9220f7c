//! System V message queues with Linux's semantics (msgop(2), msgctl(2)).
//!
//! Each operation follows Linux's `do_msgsnd`/`do_msgrcv`: validate the
//! arguments, find the queue, then loop under its lock: check permission,
//! check that the queue still exists (EIDRM), try; on failure return EAGAIN
//! or ENOMSG for IPC_NOWAIT, or else wait (see `wait`) and try again. A send
//! settles the receivers whose selector accepts the new message, a receive
//! the senders waiting for room; both only when someone waits, so a send or
//! receive that finds nobody waiting makes no system call.
//!
//! - `queue`: a queue's slot and its messages.
//! - `ctl`: msgctl.

mod ctl;
mod queue;

pub use ctl::{control, Command, Reply};
pub use queue::MsgQueue;

use crate::error::{Errno, Result};
use crate::ipc::{self, registry, Objects};
use crate::platform::{self, Once};
use crate::process::{Family, Look, Namespace, ProcRef, Scope};
use crate::region::{Guard, TableSpec};
use crate::user::OutBuf;
use crate::wait::{self, Slept, WaitQueue, Waiter, Waits, Wakeups};
use crate::messages::{Corrupt, Fault, Store, MAX_TEXT};
use queue::Select;
use std::sync::atomic::Ordering::Relaxed;

pub const MSG_STAT: i32 = 11;
pub const MSG_INFO: i32 = 12;
pub const MSG_STAT_ANY: i32 = 13;
pub const MSG_COPY: i32 = 0o40000;

const TAG: u32 = TableSpec::tag(b"MSQ1");
/// `WaitRecord::queue` of a waiting receiver / sender.
const RECEIVER: u32 = 0;
const SENDER: u32 = 1;

/// The system's limits, read once per process from /proc/sys/kernel (Linux's
/// defaults where it is absent).
#[derive(Clone, Copy)]
pub struct Limits {
    pub msgmax: usize,
    pub msgmnb: u64,
    pub msgmni: u32,
}

pub fn limits() -> &'static Limits {
    static LIMITS: Once<Limits> = Once::new();
    LIMITS.get_or_init(|| Limits {
        msgmax: platform::kernel_limit("msgmax").unwrap_or(8192).min(MAX_TEXT as u64) as usize,
        msgmnb: platform::kernel_limit("msgmnb").unwrap_or(16384).min(i32::MAX as u64),
        msgmni: platform::kernel_limit("msgmni").unwrap_or(32000).min(ipc::IPCMNI as u64) as u32,
    })
}

/// Message queues, as the namespace sees them.
pub struct MsgFamily;

impl Family for MsgFamily {
    fn tables(&self) -> Vec<TableSpec> {
        vec![TableSpec {
            tag: TAG,
            prefix: std::mem::size_of::<ipc::Registry>() as u32,
            stride: std::mem::size_of::<MsgQueue>() as u32,
            count: limits().msgmni.max(1),
        }]
    }

    /// A message queue holds nothing for a process but its waits.
    fn release(&self, ns: &Namespace, who: ProcRef, _scope: Scope) {
        let (Ok(queues), Ok(waits)) = (queues(ns), Waits::of(ns)) else { return };
        for (index, record) in waits.owned_by(who) {
            let object = record.object();
            let Some(slot) = queues.entry_of(object) else { continue };
            let Some(q) = queues.get(slot) else { continue };
            let id = object.generation() as i32;
            if let Ok(locked) = lock(ns, &queues, q, id) {
                waits.release_dead(ns, Some(q.wait_queue(record.queue())), object, index, who);
                drop(locked);
            }
        }
    }
}

fn queues(ns: &Namespace) -> Result<Objects<'_, MsgQueue>> {
    ns.table(TAG)
}

impl MsgQueue {
    fn wait_queue(&self, which: u32) -> &WaitQueue {
        if which == SENDER {
            &self.waiting.senders
        } else {
            &self.waiting.receivers
        }
    }
}

/// A queue locked, with what its operations need.
struct Locked<'r> {
    ns: &'r Namespace,
    q: &'r MsgQueue,
    st: Store<'r>,
    _guard: Guard<'r>,
}

impl<'r> Locked<'r> {
    /// The wait table (looked up only when someone waits).
    fn waits(&self) -> Waits<'r> {
        Waits::of(self.ns).expect("checked when the namespace was opened")
    }
}

/// Locks queue `id`, repairing it if the previous holder died, and checks
/// that it still is queue `id` (EIDRM).
fn lock<'r>(ns: &'r Namespace, queues: &Objects<'r, MsgQueue>, q: &'r MsgQueue, id: i32) -> Result<Locked<'r>> {
    let guard = q.header.lock.lock();
    if !q.header.holds(id) {
        return Err(Errno::EIDRM);
    }
    let st = Store { region: ns, owner: ipc::owner_of(queues, id) };
    if guard.recovered {
        let waits = Waits::of(ns)?;
        crate::log::diag(|| format!("msg queue {id}: lock holder died; repairing"));
        q.list.repair(&st);
        // It may have sent or received without settling the waiters that
        // its change concerned: everyone tries again.
        let mut wakeups = Wakeups::default();
        for queue in [&q.waiting.receivers, &q.waiting.senders] {
            waits.repair(queue, st.owner, &mut wakeups);
            for (index, _) in waits.queued(queue, st.owner) {
                waits.settle(queue, st.owner, index, wait::RECHECK, &mut wakeups);
            }
        }
        wakeups.wake();
    }
    Ok(Locked { ns, q, st, _guard: guard })
}

/// The queue named `id`, and the table it is in.
fn find(ns: &Namespace, id: i32) -> Result<(Objects<'_, MsgQueue>, &MsgQueue)> {
    let queues = queues(ns)?;
    let q = registry::lookup(&queues, id)?;
    Ok((queues, q))
}

/// Runs a queue mutation, repairing the queue once if it turns out corrupt.
fn with_repair<T>(locked: &Locked, mut op: impl FnMut() -> std::result::Result<T, Corrupt>) -> Result<T> {
    op().or_else(|Corrupt| {
        locked.q.list.repair(&locked.st);
        op().map_err(|Corrupt| Errno::EIO)
    })
}

/// msgget(2).
pub fn get(ns: &Namespace, key: i32, flags: i32) -> Result<i32> {
    let request = registry::GetRequest { key, flags, limit: limits().msgmni };
    let queues = queues(ns)?;
    platform::with_credentials(|creds| registry::get(&queues, &request, creds, &NewQueue))
}

struct NewQueue;

impl registry::Family<MsgQueue> for NewQueue {
    fn init(&self, q: &MsgQueue, _id: i32) -> Result<()> {
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
pub fn send(ns: &Namespace, id: i32, mtype: i64, text: &[u8], flags: i32) -> Result<()> {
    let (queues, q) = find(ns, id)?;
    let mut locked = lock(ns, &queues, q, id)?;
    let (mut waiter, mut spun): (Option<Waiter>, bool) = (None, false);
    loop {
        platform::with_credentials(|c| q.header.perm.check(c, 0o222))?;
        let qbytes = q.qbytes.load(Relaxed);
        if text.len() as u64 + q.list.bytes() <= qbytes && q.list.count() < qbytes {
            q.list.reserve(&locked.st, text.len())?;
            with_repair(&locked, || q.enqueue(&locked.st, mtype, text))?;
            q.lspid.store(platform::pid(), Relaxed);
            q.stime.store(platform::now_secs(), Relaxed);
            q.waiting.sent.fetch_add(1, Relaxed);
            let mut wakeups = Wakeups::default();
            if !q.waiting.receivers.is_empty() {
                let waits = locked.waits();
                for (index, record) in waits.queued(&q.waiting.receivers, locked.st.owner) {
                    let select = Select::decode([record.payload[0].load(Relaxed), record.payload[1].load(Relaxed)]);
                    if select.accepts(mtype) {
                        waits.settle(&q.waiting.receivers, locked.st.owner, index, wait::RECHECK, &mut wakeups);
                    }
                }
            }
            drop(locked);
            wakeups.wake();
            return Ok(());
        }
        if flags & libc::IPC_NOWAIT != 0 {
            return Err(Errno::EAGAIN);
        }
        locked = wait_on(ns, &queues, locked, id, SENDER, &mut waiter, &mut spun, |_| {})?;
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
pub fn receive(ns: &Namespace, id: i32, buffer: &mut OutBuf, select: Select, flags: i32) -> Result<(i64, usize)> {
    let (queues, q) = find(ns, id)?;
    let capacity = buffer.len().saturating_sub(MTYPE);
    let mut locked = lock(ns, &queues, q, id)?;
    let (mut waiter, mut spun): (Option<Waiter>, bool) = (None, false);
    loop {
        platform::with_credentials(|c| q.header.perm.check(c, 0o444))?;
        if let Some(found) = with_repair(&locked, || q.find(&locked.st, select))? {
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
            // The message is copied out before it is taken off the queue: a
            // buffer that cannot take it (EFAULT) leaves it queued. (Linux
            // takes it off first and loses it.)
            let count = found.size.min(capacity);
            buffer.write_at(0, &found.tag.to_ne_bytes())?;
            match q.list.copy_out(&locked.st, &found, buffer, MTYPE, count) {
                Ok(()) => {}
                Err(Fault::Caller(e)) => return Err(e),
                Err(Fault::Corrupt) => {
                    q.list.repair(&locked.st);
                    return Err(Errno::EIO);
                }
            }
            if flags & MSG_COPY == 0 {
                with_repair(&locked, || q.list.unlink(&locked.st, &found))?;
                q.lrpid.store(platform::pid(), Relaxed);
                q.rtime.store(platform::now_secs(), Relaxed);
                q.waiting.freed.fetch_add(1, Relaxed);
                let mut wakeups = Wakeups::default();
                settle_all(&locked, &q.waiting.senders, wait::RECHECK, &mut wakeups);
                drop(locked);
                wakeups.wake();
            }
            return Ok((found.tag, count));
        }
        if flags & libc::IPC_NOWAIT != 0 {
            return Err(Errno::ENOMSG);
        }
        locked = wait_on(ns, &queues, locked, id, RECEIVER, &mut waiter, &mut spun, |waiter| {
            let [kind, value] = select.encode();
            waiter.record().payload[0].store(kind, Relaxed);
            waiter.record().payload[1].store(value, Relaxed);
        })?;
    }
}

/// Settles every record of `queue` with `state` (to be woken afterwards).
fn settle_all<'r>(locked: &Locked<'r>, queue: &WaitQueue, state: u32, wakeups: &mut Wakeups<'r>) {
    if queue.is_empty() {
        return;
    }
    let waits = locked.waits();
    for (index, _) in waits.queued(queue, locked.st.owner) {
        waits.settle(queue, locked.st.owner, index, state, wakeups);
    }
}

/// Waits on queue `which` of the locked queue until someone settles us, a
/// signal (EINTR) or a look; returns with the queue locked again, for the
/// caller to try once more. EIDRM if the queue went away meanwhile.
///
/// The first time, it only spins (when the peer can run meanwhile) on the
/// queue's `sent` (or `freed`) word, unregistered: in a ping-pong the
/// answer usually comes within microseconds, and then nobody had to queue
/// or be settled.
#[allow(clippy::too_many_arguments)] // the call's state, threaded through its loop
fn wait_on<'r>(
    ns: &'r Namespace,
    queues: &Objects<'r, MsgQueue>,
    locked: Locked<'r>,
    id: i32,
    which: u32,
    waiter: &mut Option<Waiter<'r>>,
    spun: &mut bool,
    describe: impl FnOnce(&Waiter),
) -> Result<Locked<'r>> {
    let q = locked.q;
    if !*spun && platform::spinning_pays() {
        *spun = true;
        let word = if which == SENDER { &q.waiting.freed } else { &q.waiting.sent };
        let seen = word.load(Relaxed);
        drop(locked);
        platform::spin_while_equal(word, seen, platform::SPIN_TIME);
        return lock(ns, queues, q, id);
    }
    if waiter.is_none() {
        *waiter = Some(locked.waits().claim(ns, locked.st.owner)?);
    }
    let w = waiter.as_mut().expect("claimed above");
    describe(w);
    w.enqueue(q.wait_queue(which), which);
    drop(locked);
    let slept = w.sleep(None, false);
    if slept == Slept::Look {
        ns.reap_dead(Look::Thorough, false);
    }
    let relocked = lock(ns, queues, q, id);
    let state = w.dequeue(relocked.as_ref().ok().map(|_| q.wait_queue(which)));
    let relocked = relocked?;
    match (slept, state) {
        (_, wait::REMOVED) => Err(Errno::EIDRM),
        // A signal interrupts even a wake-up that came with it.
        (Slept::Interrupted, _) => Err(Errno::EINTR),
        _ => Ok(relocked),
    }
}
