//! The calling thread as a call needs it: its identity (for lock words and
//! wait records) and its credentials (for permission checks), cached
//! together in one thread-local. In a shared library every thread-local
//! access is a call to `__tls_get_addr`; a semop that locks a set and
//! checks its permissions reaches thread storage once ([`with_caller`]).
//!
//! The identity is tagged with the fork generation it was read in, the
//! credentials with the generation of identity changes (see `creds`): a
//! stale copy is read afresh. Without thread storage (a call from a thread
//! destructor) both are read afresh every time.

use super::creds::{self, Credentials};
use super::identity::{self, fork_generation, Identity};
use std::cell::{Cell, RefCell};

struct Cached {
    /// Fork generation (0: none yet) and the thread's identity.
    thread: Cell<(u64, Identity)>,
    /// Credentials generation and the credentials read in it.
    creds: RefCell<(u32, Option<Credentials>)>,
}

thread_local! {
    static CALLER: Cached = const {
        Cached {
            thread: Cell::new((0, Identity { id: 0, start: 0 })),
            creds: RefCell::new((0, None)),
        }
    };
}

impl Cached {
    #[inline]
    fn thread(&self) -> Identity {
        let generation = fork_generation();
        match self.thread.get() {
            (cached, me) if cached == generation => me,
            _ => {
                let me = identity::current_thread();
                self.thread.set((generation, me));
                me
            }
        }
    }

    /// Runs `f` with the current credentials; None (and `f` unused) if
    /// they are borrowed already (`f` called back into us).
    #[inline]
    fn with_credentials<R>(&self, f: impl FnOnce(&Credentials) -> R) -> Option<R> {
        let generation = creds::generation();
        let mut cache = self.creds.try_borrow_mut().ok()?;
        if cache.0 != generation || cache.1.is_none() {
            // A set*id call racing with the read bumps the generation again,
            // so the copy is read anew next time.
            *cache = (generation, Some(creds::read()));
        }
        cache.1.as_ref().map(f)
    }
}

/// The calling thread (tid and start time).
#[inline]
pub fn thread() -> Identity {
    CALLER.try_with(Cached::thread).unwrap_or_else(|_| identity::current_thread())
}

/// Runs `f` with the caller's current credentials.
#[inline]
pub fn with_credentials<R>(f: impl FnOnce(&Credentials) -> R) -> R {
    let mut f = Some(f);
    let result = CALLER.try_with(|c| c.with_credentials(|creds| f.take().map(|f| f(creds))));
    match (result, f) {
        (Ok(Some(Some(r))), _) => r,
        (_, Some(f)) => f(&creds::read()),
        (_, None) => unreachable!("f ran, so it returned"),
    }
}

/// Runs `f` with the calling thread and its current credentials.
#[inline]
pub fn with_caller<R>(f: impl FnOnce(Identity, &Credentials) -> R) -> R {
    let mut f = Some(f);
    let result = CALLER.try_with(|c| {
        let me = c.thread();
        c.with_credentials(|creds| f.take().map(|f| f(me, creds)))
    });
    match (result, f) {
        (Ok(Some(Some(r))), _) => r,
        (_, Some(f)) => f(thread(), &creds::read()),
        (_, None) => unreachable!("f ran, so it returned"),
    }
}
