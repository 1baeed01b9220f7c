//! Linux platform layer.

use crate::error::{Errno, Result};
use std::cell::Cell;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

// ---------------------------------------------------------------- futex

/// How a [`futex_wait`] ended. Spurious returns are possible; callers re-check.
#[derive(Debug, PartialEq, Eq)]
pub enum Wake {
    /// Woken, or the word no longer held `expected` when we tried to sleep.
    Woken,
    TimedOut,
    /// A signal handler ran. The futex call is made with a timeout, so the
    /// kernel reports this as EINTR even under SA_RESTART (its restart block
    /// is only used when no handler ran), which is what msgsnd/msgrcv/semop
    /// callers expect.
    Interrupted,
}

/// Sleeps while `*word == expected`, for at most `timeout`. The word lives in a
/// shared file mapping, so the futex is keyed by inode and offset: no
/// FUTEX_PRIVATE_FLAG, or waiters in other processes would never be found.
pub fn futex_wait(word: &AtomicU32, expected: u32, timeout: Duration) -> Wake {
    let ts =
        libc::timespec { tv_sec: timeout.as_secs() as libc::time_t, tv_nsec: timeout.subsec_nanos() as libc::c_long };
    // SAFETY: `word` is a valid, aligned u32 for the duration of the call and
    // `ts` outlives it; FUTEX_WAIT only reads both.
    let r = unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAIT, expected, &ts as *const libc::timespec)
    };
    if r == 0 {
        return Wake::Woken;
    }
    match Errno::last().0 {
        libc::ETIMEDOUT => Wake::TimedOut,
        libc::EINTR => Wake::Interrupted,
        _ => Wake::Woken, // EAGAIN: the value had already changed.
    }
}

/// Wakes up to `count` sleepers on `word`.
pub fn futex_wake(word: &AtomicU32, count: i32) {
    // SAFETY: FUTEX_WAKE does not access the memory, it only uses the address as a key.
    unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, count);
    }
}

/// Tells the CPU we are spinning (PAUSE / YIELD).
#[inline]
pub fn spin_hint() {
    std::hint::spin_loop();
}

/// How long a would-be sleeper spins before sleeping. Long enough to cover
/// a peer's answer from the other CPU, including the peer's own wake-up from
/// a futex sleep (tens of microseconds on an idle virtual CPU), so that a
/// ping-pong that once fell asleep gets back to spinning; short against a
/// scheduler time slice, so a loaded machine loses little to it.
pub const SPIN_TIME: Duration = Duration::from_micros(50);

/// Spins while `*word == seen`, for at most `limit`; true if the word
/// changed. The clock is the vDSO's: no system call.
pub fn spin_while_equal(word: &AtomicU32, seen: u32, limit: Duration) -> bool {
    let deadline = monotonic_now() + limit;
    loop {
        for _ in 0..32 {
            if word.load(Ordering::Relaxed) != seen {
                return true;
            }
            spin_hint();
        }
        if monotonic_now() >= deadline {
            return false;
        }
    }
}

/// Spinning only helps when the peer can run at the same time.
pub fn spinning_pays() -> bool {
    static CPUS: once_cell::sync::Lazy<usize> =
        once_cell::sync::Lazy::new(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    *CPUS > 1
}

// ---------------------------------------------------------------- identity

/// Bumped in the child after every fork, so per-thread and per-process caches
/// taken before the fork are known to be stale.
static FORK_GENERATION: AtomicU64 = AtomicU64::new(1);
static CACHED_PID: AtomicI32 = AtomicI32::new(0);

/// Who a thread is, durably: its TID plus its start time (clock ticks since
/// boot), so that a recycled TID is never mistaken for the original thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThreadIdentity {
    pub tid: u32,
    pub start: u64,
}

thread_local! {
    static ME: Cell<(u64, ThreadIdentity)> = const { Cell::new((0, ThreadIdentity { tid: 0, start: 0 })) };
}

/// The calling thread's identity, cached per thread (and re-read after fork),
/// so the fast path makes no system call.
pub fn thread_identity() -> ThreadIdentity {
    let generation = FORK_GENERATION.load(Ordering::Relaxed);
    let (cached_gen, id) = ME.with(|c| c.get());
    if cached_gen == generation {
        return id;
    }
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::gettid() } as u32;
    let start = stat_of(tid).map(|s| s.start).unwrap_or(0);
    let id = ThreadIdentity { tid, start };
    ME.with(|c| c.set((generation, id)));
    id
}

/// Bumped in every fork child: lets per-process state tell whether it was
/// inherited from a parent.
pub fn fork_generation() -> u64 {
    FORK_GENERATION.load(Ordering::Relaxed)
}

