//! A value computed once per process, safe across fork and re-entry.
//!
//! `std::sync::OnceLock` and friends make other threads wait while one
//! thread computes the value. Inside the shim that wait is a hazard twice
//! over: a fork child inherits the "being computed" state from a thread
//! that does not exist in the child, and waits forever; and a computation
//! that re-enters the shim (through another preload library) waits on
//! itself. [`Once`] never waits: whoever finds the value missing computes
//! it; the first to finish stores it, and a computation abandoned by fork
//! (its fork generation is older) is taken over.

use std::cell::UnsafeCell;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicU64, Ordering};

const EMPTY: u64 = 0;
const READY: u64 = 1;
/// Being stored, by a thread of the fork generation in the upper bits.
const STORING: u64 = 2;

pub struct Once<T> {
    /// EMPTY, READY, or STORING | generation << 2.
    state: AtomicU64,
    value: UnsafeCell<MaybeUninit<T>>,
}

// SAFETY: the value is written once, by the one thread that moved `state`
// to STORING, and read only after `state` is READY (Release/Acquire).
unsafe impl<T: Send + Sync> Sync for Once<T> {}

impl<T> Once<T> {
    pub const fn new() -> Once<T> {
        Once { state: AtomicU64::new(EMPTY), value: UnsafeCell::new(MaybeUninit::uninit()) }
    }

    /// The value, computed by `make` if it is not there yet. `make` may run
    /// in several threads at once, and must give the same answer in each; a
    /// thread that cannot store its answer (another is storing one right
    /// now) keeps it, leaked: a rare race costs one small allocation.
    #[inline]
    pub fn get_or_init(&'static self, make: impl FnOnce() -> T) -> &'static T {
        match self.get() {
            Some(v) => v,
            None => self.init(make),
        }
    }

    #[cold]
    fn init(&'static self, make: impl FnOnce() -> T) -> &'static T {
        let value = make();
        let generation = super::fork_generation();
        let mine = STORING | generation << 2;
        let seen = self.state.load(Ordering::Acquire);
        let abandoned = seen & 3 == STORING && seen >> 2 != generation;
        if (seen == EMPTY || abandoned)
            && self.state.compare_exchange(seen, mine, Ordering::Acquire, Ordering::Relaxed).is_ok()
        {
            // SAFETY: we alone hold STORING; nobody reads before READY.
            unsafe { (*self.value.get()).write(value) };
            self.state.store(READY, Ordering::Release);
            return self.get().expect("just stored");
        }
        self.get().unwrap_or_else(|| Box::leak(Box::new(value)))
    }

    #[inline]
    pub fn get(&'static self) -> Option<&'static T> {
        if self.state.load(Ordering::Acquire) == READY {
            // SAFETY: READY is stored (Release) only after the value was
            // written, and the value is never written again.
            Some(unsafe { (*self.value.get()).assume_init_ref() })
        } else {
            None
        }
    }
}

impl<T> Default for Once<T> {
    fn default() -> Self {
        Self::new()
    }
}
