//! semget, semop, semtimedop, semctl.

use super::trace::{names, Args};
use super::{call, namespace};
use crate::error::{Errno, Result};
use crate::sem::{self, Command, Reply, SemInfo, Sop};
use crate::user;
use libc::{c_int, c_ushort, size_t};

#[no_mangle]
pub extern "C" fn semget(key: libc::key_t, nsems: c_int, semflg: c_int) -> c_int {
    let args = |a: &mut Args| {
        a.key(key).int(nsems).flags(semflg, names::GET, true);
    };
    call("semget", args, -1, || sem::get(namespace()?, key, nsems, semflg))
}

/// # Safety
/// `sops` must point to `nsops` `struct sembuf`, as semop(2) requires.
#[no_mangle]
pub unsafe extern "C" fn semop(semid: c_int, sops: *mut libc::sembuf, nsops: size_t) -> c_int {
    // SAFETY: same contract; no timeout.
    unsafe { timed_op("semop", semid, sops, nsops, std::ptr::null()) }
}

/// # Safety
/// `sops` must point to `nsops` `struct sembuf`; `timeout` must be NULL or
/// point to a `struct timespec`, as semtimedop(2) requires.
#[no_mangle]
pub unsafe extern "C" fn semtimedop(
    semid: c_int,
    sops: *mut libc::sembuf,
    nsops: size_t,
    timeout: *const libc::timespec,
) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { timed_op("semtimedop", semid, sops, nsops, timeout) }
}

/// semop and semtimedop, traced as `name`.
///
/// # Safety
/// As [`semtimedop`].
unsafe fn timed_op(
    name: &str,
    semid: c_int,
    sops: *mut libc::sembuf,
    nsops: size_t,
    timeout: *const libc::timespec,
) -> c_int {
    let args = |a: &mut Args| {
        a.int(semid);
        // SAFETY: a checked read of the caller's operations.
        match unsafe { user::slice(sops.cast_const(), nsops.min(sem::limits().semopm as usize)) } {
            Ok(list) => a.group("[", "]", |l| {
                for s in list {
                    l.group("{", "}", |f| {
                        f.int(s.sem_num).int(s.sem_op).flags(s.sem_flg as c_int, names::SEMOP, false);
                    });
                }
            }),
            Err(_) => a.ptr(sops),
        };
        a.int(nsops);
        if name == "semtimedop" {
            a.read(timeout, |t, ts| {
                t.int(ts.tv_sec).int(ts.tv_nsec);
            });
        }
    };
    call(name, args, -1, || {
        // Linux's order: read the timeout, check the count (an unsigned
        // int), read the operations, then check the id and the timeout.
        // SAFETY: a timespec, if given (EFAULT if unreadable).
        let timeout = if timeout.is_null() { None } else { Some(unsafe { user::read(timeout) }?) };
        let nsops = nsops as u32;
        sem::check_nsops(nsops)?;
        // SAFETY: nsops sembufs (nsops <= SEMOPM), EFAULT if unreadable.
        let sembufs = unsafe { user::slice(sops.cast_const(), nsops as usize) }?;
        let sop = |s: &libc::sembuf| Sop { num: s.sem_num, op: s.sem_op, flags: s.sem_flg };
        let timeout = sem::check_id_and_timeout(semid, timeout.as_ref())?;
        let ns = namespace()?;
        // One operation, the usual semop, needs no copy of a list.
        if let [one] = sembufs {
            return sem::op(ns, semid, &[sop(one)], timeout).map(|()| 0);
        }
        let mut sops: smallvec::SmallVec<[Sop; 8]> = smallvec::SmallVec::new();
        sops.extend(sembufs.iter().map(sop));
        sem::op(ns, semid, &sops, timeout).map(|()| 0)
    })
}

/// `int semctl(int semid, int semnum, int cmd, ...)`.
///
/// Variadic in C, defined here with the optional fourth argument fixed as a
/// pointer-sized integer. That is ABI-correct on x86_64 and aarch64 Linux:
/// both pass the first variadic arguments exactly as they pass named ones,
/// in the next integer register (rcx / x3), and `union semun` (a pointer or
/// an int, 8 bytes of INTEGER class) travels there whole; a callee that does
/// not use a register ignores what the caller left in it (on x86_64 also
/// %al, the vector-register count of variadic calls). The argument is read
/// only for the commands that define one, so calls that pass none (IPC_RMID,
/// GETVAL, ...) are correct too, as in musl. (Apple's arm64 ABI passes
/// variadic arguments on the stack: a port there needs a C trampoline.)
///
/// # Safety
/// `arg` must be what semctl(2) requires for `cmd`.
#[no_mangle]
pub unsafe extern "C" fn semctl(semid: c_int, semnum: c_int, cmd: c_int, arg: usize) -> c_int {
    let args = |a: &mut Args| {
        a.int(semid).int(semnum).command(cmd, names::SEMCTL);
        match cmd {
            libc::SETVAL => a.int(arg as u32 as i32),
            libc::IPC_RMID | libc::GETVAL | libc::GETPID | libc::GETNCNT | libc::GETZCNT => a,
            _ => a.ptr(arg as *const u8),
        };
    };
    call("semctl", args, -1, || {
        let ptr = arg as *mut u8;
        let read_array = |n: usize| -> Result<Vec<u16>> {
            // SAFETY: SETALL's array of nsems values (EFAULT if unreadable).
            Ok(unsafe { user::slice(ptr.cast::<c_ushort>().cast_const(), n) }?.to_vec())
        };
        // Exactly the commands glibc's semctl accepts (it refuses the rest,
        // IPC_64 variants included, with EINVAL before any system call).
        let command = match cmd {
            libc::IPC_INFO => Command::Info { sem_info: false },
            libc::SEM_INFO => Command::Info { sem_info: true },
            libc::IPC_STAT => Command::Stat { by_index: false, check_read: true },
            libc::SEM_STAT => Command::Stat { by_index: true, check_read: true },
            libc::SEM_STAT_ANY => Command::Stat { by_index: true, check_read: false },
            libc::GETVAL => Command::GetVal,
            libc::GETPID => Command::GetPid,
            libc::GETNCNT => Command::GetNcnt,
            libc::GETZCNT => Command::GetZcnt,
            libc::GETALL => Command::GetAll,
            // The int member of the union (or an int passed as is).
            libc::SETVAL => Command::SetVal(arg as u32 as i32),
            libc::SETALL => Command::SetAll(&read_array),
            // SAFETY: IPC_SET's semid_ds (None if unreadable).
            libc::IPC_SET => Command::Set(unsafe { user::read(ptr.cast::<libc::semid_ds>()) }.ok()),
            libc::IPC_RMID => Command::Remove,
            _ => return Err(Errno::EINVAL),
        };
        match sem::control(namespace()?, semid, semnum, command)? {
            Reply::Value(v) => Ok(v),
            Reply::Stat(r, ds) => user::write(ptr.cast::<libc::semid_ds>(), ds).map(|()| r),
            Reply::Info(r, info) => user::write(ptr.cast::<SemInfo>(), info).map(|()| r),
            Reply::All(values) => {
                // SAFETY: the u16 values' bytes, for the copy only.
                let bytes = unsafe { std::slice::from_raw_parts(values.as_ptr().cast::<u8>(), values.len() * 2) };
                user::OutBuf::new(ptr, bytes.len()).write_at(0, bytes).map(|()| 0)
            }
        }
    })
}
