//! msgctl(2).

use super::{find, limits, lock, queues, MsgQueue};
use crate::error::{Errno, Result};
use crate::ipc::{self, registry};
use crate::messages::{RECEIVER, SENDER};
use crate::platform::{self, CAP_SYS_RESOURCE};
use crate::process::inspect::{Detail, Object};
use crate::process::Namespace;
use crate::wait::{Waits, Wakeups};
use std::sync::atomic::Ordering::Relaxed;

/// A msgctl command, as read from the C call.
pub enum Command {
    /// IPC_INFO (false) or MSG_INFO (true).
    Info {
        msg_info: bool,
    },
    /// IPC_STAT (by id), MSG_STAT and MSG_STAT_ANY (by index).
    Stat {
        by_index: bool,
        check_read: bool,
    },
    /// IPC_SET with the caller's buffer (None: it could not be read).
    Set(Option<libc::msqid_ds>),
    Remove,
}

/// What msgctl hands back to the caller, besides its return value.
pub enum Reply {
    Done(i32),
    Stat(i32, libc::msqid_ds),
    Info(i32, libc::msginfo),
}

/// Linux's compile-time defaults that IPC_INFO reports (include/uapi/linux/msg.h).
const MSGPOOL: i32 = 32000 * 16384 / 1024;
const MSGTQL: i32 = 16384;
const MSGMAP: i32 = 16384;
const MSGSSZ: i32 = 16;
const MSGSEG: u16 = 0xffff;

/// msgctl(2).
pub fn control(ns: &Namespace, id: i32, command: Command) -> Result<Reply> {
    if id < 0 {
        return Err(Errno::EINVAL);
    }
    match command {
        Command::Info { msg_info } => info(ns, msg_info),
        Command::Stat { by_index: false, .. } => stat(ns, id, true).map(|ds| Reply::Stat(0, ds)),
        Command::Stat { by_index: true, check_read } => {
            let live_id = registry::at_index(&queues(ns)?, id)?.header.id();
            stat(ns, live_id, check_read).map(|ds| Reply::Stat(live_id, ds))
        }
        Command::Set(new) => set_attributes(ns, id, &new.ok_or(Errno::EFAULT)?).map(|()| Reply::Done(0)),
        Command::Remove => remove(ns, id).map(|()| Reply::Done(0)),
    }
}

fn info(ns: &Namespace, msg_info: bool) -> Result<Reply> {
    let limits = limits();
    let queues = queues(ns)?;
    // SAFETY: msginfo is plain integers; all-zero is valid.
    let mut out: libc::msginfo = unsafe { std::mem::zeroed() };
    out.msgmax = limits.msgmax as i32;
    out.msgmnb = limits.msgmnb as i32;
    out.msgmni = limits.msgmni as i32;
    out.msgssz = MSGSSZ;
    out.msgseg = MSGSEG;
    if msg_info {
        let (mut count, mut messages, mut bytes) = (0u64, 0u64, 0u64);
        for q in registry::live_objects(&queues) {
            count += 1;
            messages += q.list.count();
            bytes += q.list.bytes();
        }
        out.msgpool = count.min(i32::MAX as u64) as i32;
        out.msgmap = messages.min(i32::MAX as u64) as i32;
        out.msgtql = bytes.min(i32::MAX as u64) as i32;
    } else {
        out.msgpool = MSGPOOL;
        out.msgmap = MSGMAP;
        out.msgtql = MSGTQL;
    }
    Ok(Reply::Info(registry::max_index(&queues).map_or(0, |i| i as i32), out))
}

/// IPC_STAT of queue `id` (a queue removed meanwhile is EINVAL, as a
/// stale id would be).
fn stat(ns: &Namespace, id: i32, check_read: bool) -> Result<libc::msqid_ds> {
    let (queues, q) = find(ns, id)?;
    let _locked = lock(ns, &queues, q, id).map_err(|_| Errno::EINVAL)?;
    if check_read {
        platform::with_credentials(|c| q.header.perm.check(c, 0o444))?;
    }
    Ok(stat_of(q))
}

