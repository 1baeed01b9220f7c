//! POSIX message queues with Linux's semantics (mq_overview(7)).
//!
//! - `queue`: a queue's slot (name, attributes, messages, waiters,
//!   notification) and the table of them.
//! - `descriptor`: `mqd_t` as a real descriptor of the program, and how a
//!   queue learns that its last descriptor is gone.
//! - `notify`: mq_notify.
//!
//! Sending and receiving follow Linux's `do_mq_timedsend` and
//! `do_mq_timedreceive`, with the same order of checks; a queue's messages
//! are a [`MessageList`](crate::messages::MessageList) kept in priority
//! order. Waiting is the namespace's one wait primitive, as for System V
//! queues: a send settles the waiting receivers, a receive the waiting
//! senders, both only when someone waits.

mod descriptor;
mod notify;
mod queue;

pub use descriptor::ANCHOR_INFIX;
pub use notify::{Request, ThreadRequest};
pub use queue::NAME_MAX;

use crate::error::{Errno, Result};
use crate::messages::{self, Ends, Fault, MessageList, Store, Visit, Wait, Waiting, MAX_TEXT, RECEIVER, SENDER};
use crate::platform::spin;
use crate::platform::{self, descriptors as fd, LocalMutex};
use crate::process::{inspect, Family, Namespace, ProcRef, Scope};
use crate::region::{Guard, Table, TableSpec, FREE};
use crate::user::OutBuf;
use crate::wait::{self, Deadline, Slept, Waits, Wakeups};
use descriptor::Description;
use queue::{MqQueue, Names, CREATING, NAMED, UNLINKED};
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

/// The queue table's tag: its name, and the version of its layout.
pub const TAG: u32 = crate::region::TableSpec::tag(b"MQU6");

/// Queue slots in a namespace (Linux's HARD_QUEUESMAX is 1024; only
/// CAP_SYS_RESOURCE goes past queues_max).
const SLOTS: u32 = 1024;

pub const MQ_PRIO_MAX: u32 = 32768;
const HARD_MSGMAX: i64 = 65536;
const HARD_MSGSIZEMAX: i64 = 16 << 20;
/// What Linux charges per message and per priority node against
/// RLIMIT_MSGQUEUE (sizeof(struct msg_msg), sizeof(struct posix_msg_tree_node)).
const MSG_OVERHEAD: u64 = 48;
const NODE_OVERHEAD: u64 = 48;

type Queues<'r> = Table<'r, Names, MqQueue>;

/// A limit in /proc/sys/fs/mqueue, read when a call needs it (they are
/// per IPC namespace and may change at any time), Linux's default where
/// the platform has none.
fn limit(name: &str, default: u64) -> u64 {
    platform::sysctl_values(&format!("/proc/sys/fs/mqueue/{name}")).and_then(|v| v.first().copied()).unwrap_or(default)
}

/// Descriptors this process got from mq_open (inherited over fork with
/// the rest of its memory), for [`MqFamily::release`] at exit.
static OPENED: LocalMutex<Vec<i32>> = LocalMutex::new(Vec::new());

/// POSIX queues, as the namespace sees them.
pub struct MqFamily;

impl Family for MqFamily {
    fn tables(&self) -> Vec<TableSpec> {
        vec![TableSpec {
            tag: TAG,
            prefix: std::mem::size_of::<Names>() as u32,
            stride: std::mem::size_of::<MqQueue>() as u32,
            count: SLOTS.min(descriptor::MAX_SLOTS),
        }]
    }

