//! Deliberate failures at named points, for testing recovery from a
//! process that dies, stops or panics at the worst moment (holding a lock,
//! halfway through a mutation).
//!
//! With `IPCSHIM_CRASH_AT=<name>[:<n>[:<how>]]`, the process fails the
//! `n`-th time (default: the first) it reaches [`here`]`(<name>)`, in the
//! way `how` says: `kill` (default: SIGKILL itself), `stop` (SIGSTOP itself,
//! and go on when continued), or `panic` (a Rust panic, which the C
//! boundary catches). The variable is read once; unset, each point costs a
//! load and a branch.

use crate::platform::Once;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};

#[derive(Clone, Copy, PartialEq, Eq)]
enum How {
    Kill,
    Stop,
    Panic,
}

#[derive(Clone)]
struct Armed {
    name: String,
    n: u64,
    how: How,
}

static ARMED: Once<Option<Armed>> = Once::new();
static PASSED: AtomicU64 = AtomicU64::new(0);
/// Whether any point is armed: 0 not known yet, 1 no, 2 yes. One load on
/// every pass of an unarmed point.
static STATE: AtomicU8 = AtomicU8::new(0);

fn armed() -> Option<Armed> {
    let spec = std::env::var("IPCSHIM_CRASH_AT").ok()?;
    let mut parts = spec.split(':');
    let name = parts.next()?.to_owned();
    let n = parts.next().map_or(Some(1), |n| n.parse().ok())?;
    let how = match parts.next() {
        None | Some("kill") => How::Kill,
        Some("stop") => How::Stop,
        Some("panic") => How::Panic,
        Some(_) => return None,
    };
    Some(Armed { name, n, how })
}

#[inline]
pub fn here(name: &str) {
    if STATE.load(Ordering::Relaxed) == 1 {
        return;
    }
    reached(name);
}

#[cold]
fn reached(name: &str) {
    let armed = ARMED.get_or_init(armed);
    STATE.store(if armed.is_some() { 2 } else { 1 }, Ordering::Relaxed);
    if let Some(armed) = armed {
        if armed.name == name && PASSED.fetch_add(1, Ordering::Relaxed) + 1 == armed.n {
            match armed.how {
                How::Kill => crate::platform::kill_self(),
                How::Stop => crate::platform::stop_self(),
                How::Panic => panic!("crash point {name}"),
            }
        }
    }
}
