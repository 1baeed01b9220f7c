//! mq_notify: one registration per queue (see [`Registration`]).
//!
//! A registration fires when a send makes the queue non-empty while no
//! receiver waits, and then ends; it also ends when its process
//! unregisters, closes a descriptor of the queue, or dies.
//!
//! Both SIGEV_SIGNAL and SIGEV_THREAD have a helper thread in the
//! registering process, which sleeps on the registration's `serial` until
//! the registration ends, and acts if it fired (`fired` names it):
//! - SIGEV_SIGNAL: the sender sends the signal itself, under the queue
//!   lock as Linux does, with `rt_sigqueueinfo` carrying the fields Linux
//!   fills in (SI_MESGQ, the value, the sender's pid and real uid). Only
//!   when the kernel does not let it (the registrant belongs to another
//!   user: Linux's mqueue needs no permission) does the helper send the
//!   same signal to its own process.
//! - SIGEV_THREAD: the helper starts a thread with the program's
//!   attributes that runs the function (as glibc's helper does with the
//!   kernel's netlink message).
//!
//! Crash consistency: `owner` is written when registering (before the
//! helper starts, which leaves as soon as `owner` does not name its
//! process) and first when a registration ends (the commit points); `fired` is written before
//! `owner` is cleared and `serial` bumped after it. A process that dies
//! after clearing `owner` but before bumping `serial` leaves the helper
//! asleep until its next look, when it sees `owner` gone and leaves (it
//! runs the function only if `fired` names its registration). Each
//! registration takes a serial of its own (bumping it, which also wakes
//! the helper such a death left asleep) and leaves `fired` alone: `fired`
//! names the registration that fired until one fires again, however soon
//! another process registers.

use super::descriptor::{self, Description};
use super::queue::{MqQueue, Registration};
use crate::error::{Errno, Result};
use crate::platform::{self, descriptors as fd, Until};
use crate::process::{Look, ProcRef};
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

/// What the program asked for.
pub struct Request {
    pub kind: i32,
    pub signo: i32,
    pub value: u64,
    /// SIGEV_THREAD: the function and a copy of its thread attributes.
    pub thread: Option<ThreadRequest>,
}

pub struct ThreadRequest {
    pub function: usize,
    pub attributes: Option<Box<libc::pthread_attr_t>>,
}

impl Registration {
    pub fn clear(&self) {
        self.owner.store(0, Relaxed);
    }

    pub fn owner(&self) -> Option<ProcRef> {
        match self.owner.load(Acquire) {
            0 => None,
            who => Some(ProcRef(who)),
        }
    }

    /// Ends the registration (under the queue lock); `fired` if it fired.
    pub fn end(&self, fired: bool) {
        let serial = self.serial.load(Relaxed);
        if fired {
            self.fired.store(serial, Relaxed);
        }
        self.owner.store(0, Release);
        crate::crash_point::here("mq-notify-after-end");
        self.serial.store(serial.wrapping_add(1), Release);
        platform::futex_wake(&self.serial, i32::MAX);
    }

    /// Whether the registration still stands: its process lives and still
    /// has the descriptor it registered through. (A process that closed it
    /// through mq_close ended it then; one that used close() is seen here.)
    fn stands(&self, q: &MqQueue, who: ProcRef) -> bool {
        let descriptor = self.fd.load(Relaxed);
        let names_q = |at: u64| descriptor::resolve_position(at).is_some_and(|d: Description| d.names(q));
        if who == ProcRef::from(platform::process()) {
            return fd::position(descriptor).is_ok_and(names_q);
        }
        if Look::Thorough.dead(who) {
            return false;
        }
        match fd::position_in(who.pid(), descriptor) {
            Some(Some(at)) => names_q(at),
            Some(None) => false,
            // /proc cannot tell: it stands until mq_close or death.
            None => true,
        }
    }