    /// A process holds waits and registrations, and keeps queues alive
    /// through its descriptors: when it exits, it closes its descriptors
    /// of queues whose name is gone (as exit would, a moment later); when
    /// it is dead, its descriptors are closed, so unlinked queues may be
    /// free.
    fn release(&self, ns: &Namespace, who: ProcRef, scope: Scope) {
        let (Ok(queues), Ok(waits)) = (queues(ns), Waits::of(ns)) else { return };
        for (index, record) in waits.owned_by(who) {
            let object = record.object();
            let Some(slot) = queues.entry_of(object) else { continue };
            let Some(q) = queues.get(slot) else { continue };
            if let Ok(locked) = lock(ns, &queues, slot, q, object.generation()) {
                waits.release_dead(ns, Some(q.waiting.queue(record.queue())), object, index, who);
                drop(locked);
            }
        }
        for (slot, q) in (0..queues.len()).filter_map(|i| queues.get(i).map(|q| (i, q))) {
            let generation = q.slot.generation.load(Relaxed);
            if q.holds(generation) && q.notify.owner() == Some(who) {
                let drop_it = scope == Scope::Process || q.notify.kind.load(Relaxed) == libc::SIGEV_THREAD;
                if let (true, Ok(locked)) = (drop_it, lock(ns, &queues, slot, q, generation)) {
                    notify::unregister(q, who);
                    drop(locked);
                }
            }
        }
        if scope == Scope::Process && who == ProcRef::from(platform::process()) {
            close_unlinked_descriptors(&queues);
        }
        let names = names_lock(ns, &queues);
        sweep(ns, &queues, &names);
    }

    fn fork(&self, ns: &Namespace, _parent: ProcRef, child: ProcRef) {
        if let Ok(queues) = queues(ns) {
            ns.note_holding(child, queues.directory_index());
        }
    }

    fn before_fork(&self) {
        OPENED.lock_for_fork();
    }

    fn after_fork(&self, _in_child: bool) {
        OPENED.unlock_after_fork();
    }

    fn objects(&self, ns: &Namespace) -> Result<Vec<inspect::Object>> {
        describe(ns)
    }

    fn remove(&self, ns: &Namespace, kind: inspect::Kind, handle: &inspect::Handle) -> Option<Result<()>> {
        match (kind, handle) {
            (inspect::Kind::Mq, inspect::Handle::Name(name)) => Some(check_name(name).and_then(|()| unlink(ns, name))),
            _ => None,
        }
    }
}

/// Every named queue (as /dev/mqueue lists them), read under its lock so
/// that what a dead holder left half-done is repaired first: with its
/// waiters, its registered process, and its running totals. (Who has it
/// open is not recorded here: its descriptors are the program's own.)
fn describe(ns: &Namespace) -> Result<Vec<inspect::Object>> {
    let queues = queues(ns)?;
    let mut rows = Vec::new();
    for (slot, q) in (0..queues.len()).filter_map(|i| queues.get(i).map(|q| (i, q))) {
        let generation = q.slot.generation.load(Relaxed);
        if q.slot.state.load(Acquire) != NAMED {
            continue;
        }
        let Ok(locked) = lock(ns, &queues, slot, q, generation) else { continue };
        let notification = q.notify.owner().map(|who| inspect::Notification {
            pid: who.pid(),
            kind: q.notify.kind.load(Relaxed),
            signal: q.notify.signo.load(Relaxed),
        });
        let (sent, taken) = q.list.totals();
        let detail = inspect::Detail::Mq {
            bytes: q.list.bytes(),
            messages: q.list.count(),
            max_messages: q.maxmsg(),
            message_size: q.msgsize(),
            notification,
            last_send_pid: q.waiting.sent.pid.load(Relaxed),
            last_receive_pid: q.waiting.freed.pid.load(Relaxed),
            sent,
            taken,
        };
        let mut parties = q.waiting.parties(ns, locked.st.owner);
        parties.extend(notification.map(|n| inspect::Party { pid: n.pid, role: inspect::Role::Notified }));
        drop(locked);
        let (uid, gid) = (q.attr.uid.load(Relaxed), q.attr.gid.load(Relaxed));
        rows.push(inspect::Object {
            handle: inspect::Handle::Name(q.name()),
            key: libc::IPC_PRIVATE,
            uid,
            gid,
            cuid: uid,
            cgid: gid,
            mode: q.attr.mode.load(Relaxed),
            detail,
            parties,
        });
    }
    Ok(rows)
}

fn queues(ns: &Namespace) -> Result<Queues<'_>> {
    ns.table(TAG)
}

