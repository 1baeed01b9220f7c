//! A lock for process-local state that fork cannot leave held.
//!
//! A fork child has only the thread that forked; a lock another thread
//! held at that instant would stay held in the child forever, and the data
//! it guards half-changed. So the shim's few process-local structures are
//! guarded by a [`LocalMutex`] that the fork handlers take before fork
//! ([`LocalMutex::lock_for_fork`]) and give back in the parent and the child
//! afterwards ([`LocalMutex::unlock_after_fork`]): at the instant of fork
//! the data is whole, and the child starts with the lock free.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicU32, Ordering};

const UNLOCKED: u32 = 0;
const LOCKED: u32 = 1;
/// Locked, and someone may sleep on it.
const CONTENDED: u32 = 2;

pub struct LocalMutex<T> {
    state: AtomicU32,
    data: UnsafeCell<T>,
}

// SAFETY: the data is only reached through a guard, while the lock is held.
unsafe impl<T: Send> Sync for LocalMutex<T> {}

pub struct LocalGuard<'a, T> {
    mutex: &'a LocalMutex<T>,
}

impl<T> LocalMutex<T> {
    pub const fn new(data: T) -> Self {
        LocalMutex { state: AtomicU32::new(UNLOCKED), data: UnsafeCell::new(data) }
    }

    pub fn lock(&self) -> LocalGuard<'_, T> {
        self.acquire();
        LocalGuard { mutex: self }
    }

    fn acquire(&self) {
        if self.state.compare_exchange(UNLOCKED, LOCKED, Ordering::Acquire, Ordering::Relaxed).is_ok() {
            return;
        }
        while self.state.swap(CONTENDED, Ordering::Acquire) != UNLOCKED {
            super::futex_wait_private(&self.state, CONTENDED);
        }
    }

    fn release(&self) {
        if self.state.swap(UNLOCKED, Ordering::Release) == CONTENDED {
            super::futex_wake_private(&self.state);
        }
    }

    /// Fork prepare handler: holds the lock across fork.
    pub fn lock_for_fork(&self) {
        self.acquire();
    }

    /// Fork parent and child handlers: gives it back. (In the child the
    /// forking thread, which holds it, is the only thread.)
    pub fn unlock_after_fork(&self) {
        self.release();
    }

    /// The data, while the fork handlers hold the lock.
    ///
    /// # Safety
    /// Only between [`LocalMutex::lock_for_fork`] and
    /// [`LocalMutex::unlock_after_fork`], in the thread that forks.
    pub unsafe fn held_for_fork(&self) -> &T {
        // SAFETY: the caller holds the lock (the contract above).
        unsafe { &*self.data.get() }
    }
}

impl<T> std::ops::Deref for LocalGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard proves the lock is held.
        unsafe { &*self.mutex.data.get() }
    }
}

impl<T> std::ops::DerefMut for LocalGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard proves the lock is held, and is borrowed mutably.
        unsafe { &mut *self.mutex.data.get() }
    }
}

impl<T> Drop for LocalGuard<'_, T> {
    fn drop(&mut self) {
        self.mutex.release();
    }
}
