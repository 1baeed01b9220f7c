//! mq_open, mq_close, mq_unlink, mq_send, mq_timedsend, mq_receive,
//! mq_timedreceive, mq_getattr, mq_setattr, mq_notify: glibc's wrappers and
//! the kernel's checks, in their order.
//!
//! **Variadic mq_open.** C declares `mq_open(const char *, int, ...)`, with
//! a `mode_t` and a `struct mq_attr *` after `oflag` when O_CREAT is set.
//! It is defined here with those two as fixed parameters. On x86_64 and
//! aarch64 Linux a variadic argument travels exactly where a fixed one of
//! the same type would (the next integer register, as for semctl's fourth
//! argument, see `sem.rs`), and a caller that passes fewer leaves garbage
//! there that is read only with O_CREAT, as glibc reads it.

use super::namespace::mapped;
use super::trace::{names, Args};
use super::{call, namespace};
use crate::error::{Errno, Result};
use crate::mq::{self, Request, ThreadRequest, MQ_PRIO_MAX};
use crate::user::{self, OutBuf};
use crate::wait::Deadline;
use libc::{c_char, c_int, c_uint, mode_t, size_t, ssize_t};
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

type Mqd = c_int;

/// `name` after glibc's check of its leading '/' (EINVAL), and the
/// kernel's of the rest (the empty rest is ENOENT).
///
/// # Safety
/// `name` must be NULL or a C string (EFAULT if unreadable).
unsafe fn queue_name<'a>(name: *const c_char) -> Result<&'a [u8]> {
    // SAFETY: the caller's contract.
    let name = unsafe { user::c_str(name) }?.to_bytes();
    match name.split_first() {
        Some((b'/', rest)) if rest.len() >= libc::PATH_MAX as usize => Err(Errno::ENAMETOOLONG),
        Some((b'/', [])) => Err(Errno::ENOENT),
        Some((b'/', rest)) => mq::check_name(rest).map(|()| rest),
        _ => Err(Errno::EINVAL),
    }
}

/// # Safety
/// `name` must be a C string; with O_CREAT, `attr` must be NULL or point
/// to a `struct mq_attr` (see the module docs for the variadic ABI).
#[no_mangle]
pub unsafe extern "C" fn mq_open(name: *const c_char, oflag: c_int, mode: mode_t, attr: *const libc::mq_attr) -> Mqd {
    let args = |a: &mut Args| {
        a.c_str(name).flags(oflag, names::MQ_OPEN, false);
        if oflag & libc::O_CREAT != 0 {
            a.int(format_args!("0{mode:o}")).read(attr, |f, at| {
                f.int(format_args!("mq_maxmsg={}", at.mq_maxmsg)).int(format_args!("mq_msgsize={}", at.mq_msgsize));
            });
        }
    };
    call("mq_open", args, -1, || {
        // SAFETY: the caller's contract.
        let name = unsafe { queue_name(name) }?;
        let (mode, attr) = if oflag & libc::O_CREAT != 0 {
            // SAFETY: a struct mq_attr if given (EFAULT if unreadable).
            let attr = if attr.is_null() { None } else { Some(unsafe { user::read(attr) }?) };
            (mode, attr.map(|a| (a.mq_maxmsg, a.mq_msgsize)))
        } else {
            (0, None)
        };
        mq::open(namespace()?, name, oflag, mode, attr)
    })
}

/// glibc's checked mq_open (for `_FORTIFY_SOURCE`): O_CREAT needs the
/// variadic arguments this cannot have.
///
/// # Safety
/// `name` must be a C string.
#[no_mangle]
pub unsafe extern "C" fn __mq_open_2(name: *const c_char, oflag: c_int) -> Mqd {
    if oflag & libc::O_CREAT != 0 {
        return call("mq_open", |a| {
        a.c_str(name).flags(oflag, names::MQ_OPEN, false);
    }, -1, || Err(Errno::EINVAL));
    }
    // SAFETY: the caller's contract; no variadic arguments are read.
    unsafe { mq_open(name, oflag, 0, std::ptr::null()) }
}

/// glibc's mq_close is close(2); so is this one for descriptors that are
/// not queues.
#[no_mangle]
pub extern "C" fn mq_close(mqdes: Mqd) -> c_int {
    call("mq_close", |a| {
        a.int(mqdes);
    }, -1, || match namespace() {
        Ok(ns) => mq::close(ns, mqdes).map(|()| 0),
        Err(_) => crate::platform::descriptors::close(mqdes).map(|()| 0),
    })
}

/// close(2), interposed: on Linux, a process that closes any descriptor of
/// a queue it registered a notification on ends the registration. Only a
/// process that has registered one pays for the check (one lseek).
#[no_mangle]
pub extern "C" fn close(fd: c_int) -> c_int {
    type Real = unsafe extern "C" fn(c_int) -> c_int;
    static REAL: AtomicUsize = AtomicUsize::new(0);
    super::quietly(|| {
        if let Some(ns) = mapped() {
            mq::closing(ns, fd);
        }
    });
    let Some(real) = crate::platform::next_symbol(c"close", &REAL) else {
        // Only if libc had no close, which no libc we load with lacks.
        return call("close", |a| {
        a.int(fd);
    }, -1, || crate::platform::descriptors::close(fd).map(|()| 0));
    };
    // SAFETY: the next definition of close, called with the caller's argument.
    unsafe { std::mem::transmute::<usize, Real>(real)(fd) }
}