/// Closes the caller's descriptors of unlinked queues (at exit).
fn close_unlinked_descriptors(queues: &Queues) {
    let mut opened = OPENED.lock();
    opened.retain(|&d| {
        let Ok(what) = descriptor::resolve(d) else { return false };
        let unlinked = queues.get(what.slot).is_some_and(|q| what.names(q) && q.slot.state.load(Acquire) == UNLINKED);
        if unlinked {
            let _ = fd::close(d);
        }
        !unlinked
    });
}

/// Takes the names lock. If its holder died while creating a queue, the
/// creation never happened: the slot is freed, with its anchor.
fn names_lock<'r>(ns: &'r Namespace, queues: &Queues<'r>) -> Guard<'r> {
    let guard = queues.prefix().lock.lock();
    if guard.recovered {
        for slot in 0..queues.len() {
            let Some(q) = queues.get(slot) else { continue };
            if q.slot.state.load(Acquire) == CREATING {
                let generation = q.slot.generation.load(Relaxed);
                if let Ok(path) = descriptor::anchor_path(ns, slot, generation) {
                    let _ = fd::unlink(&path);
                }
                ns.release_chunks(queues.owner(slot, generation));
                q.slot.state.store(FREE, Release);
            }
        }
    }
    guard
}

/// Frees every unlinked queue that no descriptor refers to any more.
fn sweep(ns: &Namespace, queues: &Queues, _names: &Guard) {
    for slot in 0..queues.len() {
        if let Some(q) = queues.get(slot) {
            free_if_unreferenced(ns, queues, slot, q);
        }
    }
}

/// Frees queue `q` if its name is gone and no description is left:
/// removes its anchor and storage, then frees the slot (the commit point:
/// a freer that dies before it leaves an anchorless unlinked queue, which
/// the next sweep frees). Under the names lock.
fn free_if_unreferenced(ns: &Namespace, queues: &Queues, slot: u32, q: &MqQueue) -> bool {
    if q.slot.state.load(Acquire) != UNLINKED {
        return false;
    }
    let generation = q.slot.generation.load(Relaxed);
    let Ok(path) = descriptor::anchor_path(ns, slot, generation) else { return false };
    if !descriptor::unreferenced(&path) {
        return false;
    }
    let _ = fd::unlink(&path);
    crate::crash_point::here("mq-free-after-anchor");
    ns.release_chunks(queues.owner(slot, generation));
    q.slot.state.store(FREE, Release);
    true
}

/// A queue locked, with what its operations need.
type Locked<'r> = messages::Locked<'r, MqQueue>;

impl messages::locked::Queue for MqQueue {
    type List = MessageList;

    fn parts(&self) -> (&MessageList, &Waiting) {
        (&self.list, &self.waiting)
    }
}

/// Locks queue `q` (slot `slot`) whole: both ends of its list.
fn lock<'r>(ns: &'r Namespace, queues: &Queues<'r>, slot: u32, q: &'r MqQueue, generation: u32) -> Result<Locked<'r>> {
    lock_ends(ns, queues, slot, q, generation, Ends::Both)
}

/// Locks `ends` of queue `q`'s list (the receiving end is the queue's
/// lock; see `messages::Ends`), repairing the queue if a previous holder
/// died, and checks that it still holds `generation` (EBADF: the
/// descriptor's queue is gone, which only a concurrent close allows).
fn lock_ends<'r>(
    ns: &'r Namespace,
    queues: &Queues<'r>,
    slot: u32,
    q: &'r MqQueue,
    generation: u32,
    ends: Ends,
) -> Result<Locked<'r>> {
    let held = q.list.lock(ends);
    if !q.holds(generation) {
        return Err(Errno::EBADF);
    }
    let st = Store { region: ns, owner: queues.owner(slot, generation) };
    Locked::new(ns, q, st, held, || format!("mq slot {slot}"))
}

/// A queue as a descriptor names it.
pub struct Target<'r> {
    queues: Queues<'r>,
    slot: u32,
    generation: u32,
    q: &'r MqQueue,
    fd: i32,
}

