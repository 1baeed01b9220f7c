//! Waiting for a peer actively: whether it pays, and how.
//!
//! A thread that must wait until a peer changes a word in shared memory (a
//! message arrives, a waiter is settled, a lock comes free) can sleep on
//! the word's futex at once, which costs both sides a system call and the
//! sleeper a wake-up of tens of microseconds, or watch the word for a
//! moment first, which wins when the peer answers within that moment. It
//! can only answer if it gets a CPU meanwhile, so how to watch depends on
//! where the peer runs:
//!
//! - On another CPU (or nobody knows where): poll the word, with the CPU's
//!   pause hint, for a bounded time. No yields: on a loaded machine a
//!   yield hands our CPU to unrelated work for the rest of a time slice.
//! - On this very CPU: the peer cannot run while we poll; yield instead,
//!   which runs it at once if it is ready, and look again after each yield.
//!   Two processes on one CPU then trade it with one `sched_yield` each and
//!   no futex at all.
//!
//! Peers say where they are through a [`Whereabouts`] in the object they
//! act on: each send or operation notes the CPU it ran on.
//!
//! Watching only pays while the CPUs have nothing else to do. When more
//! threads are runnable than there are CPUs (sampled from the system every
//! [`SAMPLE_EVERY`]), nobody watches for long: a waiter whose peer last ran
//! on another CPU only glances at the word for [`GLANCE_TIME`] (a running
//! peer in a stream answers within it, and a sleep would cost both sides a
//! system call, a wake-up across CPUs and two context switches: far more
//! CPU than the glance); any other waiter sleeps at once. When this CPU in particular is busy,
//! the watcher notices: its polling loop sees the clock jump (it was
//! preempted), or a yield takes long (something else ran), and the count
//! of runnable threads confirms it (on a virtual machine the hypervisor
//! also takes CPUs away for a while, and a peer that a yield ran may run
//! long: neither keeps another thread from running, so watching goes on). Then for a
//! while no thread of the process watches and every wait sleeps at once,
//! as the kernel's would: a watcher takes CPU time the other work needs,
//! and it loses the scheduler's preference for threads that sleep (a woken
//! sleeper preempts a running hog at once; a thread that has been spinning
//! waits for the hog's time slice to end, milliseconds). Each time the CPU
//! is found busy again soon after such a quiet spell ended, the next spell
//! is twice as long (from [`QUIET_TIME`] up to [`QUIET_TIME`] × 2^
//! [`MAX_LEVEL`]), so under lasting load the process watches almost never;
//! once it goes a spell's length without finding the CPU busy, spells are
//! short again. The state is a process-wide hint in static atomics, not
//! per thread (threads of one process share its CPUs); racing updates lose
//! at most one step.

use super::{coarse_now, current_cpu, monotonic_now, online_cpus, runnable_threads, spin_hint, yield_cpu};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// How long a would-be sleeper watches at most. Long enough to cover a
/// peer's answer from another CPU, including the peer's own wake-up from a
/// futex sleep (tens of microseconds on an idle virtual CPU), so that a
/// ping-pong that once fell asleep gets back to watching; short against a
/// scheduler time slice.
pub const SPIN_TIME: Duration = Duration::from_micros(50);

/// How long a waiter glances at a word across CPUs when the CPUs are
/// crowded (see the module docs): a few of a running peer's operations.
pub const GLANCE_TIME: Duration = Duration::from_micros(3);

/// A gap this long between two looks at the clock while polling (or a
/// yield that took this long) means other work ran on this CPU meanwhile.
/// Far above a polling round (a few dozen pause instructions) and a timer
/// interrupt; far below a time slice.
const BUSY_GAP: Duration = Duration::from_micros(20);

/// How long the process stops watching after it found its CPU busy, at
/// first; and how many times that may double under lasting load.
pub const QUIET_TIME: Duration = Duration::from_millis(10);
pub const MAX_LEVEL: u32 = 7;

/// How often the count of runnable threads is looked at (a file read, a
/// few microseconds).
pub const SAMPLE_EVERY: Duration = Duration::from_millis(10);

/// When (monotonic, in microseconds) the runnable threads were counted, and
/// whether they outnumbered the CPUs.
static SAMPLED_AT: AtomicU64 = AtomicU64::new(0);
static CROWDED: AtomicBool = AtomicBool::new(false);