/// # Safety
/// `name` must be a C string.
#[no_mangle]
pub unsafe extern "C" fn mq_unlink(name: *const c_char) -> c_int {
    call("mq_unlink", |a| {
        a.c_str(name);
    }, -1, || {
        // SAFETY: the caller's contract.
        let name = unsafe { queue_name(name) }?;
        mq::unlink(namespace()?, name).map(|()| 0)
    })
}

/// The kernel's prepare_timeout: EFAULT, or EINVAL for a timespec that is
/// not valid, whether or not the call would wait.
///
/// # Safety
/// `timeout` must be NULL or point to a `struct timespec`.
unsafe fn deadline(timeout: *const libc::timespec) -> Result<Option<Deadline>> {
    if timeout.is_null() {
        return Ok(None);
    }
    // SAFETY: the caller's contract (EFAULT if unreadable).
    let ts = unsafe { user::read(timeout) }?;
    if ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
        return Err(Errno::EINVAL);
    }
    Ok(Some(Deadline::Realtime(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))))
}

/// # Safety
/// `msg_ptr` must point to `msg_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn mq_send(mqdes: Mqd, msg_ptr: *const c_char, msg_len: size_t, msg_prio: c_uint) -> c_int {
    // SAFETY: same contract; no timeout.
    unsafe { timed_send("mq_send", mqdes, msg_ptr, msg_len, msg_prio, std::ptr::null()) }
}

/// # Safety
/// `msg_ptr` must point to `msg_len` bytes; `abs_timeout` must be NULL or
/// point to a `struct timespec`.
#[no_mangle]
pub unsafe extern "C" fn mq_timedsend(
    mqdes: Mqd,
    msg_ptr: *const c_char,
    msg_len: size_t,
    msg_prio: c_uint,
    abs_timeout: *const libc::timespec,
) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { timed_send("mq_timedsend", mqdes, msg_ptr, msg_len, msg_prio, abs_timeout) }
}

/// Shows the timeout argument of a timed call (`name` is mq_timedsend or
/// mq_timedreceive; the untimed calls have none): the struct, NULL, or its
/// address.
fn timeout_arg(a: &mut Args, name: &str, timeout: *const libc::timespec) {
    if name.starts_with("mq_timed") {
        a.read(timeout, |t, ts| {
            t.int(ts.tv_sec).int(ts.tv_nsec);
        });
    }
}

/// mq_send and mq_timedsend, traced as `name`.
///
/// # Safety
/// As [`mq_timedsend`].
unsafe fn timed_send(
    name: &str,
    mqdes: Mqd,
    msg_ptr: *const c_char,
    msg_len: size_t,
    msg_prio: c_uint,
    abs_timeout: *const libc::timespec,
) -> c_int {
    let args = |a: &mut Args| {
        timeout_arg(a.int(mqdes).bytes(msg_ptr.cast::<u8>(), msg_len).int(msg_len).int(msg_prio), name, abs_timeout)
    };
    call(name, args, -1, || {
        // SAFETY: the caller's contract.
        let deadline = unsafe { deadline(abs_timeout) }?;
        if msg_prio >= MQ_PRIO_MAX {
            return Err(Errno::EINVAL);
        }
        let ns = namespace().map_err(|_| Errno::EBADF)?;
        let target = mq::check_send(ns, mqdes, msg_len)?;
        // SAFETY: msg_len bytes (EFAULT if unreadable).
        let text = unsafe { user::slice(msg_ptr.cast::<u8>(), msg_len) }?;
        mq::send(ns, &target, text, msg_prio, deadline).map(|()| 0)
    })
}

/// # Safety
/// `msg_ptr` must have room for `msg_len` bytes; `msg_prio` must be NULL
/// or point to an unsigned int.
#[no_mangle]
pub unsafe extern "C" fn mq_receive(mqdes: Mqd, msg_ptr: *mut c_char, msg_len: size_t, msg_prio: *mut c_uint) -> ssize_t {
    // SAFETY: same contract; no timeout.
    unsafe { timed_receive("mq_receive", mqdes, msg_ptr, msg_len, msg_prio, std::ptr::null()) }
}

/// # Safety
/// As [`mq_receive`]; `abs_timeout` must be NULL or point to a `struct timespec`.
#[no_mangle]
pub unsafe extern "C" fn mq_timedreceive(
    mqdes: Mqd,
    msg_ptr: *mut c_char,
    msg_len: size_t,
    msg_prio: *mut c_uint,
    abs_timeout: *const libc::timespec,
) -> ssize_t {
    // SAFETY: the caller's contract.
    unsafe { timed_receive("mq_timedreceive", mqdes, msg_ptr, msg_len, msg_prio, abs_timeout) }
}

