//! Who is calling, and whether another process or thread is still alive.
//!
//! A process or thread is named durably by its id plus its start time
//! (clock ticks since boot, field 22 of `/proc/<id>/stat`), so that a recycled
//! id is never mistaken for the original. Identities are cached so that the
//! fast path makes no system call; every cache is tagged with the fork
//! generation, which the fork child handler bumps, so nothing inherited
//! from a parent is mistaken for the child's own.

use super::files::read_small;
use super::sys::sys;
use std::sync::atomic::{AtomicU64, Ordering};

/// Bumped in the child after every fork (see [`after_fork_in_child`]).
static FORK_GENERATION: AtomicU64 = AtomicU64::new(1);

/// The fork generation: per-process state tagged with an older one was
/// inherited from a parent.
pub fn fork_generation() -> u64 {
    FORK_GENERATION.load(Ordering::Relaxed)
}

/// Registered first among the fork child handlers.
pub extern "C" fn after_fork_in_child() {
    FORK_GENERATION.fetch_add(1, Ordering::Relaxed);
    PROCESS.store(0, Ordering::Relaxed);
}

/// A process or thread: its id and its start time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Identity {
    pub id: u32,
    pub start: u64,
}

impl Identity {
    /// One word naming it: the id, and the low 32 bits of the start time
    /// (two processes with the same id started 2^32 ticks apart, 497 days
    /// at 100 Hz, would be confused). Never 0 for a real process.
    pub fn key(self) -> u64 {
        (self.start & 0xffff_ffff) << 32 | self.id as u64
    }

    pub fn from_key(key: u64) -> Identity {
        Identity { id: key as u32, start: key >> 32 }
    }

    /// Whether it is still running: it exists, is not a zombie, and has the
    /// start time recorded (its low 32 bits, as [`Identity::key`] keeps).
    /// A stopped process is alive. Without /proc (some sandboxes), only
    /// [`exited`] can tell.
    pub fn alive(self) -> bool {
        let low = |t: u64| t & 0xffff_ffff;
        match stat_of(self.id) {
            Some(s) => !matches!(s.state, b'Z' | b'X') && low(s.start) == low(self.start),
            None => !exited(self.id),
        }
    }
}

/// The calling process (pid and start time): cached per fork generation in
/// one word, so no lock is involved (a race computes it twice).
static PROCESS: AtomicU64 = AtomicU64::new(0);

#[inline]
pub fn process() -> Identity {
    match PROCESS.load(Ordering::Relaxed) {
        0 => read_process(),
        key => Identity::from_key(key),
    }
}

#[cold]
fn read_process() -> Identity {
    // SAFETY: getpid has no arguments.
    let id = unsafe { sys!(libc::SYS_getpid) }.map_or(0, |p| p as u32);
    let me = Identity { id, start: stat_of(id).map_or(0, |s| s.start) };
    PROCESS.store(me.key(), Ordering::Relaxed);
    me
}

/// The calling process's pid, from one system call: for a look that must
/// not read /proc for the start time, as [`process`] does the first time.
pub fn current_pid() -> u32 {
    let key = PROCESS.load(Ordering::Relaxed);
    if key != 0 {
        return Identity::from_key(key).id;
    }
    // SAFETY: getpid has no arguments.
    unsafe { sys!(libc::SYS_getpid) }.map_or(0, |p| p as u32)
}

/// The calling process's pid.
#[inline]
pub fn pid() -> i32 {
    process().id as i32
}

/// The calling thread (tid and start time), read afresh: two system calls
/// (see `caller::thread` for the cached copy).
pub fn current_thread() -> Identity {
    // SAFETY: gettid has no arguments.
    let id = unsafe { sys!(libc::SYS_gettid) }.map_or(0, |t| t as u32);
    Identity { id, start: stat_of(id).map_or(0, |s| s.start) }
}

/// What /proc says about a process or thread.
pub struct ProcStat {
    pub state: u8,
    pub start: u64,
}

/// /proc/<id>/stat (threads too: /proc/<tid> exists for every thread).
pub fn stat_of(id: u32) -> Option<ProcStat> {
    let path = std::ffi::CString::new(format!("/proc/{id}/stat")).ok()?;
    let mut buf = [0u8; 1024];
    let text = read_small(&path, &mut buf)?;
    // The command name (field 2) may contain spaces and parentheses: parse
    // from the last ')'. Fields after it start at field 3 (state); the start
    // time is field 22.
    let rest = &text[text.iter().rposition(|&b| b == b')')? + 1..];
    let mut fields = rest.split(|b| b.is_ascii_whitespace()).filter(|f| !f.is_empty());
    let state = *fields.next()?.first()?;
    let start = std::str::from_utf8(fields.nth(18)?).ok()?.parse().ok()?;
    Some(ProcStat { state, start })
}

/// A process's start time, 0 if it is gone.
pub fn start_time_of(pid: u32) -> u64 {
    stat_of(pid).map_or(0, |s| s.start)
}

/// Whether process `pid` has exited (gone, or a zombie), in one system call:
/// reading another process's memory fails with ESRCH exactly when it has no
/// task or no memory any more. Where that call is forbidden, only whether
/// the pid exists is known, and a zombie passes for alive. Start times are
/// not compared (see [`Identity::alive`]).
pub fn exited(pid: u32) -> bool {
    let mut byte = 0u8;
    let local = libc::iovec { iov_base: (&mut byte as *mut u8).cast(), iov_len: 1 };
    // Any address: only whether the process still has memory matters.
    let remote = libc::iovec { iov_base: 4096 as *mut libc::c_void, iov_len: 1 };
    // SAFETY: reads at most one byte into `byte`; the kernel checks the
    // remote address.
    let result = unsafe {
        sys!(libc::SYS_process_vm_readv, pid, &local as *const libc::iovec, 1, &remote as *const libc::iovec, 1, 0)
    };
    match result {
        Err(e) if e.0 == libc::ESRCH => true,
        Err(e) if e.0 == libc::ENOSYS || e.0 == libc::EPERM => !exists(pid),
        _ => false,
    }
}

/// Whether a process (or zombie) with this id exists: kill(pid, 0).
fn exists(pid: u32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    !matches!(unsafe { sys!(libc::SYS_kill, pid, 0) }, Err(e) if e.0 == libc::ESRCH)
}

/// Ends the process at once, as an outside SIGKILL would.
pub fn kill_self() -> ! {
    // SAFETY: SIGKILL cannot be caught; exit_group ends us if it somehow returned.
    unsafe {
        let _ = sys!(libc::SYS_kill, pid(), libc::SIGKILL);
        let _ = sys!(libc::SYS_exit_group, 137);
    }
    unreachable!("the process is gone")
}

/// Stops the process (SIGSTOP), as an outside stop would; returns once it
/// is continued.
pub fn stop_self() {
    // SAFETY: plain signal to ourselves.
    let _ = unsafe { sys!(libc::SYS_kill, pid(), libc::SIGSTOP) };
}