/// Until when (monotonic, in microseconds) nobody watches, and how many
/// times the last quiet spell was doubled.
static QUIET_UNTIL: AtomicU64 = AtomicU64::new(0);
static QUIET_LEVEL: AtomicU32 = AtomicU32::new(0);

/// Where a peer last acted: the CPU it ran on, plus one (0: unknown).
/// Lives in shared memory. A hint only, so a torn or stale value costs
/// at most one wrongly chosen way of waiting; a dying writer leaves a valid
/// value or the previous one.
#[repr(transparent)]
pub struct Whereabouts(AtomicU32);

impl Whereabouts {
    /// Records that the calling thread acts here, now. Writes only when the
    /// CPU changed, so a peer reading the word keeps its cache line.
    #[inline]
    pub fn note(&self) {
        let here = current_cpu().wrapping_add(1);
        if self.0.load(Relaxed) != here {
            self.0.store(here, Relaxed);
        }
    }

    fn cpu(&self) -> Option<u32> {
        self.0.load(Relaxed).checked_sub(1)
    }
}

/// Whether polling may pay at all: more than one CPU, and not [`quiet`].
/// For waits whose peer is unknown (a lock holder).
pub fn pays() -> bool {
    online_cpus() > 1 && !quiet()
}

/// Whether nobody watches now: the CPUs have more runnable threads than
/// they can run, or the process found its CPU busy lately. Asked before
/// every watch, so it reads the coarse clock: a spell then ends up to a
/// scheduler tick late, against spells of [`QUIET_TIME`] or more.
pub fn quiet() -> bool {
    let now = coarse_now().as_micros() as u64;
    let until = QUIET_UNTIL.load(Relaxed);
    (until != 0 && now < until) || crowded(now)
}

fn crowded(now: u64) -> bool {
    let sampled = SAMPLED_AT.load(Relaxed);
    if now.saturating_sub(sampled) < SAMPLE_EVERY.as_micros() as u64 {
        return CROWDED.load(Relaxed);
    }
    SAMPLED_AT.store(now, Relaxed);
    let crowded = runnable_threads().is_some_and(|n| n as usize > online_cpus());
    CROWDED.store(crowded, Relaxed);
    crowded
}

/// A watcher lost its CPU for a while (see [`BUSY_GAP`]). If other
/// threads wanted it, the CPU is busy; if no more threads are runnable
/// than there are CPUs, the hypervisor took it from the virtual machine
/// (steal time), or the peer that a yield handed it to ran long, neither
/// of which a watcher costs anybody: no quiet spell. The count is the
/// last sample's (at most [`SAMPLE_EVERY`] old), so that a yield to a
/// busy peer does not read the system at every turn.
/// True if the CPU was busy: the watch ends, for a sleep.
fn lost_cpu(now: Duration) -> bool {
    let busy = crowded(now.as_micros() as u64);
    if busy {
        found_busy(now);
    }
    busy
}

fn found_busy(now: Duration) {
    let now = now.as_micros() as u64;
    let spell = |level: u32| (QUIET_TIME.as_micros() as u64) << level;
    let (until, level) = (QUIET_UNTIL.load(Relaxed), QUIET_LEVEL.load(Relaxed));
    let level = if until != 0 && now < until.saturating_add(spell(level)) { (level + 1).min(MAX_LEVEL) } else { 0 };
    QUIET_LEVEL.store(level, Relaxed);
    QUIET_UNTIL.store(now.saturating_add(spell(level)), Relaxed);
}

/// Pause hints between two looks at a word, at most (see [`watch_paced`]).
pub const MAX_PACE: u32 = 128;

/// Pause hints per look at the clock while polling: a few dozen.
const PAUSES_PER_CLOCK: u32 = 32;

/// Watches `word` while it equals `seen`, for at most `limit`, the way
/// `peer`'s whereabouts call for (see the module docs). True if the word
/// changed; false if the caller should sleep.
pub fn watch(word: &AtomicU32, seen: u32, peer: Option<&Whereabouts>, limit: Duration) -> bool {
    watch_paced(word, seen, peer, limit, 1)
}

