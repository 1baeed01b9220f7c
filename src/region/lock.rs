//! A lock in shared memory that survives its holder being killed.
//!
//! The lock word holds the owner's TID (plus a waiters bit), like a kernel
//! robust futex, but recovery does not depend on the kernel's robust list
//! (which glibc owns, and which macOS and Android lack): a waiter that has
//! spun without success checks whether the owner thread is still alive, and
//! re-checks every [`OWNER_CHECK_INTERVAL`] while it sleeps. If the owner is
//! dead, the waiter takes the lock over with a CAS from the exact word it
//! observed (so exactly one waiter wins) and is told so through
//! [`Guard::recovered`]; the caller must then repair the structure the lock
//! protects before relying on it (see each family's `repair`).
//!
//! Uncontended lock and unlock are one atomic RMW each: no system call.

use crate::platform::{self, ThreadIdentity, Wake};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

const WAITERS: u32 = 1 << 31;
const TID_MASK: u32 = !WAITERS;
const SPINS: u32 = 200;
/// Owner checks after which a TID in the lock word that was never confirmed
/// in `owner_tid` is taken for garbage (a corrupted word) rather than an
/// owner between its CAS and its next store.
const UNCONFIRMED_CHECKS: u32 = 5;
/// How often a sleeping waiter looks at whether the owner died.
pub const OWNER_CHECK_INTERVAL: Duration = Duration::from_millis(100);

/// Lives in the shared region. All-zero is an unlocked lock.
#[repr(C)]
pub struct RobustLock {
    /// 0 when free; otherwise the owner's TID, with [`WAITERS`] set when
    /// someone may be asleep on it. This is the futex word.
    word: AtomicU32,
    /// The owner's TID again, stored (Release) after `owner_start`: when it
    /// equals the TID in `word`, `owner_start` belongs to that owner and the
    /// liveness check can also rule out TID reuse. If the owner dies between
    /// the CAS on `word` and this store, waiters fall back to checking that
    /// the TID exists at all.
    owner_tid: AtomicU32,
    /// Start time of the owner thread (see [`ThreadIdentity`]).
    owner_start: AtomicU64,
}

/// Proof of holding a [`RobustLock`]; unlocks on drop.
pub struct Guard<'a> {
    lock: &'a RobustLock,
    /// The previous owner died holding the lock: the protected structure may
    /// be half-changed and must be repaired before use.
    pub recovered: bool,
}

impl RobustLock {
    #[inline]
    pub fn lock(&self) -> Guard<'_> {
        let me = platform::thread_identity();
        // Acquire pairs with the Release in `unlock`: we see everything the
        // previous owner wrote under the lock.
        if self.word.compare_exchange(0, me.tid, Ordering::Acquire, Ordering::Relaxed).is_ok() {
            self.record_owner(me);
            return Guard { lock: self, recovered: false };
        }
        self.lock_contended(me)
    }

    fn record_owner(&self, me: ThreadIdentity) {
        self.owner_start.store(me.start, Ordering::Relaxed);
        self.owner_tid.store(me.tid, Ordering::Release);
    }

    #[cold]
    fn lock_contended(&self, me: ThreadIdentity) -> Guard<'_> {
        for _ in 0..SPINS {
            if self.word.load(Ordering::Relaxed) == 0
                && self.word.compare_exchange(0, me.tid, Ordering::Acquire, Ordering::Relaxed).is_ok()
            {
                self.record_owner(me);
                return Guard { lock: self, recovered: false };
            }
            platform::spin_hint();
        }
        // From here on we take the lock with WAITERS set: we cannot know
        // whether others still sleep, so our unlock must wake one.
        let mut check_owner = true;
        let mut unconfirmed = 0;
        loop {
            let seen = self.word.load(Ordering::Relaxed);
            if seen == 0 {
                if self.word.compare_exchange(0, me.tid | WAITERS, Ordering::Acquire, Ordering::Relaxed).is_ok() {
                    self.record_owner(me);
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
            let owner_gone = check_owner
                && match self.owner(seen & TID_MASK) {
                    Owner::Alive => false,
                    Owner::Dead => true,
                    Owner::Unconfirmed => {
                        unconfirmed += 1;
                        unconfirmed > UNCONFIRMED_CHECKS
                    }
                };
            if owner_gone {
                if self.word.compare_exchange(seen, me.tid | WAITERS, Ordering::Acquire, Ordering::Relaxed).is_ok() {
                    self.record_owner(me);
                    return Guard { lock: self, recovered: true };
                }
                continue;
            }
            check_owner = platform::futex_wait(&self.word, seen, OWNER_CHECK_INTERVAL) == Wake::TimedOut;
        }
    }

    fn owner(&self, tid: u32) -> Owner {
        let confirmed = self.owner_tid.load(Ordering::Acquire) == tid;
        let start = if confirmed { self.owner_start.load(Ordering::Relaxed) } else { 0 };
        match (platform::thread_alive(ThreadIdentity { tid, start }), confirmed) {
            (false, _) => Owner::Dead,
            (true, true) => Owner::Alive,
            (true, false) => Owner::Unconfirmed,
        }
    }

    fn unlock(&self) {
        self.owner_tid.store(0, Ordering::Relaxed);
        // Release pairs with the Acquire of the next owner's CAS.
        if self.word.swap(0, Ordering::Release) & WAITERS != 0 {
            // Waking one is enough: it takes the lock with WAITERS set, so its
            // own unlock wakes the next sleeper.
            platform::futex_wake(&self.word, 1);
        }
    }
}

/// What a waiter makes of the TID in the lock word.
enum Owner {
    Alive,
    Dead,
    /// A live thread, but it has not recorded itself as the owner: it is
    /// between its CAS and its next store, or the word is garbage.
    Unconfirmed,
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        self.lock.unlock();
    }
}
