//! shmget, shmat, shmdt, shmctl.

use super::trace::{names, Args};
use super::{call, namespace};
use crate::error::Errno;
use crate::shm::{
    self, Command, Reply, ShmInfo, ShmInfoTotals, SHM_INFO, SHM_LOCK, SHM_STAT, SHM_STAT_ANY, SHM_UNLOCK,
};
use crate::user;
use libc::{c_int, c_void, size_t};

#[no_mangle]
pub extern "C" fn shmget(key: libc::key_t, size: size_t, shmflg: c_int) -> c_int {
    let args = |a: &mut Args| {
        a.key(key).int(size).flags(shmflg, names::SHMGET, true);
    };
    call("shmget", args, -1, || shm::get(namespace()?, key, size, shmflg))
}

#[no_mangle]
pub extern "C" fn shmat(shmid: c_int, shmaddr: *const c_void, shmflg: c_int) -> *mut c_void {
    let args = |a: &mut Args| {
        a.int(shmid).ptr(shmaddr).flags(shmflg, names::SHMAT, false);
    };
    call("shmat", args, usize::MAX as *mut c_void, || {
        if shmid < 0 {
            return Err(Errno::EINVAL);
        }
        let at = shm::check_attach_address(shmaddr as usize, shmflg)?;
        shm::attach(namespace()?, shmid, at, shmflg).map(|a| a as *mut c_void)
    })
}

#[no_mangle]
pub extern "C" fn shmdt(shmaddr: *const c_void) -> c_int {
    call(
        "shmdt",
        |a| {
            a.ptr(shmaddr);
        },
        -1,
        || {
            let len = shm::detach(namespace()?, shmaddr as usize)?;
            user::forget(shmaddr as usize, len);
            Ok(0)
        },
    )
}

/// # Safety
/// `buf` must be NULL or point to a `struct shmid_ds` (a `struct shminfo`
/// for IPC_INFO, a `struct shm_info` for SHM_INFO), as shmctl(2) requires.
#[no_mangle]
pub unsafe extern "C" fn shmctl(shmid: c_int, cmd: c_int, buf: *mut libc::shmid_ds) -> c_int {
    let args = |a: &mut Args| {
        a.int(shmid).command(cmd, names::SHMCTL).ptr(buf);
    };
    call("shmctl", args, -1, || {
        if cmd < 0 || shmid < 0 {
            return Err(Errno::EINVAL);
        }
        // The commands the kernel knows, taken literally (see msgctl).
        let command = match cmd {
            libc::IPC_INFO => Command::Info,
            SHM_INFO => Command::InfoTotals,
            libc::IPC_STAT => Command::Stat { by_index: false, check_read: true },
            SHM_STAT => Command::Stat { by_index: true, check_read: true },
            SHM_STAT_ANY => Command::Stat { by_index: true, check_read: false },
            // SAFETY: IPC_SET's shmid_ds (None if unreadable).
            libc::IPC_SET => Command::Set(unsafe { user::read(buf) }.ok()),
            libc::IPC_RMID => Command::Remove,
            SHM_LOCK => Command::Lock(true),
            SHM_UNLOCK => Command::Lock(false),
            _ => return Err(Errno::EINVAL),
        };
        match shm::control(namespace()?, shmid, command)? {
            Reply::Done(r) => Ok(r),
            Reply::Stat(r, ds) => user::write(buf, ds).map(|()| r),
            Reply::Info(r, info) => user::write(buf.cast::<ShmInfo>(), info).map(|()| r),
            Reply::Totals(r, t) => user::write(buf.cast::<ShmInfoTotals>(), t).map(|()| r),
        }
    })
}