/// The queue descriptor `fd` names (EBADF if none).
fn target(ns: &Namespace, fd: i32) -> Result<(Target<'_>, Description)> {
    let what = descriptor::resolve(fd)?;
    let queues = queues(ns)?;
    let q = queues.get(what.slot).ok_or(Errno::EBADF)?;
    if !what.names(q) {
        return Err(Errno::EBADF);
    }
    let generation = q.slot.generation.load(Relaxed);
    Ok((Target { queues, slot: what.slot, generation, q, fd }, what))
}

impl<'r> Target<'r> {
    fn lock(&self, ns: &'r Namespace) -> Result<Locked<'r>> {
        self.lock_ends(ns, Ends::Both)
    }

    fn lock_ends(&self, ns: &'r Namespace, ends: Ends) -> Result<Locked<'r>> {
        lock_ends(ns, &self.queues, self.slot, self.q, self.generation, ends)
    }

    /// Whether the descriptor's open description has O_NONBLOCK.
    fn nonblocking(&self) -> bool {
        fd::status_flags(self.fd).is_ok_and(|f| f & libc::O_NONBLOCK != 0)
    }
}

/// The checks mq_open makes on a name (after glibc's leading '/'):
/// Linux's lookup_one_len (EACCES) and mqueue's NAME_MAX.
pub fn check_name(name: &[u8]) -> Result<()> {
    if name.is_empty() || name == b"." || name == b".." || name.contains(&b'/') {
        return Err(Errno::EACCES);
    }
    if name.len() > NAME_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    Ok(())
}

/// The named queue, if there is one (under the names lock).
fn find_named<'r>(queues: &Queues<'r>, name: &[u8]) -> Option<(u32, &'r MqQueue)> {
    (0..queues.len())
        .filter_map(|i| queues.get(i).map(|q| (i, q)))
        .find(|(_, q)| q.slot.state.load(Acquire) == NAMED && q.name() == name)
}

/// mq_open(3): `name` without its '/', checked by [`check_name`]; `attr`
/// (mq_maxmsg, mq_msgsize) only with O_CREAT. The new descriptor.
pub fn open(ns: &Namespace, name: &[u8], oflag: i32, mode: u32, attr: Option<(i64, i64)>) -> Result<i32> {
    let queues = queues(ns)?;
    let me = ns.me()?;
    ns.note_holding(me, queues.directory_index());
    let access = oflag & libc::O_ACCMODE;
    let names = names_lock(ns, &queues);
    let fd = match find_named(&queues, name) {
        Some((slot, q)) => {
            if oflag & (libc::O_CREAT | libc::O_EXCL) == libc::O_CREAT | libc::O_EXCL {
                return Err(Errno::EEXIST);
            }
            if access == libc::O_ACCMODE {
                return Err(Errno::EINVAL);
            }
            platform::with_credentials(|c| check_access(q, c, access))?;
            let generation = q.slot.generation.load(Relaxed);
            let path = descriptor::anchor_path(ns, slot, generation)?;
            descriptor::open(&path, Description { slot, generation, access }, oflag, false)?
        }
        None if oflag & libc::O_CREAT == 0 => return Err(Errno::ENOENT),
        None => create(ns, &queues, &names, name, oflag, mode, attr)?,
    };
    drop(names);
    OPENED.lock().push(fd);
    Ok(fd)
}

/// Linux's generic_permission for a queue: owner, group or other bits;
/// CAP_DAC_OVERRIDE passes, CAP_DAC_READ_SEARCH passes reading.
fn check_access(q: &MqQueue, c: &platform::Credentials, access: i32) -> Result<()> {
    let wanted = match access {
        libc::O_RDONLY => 4,
        libc::O_WRONLY => 2,
        _ => 6,
    };
    let mode = q.attr.mode.load(Relaxed);
    let granted = if c.euid == q.attr.uid.load(Relaxed) {
        mode >> 6
    } else if c.in_group(q.attr.gid.load(Relaxed)) {
        mode >> 3
    } else {
        mode
    } & 7;
    if wanted & !granted == 0
        || c.has_cap(platform::CAP_DAC_OVERRIDE)
        || (wanted == 4 && c.has_cap(platform::CAP_DAC_READ_SEARCH))
    {
        Ok(())
    } else {
        Err(Errno::EACCES)
    }
}

/// Creates a queue and its first descriptor, with Linux's checks in its
/// order: queues_max (ENOSPC), the attributes (EINVAL), RLIMIT_MSGQUEUE
/// (EMFILE). Unlinked queues nobody holds any more are freed first: they
/// would be gone already on Linux.
fn create(
    ns: &Namespace,
    queues: &Queues,
    names: &Guard,
    name: &[u8],
    oflag: i32,
    mode: u32,
    attr: Option<(i64, i64)>,
) -> Result<i32> {
    sweep(ns, queues, names);
    let creds = platform::with_credentials(|c| c.clone());
    let privileged = creds.has_cap(platform::CAP_SYS_RESOURCE);
    let slots = || (0..queues.len()).filter_map(|i| queues.get(i).map(|q| (i, q)));
    // Each limit is read only where it decides something: a file read is
    // several system calls, and mq_open would otherwise make twenty.
    if !privileged {
        let in_use = slots().filter(|(_, q)| q.slot.state.load(Acquire) != FREE).count() as u64;
        if in_use >= limit("queues_max", 256) {
            return Err(Errno::ENOSPC);
        }
    }
    // msg_max and msgsize_max bound the defaults, and without the
    // capability the attributes too.
    let maxima = if attr.is_none() || !privileged {
        (limit("msg_max", 10) as i64, limit("msgsize_max", 8192) as i64)
    } else {
        (HARD_MSGMAX, HARD_MSGSIZEMAX)
    };
    let (maxmsg, msgsize) = attr.unwrap_or_else(|| {
        (maxima.0.min(limit("msg_default", 10) as i64), maxima.1.min(limit("msgsize_default", 8192) as i64))
    });
    let (most_msgs, biggest) = if privileged { (HARD_MSGMAX, HARD_MSGSIZEMAX) } else { maxima };
    if maxmsg <= 0 || msgsize <= 0 || maxmsg > most_msgs || msgsize > biggest || msgsize as usize > MAX_TEXT {
        return Err(Errno::EINVAL);
    }
    let (maxmsg, msgsize) = (maxmsg as u64, msgsize as u64);
    let charge = maxmsg * MSG_OVERHEAD + maxmsg.min(MQ_PRIO_MAX as u64) * NODE_OVERHEAD + maxmsg * msgsize;
    let ruid = platform::real_uid();
    let charged: u64 = slots()
        .filter(|(_, q)| q.slot.state.load(Acquire) != FREE && q.attr.charged_uid.load(Relaxed) == ruid)
        .map(|(_, q)| q.attr.charge.load(Relaxed))
        .sum();
    if charged.saturating_add(charge) > platform::soft_limit(libc::RLIMIT_MSGQUEUE) {
        return Err(Errno::EMFILE);
    }
    let (slot, q) = slots().find(|(_, q)| q.slot.state.load(Acquire) == FREE).ok_or(Errno::ENOSPC)?;

    // Claimed: CREATING under a new generation (see `queue`).
    let generation = q.slot.generation.load(Relaxed).wrapping_add(1).max(1);
    q.slot.generation.store(generation, Relaxed);
    q.slot.state.store(CREATING, Release);
    crate::crash_point::here("mq-create-claimed");
    q.set_name(name);
    q.attr.mode.store(mode & 0o777 & !platform::umask(), Relaxed);
    q.attr.uid.store(creds.euid, Relaxed);
    q.attr.gid.store(creds.egid, Relaxed);
    q.attr.maxmsg.store(maxmsg, Relaxed);
    q.attr.msgsize.store(msgsize, Relaxed);
    q.attr.charged_uid.store(ruid, Relaxed);
    q.attr.charge.store(charge, Relaxed);
    q.notify.clear();
    q.list.init();
    q.waiting.clear();
    let what = Description { slot, generation, access: oflag & libc::O_ACCMODE };
    let path = descriptor::anchor_path(ns, slot, generation)?;
    let opened = descriptor::open(&path, what, oflag, true).or_else(|e| {
        // A namespace made anew may find anchors of an old one.
        if e.0 != libc::EEXIST {
            return Err(e);
        }
        let _ = fd::unlink(&path);
        descriptor::open(&path, what, oflag, true)
    });
    match opened {
        Ok(fd) => {
            crate::crash_point::here("mq-create-before-publish");
            q.slot.state.store(NAMED, Release);
            Ok(fd)
        }
        Err(e) => {
            q.slot.state.store(FREE, Release);
            Err(e)
        }
    }
}

/// mq_unlink(3): the name goes at once; the queue when its last
/// descriptor closes. Unlinking needs the queue's owner (the queue
/// directory is sticky) or CAP_FOWNER: EPERM, which glibc reports as EACCES.
pub fn unlink(ns: &Namespace, name: &[u8]) -> Result<()> {
    let queues = queues(ns)?;
    // An unlinker that dies after its commit leaves the queue to be freed
    // by its reaper, which must know to look. (Without a process entry,
    // the next sweep frees it: an mq_open(O_CREAT), a close, an exit.)
    if let Ok(me) = ns.me() {
        ns.note_holding(me, queues.directory_index());
    }
    let names = names_lock(ns, &queues);
    let (slot, q) = find_named(&queues, name).ok_or(Errno::ENOENT)?;
    platform::with_credentials(|c| {
        let owner = q.attr.uid.load(Relaxed);
        if c.euid == owner || c.euid == 0 || c.has_cap(platform::CAP_FOWNER) {
            Ok(())
        } else {
            Err(Errno::EACCES)
        }
    })?;
    q.slot.state.store(UNLINKED, Release);
    crate::crash_point::here("mq-unlink-after-commit");
    free_if_unreferenced(ns, &queues, slot, q);
    drop(names);
    Ok(())
}

/// mq_close(3): glibc's is close(2), which also ends the caller's
/// registration on the queue (Linux's flush) and may free an unlinked queue.
pub fn close(ns: &Namespace, fd: i32) -> Result<()> {
    let queue = match target(ns, fd) {
        Ok((t, _)) => {
            if let (Ok(me), Ok(locked)) = (ns.me(), t.lock(ns)) {
                notify::unregister(t.q, me);
                drop(locked);
            }
            Some(t)
        }
        Err(_) => None,
    };
    fd::close(fd)?;
    OPENED.lock().retain(|&d| d != fd);
    if let Some(t) = queue {
        if t.q.slot.state.load(Acquire) == UNLINKED {
            let names = names_lock(ns, &t.queues);
            free_if_unreferenced(ns, &t.queues, t.slot, t.q);
            drop(names);
        }
    }
    Ok(())
}

/// mq_getattr(3): (mq_flags, mq_maxmsg, mq_msgsize, mq_curmsgs).
pub fn attributes(ns: &Namespace, fd: i32) -> Result<[i64; 4]> {
    let (t, _) = target(ns, fd)?;
    let flags = fd::status_flags(fd).map_err(|_| Errno::EBADF)? & libc::O_NONBLOCK;
    // The count is derived state: read under the lock, so that a holder
    // that died halfway through a send or a receive has been repaired.
    let count = t.lock(ns)?.q.list.count();
    Ok([flags as i64, t.q.maxmsg() as i64, t.q.msgsize() as i64, count as i64])
}

/// mq_setattr(3), after the caller checked `flags` (EINVAL for anything
/// but O_NONBLOCK): the old attributes.
pub fn set_attributes(ns: &Namespace, fd: i32, nonblock: bool) -> Result<[i64; 4]> {
    let old = attributes(ns, fd)?;
    let flags = fd::status_flags(fd)?;
    let flags = if nonblock { flags | libc::O_NONBLOCK } else { flags & !libc::O_NONBLOCK };
    fd::set_status_flags(fd, flags)?;
    Ok(old)
}

/// Whether this process has registered a notification (so that its
/// close() calls must be looked at).
static REGISTERED: AtomicBool = AtomicBool::new(false);

/// mq_notify(3): registers `request`, or unregisters with None.
pub fn notify(ns: &'static Namespace, fd: i32, request: Option<Request>) -> Result<()> {
    let (t, _) = target(ns, fd)?;
    let me = ns.me()?;
    ns.note_holding(me, t.queues.directory_index());
    let locked = t.lock(ns)?;
    match request {
        None => notify::unregister(t.q, me),
        Some(request) => {
            REGISTERED.store(true, Relaxed);
            notify::register(t.q, me, fd, request)?
        }
    }
    drop(locked);
    Ok(())
}

/// The program is about to close `fd`: if it is a descriptor of a queue
/// this process registered on, the registration ends (Linux's flush).
pub fn closing(ns: &Namespace, fd: i32) {
    if !REGISTERED.load(Relaxed) {
        return;
    }
    if let (Ok((t, _)), Ok(me)) = (target(ns, fd), ns.me()) {
        if t.q.notify.owner() == Some(me) {
            if let Ok(locked) = t.lock(ns) {
                notify::unregister(t.q, me);
                drop(locked);
            }
        }
    }
}

/// mq_timedsend's checks up to the message's size (the caller checked the
/// priority and the timeout first, as Linux does): the queue to send to.
pub fn check_send(ns: &Namespace, fd: i32, len: usize) -> Result<Target<'_>> {
    let (t, what) = target(ns, fd)?;
    if !what.can_write() {
        return Err(Errno::EBADF);
    }
    if len as u64 > t.q.msgsize() {
        return Err(Errno::EMSGSIZE);
    }
    Ok(t)
}

