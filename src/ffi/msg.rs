//! msgget, msgsnd, msgrcv, msgctl.

use super::{call, user_ptr};
use crate::error::Errno;
use crate::msg::{self, Reply};
use crate::region;
use crate::user::OutBuf;
use libc::{c_int, c_long, c_void, size_t, ssize_t};
use std::mem::size_of;

#[no_mangle]
pub extern "C" fn msgget(key: libc::key_t, msgflg: c_int) -> c_int {
    call(-1, || msg::get(region::get()?, key, msgflg))
}

/// # Safety
/// `msgp` must point to a `struct msgbuf` with `msgsz` bytes of text, as msgsnd(2) requires.
#[no_mangle]
pub unsafe extern "C" fn msgsnd(msqid: c_int, msgp: *const c_void, msgsz: size_t, msgflg: c_int) -> c_int {
    call(-1, || {
        let msgp = user_ptr(msgp).ok_or(Errno::EFAULT)?;
        // SAFETY: a msgbuf starts with its long mtype (caller's contract).
        let mtype = unsafe { msgp.cast::<c_long>().read_unaligned() };
        msg::check_send(msqid, msgsz, mtype)?;
        // SAFETY: the text follows mtype and is msgsz bytes long (caller's
        // contract); msgsz was checked against msgmax.
        let text = unsafe { std::slice::from_raw_parts(msgp.cast::<u8>().add(size_of::<c_long>()), msgsz) };
        msg::send(region::get()?, msqid, mtype, text, msgflg).map(|()| 0)
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
    call(-1, || {
        let select = msg::check_receive(msqid, msgsz, msgtyp, msgflg)?;
        let msgp = user_ptr(msgp).map(|p| p.cast::<u8>().cast_mut());
        // SAFETY: the caller provides msgsz writable bytes of text after mtype.
        let mut text = msgp.map(|p| unsafe { OutBuf::new(p.add(size_of::<c_long>()), msgsz) });
        let (mtype, len) = msg::receive(region::get()?, msqid, text.as_mut(), select, msgflg)?;
        if let Some(p) = msgp {
            // SAFETY: as above; the buffer starts with the long mtype.
            unsafe { p.cast::<c_long>().write_unaligned(mtype) };
        }
        Ok(len as ssize_t)
    })
}

/// # Safety
/// `buf` must be NULL or point to a `struct msqid_ds` (a `struct msginfo` for
/// IPC_INFO and MSG_INFO), as msgctl(2) requires.
#[no_mangle]
pub unsafe extern "C" fn msgctl(msqid: c_int, cmd: c_int, buf: *mut libc::msqid_ds) -> c_int {
    call(-1, || {
        let buf = user_ptr(buf).map(|p| p.cast_mut());
        // SAFETY: for IPC_SET the caller provides a readable msqid_ds.
        let input = buf.filter(|_| cmd & !0x100 == libc::IPC_SET).map(|p| unsafe { p.read_unaligned() });
        let reply = msg::control(region::get()?, msqid, cmd, input.as_ref())?;
        let out = buf.ok_or(Errno::EFAULT);
        // SAFETY: the caller provides a writable msqid_ds (msginfo for the
        // info commands) when the command returns one.
        match reply {
            Reply::Done(r) => Ok(r),
            Reply::Stat(r, ds) => out.map(|p| unsafe { p.write_unaligned(ds) }).map(|()| r),
            Reply::Info(r, info) => out.map(|p| unsafe { p.cast::<libc::msginfo>().write_unaligned(info) }).map(|()| r),
        }
    })
}
