//! A lock in shared memory that survives its holder being killed.
//!
//! The lock word names its owner completely: the owner thread's TID in the
//! low half (plus a waiters bit) and the low 32 bits of the thread's start
//! time in the high half, taken together in the one CAS that acquires the
//! lock. So there is never a moment when the lock is held by someone it
//! does not name, and a waiter can always tell a dead owner (no such
//! thread, a zombie, or a thread with another start time: the TID was
//! recycled) from a live one, whether that one is running, preempted or
//! stopped (SIGSTOP): only the dead lose the lock.
//!
//! Recovery does not depend on the kernel's robust-futex list (which glibc
//! owns, and which macOS and Android lack): a waiter that has slept
//! [`OWNER_CHECK_INTERVAL`] without the lock coming free checks whether the
//! owner is alive, and takes the lock over from a dead owner with a CAS from
//! the exact word it saw (so exactly one waiter wins). The new holder is told through
//! [`Guard::recovered`] and must repair the structure the lock protects
//! before relying on it. A holder whose call panics (caught at the C
//! boundary) leaves the lock `ABANDONED`, which the next holder treats the
//! same way.
//!
//! The futex is the low half of the word: waiters sleep on it, and an
//! unlock that finds the waiters bit set wakes one. Uncontended lock and
//! unlock are one atomic RMW each: no system call.

use crate::platform::{self, Identity, Until, Wake};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

const WAITERS: u64 = 1 << 31;
const TID: u64 = WAITERS - 1;
/// Left by a holder that panicked: no owner (TID 0), waiters bit set so
/// that sleepers wake and one takes it over.
const ABANDONED: u64 = WAITERS;
/// Spins before sleeping, at least (then until [`SPIN_TIME`] has passed,
/// where spinning pays).
const SPINS: u32 = 200;
const SPIN_TIME: Duration = Duration::from_micros(20);
/// How often a sleeping waiter looks at whether the owner died.
pub const OWNER_CHECK_INTERVAL: Duration = Duration::from_millis(100);

/// Lives in the shared region. All-zero is an unlocked lock.
#[repr(C)]
pub struct RobustLock {
    /// 0 when free; otherwise `start << 32 | WAITERS? | tid` of the owner.
    word: AtomicU64,
}

/// Proof of holding a [`RobustLock`]; unlocks on drop.
pub struct Guard<'a> {
    lock: &'a RobustLock,
    /// The previous owner died holding the lock (or its call panicked): the
    /// protected structure may be half-changed and must be repaired.
    pub recovered: bool,
}

fn owner_word(me: Identity) -> u64 {
    (me.start & 0xffff_ffff) << 32 | (me.id as u64 & TID)
}

impl RobustLock {
    #[inline]
    pub fn lock(&self) -> Guard<'_> {
        self.lock_as(platform::thread())
    }

    /// [`RobustLock::lock`] for a caller that has its thread's identity at
    /// hand already (`platform::with_caller`).
    #[inline]
    pub fn lock_as(&self, thread: Identity) -> Guard<'_> {
        let me = owner_word(thread);
        // Acquire pairs with the Release in `unlock`: we see everything the
        // previous owner wrote under the lock.
        if self.word.compare_exchange(0, me, Ordering::Acquire, Ordering::Relaxed).is_ok() {
            crate::crash_point::here("lock-acquired");
            return Guard { lock: self, recovered: false };
        }
        self.lock_contended(me)
    }

    /// The futex: the half of the word that holds the TID and waiters bit.
    fn futex(&self) -> *const u32 {
        let base = self.word.as_ptr() as *const u32;
        if cfg!(target_endian = "little") {
            base
        } else {
            base.wrapping_add(1)
        }
    }

    #[cold]
    fn lock_contended(&self, me: u64) -> Guard<'_> {
        // Critical sections are short: spin while the holder may be running
        // (a little while, by the clock, where another CPU can run it;
        // briefly where it cannot), since sleeping costs both sides a
        // system call and the sleeper a wake-up of tens of microseconds.
        // Most contended acquisitions end within the first spins, so the
        // clock and the spin policy are only asked after them.
        let mut spin_until = None;
        let mut spins = 0u32;
        loop {
            if self.word.load(Ordering::Relaxed) == 0
                && self.word.compare_exchange(0, me, Ordering::Acquire, Ordering::Relaxed).is_ok()
            {
                return Guard { lock: self, recovered: false };
            }
            platform::spin_hint();
            spins += 1;
            if spins >= SPINS && spins.is_multiple_of(32) {
                let now = platform::monotonic_now();
                let until = *spin_until.get_or_insert_with(|| match platform::spin::pays() {
                    true => now + SPIN_TIME,
                    false => now,
                });
                if now >= until {
                    break;
                }
            }
        }
        // From here on we take the lock with WAITERS set: we cannot know
        // whether others still sleep, so our unlock must wake one. The owner
        // is looked at (in /proc: costly) only once a sleep has timed out:
        // a live owner wakes us long before.
        let mut check_owner = false;
        loop {
            let seen = self.word.load(Ordering::Relaxed);
            if seen == 0 {
                if self.word.compare_exchange(0, me | WAITERS, Ordering::Acquire, Ordering::Relaxed).is_ok() {
                    return Guard { lock: self, recovered: false };
                }
                continue;
            }
            if seen & WAITERS == 0
                && self.word.compare_exchange(seen, seen | WAITERS, Ordering::Relaxed, Ordering::Relaxed).is_err()
            {
                continue;
            }
            let seen = seen | WAITERS;
            let owner = Identity { id: (seen & TID) as u32, start: seen >> 32 };
            if owner.id == 0 || (check_owner && !owner.alive()) {
                if self.word.compare_exchange(seen, me | WAITERS, Ordering::Acquire, Ordering::Relaxed).is_ok() {
                    return Guard { lock: self, recovered: true };
                }
                continue;
            }
            let wake = platform::futex_wait_at(self.futex(), seen as u32, Until::After(OWNER_CHECK_INTERVAL));
            check_owner = wake == Wake::TimedOut;
        }
    }

    fn unlock(&self, to: u64) {
        // Release pairs with the Acquire of the next owner's CAS.
        if self.word.swap(to, Ordering::Release) & WAITERS != 0 {
            // Waking one is enough: it takes the lock with WAITERS set, so its
            // own unlock wakes the next sleeper. An abandoned lock wakes them
            // all: each looks at the (absent) owner, and one takes it over.
            platform::futex_wake_at(self.futex(), if to == 0 { 1 } else { i32::MAX });
        }
    }
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        // A panic unwinding through the critical section left the protected
        // structure as it was at that instant, like a killed holder would.
        let to = if std::thread::panicking() { ABANDONED } else { 0 };
        self.lock.unlock(to);
    }
}