/// The calling process's identity: its pid and start time, cached.
pub fn process_identity() -> ThreadIdentity {
    static CACHE: Mutex<(u64, ThreadIdentity)> = Mutex::new((0, ThreadIdentity { tid: 0, start: 0 }));
    let generation = fork_generation();
    let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    if cache.0 != generation {
        let pid = pid() as u32;
        *cache = (generation, ThreadIdentity { tid: pid, start: stat_of(pid).map_or(0, |s| s.start) });
    }
    cache.1
}

/// The calling process's pid, cached (glibc no longer caches getpid).
pub fn pid() -> i32 {
    let p = CACHED_PID.load(Ordering::Relaxed);
    if p != 0 {
        return p;
    }
    // SAFETY: getpid has no preconditions.
    let p = unsafe { libc::getpid() };
    CACHED_PID.store(p, Ordering::Relaxed);
    p
}

extern "C" fn after_fork_in_child() {
    FORK_GENERATION.fetch_add(1, Ordering::Relaxed);
    CACHED_PID.store(0, Ordering::Relaxed);
}

/// Registers the fork handler that keeps the identity caches right, then
/// `child`, to run in every fork child after it. Called once from the
/// library constructor.
pub fn install_fork_handlers(child: extern "C" fn()) {
    // SAFETY: registering plain extern "C" functions with no captured
    // state; child handlers run in registration order.
    unsafe {
        libc::pthread_atfork(None, None, Some(after_fork_in_child));
        libc::pthread_atfork(None, None, Some(child));
    }
}

/// Runs `f` when the process exits normally (exit(), return from main).
pub fn at_exit(f: extern "C" fn()) {
    // SAFETY: registering a plain extern "C" function.
    unsafe { libc::atexit(f) };
}

struct ProcStat {
    state: u8,
    start: u64,
}

fn stat_of(tid: u32) -> Option<ProcStat> {
    let text = std::fs::read_to_string(format!("/proc/{tid}/stat")).ok()?;
    // The command name (field 2) may contain spaces and parentheses: parse
    // from the last ')'. Fields after it start at field 3 (state); the start
    // time is field 22.
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?.bytes().next()?;
    let start = fields.nth(18)?.parse().ok()?;
    Some(ProcStat { state, start })
}

/// A thread's (or process's) start time, 0 if it is gone.
pub fn start_time_of(tid: u32) -> u64 {
    stat_of(tid).map_or(0, |s| s.start)
}

/// Whether the thread is still running (not exited, not a zombie). A recorded
/// start time of 0 means "unknown": then only existence is checked.
pub fn thread_alive(who: ThreadIdentity) -> bool {
    match stat_of(who.tid) {
        None => false,
        Some(s) => !matches!(s.state, b'Z' | b'X') && (who.start == 0 || s.start == who.start),
    }
}

/// Whether no process or thread with this id exists any more (a reaped
/// one): one cheap system call. A zombie still "exists" here; only
/// [`thread_alive`] tells it apart, at the cost of reading /proc.
pub fn gone(tid: u32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    unsafe { libc::kill(tid as libc::pid_t, 0) == -1 && Errno::last().0 == libc::ESRCH }
}

// ---------------------------------------------------------------- clocks

/// Seconds since the epoch, as stored in `msg_stime` and friends. The coarse
/// clock is served by the vDSO without a system call.
pub fn now_secs() -> i64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid out-pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut ts) };
    #[allow(clippy::unnecessary_cast)] // time_t is 32-bit on some targets
    let secs = ts.tv_sec as i64;
    secs
}

/// A monotonic instant (vDSO, no system call), for bounding spins.
pub fn monotonic_now() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid out-pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

// ---------------------------------------------------------------- credentials

/// The credentials permission checks use, cached so that the fast path makes
/// no system call. The cache is dropped by the set*id interposers in
/// [`crate::ffi`] after every identity change, so checks always use the
/// effective ids in force at call time.
#[derive(Clone, Debug)]
pub struct Credentials {
    pub euid: u32,
    pub egid: u32,
    pub groups: Vec<u32>,
    /// Effective capability bits (CAP_* numbers as bit positions).
    pub caps: u64,
}

pub const CAP_IPC_LOCK: u32 = 14;
pub const CAP_IPC_OWNER: u32 = 15;
pub const CAP_SYS_ADMIN: u32 = 21;
pub const CAP_SYS_RESOURCE: u32 = 24;

impl Credentials {
    pub fn has_cap(&self, cap: u32) -> bool {
        self.caps & (1u64 << cap) != 0
    }
    pub fn in_group(&self, gid: u32) -> bool {
        self.egid == gid || self.groups.contains(&gid)
    }
}

/// Bumped by every identity change; a cached copy from an older generation
/// is stale.
static CREDS_GENERATION: AtomicU32 = AtomicU32::new(1);

