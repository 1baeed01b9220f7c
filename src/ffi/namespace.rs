//! The calling process's namespace, and the families that make it up.
//!
//! A program that never makes an IPC call should hardly notice the library,
//! so the namespace is mapped at the first call that needs it, not at load.
//! Two things cannot wait that long, and are done at load:
//! - the configuration is copied from the environment the program started
//!   with (see `config`);
//! - a process that exec'd from an image that held something in the
//!   namespace (same pid and start time) must give up what lived in that
//!   image's memory at once, as Linux does at exec: whether the process
//!   table lists our pid is read from the file without mapping it (a few
//!   system calls), and only then is the namespace mapped at load.
//!
//! A process that drops privileges or changes its root before its first
//! call would no longer reach the namespace it started with: the calls
//! that change them map it first (see `creds`).
//!
//! Mapping it must never wait on itself: another preload library that
//! wraps file calls may call an IPC function back while we map (the shim's
//! own calls are raw system calls, so this can only happen through that
//! library's constructor or its wrappers of other functions), and a fork
//! child may inherit the mapping half-done from a thread that does not
//! exist in the child. So: whoever finds it unmapped maps it; a call made
//! by the mapping thread itself fails with ENOMEM; other threads wait; a
//! mapping abandoned by fork is started over.

use super::config;
use crate::error::{Errno, Result};
use crate::platform::{self, Until};
use crate::process::{Family, Namespace, ProcRef};
use std::sync::atomic::{AtomicI32, AtomicPtr, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

/// Every family, in the order the reaper asks them: the wait table last,
/// since the others give back their objects' wait records first.
static FAMILIES: [&dyn Family; 5] = [
    &crate::msg::MsgFamily,
    &crate::sem::SemFamily,
    &crate::shm::ShmFamily,
    &crate::mq::MqFamily,
    &crate::wait::WaitFamily,
];

static NAMESPACE: AtomicPtr<Namespace> = AtomicPtr::new(std::ptr::null_mut());
/// The errno of a failed mapping: remembered, every later call reports it.
static FAILED: AtomicI32 = AtomicI32::new(0);
/// Who is mapping it: fork generation << 32 | tid; 0 when nobody.
static MAPPING: AtomicU64 = AtomicU64::new(0);
/// Bumped when a mapping attempt ends; waiters sleep on it.
static DONE: AtomicU32 = AtomicU32::new(0);

/// The namespace, if this process has mapped it (never maps it).
pub(super) fn mapped() -> Option<&'static Namespace> {
    // SAFETY: a non-null pointer is a leaked Box, never freed.
    unsafe { NAMESPACE.load(Ordering::Acquire).as_ref() }
}

/// The calling process's namespace, mapped on first use.
#[inline]
pub fn namespace() -> Result<&'static Namespace> {
    match mapped() {
        Some(ns) => Ok(ns),
        None => first_use(),
    }
}

/// Maps the namespace, or waits for the thread that maps it. Out of line:
/// every call of every family starts with [`namespace`], whose answer is
/// one load once mapped; with this beside it, each call also saved and
/// restored the registers that only the first one needs.
#[cold]
#[inline(never)]
fn first_use() -> Result<&'static Namespace> {
    loop {
        if let Some(ns) = mapped() {
            return Ok(ns);
        }
        match FAILED.load(Ordering::Acquire) {
            0 => {}
            e => return Err(Errno(e)),
        }
        let me = platform::fork_generation() << 32 | platform::thread().id as u64;
        let done = DONE.load(Ordering::Acquire);
        match MAPPING.compare_exchange(0, me, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return map(),
            // Called back while we map it (through another preload library).
            Err(holder) if holder == me => return Err(Errno::ENOMEM),
            // Left half-done by a thread that is not in this fork child.
            Err(holder) if holder >> 32 != platform::fork_generation() => {
                let _ = MAPPING.compare_exchange(holder, 0, Ordering::AcqRel, Ordering::Relaxed);
            }
            Err(_) => {
                if mapped().is_none() && FAILED.load(Ordering::Acquire) == 0 {
                    platform::futex_wait(&DONE, done, Until::After(Duration::from_millis(100)));
                }
            }
        }
    }
}

