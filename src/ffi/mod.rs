//! The exported C functions. Each one converts C types, calls into the
//! library, and reports failure as `-1` + `errno`; `call` is the one place
//! that sets `errno`, and the one panic boundary: no panic unwinds into C.
//!
//! - `namespace`: the process's namespace (mapped at first use, safely even
//!   when another preload library calls back into us while we map it) and
//!   the families that make it up; library load, fork and exit; any other
//!   existing namespace, for tools (`open_existing`). `config`: which
//!   namespace, from the environment the program started with, and how
//!   region files are named.
//! - `msg`, `sem`, `shm`, `ftok`: the System V calls; `mq`: the POSIX queues.
//! - `process`: interposed fork and munmap; `creds`: interposed set*id,
//!   chroot, unshare and setns.
//! - `api`: ipcshim's own API (`include/ipcshim.h`).
//! - `trace`: `IPCSHIM_TRACE`, a line per call.

mod api;
mod config;
mod creds;
mod ftok;
mod mq;
mod msg;
mod namespace;
mod process;
mod sem;
mod shm;
mod trace;

use crate::error::{Errno, Result};
use std::panic::{catch_unwind, AssertUnwindSafe};

pub use api::*;
pub use config::{namespace_of_file, region_path, DEFAULT_DIR, DEFAULT_NAMESPACE};
pub use namespace::{namespace, open_existing, Opened};

/// Runs `f`, the C function `name`, turning an error (or a panic) into
/// `failure` with `errno` set. Traced (see `trace`) with the arguments
/// that `args` shows, which is called only when tracing is on.
fn call<T: Returned>(name: &str, args: impl FnOnce(&mut trace::Args), failure: T, f: impl FnOnce() -> Result<T>) -> T {
    let line = trace::on().then(|| trace::Line::start(name, args));
    let (value, errno) = match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(value)) => (value, None),
        Ok(Err(Errno(e))) => (failure, Some(e)),
        Err(_) => {
            crate::log::diag(|| "internal error (panic) caught at the C boundary".into());
            (failure, Some(libc::EIO))
        }
    };
    if let Some(line) = line {
        line.finish(&value.shown(), errno);
    }
    if let Some(e) = errno {
        set_errno(e);
    }
    value
}

/// What the exported functions return, as a trace shows it.
trait Returned: Copy {
    fn shown(self) -> String;
}

impl Returned for libc::c_int {
    fn shown(self) -> String {
        self.to_string()
    }
}

impl Returned for libc::ssize_t {
    fn shown(self) -> String {
        self.to_string()
    }
}

impl Returned for *mut libc::c_void {
    fn shown(self) -> String {
        match self as usize {
            usize::MAX => "-1".into(),
            _ => format!("{self:p}"),
        }
    }
}

/// Runs `f` for its effects (in a hook or handler with no caller to tell),
/// keeping any panic from unwinding into C.
fn quietly(f: impl FnOnce()) {
    if catch_unwind(AssertUnwindSafe(f)).is_err() {
        crate::log::diag(|| "internal error (panic) caught in a hook".into());
    }
}

fn set_errno(e: i32) {
    // SAFETY: __errno_location returns the calling thread's errno slot.
    unsafe { *libc::__errno_location() = e };
}
