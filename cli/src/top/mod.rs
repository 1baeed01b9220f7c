//! `ipcshim top`: a live view of a namespace, frame after frame, as
//! procps's top shows processes. Each frame is one walk of the namespace
//! (`Namespace::objects`, as `ipcs` reads it) and of its live processes;
//! rates come from the difference between a queue's running totals in two
//! frames.
//!
//! - `frame`: what one frame holds, and what two frames tell (rates).
//! - `view`: a frame as text.

mod frame;
mod view;

use crate::cli::TopArgs;
use crate::Failure;
use frame::Frame;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Set by SIGINT and SIGTERM: the command ends after the frame it is at.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_stop(_signal: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

/// Ctrl-C (and SIGTERM) end the command between frames, so that what it
/// took in the namespace is given back as it returns.
fn catch_stop_signals() {
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: sigaction is plain data; all-zero is valid (empty mask, no flags).
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = on_stop as extern "C" fn(libc::c_int) as libc::sighandler_t;
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe;
        // `action` is valid for the call and the old action is not wanted.
        unsafe { libc::sigaction(signal, &action, std::ptr::null_mut()) };
    }
}

/// ANSI: cursor home, then clear the screen.
const REDRAW: &str = "\x1b[H\x1b[2J";

/// How long a sleep between frames goes without looking at [`STOP`].
const STOP_CHECK: Duration = Duration::from_millis(50);

pub fn top(args: &TopArgs) -> Result<u8, Failure> {
    let target = crate::place::resolve(&args.place)?;
    let ns = crate::place::open(&target)?;
    // SAFETY: isatty has no preconditions.
    let on_terminal = !args.batch && unsafe { libc::isatty(libc::STDOUT_FILENO) } == 1;
    catch_stop_signals();
    let mut previous: Option<Frame> = None;
    let mut shown = 0u64;
    loop {
        let frame =
            Frame::take(&ns).map_err(|e| Failure::new(format!("{}: cannot read it: {e:?}", target.path.display())))?;
        let mut text = String::new();
        if on_terminal {
            text.push_str(REDRAW);
        } else if shown > 0 {
            text.push('\n');
        }
        view::render(&mut text, &target, &frame, previous.as_ref());
        let mut stdout = std::io::stdout().lock();
        // A reader that went away (`| head`) ends the command, as it ends top.
        if stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()).is_err() {
            return Ok(0);
        }
        drop(stdout);
        shown += 1;
        if args.iterations.is_some_and(|n| shown >= n) || !pause(args.delay) {
            return Ok(0);
        }
        previous = Some(frame);
    }
}

/// Sleeps for `delay`; false if a stop signal came meanwhile.
fn pause(delay: Duration) -> bool {
    let until = Instant::now() + delay;
    loop {
        if STOP.load(Ordering::Relaxed) {
            return false;
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        std::thread::sleep(left.min(STOP_CHECK));
    }
}