fn map() -> Result<&'static Namespace> {
    let result = config::current().and_then(|c| Namespace::open(c.path(), &FAMILIES, c.chunks));
    let outcome = match result {
        Ok(ns) => {
            // Before any call of this image uses it: what an earlier image
            // of this process held in its memory ends (a process that finds
            // itself listed before it ever mapped the namespace exec'd).
            ns.after_exec();
            let ns: &'static Namespace = Box::leak(Box::new(ns));
            NAMESPACE.store(ns as *const Namespace as *mut Namespace, Ordering::Release);
            Ok(ns)
        }
        Err(e) => {
            FAILED.store(e.0, Ordering::Release);
            Err(e)
        }
    };
    MAPPING.store(0, Ordering::Release);
    DONE.fetch_add(1, Ordering::AcqRel);
    platform::futex_wake(&DONE, i32::MAX);
    outcome
}

/// Before the process changes what it may open (its ids, its root, its
/// mount namespace): a C program maps its namespace now, while the ids it
/// started with, which name the region file and own it, still open it.
pub(super) fn map_while_reachable() {
    if mapped().is_none() && config::taken_at_load() {
        let _ = namespace();
    }
}

/// Runs when the library is loaded: fork and exit hooks, the configuration
/// (see the module docs). When the crate is linked into a Rust test binary
/// instead, nothing more happens until first use, so tests choose their
/// namespace.
extern "C" fn on_load() {
    super::quietly(|| {
        platform::install_fork_handlers(before_fork, after_fork_in_parent, after_fork_in_child);
        platform::at_exit(at_exit);
        if !platform::in_main_executable(on_load as *const libc::c_void) {
            // A C program's stderr is its own: a panic (caught at the boundary
            // and reported as EIO) is described only under IPCSHIM_LOG.
            std::panic::set_hook(Box::new(|info| crate::log::diag(|| format!("internal error: {info}"))));
            if let Ok(config) = config::take_at_load() {
                if crate::process::lists_in_file(config.c_path(), platform::current_pid()) {
                    let _ = namespace();
                }
            }
        }
    });
}

#[used]
#[link_section = ".init_array"]
static ON_LOAD: extern "C" fn() = on_load;

extern "C" fn before_fork() {
    super::quietly(|| {
        crate::process::before_fork();
        FAMILIES.iter().for_each(|f| f.before_fork());
    });
}

extern "C" fn after_fork_in_parent() {
    super::quietly(|| FAMILIES.iter().for_each(|f| f.after_fork(false)));
}

/// In every fork child: the families' process-local state is free again;
/// for a fork the shim did not see (libc's own, in daemon()), the child
/// registers what it inherited itself.
extern "C" fn after_fork_in_child() {
    super::quietly(|| {
        FAMILIES.iter().for_each(|f| f.after_fork(true));
        if let (Some(parent), Some(ns)) = (crate::process::child_must_copy(), mapped()) {
            ns.after_fork(parent, ProcRef::from(platform::process()));
        }
    });
}

/// In the parent, after the shim's own fork: the child inherits what the
/// parent holds before fork returns, as in Linux.
pub(super) fn forked(child: i32) {
    super::quietly(|| {
        if let Some(ns) = mapped() {
            let start = platform::start_time_of(child as u32);
            let child = ProcRef::from(platform::Identity { id: child as u32, start });
            ns.after_fork(ProcRef::from(platform::process()), child);
        }
    });
}

/// Normal exit: SEM_UNDO adjustments are applied, attachments end.
extern "C" fn at_exit() {
    super::quietly(|| {
        if let Some(ns) = mapped() {
            ns.at_exit();
        }
    });
}

/// A namespace other than the process's own, opened by a tool that looks
/// into it or cleans it up (the `ipcshim` command). What the tool takes in
/// it (a process entry, while it removes an object) is given back when it
/// is dropped, as at the exit of a program.
pub struct Opened(Namespace);

/// Maps the existing namespace whose region file is `path`, with every
/// family: ENOENT if there is none, EACCES for a file that is not the
/// caller's, EIO for a damaged one or one another version laid out.
pub fn open_existing(path: &std::path::Path) -> Result<Opened> {
    Namespace::open_existing(path, &FAMILIES).map(Opened)
}

impl std::ops::Deref for Opened {
    type Target = Namespace;
    fn deref(&self) -> &Namespace {
        &self.0
    }
}

impl Drop for Opened {
    fn drop(&mut self) {
        self.0.at_exit();
    }
}