/// mq_timedsend(3), after [`check_send`] and reading the message.
pub fn send(ns: &Namespace, t: &Target, text: &[u8], prio: u32, deadline: Option<Deadline>) -> Result<()> {
    let mut locked = t.lock_ends(ns, Ends::Sending)?;
    let q = t.q;
    let (mut stalled, mut waited) = (Stalled::default(), false);
    // Highest priority first, FIFO within one.
    let goes_before = |p| p < prio as i64;
    loop {
        // The sending end alone puts a message last, on a queue nobody
        // asked to be notified about (which wants to know whether it was
        // empty); anything else is done with both ends locked.
        let registered = q.notify.owner.load(Relaxed) != 0;
        if locked.held.ends == Ends::Sending && (registered || !q.list.appends(&locked.st, goes_before)) {
            drop(locked);
            locked = t.lock(ns)?;
        }
        if q.list.has_room(|count, _| count < q.maxmsg()) {
            q.list.reserve(&locked.st, text.len())?;
            locked.with_repair(|| q.list.enqueue(&locked.st, prio as i64, text, goes_before))?;
            let nobody_waits = q.waiting.receivers.is_empty();
            let mut wakeups = Wakeups::default();
            locked.settle_all(RECEIVER, &mut wakeups);
            // Linux hands a waiting sender's message over inside the
            // receive that made room, and never notifies for it.
            let relay =
                if registered && nobody_waits && !waited && q.list.count() == 1 { notify::fire(q) } else { None };
            drop(locked);
            q.waiting.note_sent();
            wakeups.wake();
            if let Some(relay) = relay {
                relay.wait();
            }
            return Ok(());
        }
        waited = true;
        locked = stalled.wait(ns, t, locked, SENDER, deadline)?;
    }
}

