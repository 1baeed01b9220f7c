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
use crate::messages::{self, Ends, Fault, Store, TypedList, Wait, Waiting, MAX_TEXT, RECEIVER, SENDER};
use crate::platform::{self, Once};
use crate::process::{inspect, Family, Namespace, ProcRef, Scope};
use crate::region::TableSpec;
use crate::user::OutBuf;
use crate::wait::{self, Slept, Waiter, Waits, Wakeups};
use queue::Select;
use std::sync::atomic::Ordering::Relaxed;

pub const MSG_STAT: i32 = 11;
pub const MSG_INFO: i32 = 12;
pub const MSG_STAT_ANY: i32 = 13;
pub const MSG_COPY: i32 = 0o40000;

/// The queue table's tag: its name, and the version of its layout.
pub const TAG: u32 = TableSpec::tag(b"MSQ6");

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
            prefix: ipc::registry::PREFIX_BYTES,
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
                waits.release_dead(ns, Some(q.waiting.queue(record.queue())), object, index, who);
                drop(locked);
            }
        }
    }

    fn objects(&self, ns: &Namespace) -> Result<Vec<inspect::Object>> {
        ctl::describe(ns)
    }

    fn remove(&self, ns: &Namespace, kind: inspect::Kind, handle: &inspect::Handle) -> Option<Result<()>> {
        match (kind, handle) {
            (inspect::Kind::Msg, &inspect::Handle::Id(id)) => Some(control(ns, id, Command::Remove).map(drop)),
            _ => None,
        }
    }
}

fn queues(ns: &Namespace) -> Result<Objects<'_, MsgQueue>> {
    ns.table(TAG)
}

/// A queue locked, with what its operations need.
type Locked<'r> = messages::Locked<'r, MsgQueue>;

impl messages::locked::Queue for MsgQueue {
    type List = TypedList;

    fn parts(&self) -> (&TypedList, &Waiting) {
        (&self.list, &self.waiting)
    }
}

/// The wait table (looked up only when someone waits).
fn waits<'r>(locked: &Locked<'r>) -> Waits<'r> {
    Waits::of(locked.ns).expect("checked when the namespace was opened")
}

/// Locks queue `id` whole (both ends of its list: see `messages::Ends`).
fn lock<'r>(ns: &'r Namespace, queues: &Objects<'r, MsgQueue>, q: &'r MsgQueue, id: i32) -> Result<Locked<'r>> {
    lock_ends(ns, queues, q, id, Ends::Both)
}

/// Locks `ends` of queue `id`'s list (the receiving end is the queue's
/// lock), repairing the queue if a previous holder died, and checks that
/// it still is queue `id` (EIDRM).
fn lock_ends<'r>(
    ns: &'r Namespace,
    queues: &Objects<'r, MsgQueue>,
    q: &'r MsgQueue,
    id: i32,
    ends: Ends,
) -> Result<Locked<'r>> {
    let held = q.list.lock(ends);
    if !q.header.holds(id) {
        return Err(Errno::EIDRM);
    }
    let st = Store { region: ns, owner: ipc::owner_of(queues, id) };
    Locked::new(ns, q, st, held, || format!("msg queue {id}"))
}

/// The queue named `id`, and the table it is in.
fn find(ns: &Namespace, id: i32) -> Result<(Objects<'_, MsgQueue>, &MsgQueue)> {
    let queues = queues(ns)?;
    let q = registry::lookup(&queues, id)?;
    Ok((queues, q))
}

