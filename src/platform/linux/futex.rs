//! Futexes on words of the shared mapping.
//!
//! The words live in a MAP_SHARED file mapping, so the kernel keys each
//! futex by inode and offset and finds sleepers of every process mapping
//! the file: no FUTEX_PRIVATE_FLAG here, or waiters in other processes would
//! never be found.

use super::sys::sys;
use std::sync::atomic::AtomicU32;
use std::time::Duration;

/// How a [`wait`] ended. Spurious returns are possible; callers re-check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    /// Woken, or the word no longer held `expected` when we tried to sleep.
    Woken,
    TimedOut,
    /// A signal handler ran. The calls here always carry a timeout, and the
    /// kernel reports an interrupted timed futex wait as EINTR even under
    /// SA_RESTART, which is what msgsnd/msgrcv/semop callers expect.
    Interrupted,
}

/// When a wait ends at the latest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Until {
    /// After this long (CLOCK_MONOTONIC).
    After(Duration),
    /// At this absolute CLOCK_REALTIME instant (POSIX deadlines): the
    /// kernel moves the wake-up with the clock if the clock is set.
    Realtime(Duration),
}

const FUTEX_WAIT: usize = 0;
const FUTEX_WAKE: usize = 1;
const FUTEX_WAIT_BITSET: usize = 9;
const FUTEX_CLOCK_REALTIME: usize = 256;
const MATCH_ANY: usize = 0xffff_ffff;

/// Sleeps while the 32-bit word at `word` holds `expected`, at most until `until`.
pub fn wait(word: &AtomicU32, expected: u32, until: Until) -> Wake {
    wait_at(word.as_ptr(), expected, until)
}

/// [`wait`] on a raw address: the low half of a 64-bit lock word.
pub fn wait_at(word: *const u32, expected: u32, until: Until) -> Wake {
    let (op, time) = match until {
        Until::After(t) => (FUTEX_WAIT, t),
        Until::Realtime(t) => (FUTEX_WAIT_BITSET | FUTEX_CLOCK_REALTIME, t),
    };
    let ts = libc::timespec { tv_sec: time.as_secs() as libc::time_t, tv_nsec: time.subsec_nanos() as libc::c_long };
    // SAFETY: `word` is a valid, aligned u32 in our mapping for the duration
    // of the call and `ts` outlives it; FUTEX_WAIT only reads both.
    let result = unsafe { sys!(libc::SYS_futex, word, op, expected, &ts as *const libc::timespec, 0, MATCH_ANY) };
    match result {
        Ok(_) => Wake::Woken,
        Err(e) if e.0 == libc::ETIMEDOUT => Wake::TimedOut,
        Err(e) if e.0 == libc::EINTR => Wake::Interrupted,
        Err(_) => Wake::Woken, // EAGAIN: the value had already changed.
    }
}

/// Wakes up to `count` sleepers on `word`.
pub fn wake(word: &AtomicU32, count: i32) {
    wake_at(word.as_ptr(), count);
}

/// [`wake`] on a raw address.
pub fn wake_at(word: *const u32, count: i32) {
    // SAFETY: FUTEX_WAKE does not access the memory; the address is a key.
    let _ = unsafe { sys!(libc::SYS_futex, word, FUTEX_WAKE, count) };
}

const FUTEX_PRIVATE_FLAG: usize = 128;

/// Sleeps while the process-private word holds `expected` (no timeout).
pub fn wait_private(word: &AtomicU32, expected: u32) {
    // SAFETY: `word` is a valid, aligned u32 for the duration of the call.
    let _ = unsafe { sys!(libc::SYS_futex, word.as_ptr(), FUTEX_WAIT | FUTEX_PRIVATE_FLAG, expected, 0) };
}

/// Wakes one sleeper on a process-private word.
pub fn wake_private(word: &AtomicU32) {
    // SAFETY: FUTEX_WAKE does not access the memory; the address is a key.
    let _ = unsafe { sys!(libc::SYS_futex, word.as_ptr(), FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 1) };
}