/// mq_timedreceive's checks (after the timeout's): the queue to receive from.
pub fn check_receive(ns: &Namespace, fd: i32, len: usize) -> Result<Target<'_>> {
    let (t, what) = target(ns, fd)?;
    if !what.can_read() {
        return Err(Errno::EBADF);
    }
    if (len as u64) < t.q.msgsize() {
        return Err(Errno::EMSGSIZE);
    }
    Ok(t)
}

/// mq_timedreceive(3), after [`check_receive`]: fills `buffer` and
/// `prio` and returns the message's length. The message is copied out
/// before it leaves the queue: a bad buffer (EFAULT) leaves it queued
/// (Linux loses it).
pub fn receive(
    ns: &Namespace,
    t: &Target,
    buffer: &mut OutBuf,
    prio: &mut OutBuf,
    deadline: Option<Deadline>,
) -> Result<usize> {
    // The first message is taken with the receiving end locked.
    let mut locked = t.lock_ends(ns, Ends::Receiving)?;
    let q = t.q;
    let mut stalled = Stalled::default();
    loop {
        if let Some(found) = locked.with_repair(|| q.list.find(&locked.st, |_| Visit::Take))? {
            match q.list.copy_out(&locked.st, &found, buffer, 0, found.size) {
                Ok(()) => {}
                Err(Fault::Caller(e)) => return Err(e),
                Err(Fault::Corrupt) => {
                    locked.repair();
                    return Err(Errno::EIO);
                }
            }
            if !prio.is_empty() {
                prio.write_at(0, &(found.tag as u32).to_ne_bytes())?;
            }
            locked.with_repair(|| q.list.unlink(&locked.st, &found))?;
            let mut wakeups = Wakeups::default();
            locked.settle_all(SENDER, &mut wakeups);
            drop(locked);
            q.waiting.note_freed();
            wakeups.wake();
            return Ok(found.size);
        }
        locked = stalled.wait(ns, t, locked, RECEIVER, deadline)?;
    }
}