/// msgget(2).
pub fn get(ns: &Namespace, key: i32, flags: i32) -> Result<i32> {
    let request = registry::GetRequest { key, flags, limit: limits().msgmni, units: 0 };
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
    // A queue with an index of types is sent to with both ends locked.
    let ends = |indexed: bool| if indexed { Ends::Both } else { Ends::Sending };
    let mut locked = lock_ends(ns, &queues, q, id, ends(q.list.has_index()))?;
    let mut pending = Wait::default();
    loop {
        if locked.held.ends != ends(q.list.has_index()) && locked.held.ends != Ends::Both {
            drop(locked);
            locked = lock_ends(ns, &queues, q, id, Ends::Both)?;
        }
        platform::with_credentials(|c| q.header.perm.check(c, 0o222))?;
        let qbytes = q.qbytes.load(Relaxed);
        if q.list.has_room(|count, bytes| text.len() as u64 + bytes <= qbytes && count < qbytes) {
            q.list.reserve(&locked.st, text.len())?;
            locked.with_repair(|| q.enqueue(&locked.st, mtype, text))?;
            let mut wakeups = Wakeups::default();
            if !q.waiting.receivers.is_empty() {
                let waits = waits(&locked);
                for (index, record) in waits.queued(&q.waiting.receivers, locked.st.owner) {
                    let select = Select::decode([record.payload[0].load(Relaxed), record.payload[1].load(Relaxed)]);
                    if select.accepts(mtype) {
                        waits.settle(&q.waiting.receivers, locked.st.owner, index, wait::RECHECK, &mut wakeups);
                    }
                }
            }
            drop(locked);
            q.waiting.note_sent();
            wakeups.wake();
            return Ok(());
        }
        if flags & libc::IPC_NOWAIT != 0 {
            return Err(Errno::EAGAIN);
        }
        let owner = locked.st.owner;
        let held = locked.held.ends;
        let relock = |e| lock_ends(ns, &queues, q, id, e);
        let woken = pending.step(ns, &q.waiting, owner, SENDER, locked, held, None, |_| {}, relock)?;
        locked = after_wait(woken)?;
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
    // The first message, of a queue without an index, is taken with the
    // receiving end locked; any other with both.
    let ends = |indexed: bool| if matches!(select, Select::Any) && !indexed { Ends::Receiving } else { Ends::Both };
    let mut locked = lock_ends(ns, &queues, q, id, ends(q.list.has_index()))?;
    let mut pending = Wait::default();
    loop {
        if locked.held.ends != ends(q.list.has_index()) && locked.held.ends != Ends::Both {
            drop(locked);
            locked = lock_ends(ns, &queues, q, id, Ends::Both)?;
        }
        platform::with_credentials(|c| q.header.perm.check(c, 0o444))?;
        if let Some(found) = locked.with_repair(|| q.find(&locked.st, select))? {
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
                    locked.repair();
                    return Err(Errno::EIO);
                }
            }
            if flags & MSG_COPY == 0 {
                locked.with_repair(|| q.list.unlink(&locked.st, &found))?;
                let mut wakeups = Wakeups::default();
                locked.settle_all(SENDER, &mut wakeups);
                drop(locked);
                q.waiting.note_freed();
                wakeups.wake();
            }
            return Ok((found.tag, count));
        }
        if flags & libc::IPC_NOWAIT != 0 {
            return Err(Errno::ENOMSG);
        }
        let owner = locked.st.owner;
        let describe = |waiter: &Waiter| {
            let [kind, value] = select.encode();
            waiter.record().payload[0].store(kind, Relaxed);
            waiter.record().payload[1].store(value, Relaxed);
        };
        let held = locked.held.ends;
        let relock = |e| lock_ends(ns, &queues, q, id, e);
        let woken = pending.step(ns, &q.waiting, owner, RECEIVER, locked, held, None, describe, relock)?;
        locked = after_wait(woken)?;
    }
}

/// What a wait's end means for msgsnd and msgrcv: the queue is gone
/// (EIDRM), a signal interrupted it (EINTR, even a wake-up that came with
/// it: Linux does not restart these calls), or try again.
fn after_wait((locked, slept, state): (Locked, Slept, u32)) -> Result<Locked> {
    match (slept, state) {
        (_, wait::REMOVED) => Err(Errno::EIDRM),
        (Slept::Interrupted, _) => Err(Errno::EINTR),
        _ => Ok(locked),
    }
}
