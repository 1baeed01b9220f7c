//! msgctl(2).

use super::{limits, lock, queue, Queues, MSG_INFO, MSG_STAT, MSG_STAT_ANY};
use crate::error::{Errno, Result};
use crate::ipc::{self, registry};
use crate::platform::{self, CAP_SYS_RESOURCE};
use crate::region::Region;
use std::sync::atomic::Ordering::Relaxed;

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
const IPC_64: i32 = 0x100;

/// msgctl(2). `set` is the caller's buffer for IPC_SET (None if NULL).
pub fn control(region: &Region, id: i32, cmd: i32, set: Option<&libc::msqid_ds>) -> Result<Reply> {
    if id < 0 || cmd < 0 {
        return Err(Errno::EINVAL);
    }
    match cmd & !IPC_64 {
        libc::IPC_INFO | MSG_INFO => Ok(info(region, cmd & !IPC_64)),
        libc::IPC_STAT => stat(region, queue(region, id)?, true).map(|ds| Reply::Stat(0, ds)),
        c @ (MSG_STAT | MSG_STAT_ANY) => {
            let q = region.msg_queue(ipc::index_of(id)).ok_or(Errno::EINVAL)?;
            let live_id = q.header.id.load(Relaxed);
            if !q.header.holds(live_id) {
                return Err(Errno::EINVAL);
            }
            stat(region, q, c == MSG_STAT).map(|ds| Reply::Stat(live_id, ds))
        }
        libc::IPC_SET => set_attributes(region, id, set.ok_or(Errno::EFAULT)?).map(|()| Reply::Done(0)),
        libc::IPC_RMID => remove(region, id).map(|()| Reply::Done(0)),
        _ => Err(Errno::EINVAL),
    }
}

fn info(region: &Region, cmd: i32) -> Reply {
    let limits = limits();
    let queues = Queues(region);
    // SAFETY: msginfo is plain integers; all-zero is valid.
    let mut out: libc::msginfo = unsafe { std::mem::zeroed() };
    out.msgmax = limits.msgmax as i32;
    out.msgmnb = limits.msgmnb as i32;
    out.msgmni = limits.msgmni as i32;
    out.msgssz = MSGSSZ;
    out.msgseg = MSGSEG;
    if cmd == MSG_INFO {
        let (mut count, mut messages, mut bytes) = (0u64, 0u64, 0u64);
        for object in registry::live_objects(&queues) {
            if let Some(q) = region.msg_queue(ipc::index_of(object.id.load(Relaxed))) {
                count += 1;
                messages += q.qnum.load(Relaxed);
                bytes += q.cbytes.load(Relaxed);
            }
        }
        out.msgpool = count.min(i32::MAX as u64) as i32;
        out.msgmap = messages.min(i32::MAX as u64) as i32;
        out.msgtql = bytes.min(i32::MAX as u64) as i32;
    } else {
        out.msgpool = MSGPOOL;
        out.msgmap = MSGMAP;
        out.msgtql = MSGTQL;
    }
    Reply::Info(registry::max_index(&queues).map_or(0, |i| i as i32), out)
}

fn stat(region: &Region, q: &super::MsgQueue, check_read: bool) -> Result<libc::msqid_ds> {
    let id = q.header.id.load(Relaxed);
    let _guard = lock(region, q, id).map_err(|_| Errno::EINVAL)?;
    if check_read {
        platform::with_credentials(|c| q.header.perm.check(c, 0o444))?;
    }
    // SAFETY: msqid_ds is plain data; all-zero is valid (and zeroes the
    // reserved fields as the kernel does).
    let mut ds: libc::msqid_ds = unsafe { std::mem::zeroed() };
    ds.msg_perm = q.header.perm.to_libc();
    ds.msg_stime = q.stime.load(Relaxed);
    ds.msg_rtime = q.rtime.load(Relaxed);
    ds.msg_ctime = q.header.ctime.load(Relaxed);
    ds.__msg_cbytes = q.cbytes.load(Relaxed) as _;
    ds.msg_qnum = q.qnum.load(Relaxed) as _;
    ds.msg_qbytes = q.qbytes.load(Relaxed) as _;
    ds.msg_lspid = q.lspid.load(Relaxed);
    ds.msg_lrpid = q.lrpid.load(Relaxed);
    Ok(ds)
}

fn set_attributes(region: &Region, id: i32, new: &libc::msqid_ds) -> Result<()> {
    let q = queue(region, id)?;
    let guard = lock(region, q, id)?;
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
    // away: everyone re-checks.
    wake_everyone(q, guard);
    Ok(())
}

fn remove(region: &Region, id: i32) -> Result<()> {
    let queues = Queues(region);
    let registry_guard = registry::lock(&queues);
    let q = queue(region, id)?;
    let guard = lock(region, q, id)?;
    platform::with_credentials(|c| q.header.perm.check_owner(c))?;
    // The id stops resolving here: from now on the queue's chunks are
    // abandoned and free for the taking even if we die before releasing them.
    registry::remove(&registry_guard, &q.header);
    crate::crash_point::here("msg-remove-before-release");
    region.release_chunks(crate::region::ChunkOwner::msg_queue(id));
    // Sleepers find the slot no longer holds their id and return EIDRM.
    wake_everyone(q, guard);
    Ok(())
}

/// Changes both words and wakes every sleeper (taking their registrations,
/// as any waker does).
fn wake_everyone(q: &super::MsgQueue, guard: crate::region::Guard) {
    q.sent.fetch_add(1, Relaxed);
    q.freed.fetch_add(1, Relaxed);
    q.receivers_asleep.store(0, Relaxed);
    q.senders_asleep.store(0, Relaxed);
    drop(guard);
    platform::futex_wake(&q.sent, i32::MAX);
    platform::futex_wake(&q.freed, i32::MAX);
}