/// mq_receive and mq_timedreceive, traced as `name`.
///
/// # Safety
/// As [`mq_timedreceive`].
unsafe fn timed_receive(
    name: &str,
    mqdes: Mqd,
    msg_ptr: *mut c_char,
    msg_len: size_t,
    msg_prio: *mut c_uint,
    abs_timeout: *const libc::timespec,
) -> ssize_t {
    let args = |a: &mut Args| timeout_arg(a.int(mqdes).ptr(msg_ptr).int(msg_len).ptr(msg_prio), name, abs_timeout);
    call(name, args, -1, || {
        // SAFETY: the caller's contract.
        let deadline = unsafe { deadline(abs_timeout) }?;
        let ns = namespace().map_err(|_| Errno::EBADF)?;
        let target = mq::check_receive(ns, mqdes, msg_len)?;
        let mut buffer = OutBuf::new(msg_ptr.cast::<u8>(), msg_len);
        let prio_len = if msg_prio.is_null() { 0 } else { std::mem::size_of::<c_uint>() };
        let mut prio = OutBuf::new(msg_prio.cast::<u8>(), prio_len);
        mq::receive(ns, &target, &mut buffer, &mut prio, deadline).map(|n| n as ssize_t)
    })
}

fn mq_attr(values: [i64; 4]) -> libc::mq_attr {
    // SAFETY: all-zero is a valid mq_attr (the reserved words stay zero).
    let mut attr: libc::mq_attr = unsafe { std::mem::zeroed() };
    [attr.mq_flags, attr.mq_maxmsg, attr.mq_msgsize, attr.mq_curmsgs] = values;
    attr
}

/// # Safety
/// `mqstat` must point to a `struct mq_attr`.
#[no_mangle]
pub unsafe extern "C" fn mq_getattr(mqdes: Mqd, mqstat: *mut libc::mq_attr) -> c_int {
    call("mq_getattr", |a| {
        a.int(mqdes).ptr(mqstat);
    }, -1, || {
        let ns = namespace().map_err(|_| Errno::EBADF)?;
        let values = mq::attributes(ns, mqdes)?;
        user::write(mqstat, mq_attr(values)).map(|()| 0)
    })
}

/// # Safety
/// `mqstat` must point to a `struct mq_attr`; `omqstat` must be NULL or
/// point to one.
#[no_mangle]
pub unsafe extern "C" fn mq_setattr(mqdes: Mqd, mqstat: *const libc::mq_attr, omqstat: *mut libc::mq_attr) -> c_int {
    let args = |a: &mut Args| {
        a.int(mqdes).read(mqstat, |f, at| {
            f.flags(at.mq_flags as c_int, names::MQ_OPEN, false);
        });
        a.ptr(omqstat);
    };
    call("mq_setattr", args, -1, || {
        // SAFETY: the caller's contract (EFAULT if unreadable).
        let new = unsafe { user::read(mqstat) }?;
        if new.mq_flags & !(libc::O_NONBLOCK as i64) != 0 {
            return Err(Errno::EINVAL);
        }
        let ns = namespace().map_err(|_| Errno::EBADF)?;
        let old = mq::set_attributes(ns, mqdes, new.mq_flags != 0)?;
        if omqstat.is_null() {
            return Ok(0);
        }
        user::write(omqstat, mq_attr(old)).map(|()| 0)
    })
}

/// glibc's `struct sigevent` on 64-bit Linux: the value, the signal, the
/// kind, then (for SIGEV_THREAD) the function and its attributes.
#[repr(C)]
#[derive(Clone, Copy)]
struct SigEvent {
    value: u64,
    signo: c_int,
    notify: c_int,
    function: usize,
    attributes: *const libc::pthread_attr_t,
    _pad: [u64; 4],
}

/// # Safety
/// `sevp` must be NULL or point to a `struct sigevent`, whose attributes
/// (for SIGEV_THREAD) must be NULL or initialised thread attributes.
#[no_mangle]
pub unsafe extern "C" fn mq_notify(mqdes: Mqd, sevp: *const libc::sigevent) -> c_int {
    call("mq_notify", |a| {
        a.int(mqdes).ptr(sevp);
    }, -1, || {
        let request = if sevp.is_null() {
            None
        } else {
            // SAFETY: the caller's contract (EFAULT if unreadable).
            let ev = unsafe { user::read(sevp.cast::<SigEvent>()) }?;
            let thread = match ev.notify {
                libc::SIGEV_NONE => None,
                libc::SIGEV_SIGNAL if (0..=64).contains(&ev.signo) => None,
                libc::SIGEV_THREAD => {
                    // Copied, as glibc copies them: the program may destroy its own.
                    let attributes = if ev.attributes.is_null() {
                        None
                    } else {
                        // SAFETY: initialised attributes, per the contract.
                        Some(Box::new(unsafe { user::read(ev.attributes) }?))
                    };
                    Some(ThreadRequest { function: ev.function, attributes })
                }
                _ => return Err(Errno::EINVAL),
            };
            Some(Request { kind: ev.notify, signo: ev.signo, value: ev.value, thread })
        };
        let ns = namespace().map_err(|_| Errno::EBADF)?;
        mq::notify(ns, mqdes, request).map(|()| 0)
    })
}