thread_local! {
    /// This thread's copy of the credentials, with the generation it was read
    /// in: permission checks read it without locking or system calls.
    static CREDS: std::cell::RefCell<(u32, Option<Credentials>)> = const { std::cell::RefCell::new((0, None)) };
}

/// Forgets the cached credentials; the next check reads them afresh.
pub fn credentials_changed() {
    CREDS_GENERATION.fetch_add(1, Ordering::AcqRel);
}

/// Runs `f` with the caller's current credentials.
pub fn with_credentials<R>(f: impl FnOnce(&Credentials) -> R) -> R {
    let mut f = Some(f);
    let cached = CREDS.try_with(|cell| {
        let generation = CREDS_GENERATION.load(Ordering::Acquire);
        let mut cache = cell.borrow_mut();
        if cache.0 != generation || cache.1.is_none() {
            // A set*id call racing with the read bumps the generation again,
            // so the copy is read anew next time.
            *cache = (generation, Some(read_credentials()));
        }
        let f = f.take().expect("called once");
        f(cache.1.as_ref().expect("filled above"))
    });
    match (cached, f) {
        (Ok(result), _) => result,
        // The thread's storage is gone (an IPC call from an atexit handler
        // or a thread destructor): read the credentials afresh.
        (Err(_), Some(f)) => f(&read_credentials()),
        (Err(_), None) => unreachable!("f runs only when the storage is there"),
    }
}

fn read_credentials() -> Credentials {
    // SAFETY: plain getters; getgroups writes at most `n` entries into `groups`.
    unsafe {
        let euid = libc::geteuid();
        let egid = libc::getegid();
        let n = libc::getgroups(0, std::ptr::null_mut()).max(0);
        let mut groups = vec![0 as libc::gid_t; n as usize];
        let got = libc::getgroups(n, groups.as_mut_ptr()).max(0);
        groups.truncate(got as usize);
        Credentials { euid, egid, groups, caps: effective_caps() }
    }
}

fn effective_caps() -> u64 {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const VERSION_3: u32 = 0x2008_0522;
    let mut header = Header { version: VERSION_3, pid: 0 };
    let mut data = [Data::default(); 2];
    // SAFETY: capget with version 3 writes exactly two Data records.
    let r = unsafe { libc::syscall(libc::SYS_capget, &mut header as *mut Header, data.as_mut_ptr()) };
    if r != 0 {
        return 0;
    }
    data[0].effective as u64 | (data[1].effective as u64) << 32
}

// ---------------------------------------------------------------- files and limits

/// Makes sure the file has real pages behind `[offset, offset + len)`, so a
/// later store into the mapping cannot SIGBUS on a full tmpfs.
pub fn reserve_file_space(fd: RawFd, offset: u64, len: u64) -> Result<()> {
    // SAFETY: plain system call on a descriptor we own.
    match unsafe { libc::posix_fallocate(fd, offset as libc::off_t, len as libc::off_t) } {
        0 => Ok(()),
        libc::ENOSPC | libc::EFBIG => Err(Errno::ENOSPC),
        e => Err(Errno(e)),
    }
}

/// A kernel IPC limit from /proc/sys/kernel, where the platform has it.
pub fn kernel_limit(name: &str) -> Option<u64> {
    kernel_limits(name)?.first().copied()
}

/// A multi-valued limit file (e.g. `sem`: SEMMSL SEMMNS SEMOPM SEMMNI).
pub fn kernel_limits(name: &str) -> Option<Vec<u64>> {
    let text = std::fs::read_to_string(format!("/proc/sys/kernel/{name}")).ok()?;
    text.split_ascii_whitespace().map(|v| v.parse().ok()).collect()
}

/// Writes one line to stderr without going through Rust's buffered stdio.
pub fn log_line(line: &str) {
    let mut buf = Vec::with_capacity(line.len() + 10);
    buf.extend_from_slice(b"ipcshim: ");
    buf.extend_from_slice(line.as_bytes());
    buf.push(b'\n');
    // SAFETY: writing an owned buffer to fd 2.
    unsafe { libc::write(2, buf.as_ptr().cast(), buf.len()) };
}

// ---------------------------------------------------------------- dynamic linking

/// The next definition of `name` after ours in the symbol search order
/// (`dlsym(RTLD_NEXT)`): libc's, for the functions we interpose.
pub fn next_symbol(name: &std::ffi::CStr) -> Option<*mut libc::c_void> {
    // SAFETY: dlsym with a NUL-terminated name; RTLD_NEXT is always valid.
    let sym = unsafe { libc::dlsym(libc::RTLD_NEXT, name.as_ptr()) };
    (!sym.is_null()).then_some(sym)
}