    /// A registration of someone else stands in the way (EBUSY), or none
    /// does (a stale one is ended).
    fn busy(&self, q: &MqQueue) -> bool {
        match self.owner() {
            None => false,
            Some(who) if self.stands(q, who) => true,
            Some(_) => {
                self.end(false);
                false
            }
        }
    }
}

/// mq_notify with a request, under the queue lock.
pub fn register(q: &'static MqQueue, me: ProcRef, descriptor: i32, request: Request) -> Result<()> {
    let n = &q.notify;
    if n.busy(q) {
        return Err(Errno::EBUSY);
    }
    n.kind.store(request.kind, Relaxed);
    n.signo.store(request.signo, Relaxed);
    n.value.store(request.value, Relaxed);
    n.fd.store(descriptor, Relaxed);
    // A serial no earlier registration had, so `fired`, which only ever
    // names a serial that was current when it fired, does not name this
    // one; and a firing that died before bumping the serial (after
    // ending its registration) is finished.
    let serial = n.serial.load(Relaxed).wrapping_add(1);
    n.serial.store(serial, Release);
    platform::futex_wake(&n.serial, i32::MAX);
    // Before the helper starts: it leaves as soon as `owner` does not name
    // its process. Nobody else looks before we unlock.
    n.owner.store(me.0, Release);
    if request.kind != libc::SIGEV_NONE {
        if let Err(e) = spawn_helper(Helper { q, me, serial, request }) {
            n.owner.store(0, Release);
            return Err(e);
        }
    }
    Ok(())
}

/// mq_notify(NULL), or a close by the owner: ends `me`'s registration.
pub fn unregister(q: &MqQueue, me: ProcRef) {
    if q.notify.owner() == Some(me) {
        q.notify.end(false);
    }
}

/// A signal the registrant's helper sends for us; the send waits until it
/// is on its way (Linux's is pending by the time mq_send returns).
pub struct Relay<'r> {
    q: &'r MqQueue,
    serial: u32,
}

impl Relay<'_> {
    /// Called after unlocking the queue; gives up after a look interval
    /// (a registrant that is stopped or dying cannot answer).
    pub fn wait(self) {
        let relayed = &self.q.notify.relayed;
        let until = platform::monotonic_now() + crate::wait::LOOK_INTERVAL;
        loop {
            let seen = relayed.load(Acquire);
            let now = platform::monotonic_now();
            if seen == self.serial || now >= until {
                return;
            }
            platform::futex_wait(relayed, seen, Until::After(until - now));
        }
    }
}

/// A send made the queue non-empty and no receiver waits: fires the
/// registration, if one stands (under the queue lock).
pub fn fire(q: &MqQueue) -> Option<Relay<'_>> {
    let n = &q.notify;
    let who = n.owner()?;
    if !n.stands(q, who) {
        n.end(false);
        return None;
    }
    let (me, my_uid) = (platform::pid(), platform::real_uid());
    let helper_acts = match n.kind.load(Relaxed) {
        libc::SIGEV_THREAD => true,
        libc::SIGEV_SIGNAL => {
            let (signo, value) = (n.signo.load(Relaxed), n.value.load(Relaxed));
            signo != 0 && platform::queue_mesgq(who.pid(), signo, value, me, my_uid) == Err(Errno::EPERM)
        }
        _ => false,
    };
    n.sender_pid.store(me, Relaxed);
    n.sender_uid.store(my_uid, Relaxed);
    let serial = n.serial.load(Relaxed);
    n.end(helper_acts);
    let relayed = helper_acts && n.kind.load(Relaxed) == libc::SIGEV_SIGNAL;
    relayed.then_some(Relay { q, serial })
}

/// What a helper thread waits for, and what it does.
struct Helper {
    q: &'static MqQueue,
    me: ProcRef,
    /// The registration's serial.
    serial: u32,
    request: Request,
}

