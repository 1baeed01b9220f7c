//! msgget, msgsnd, msgrcv, msgctl.

use super::trace::names;
use super::{call, namespace};
use crate::error::Errno;
use crate::msg::{self, Command, Reply, MSG_COPY, MSG_INFO, MSG_STAT, MSG_STAT_ANY};
use crate::user::{self, OutBuf};
use libc::{c_int, c_long, c_void, size_t, ssize_t};
use std::mem::size_of;

#[no_mangle]
pub extern "C" fn msgget(key: libc::key_t, msgflg: c_int) -> c_int {
    let args = |a: &mut super::trace::Args| {
        a.key(key).flags(msgflg, names::GET, true);
    };
    call("msgget", args, -1, || msg::get(namespace()?, key, msgflg))
}

/// # Safety
/// `msgp` must point to a `struct msgbuf` with `msgsz` bytes of text, as msgsnd(2) requires.
#[no_mangle]
pub unsafe extern "C" fn msgsnd(msqid: c_int, msgp: *const c_void, msgsz: size_t, msgflg: c_int) -> c_int {
    let args = |a: &mut super::trace::Args| {
        a.int(msqid).read(msgp.cast::<c_long>(), |m, mtype| {
            m.int(mtype).bytes(msgp.cast::<u8>().wrapping_add(size_of::<c_long>()), msgsz);
        });
        a.int(msgsz).flags(msgflg, names::MSGSND, false);
    };
    call("msgsnd", args, -1, || {
        // SAFETY: a msgbuf starts with its long mtype (EFAULT if unreadable).
        let mtype = unsafe { user::read(msgp.cast::<c_long>()) }?;
        msg::check_send(msqid, msgsz, mtype)?;
        // SAFETY: the msgsz bytes of text after mtype (none read if msgsz is 0).
        let text = unsafe { user::slice(msgp.cast::<u8>().wrapping_add(size_of::<c_long>()), msgsz) }?;
        msg::send(namespace()?, msqid, mtype, text, msgflg).map(|()| 0)
    })
}

/// # Safety
/// `msgp` must point to a buffer for a `struct msgbuf` with `msgsz` bytes of text, as msgrcv(2) requires.
#[no_mangle]
pub unsafe extern "C" fn msgrcv(
    msqid: c_int,
    msgp: *mut c_void,
    msgsz: size_t,
    msgtyp: c_long,
    msgflg: c_int,
) -> ssize_t {
    let args = |a: &mut super::trace::Args| {
        a.int(msqid).ptr(msgp).int(msgsz).int(msgtyp).flags(msgflg, names::MSGRCV, false);
    };
    call("msgrcv", args, -1, || {
        let select = msg::check_receive(msqid, msgsz, msgtyp, msgflg)?;
        // Linux's MSG_COPY first loads min(msgsz, msgmax) bytes from the
        // caller's buffer (into the copy it then fills), before it looks
        // for the queue.
        if msgflg & MSG_COPY != 0 && !user::readable(msgp as usize, msgsz.min(msg::limits().msgmax)) {
            return Err(Errno::EFAULT);
        }
        let mut buffer = OutBuf::new(msgp.cast::<u8>(), size_of::<c_long>().saturating_add(msgsz));
        let (_mtype, len) = msg::receive(namespace()?, msqid, &mut buffer, select, msgflg)?;
        Ok(len as ssize_t)
    })
}

/// # Safety
/// `buf` must be NULL or point to a `struct msqid_ds` (a `struct msginfo` for
/// IPC_INFO and MSG_INFO), as msgctl(2) requires.
#[no_mangle]
pub unsafe extern "C" fn msgctl(msqid: c_int, cmd: c_int, buf: *mut libc::msqid_ds) -> c_int {
    let args = |a: &mut super::trace::Args| {
        a.int(msqid).command(cmd, names::MSGCTL).ptr(buf);
    };
    call("msgctl", args, -1, || {
        if msqid < 0 || cmd < 0 {
            return Err(Errno::EINVAL);
        }
        // The commands the kernel knows, taken literally (glibc passes them
        // as they are; IPC_64 or'd in is an unknown command: EINVAL).
        let command = match cmd {
            libc::IPC_INFO => Command::Info { msg_info: false },
            MSG_INFO => Command::Info { msg_info: true },
            libc::IPC_STAT => Command::Stat { by_index: false, check_read: true },
            MSG_STAT => Command::Stat { by_index: true, check_read: true },
            MSG_STAT_ANY => Command::Stat { by_index: true, check_read: false },
            // SAFETY: IPC_SET's msqid_ds (None if unreadable).
            libc::IPC_SET => Command::Set(unsafe { user::read(buf) }.ok()),
            libc::IPC_RMID => Command::Remove,
            _ => return Err(Errno::EINVAL),
        };
        match msg::control(namespace()?, msqid, command)? {
            Reply::Done(r) => Ok(r),
            Reply::Stat(r, ds) => user::write(buf, ds).map(|()| r),
            Reply::Info(r, info) => user::write(buf.cast::<libc::msginfo>(), info).map(|()| r),
        }
    })
}