/// Every live queue, as MSG_STAT_ANY shows it, with its waiters and its
/// running totals, all read under the lock IPC_STAT takes.
pub(super) fn describe(ns: &Namespace) -> Result<Vec<Object>> {
    let queues = queues(ns)?;
    let Some(last) = registry::max_index(&queues) else { return Ok(Vec::new()) };
    let mut rows = Vec::new();
    for index in 0..=last as i32 {
        let Ok(q) = registry::at_index(&queues, index) else { continue };
        let id = q.header.id();
        let Ok(locked) = lock(ns, &queues, q, id) else { continue };
        let ds = stat_of(q);
        let parties = q.waiting.parties(ns, locked.st.owner);
        let totals = q.list.totals();
        drop(locked);
        rows.push(Object::from_ipc_perm(id, &ds.msg_perm, detail_of(&ds, totals), parties));
    }
    Ok(rows)
}

#[allow(clippy::unnecessary_cast)] // the fields are narrower on 32-bit targets
fn detail_of(ds: &libc::msqid_ds, (sent, taken): (u64, u64)) -> Detail {
    Detail::Msg {
        bytes: ds.__msg_cbytes as u64,
        messages: ds.msg_qnum as u64,
        max_bytes: ds.msg_qbytes as u64,
        last_send_pid: ds.msg_lspid,
        last_receive_pid: ds.msg_lrpid,
        sent,
        taken,
        send_time: ds.msg_stime,
        receive_time: ds.msg_rtime,
        change_time: ds.msg_ctime,
    }
}

fn stat_of(q: &MsgQueue) -> libc::msqid_ds {
    // SAFETY: msqid_ds is plain data; all-zero is valid (and zeroes the
    // reserved fields as the kernel does).
    let mut ds: libc::msqid_ds = unsafe { std::mem::zeroed() };
    ds.msg_perm = q.header.perm.to_libc();
    ds.msg_stime = q.waiting.sent.time.load(Relaxed);
    ds.msg_rtime = q.waiting.freed.time.load(Relaxed);
    ds.msg_ctime = q.header.ctime.load(Relaxed);
    ds.__msg_cbytes = q.list.bytes() as _;
    ds.msg_qnum = q.list.count() as _;
    ds.msg_qbytes = q.qbytes.load(Relaxed) as _;
    ds.msg_lspid = q.waiting.sent.pid.load(Relaxed);
    ds.msg_lrpid = q.waiting.freed.pid.load(Relaxed);
    ds
}

fn set_attributes(ns: &Namespace, id: i32, new: &libc::msqid_ds) -> Result<()> {
    let (queues, q) = find(ns, id)?;
    let locked = lock(ns, &queues, q, id)?;
    #[allow(clippy::unnecessary_cast)] // msglen_t is narrower on 32-bit targets
    let qbytes = new.msg_qbytes as u64;
    // Both EPERM: whether it comes from here or from the owner check in
    // set_perm cannot be told apart, and both come before set_perm's EINVAL.
    if qbytes > limits().msgmnb && !platform::with_credentials(|c| c.has_cap(CAP_SYS_RESOURCE)) {
        return Err(Errno::EPERM);
    }
    q.header.set_perm(&new.msg_perm)?;
    q.qbytes.store(qbytes, Relaxed);
    // A larger queue may let senders in; a stricter mode must turn sleepers
    // away: everyone tries again.
    let mut wakeups = Wakeups::default();
    locked.settle_all(RECEIVER, &mut wakeups);
    locked.settle_all(SENDER, &mut wakeups);
    drop(locked);
    wakeups.wake();
    Ok(())
}

/// IPC_RMID. The commit point is the store that frees the slot (see
/// `ipc::ObjectHeader`): the queue's chunks are abandoned from then on, and
/// its sleepers return EIDRM, woken here or, if we die first, at their next
/// look.
fn remove(ns: &Namespace, id: i32) -> Result<()> {
    let queues = queues(ns)?;
    let registry_guard = registry::lock(&queues);
    let q = registry::lookup(&queues, id)?;
    let locked = lock(ns, &queues, q, id)?;
    platform::with_credentials(|c| q.header.perm.check_owner(c))?;
    registry::remove(&queues, &registry_guard, q, 0);
    crate::crash_point::here("msg-remove-after-commit");
    let owner = ipc::owner_of(&queues, id);
    let mut wakeups = Wakeups::default();
    let waits: Waits = super::waits(&locked);
    waits.remove_all(&q.waiting.receivers, owner, &mut wakeups);
    waits.remove_all(&q.waiting.senders, owner, &mut wakeups);
    ns.release_chunks(owner);
    drop(locked);
    drop(registry_guard);
    wakeups.wake();
    Ok(())
}