/// Whether the code at `addr` belongs to the main executable (as when the
/// crate is linked statically into a Rust test) rather than to a shared
/// library loaded into it.
pub fn in_main_executable(addr: *const libc::c_void) -> bool {
    fn base_of(addr: *const libc::c_void) -> Option<*mut libc::c_void> {
        // SAFETY: dladdr only reads the loader's tables; `info` is an out-parameter.
        let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
        (unsafe { libc::dladdr(addr, &mut info) } != 0).then_some(info.dli_fbase)
    }
    // SAFETY: getauxval has no preconditions; AT_PHDR points into the main executable.
    let main_phdr = unsafe { libc::getauxval(libc::AT_PHDR) } as *const libc::c_void;
    base_of(addr).is_some() && base_of(addr) == base_of(main_phdr)
}

/// Ends the process at once, as an outside SIGKILL would.
pub fn kill_self() -> ! {
    // SAFETY: plain system calls; SIGKILL cannot be caught, so raise does not return.
    unsafe {
        libc::raise(libc::SIGKILL);
        libc::_exit(137)
    }
}

// ---------------------------------------------------------------- mappings

/// Maps `len` bytes of `fd` from `offset`, MAP_SHARED with `prot`:
/// anywhere, or exactly at `at`. Without `replace`, an address overlapping
/// an existing mapping is refused (EINVAL, as shmat does).
pub fn map_fd(fd: RawFd, offset: u64, len: usize, prot: i32, at: Option<usize>, replace: bool) -> Result<usize> {
    let flags = libc::MAP_SHARED
        | match (at, replace) {
            (None, _) => 0,
            (Some(_), true) => libc::MAP_FIXED,
            (Some(_), false) => libc::MAP_FIXED_NOREPLACE,
        };
    let hint = at.unwrap_or(0) as *mut libc::c_void;
    // SAFETY: mapping a file we hold open; MAP_FIXED only where the caller
    // asked for that address and allowed replacing what is there (SHM_REMAP).
    let addr = unsafe { libc::mmap(hint, len, prot, flags, fd, offset as libc::off_t) };
    if addr == libc::MAP_FAILED {
        return Err(match Errno::last().0 {
            libc::EEXIST => Errno::EINVAL,
            // Below mmap_min_addr, or exec on a noexec mount.
            libc::EACCES | libc::EPERM => Errno::last(),
            _ => Errno::ENOMEM,
        });
    }
    if at.is_some_and(|a| a != addr as usize) {
        // A kernel without MAP_FIXED_NOREPLACE took it as a hint.
        unmap(addr as usize, len);
        return Err(Errno::EINVAL);
    }
    Ok(addr as usize)
}

/// Frees the pages behind `[offset, offset + len)` of a file (they read as
/// zeros afterwards).
pub fn punch_hole(fd: RawFd, offset: u64, len: u64) {
    // SAFETY: plain system call on a descriptor we own.
    unsafe {
        libc::fallocate(
            fd,
            libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
            offset as libc::off_t,
            len as libc::off_t,
        )
    };
}

pub fn unmap(addr: usize, len: usize) {
    // SAFETY: unmapping a range this library mapped.
    unsafe { libc::munmap(addr as *mut libc::c_void, len) };
}

/// RLIMIT_MEMLOCK in bytes (None: unlimited).
pub fn memlock_limit() -> Option<u64> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `limit` is an out-parameter.
    if unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut limit) } != 0 || limit.rlim_cur == libc::RLIM_INFINITY {
        return None;
    }
    Some(limit.rlim_cur)
}

// ---------------------------------------------------------------- caller memory

/// Whether the page at `page` can be read (and written back, if `write`):
/// one byte is read, and written back unchanged, through the kernel, which
/// reports EFAULT instead of faulting. None when the kernel will not say
/// (the calls are forbidden here): the caller then assumes the page is good.
pub fn probe_page(page: usize, write: bool) -> Option<bool> {
    let mut byte = 0u8;
    let local = libc::iovec { iov_base: (&mut byte as *mut u8).cast(), iov_len: 1 };
    let remote = libc::iovec { iov_base: page as *mut libc::c_void, iov_len: 1 };
    // SAFETY: reading one byte of our own address space into `byte`; the
    // kernel checks the remote address.
    let read = unsafe { libc::process_vm_readv(pid(), &local, 1, &remote, 1, 0) };
    if read != 1 {
        return (Errno::last().0 == libc::EFAULT).then_some(false);
    }
    if !write {
        return Some(true);
    }
    // SAFETY: writing back the byte just read, to the same address.
    let written = unsafe { libc::process_vm_writev(pid(), &local, 1, &remote, 1, 0) };
    if written != 1 {
        return (Errno::last().0 == libc::EFAULT).then_some(false);
    }
    Some(true)
}
