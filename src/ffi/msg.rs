//! msgget, msgsnd, msgrcv, msgctl.

use super::{call, readable, writable};
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
        let mtype_ptr = readable(msgp.cast::<c_long>(), 1)?;
        // SAFETY: readable (checked); a msgbuf starts with its long mtype.
        let mtype = unsafe { mtype_ptr.read_unaligned() };
        msg::check_send(msqid, msgsz, mtype)?;
        let text = readable(msgp.cast::<u8>().wrapping_add(size_of::<c_long>()), msgsz)?;
        // SAFETY: msgsz readable bytes (checked), the text after mtype.
        let text = unsafe { std::slice::from_raw_parts(text, msgsz) };
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
        // SAFETY: the caller provides a msgbuf of msgsz bytes of text; the
        // bytes are checked writable before anything is written.
        let mut buffer = unsafe { OutBuf::new(msgp.cast::<u8>(), size_of::<c_long>().saturating_add(msgsz)) };
        let (_mtype, len) = msg::receive(region::get()?, msqid, &mut buffer, select, msgflg)?;
        Ok(len as ssize_t)
    })
}

/// # Safety
/// `buf` must be NULL or point to a `struct msqid_ds` (a `struct msginfo` for
/// IPC_INFO and MSG_INFO), as msgctl(2) requires.
#[no_mangle]
pub unsafe extern "C" fn msgctl(msqid: c_int, cmd: c_int, buf: *mut libc::msqid_ds) -> c_int {
    call(-1, || {
        // SAFETY: IPC_SET's buffer, checked readable.
        let input = match cmd & !0x100 {
            libc::IPC_SET => readable(buf, 1).ok().map(|p| unsafe { p.read_unaligned() }),
            _ => None,
        };
        let reply = msg::control(region::get()?, msqid, cmd, input.as_ref())?;
        // SAFETY: the reply's buffer, checked writable.
        match reply {
            Reply::Done(r) => Ok(r),
            Reply::Stat(r, ds) => writable(buf, 1).map(|p| unsafe { p.write_unaligned(ds) }).map(|()| r),
            Reply::Info(r, info) => {
                writable(buf.cast::<libc::msginfo>(), 1).map(|p| unsafe { p.write_unaligned(info) }).map(|()| r)
            }
        }
    })
}
