//! Deliberate crash points, for testing recovery from a process killed at
//! the worst moment (holding a lock, halfway through a mutation).
//!
//! With `IPCSHIM_CRASH_AT=<name>` (or `<name>:<n>`), the process sends
//! itself SIGKILL the first (or n-th) time it reaches [`here`]`(<name>)`.
//! The variable is read once, when a crash point is first reached; unset,
//! each point costs one load and a branch.

use once_cell::sync::Lazy;
use std::sync::atomic::{AtomicU64, Ordering};

struct Armed {
    name: String,
    remaining: AtomicU64,
}

static ARMED: Lazy<Option<Armed>> = Lazy::new(|| {
    let spec = std::env::var("IPCSHIM_CRASH_AT").ok()?;
    let (name, n) = match spec.split_once(':') {
        Some((name, n)) => (name.to_owned(), n.parse().ok()?),
        None => (spec, 1),
    };
    Some(Armed { name, remaining: AtomicU64::new(n) })
});

#[inline]
pub fn here(name: &str) {
    if let Some(armed) = ARMED.as_ref() {
        if armed.name == name && armed.remaining.fetch_sub(1, Ordering::Relaxed) == 1 {
            crate::platform::kill_self();
        }
    }
}
