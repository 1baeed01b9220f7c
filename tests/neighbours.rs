//! The shim beside other preload libraries.
//!
//! Libraries like libfakeroot wrap file calls (stat, open, ...) and make
//! IPC calls inside them. Loaded together with the shim, the shim's own
//! file calls (while it maps its region at load, or inside an IPC call)
//! reach the wrapper, which calls back into the shim: that must neither
//! deadlock nor recurse without end, whichever library comes first in
//! LD_PRELOAD. `c-tests/shim/wrap_files.c` is such a library.
//!
//! Every run is bounded: a hang is killed and reported as a failure.

mod common;

use common::{compile, compile_library, run_bounded, shim_library, unshare_works, TempDir};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// What `c-tests/shim/round_trip.c` prints when every call works and the
/// file wrapper is loaded.
const ROUND_TRIP: &str = "\
in the main thread: msg ok, sem ok, shm ok
in a new thread: msg ok, sem ok, shm ok
in a child process: msg ok, sem ok, shm ok
the child exited: 0
a file wrapper saw the program's stat: yes
";

const ROUND_TRIP_LIMIT: Duration = Duration::from_secs(10);

/// A command with none of the variables that would change what is loaded
/// or which namespace is used, in `cwd`.
fn clean_command(program: &Path, cwd: &Path) -> Command {
    let mut cmd = Command::new(program);
    for var in
        ["LD_PRELOAD", "LD_LIBRARY_PATH", "IPCSHIM_NAMESPACE", "IPCSHIM_SIZE_MB", "IPCSHIM_CRASH_AT", "FAKEROOTKEY"]
    {
        cmd.env_remove(var);
    }
    cmd.current_dir(cwd);
    cmd
}

/// A library in LD_PRELOAD.
#[derive(Clone, Copy)]
enum Lib {
    /// c-tests/shim/wrap_files.c
    Wrapper,
    Shim,
}

/// Runs round_trip (`linked`: the copy linked with the shim) with
/// `preload` in LD_PRELOAD, in that order, and a namespace of its own;
/// expects the full transcript.
fn round_trip_beside_the_wrapper(preload: &[Lib], linked: bool) {
    let build = TempDir::new("neighbours");
    let wrapper = compile_library("shim/wrap_files", build.path());
    let exe = compile("shim/round_trip", build.path(), linked);
    let ns = TempDir::new("ns");
    let libs: Vec<String> = preload
        .iter()
        .map(|lib| match lib {
            Lib::Wrapper => wrapper.display().to_string(),
            Lib::Shim => shim_library().display().to_string(),
        })
        .collect();
    let mut cmd = clean_command(&exe, ns.path());
    cmd.env("LD_PRELOAD", libs.join(" ")).env("IPCSHIM_DIR", ns.path()).env("IPCSHIM_LOG", "1");
    let run = run_bounded(cmd, ROUND_TRIP_LIMIT);
    let how = format!("round_trip{} with LD_PRELOAD=\"{}\"", if linked { " (linked)" } else { "" }, libs.join(" "));
    assert!(!run.timed_out, "{how} hung:\n{}", run.describe());
    assert!(run.status.success() && run.stdout == ROUND_TRIP, "{how}:\n{}", run.describe());
}

#[test]
fn a_file_wrapper_loaded_before_the_shim() {
    round_trip_beside_the_wrapper(&[Lib::Wrapper, Lib::Shim], false);
}

#[test]
fn a_file_wrapper_loaded_after_the_shim() {
    round_trip_beside_the_wrapper(&[Lib::Shim, Lib::Wrapper], false);
}

#[test]
fn a_file_wrapper_preloaded_into_a_program_linked_with_the_shim() {
    round_trip_beside_the_wrapper(&[Lib::Wrapper], true);
}

/// The reference: the same program and wrapper on the kernel.
#[test]
fn a_file_wrapper_on_the_kernel() {
    let build = TempDir::new("neighbours");
    let wrapper = compile_library("shim/wrap_files", build.path());
    let exe = compile("shim/round_trip", build.path(), false);
    let cwd = TempDir::new("cwd");
    let mut cmd = if unshare_works() {
        let mut c = clean_command(Path::new("unshare"), cwd.path());
        c.arg("--ipc").arg(&exe);
        c
    } else {
        clean_command(&exe, cwd.path())
    };
    cmd.env("LD_PRELOAD", &wrapper);
    let run = run_bounded(cmd, ROUND_TRIP_LIMIT);
    assert!(run.status.success() && run.stdout == ROUND_TRIP, "on the kernel:\n{}", run.describe());
}