/// [`watch`], polling with `pace` pause hints (up to [`MAX_PACE`])
/// between two looks. Each look takes the word's line from the peer's
/// CPU, and the peer's next write has to take it back: a watcher that
/// knows the change it waits for is some way off (a sender facing a long
/// full queue) looks seldom, and leaves the peer its line meanwhile.
pub fn watch_paced(word: &AtomicU32, seen: u32, peer: Option<&Whereabouts>, limit: Duration, pace: u32) -> bool {
    if quiet() {
        return across(peer) && poll_while_equal(word, seen, limit.min(GLANCE_TIME), 1);
    }
    let alone = online_cpus() <= 1;
    let beside_us = peer.and_then(Whereabouts::cpu).is_some_and(|cpu| cpu == current_cpu());
    if alone || beside_us {
        yield_while_equal(word, seen, limit)
    } else {
        poll_while_equal(word, seen, limit, pace.clamp(1, MAX_PACE))
    }
}

/// Whether a watch for `peer` would look at all (see [`watch_paced`]): a
/// caller that must let a lock go to watch keeps it when not.
pub fn worth_watching(peer: Option<&Whereabouts>) -> bool {
    !quiet() || across(peer)
}

/// Whether `peer` last ran on another CPU than ours.
fn across(peer: Option<&Whereabouts>) -> bool {
    online_cpus() > 1 && peer.and_then(Whereabouts::cpu).is_some_and(|cpu| cpu != current_cpu())
}

/// Polls `word` while it equals `seen`, `pace` pause hints apart; the
/// clock is the vDSO's (no system call), read every few dozen hints.
fn poll_while_equal(word: &AtomicU32, seen: u32, limit: Duration, pace: u32) -> bool {
    let mut last = monotonic_now();
    let deadline = last + limit;
    loop {
        for _ in 0..(PAUSES_PER_CLOCK / pace).max(1) {
            if word.load(Relaxed) != seen {
                return true;
            }
            for _ in 0..pace {
                spin_hint();
            }
        }
        let now = monotonic_now();
        if now.saturating_sub(last) >= BUSY_GAP && lost_cpu(now) {
            return word.load(Relaxed) != seen;
        }
        if now >= deadline {
            return false;
        }
        last = now;
    }
}

/// Yields while `word` equals `seen`, looking after each yield.
fn yield_while_equal(word: &AtomicU32, seen: u32, limit: Duration) -> bool {
    let deadline = monotonic_now() + limit;
    loop {
        if word.load(Relaxed) != seen {
            return true;
        }
        let before = monotonic_now();
        yield_cpu();
        let now = monotonic_now();
        if word.load(Relaxed) != seen {
            return true;
        }
        if now.saturating_sub(before) >= BUSY_GAP && lost_cpu(now) {
            return false;
        }
        if now >= deadline {
            return false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn whereabouts_name_the_cpu_of_the_last_note() {
        let w = Whereabouts(AtomicU32::new(0));
        assert_eq!(w.cpu(), None);
        w.note();
        let seen = w.cpu().expect("noted");
        // The thread may have moved since; it ran on `seen` at some point.
        assert!((seen as usize) < 4096);
        w.0.store(7 + 1, Relaxed);
        assert_eq!(w.cpu(), Some(7));
    }

    /// A watcher sees a change made by another thread, whichever way it
    /// watches (the peer noted elsewhere, or beside it), or gives up in
    /// time to sleep.
    #[test]
    fn watch_sees_a_change_or_gives_up() {
        for beside in [false, true] {
            let word = Arc::new(AtomicU32::new(0));
            let peer = Whereabouts(AtomicU32::new(0));
            if beside {
                peer.note();
            }
            let changer = {
                let word = Arc::clone(&word);
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_micros(20));
                    word.store(1, Relaxed);
                })
            };
            // Quiet (a crowded machine) or not, the change is there by the
            // time the watch or a sleep ends.
            let changed = watch(&word, 0, Some(&peer), Duration::from_secs(5));
            changer.join().unwrap();
            assert!(changed || quiet(), "a watch of 5 s missed a change made after 20 µs");
            assert_eq!(word.load(Relaxed), 1);
        }
        let still = AtomicU32::new(3);
        let start = monotonic_now();
        assert!(!watch(&still, 3, None, Duration::from_millis(2)));
        assert!(monotonic_now() - start < Duration::from_secs(1));
    }
}
