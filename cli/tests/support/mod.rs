//! Shared by the command's tests: the binary, the library it preloads, C
//! programs from `c-tests/`, and running a shell script on the kernel in
//! an IPC namespace of its own. Temporary directories and compiling come
//! from the library's test helpers.

#![allow(dead_code)] // each test binary uses part of this

#[path = "../../../tests/common/mod.rs"]
mod common;

#[allow(unused_imports)] // each test binary uses part of this
pub use common::{run_bounded, Bounded, TempDir};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The `ipcshim` binary cargo built for these tests.
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_ipcshim"))
}

/// The library cargo built with it: `cargo test` leaves it in deps/ (a
/// copy beside the binary may be older, from an earlier `cargo build`).
pub fn library() -> PathBuf {
    common::shim_library()
}

/// `ipcshim ARGS` with the fresh library, and none of the caller's
/// namespace variables.
pub fn ipcshim(args: &[&str]) -> Command {
    let mut command = Command::new(binary());
    command.args(args).env("IPCSHIM_LIB", library());
    for variable in ["LD_PRELOAD", "LD_LIBRARY_PATH", "IPCSHIM_DIR", "IPCSHIM_NAMESPACE", "IPCSHIM_LOG"] {
        command.env_remove(variable);
    }
    command
}

/// Runs it with stdin empty; its output. A program copied by a test may
/// be briefly busy (ETXTBSY) while a child that another test forked at
/// that moment holds the copy's descriptor, until that child execs.
pub fn output(mut command: Command) -> Output {
    command.stdin(Stdio::null());
    let mut tries = 0;
    loop {
        match command.output() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && tries < 100 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            result => return result.expect("run the program"),
        }
    }
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts that a failure was reported as the command reports one: a
/// message on stderr, a non-zero status, no panic.
pub fn assert_fails_cleanly(out: &Output, status: i32, message: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(status), "status; stderr: {err}");
    assert!(err.contains(message), "{message:?} not in stderr: {err}");
    assert!(!err.contains("panicked"), "panic: {err}");
}

/// A temporary directory's path as a command-line argument.
pub trait AsArg {
    fn str(&self) -> &str;
}

impl AsArg for TempDir {
    fn str(&self) -> &str {
        self.path().to_str().expect("a UTF-8 temp path")
    }
}

/// Compiles `c-tests/<name>.c` (of this crate) into `out`.
pub fn compile(name: &str, out: &Path) -> PathBuf {
    common::compile(name, out, false)
}

/// Compiles `c-tests/<name>.c` into the library `out/<name>.so`.
pub fn compile_library(name: &str, out: &Path) -> PathBuf {
    common::compile_library(name, out)
}

/// Where a program run under `ipcshim run --no-kernel-ipc` gets its IPC.
#[derive(Clone, Copy, Debug)]
pub enum Ipc {
    /// From the shim.
    Shim,
    /// Nowhere: a library that does nothing is preloaded in the shim's
    /// place, so the program's calls reach the kernel's filter (ENOSYS).
    FilterAlone,
}

impl Ipc {
    /// The library for `IPCSHIM_LIB`: the shim, or the empty library
    /// (`c-tests/empty.c`), built into `work`.
    pub fn library(self, work: &Path) -> PathBuf {
        match self {
            Ipc::Shim => library(),
            Ipc::FilterAlone => compile_library("empty", work),
        }
    }
}

/// `ipcshim run --no-kernel-ipc --dir DIR -- PROGRAM ARGS` preloading
/// `ipc`'s library (the empty one is built into `work`).
pub fn without_kernel_ipc(ipc: Ipc, dir: &Path, work: &Path, program: &str, args: &[&str]) -> Command {
    let dir = dir.to_str().expect("UTF-8 path");
    let mut command = ipcshim(&["run", "--no-kernel-ipc", "--dir", dir, "--", program]);
    command.args(args).env("IPCSHIM_LIB", ipc.library(work));
    command
}

/// `sh -c SCRIPT` on the kernel, in an IPC namespace of its own (so the
/// kernel's objects are only the script's, and its ids start afresh, as a
/// new shim namespace's do), in `cwd`.
pub fn on_kernel(script: &str, cwd: &Path) -> Output {
    let out = Command::new("unshare")
        .args(["--ipc", "sh", "-c", script])
        .current_dir(cwd)
        .env_remove("LD_PRELOAD")
        .stdin(Stdio::null())
        .output()
        .expect("unshare (util-linux) is needed to compare with the kernel");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("unshare failed"), "unshare --ipc: {}", stderr(&out));
    out
}

/// `sh -c SCRIPT` under `ipcshim run --dir DIR` (so every program the
/// script starts runs under the shim), in `cwd`.
pub fn under_shim(script: &str, dir: &Path, cwd: &Path) -> Output {
    let dir = dir.to_str().expect("UTF-8 path");
    let mut command = ipcshim(&["run", "--dir", dir, "--", "sh", "-c", script]);
    command.current_dir(cwd);
    output(command)
}

/// The name ipcs shows for the calling user.
pub fn my_name() -> String {
    let out = Command::new("id").arg("-un").output().expect("id");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A C program of `c-tests/` running under the shim in namespace `dir`,
/// from the moment it printed "ready" (it holds something there) until
/// [`Holder::stop`] closes its standard input.
pub struct Holder(std::process::Child);

impl Holder {
    pub fn start(dir: &TempDir, work: &Path, name: &str, args: &[&str]) -> Holder {
        use std::io::BufRead;
        let program = compile(name, work);
        let mut command = ipcshim(&["run", "--dir", dir.str(), "--", program.to_str().unwrap()]);
        command.args(args).stdin(Stdio::piped()).stdout(Stdio::piped());
        let mut child = command.spawn().expect("start the holder");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
        assert_eq!(line, "ready\n", "{name} did not start");
        Holder(child)
    }

    pub fn pid(&self) -> u32 {
        self.0.id()
    }

    /// Lets it exit (its stdin closes) and waits for it.
    pub fn stop(mut self) {
        drop(self.0.stdin.take());
        assert!(self.0.wait().unwrap().success());
    }
}