/// How far a send or receive that cannot go on yet has come in waiting.
#[derive(Default)]
struct Stalled<'r> {
    glanced: bool,
    checked: bool,
    pending: Wait<'r>,
}

impl<'r> Stalled<'r> {
    /// The queue cannot take or give a message yet: the first time, a
    /// glance at it; then EAGAIN on a non-blocking descriptor; else a wait
    /// (as `which`, SENDER or RECEIVER) until woken or `deadline`. Returns
    /// the queue locked again for another try.
    fn wait(
        &mut self,
        ns: &'r Namespace,
        t: &Target<'r>,
        locked: Locked<'r>,
        which: u32,
        deadline: Option<Deadline>,
    ) -> Result<Locked<'r>> {
        if !self.glanced {
            self.glanced = true;
            return glance(ns, t, locked, which);
        }
        if !self.checked && t.nonblocking() {
            return Err(Errno::EAGAIN);
        }
        self.checked = true;
        let (owner, held) = (locked.st.owner, locked.held.ends);
        let relock = |e| t.lock_ends(ns, e);
        after_wait(self.pending.step(ns, &t.q.waiting, owner, which, locked, held, deadline, |_| {}, relock)?)
    }
}

/// How long a call that would wait looks again before it asks whether its
/// descriptor is non-blocking (a system call): in a stream, the peer makes
/// room or sends within a fraction of this.
const GLANCE: std::time::Duration = std::time::Duration::from_micros(2);