/// Starts the thread that waits for registration `serial` to fire.
fn spawn_helper(helper: Helper) -> Result<()> {
    let arg = Box::into_raw(Box::new(helper));
    // SAFETY: an all-zero pthread_t is a valid out-parameter.
    let mut thread: libc::pthread_t = unsafe { std::mem::zeroed() };
    // SAFETY: `arg` is a leaked Box that `helper_main` takes back; default
    // attributes.
    let started = unsafe { libc::pthread_create(&mut thread, std::ptr::null(), helper_main, arg.cast()) };
    if started != 0 {
        // SAFETY: the thread did not start, so the Box is still ours.
        drop(unsafe { Box::from_raw(arg) });
        return Err(Errno::ENOMEM);
    }
    // SAFETY: detaching the thread we just created.
    unsafe { libc::pthread_detach(thread) };
    Ok(())
}

extern "C" fn helper_main(arg: *mut libc::c_void) -> *mut libc::c_void {
    // SAFETY: `arg` is the Box leaked by `spawn_helper`, taken back once.
    let helper = unsafe { Box::from_raw(arg.cast::<Helper>()) };
    block_all_signals();
    let n = &helper.q.notify;
    loop {
        // Ended: `owner` cleared (the commit point; `serial` is bumped
        // after it, by an ender that may die first) or the serial moved on.
        if n.serial.load(Acquire) != helper.serial || n.owner.load(Acquire) != helper.me.0 {
            // `fired` is written before `owner` is cleared.
            if n.fired.load(Acquire) == helper.serial {
                act(&helper);
            }
            break;
        }
        platform::futex_wait(&n.serial, helper.serial, Until::After(crate::wait::LOOK_INTERVAL));
    }
    std::ptr::null_mut()
}

struct Call {
    function: usize,
    value: u64,
}

/// The registration fired: the signal its sender could not send, or the
/// program's function on a thread of its attributes.
fn act(helper: &Helper) {
    let n = &helper.q.notify;
    let request = &helper.request;
    let Some(thread) = &request.thread else {
        let sender = (n.sender_pid.load(Relaxed), n.sender_uid.load(Relaxed));
        let _ = platform::queue_mesgq(platform::pid(), request.signo, request.value, sender.0, sender.1);
        n.relayed.store(helper.serial, Release);
        platform::futex_wake(&n.relayed, i32::MAX);
        return;
    };
    let call = Box::into_raw(Box::new(Call { function: thread.function, value: request.value }));
    let attributes = thread.attributes.as_deref().map_or(std::ptr::null(), |a| a as *const libc::pthread_attr_t);
    // SAFETY: an all-zero pthread_t is a valid out-parameter.
    let mut thread: libc::pthread_t = unsafe { std::mem::zeroed() };
    // SAFETY: `call` is a leaked Box that `function_main` takes back; the
    // attributes are the program's, copied at registration.
    if unsafe { libc::pthread_create(&mut thread, attributes, function_main, call.cast()) } != 0 {
        // SAFETY: the thread did not start, so the Box is still ours.
        drop(unsafe { Box::from_raw(call) });
    }
}

extern "C" fn function_main(arg: *mut libc::c_void) -> *mut libc::c_void {
    // SAFETY: the Box leaked by `run_function`, taken back once.
    let call = unsafe { Box::from_raw(arg.cast::<Call>()) };
    // As glibc's: detached, with every signal unblocked.
    // SAFETY: detaching and unmasking the calling thread.
    unsafe {
        libc::pthread_detach(libc::pthread_self());
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &all, std::ptr::null_mut());
    }
    // SAFETY: the program registered this function as `void (*)(union sigval)`;
    // a sigval is passed as one pointer-sized integer.
    let function: extern "C" fn(u64) = unsafe { std::mem::transmute(call.function) };
    function(call.value);
    std::ptr::null_mut()
}

fn block_all_signals() {
    // SAFETY: blocks every signal in the calling (helper) thread.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_BLOCK, &all, std::ptr::null_mut());
    }
}