/// The first time a send or receive finds it would have to wait: unlocks,
/// watches `word` (the queue's `freed` or `sent`) for a moment when the
/// peer can run meanwhile, and locks again for another try. A
/// non-blocking descriptor may so succeed where a moment earlier it would
/// have failed with EAGAIN, as if the call had come a moment later.
fn glance<'r>(ns: &'r Namespace, t: &Target<'r>, locked: Locked<'r>, which: u32) -> Result<Locked<'r>> {
    let progress = t.q.waiting.watched_by(which);
    if !spin::worth_watching(Some(&progress.at)) {
        return Ok(locked);
    }
    let (seen, ends) = (progress.count.load(Relaxed), locked.held.ends);
    drop(locked);
    spin::watch_paced(&progress.count, seen, Some(&progress.at), GLANCE, t.q.waiting.pace(which));
    t.lock_ends(ns, ends)
}

/// What a wait's end means for mq_send and mq_receive: the queue is gone
/// (EBADF: only a concurrent close of the descriptor allows it), the
/// deadline passed (ETIMEDOUT), a signal interrupted it (EINTR, unless
/// the handlers ask for restarts: SA_RESTART restarts these calls on
/// Linux), or try again.
fn after_wait((locked, slept, state): (Locked, Slept, u32)) -> Result<Locked> {
    match (slept, state) {
        (_, wait::REMOVED) => Err(Errno::EBADF),
        (Slept::Interrupted, _) if !platform::handlers_restart() => Err(Errno::EINTR),
        (Slept::TimedOut, _) => Err(Errno::ETIMEDOUT),
        _ => Ok(locked),
    }
}
