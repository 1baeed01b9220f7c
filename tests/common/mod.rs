//! Shared by the integration tests: building C programs, running them on
//! the kernel and under the shim, temporary directories.

#![allow(dead_code)] // each test binary uses part of this

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// target/<profile>, where cargo put libipcshim.so for this test run.
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    exe.parent().and_then(Path::parent).expect("target/<profile>/deps/<test>").to_path_buf()
}

/// The library cargo built for this test run. `cargo test` leaves it in
/// deps/ (only `cargo build` copies it up to target/<profile>).
pub fn shim_library() -> PathBuf {
    let lib = profile_dir().join("deps").join("libipcshim.so");
    assert!(lib.exists(), "{} is missing: cargo builds it with the tests", lib.display());
    lib
}

/// The `ipcshim` command built from `cli/` with this test run's profile
/// and target directory. `CARGO_BIN_EXE_ipcshim` exists only for the
/// command's own tests, and a `cargo test` that selects only this crate's
/// tests (`--test NAME`, `-p ipcshim`) does not build the command at all,
/// while a copy left by an earlier build may be stale. So the first call in
/// a test process runs `cargo build -p ipcshim-cli` itself (the cargo that
/// built the tests, which holds no lock on the target directory while tests
/// run): nothing to do when `cargo test` at the top already built it, and
/// the command matching the sources otherwise. The library it preloads is
/// chosen by the caller (`IPCSHIM_LIB`), never the one beside it.
pub fn ipcshim_command() -> PathBuf {
    static BUILT: std::sync::OnceLock<Result<PathBuf, String>> = std::sync::OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let profile_dir = profile_dir();
        let dir_name = profile_dir.file_name().and_then(|n| n.to_str()).ok_or("target/<profile> has no name")?;
        // Cargo's dev profile (and the test profile that inherits it) builds
        // into debug/; every other profile into a directory of its name.
        let profile = if dir_name == "debug" { "dev" } else { dir_name };
        let target_dir = profile_dir.parent().ok_or("target/<profile> has no parent")?;
        let out = Command::new(env!("CARGO"))
            .args(["build", "--quiet", "-p", "ipcshim-cli", "--bin", "ipcshim", "--profile", profile])
            .arg("--manifest-path")
            .arg(repo().join("Cargo.toml"))
            .arg("--target-dir")
            .arg(target_dir)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run cargo: {e}"))?;
        if !out.status.success() {
            return Err(format!("cargo build -p ipcshim-cli failed:\n{}", String::from_utf8_lossy(&out.stderr)));
        }
        Ok(profile_dir.join("ipcshim"))
    });
    match built {
        Ok(binary) => binary.clone(),
        Err(why) => panic!("{why}"),
    }
}

/// A directory removed (with its contents) when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("ipcshim-test-{}-{n}-{label}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Compiles `c-tests/<name>.c` (`name` may have a directory, e.g.
/// `shim/probe`) into `out`; `linked` adds the shim through pkg-config.
pub fn compile(name: &str, out: &Path, linked: bool) -> PathBuf {
    let source = repo().join("c-tests").join(format!("{name}.c"));
    let base = name.rsplit('/').next().expect("a name");
    let exe = out.join(if linked { format!("{base}-linked") } else { base.to_owned() });
    let mut cc = Command::new("cc");
    cc.args(["-std=gnu11", "-Wall", "-Wextra", "-Werror", "-O1", "-o"]).arg(&exe).arg(&source);
    if linked {
        let pc = Command::new("pkg-config")
            .args(["--cflags", "--libs", "ipcshim", "--define-variable"])
            .arg(format!("libdir={}", shim_library().parent().expect("deps").display()))
            .env("PKG_CONFIG_PATH", profile_dir().join("pkgconfig"))
            .output()
            .expect("pkg-config is needed to link C programs against the shim");
        assert!(pc.status.success(), "pkg-config: {}", String::from_utf8_lossy(&pc.stderr));
        cc.args(String::from_utf8(pc.stdout).expect("utf-8").split_whitespace());
    }
    let result = cc.output().expect("cc is needed to build the C tests");
    assert!(result.status.success(), "cc {}: {}", source.display(), String::from_utf8_lossy(&result.stderr));
    exe
}

/// Compiles `c-tests/<name>.c` (e.g. `shim/wrap_files`) into the shared
/// library `out/<base name>.so`, for LD_PRELOAD.
pub fn compile_library(name: &str, out: &Path) -> PathBuf {
    let source = repo().join("c-tests").join(format!("{name}.c"));
    let base = name.rsplit('/').next().expect("a name");
    let lib = out.join(format!("{base}.so"));
    let result = Command::new("cc")
        .args(["-std=gnu11", "-Wall", "-Wextra", "-Werror", "-O1", "-shared", "-fPIC", "-o"])
        .arg(&lib)
        .arg(&source)
        .arg("-ldl")
        .output()
        .expect("cc is needed to build the C tests");
    assert!(result.status.success(), "cc {}: {}", source.display(), String::from_utf8_lossy(&result.stderr));
    lib
}

/// How a C program is run.
pub enum Mode<'a> {
    /// On the kernel, in a new IPC namespace of its own.
    Kernel,
    /// Under the shim through LD_PRELOAD, in the shim namespace directory given.
    Preload(&'a Path),
    /// A program linked with the shim, in the shim namespace directory given.
    Linked(&'a Path),
    /// `ipcshim run --no-kernel-ipc --dir DIR -- exe`: under the shim
    /// through the command, with the kernel's IPC system calls taken away.
    Command(&'a Path),
}

/// Whether `unshare --ipc` works here (root, or user namespaces).
pub fn unshare_works() -> bool {
    static WORKS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *WORKS.get_or_init(|| {
        Command::new("unshare").args(["--ipc", "true"]).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
    })
}

/// Runs `exe` in a fresh working directory, killing it after `limit`.
pub fn run(exe: &Path, mode: Mode, limit: Duration) -> Output {
    let cwd = TempDir::new("cwd");
    let mut cmd = match mode {
        Mode::Kernel if unshare_works() => {
            let mut c = Command::new("unshare");
            c.arg("--ipc").arg(exe);
            c
        }
        Mode::Command(ns) => {
            let mut c = Command::new(ipcshim_command());
            c.args(["run", "--no-kernel-ipc", "--dir"]).arg(ns).arg("--").arg(exe);
            c
        }
        _ => Command::new(exe),
    };
    // cargo test sets LD_LIBRARY_PATH, which would beat the linked
    // program's RUNPATH and could load a stale copy of the library.
    for var in ["LD_PRELOAD", "LD_LIBRARY_PATH", "IPCSHIM_NAMESPACE", "IPCSHIM_LOG"] {
        cmd.env_remove(var);
    }
    cmd.current_dir(cwd.path());
    match mode {
        Mode::Kernel => {}
        Mode::Preload(ns) => {
            cmd.env("LD_PRELOAD", shim_library()).env("IPCSHIM_DIR", ns);
        }
        Mode::Linked(ns) => {
            cmd.env("IPCSHIM_DIR", ns);
        }
        Mode::Command(_) => {
            cmd.env("IPCSHIM_LIB", shim_library());
        }
    }
    run_with_limit(cmd, limit)
}

pub fn run_with_limit(mut cmd: Command, limit: Duration) -> Output {
    let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    let pid = child.id() as i32;
    let start = Instant::now();
    // Read the pipes in the background so a chatty program cannot block.
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    let out = std::thread::spawn(move || read_all(stdout));
    let err = std::thread::spawn(move || read_all(stderr));
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if start.elapsed() > limit {
            // The program (and any children it left) ran too long.
            let _ = Command::new("pkill").args(["-KILL", "-P", &pid.to_string()]).status();
            let _ = child.kill();
            break child.wait().expect("wait");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Output { status, stdout: out.join().expect("reader"), stderr: err.join().expect("reader") }
}

fn read_all(mut r: impl std::io::Read) -> Vec<u8> {
    let mut v = Vec::new();
    let _ = r.read_to_end(&mut v);
    v
}

/// How a [`run_bounded`] run ended.
pub struct Bounded {
    pub status: std::process::ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// Killed because it was still running after the limit.
    pub timed_out: bool,
    pub elapsed: Duration,
}

impl Bounded {
    /// Status, time and both outputs, for assertion messages.
    pub fn describe(&self) -> String {
        let how = if self.timed_out {
            format!("still running after {:.1} s: killed", self.elapsed.as_secs_f64())
        } else {
            format!("{} after {:.1} s", self.status, self.elapsed.as_secs_f64())
        };
        format!("{how}\n--- stdout\n{}--- stderr\n{}", self.stdout, self.stderr)
    }
}

/// The environment variable [`run_bounded`] marks its processes with.
const RUN_TAG: &str = "IPCSHIM_TEST_RUN";

/// Runs `cmd` (stdin empty, stdout and stderr to files, so that nothing it
/// leaves behind can block the test) in a process group of its own, with
/// a marker in its environment. After `limit` the group is killed. Either
/// way, every process still carrying the marker afterwards (daemons that
/// left the group, like fakeroot's faked) is killed too.
pub fn run_bounded(mut cmd: Command, limit: Duration) -> Bounded {
    use std::os::unix::process::CommandExt;
    let files = TempDir::new("output");
    let tag = files.path().display().to_string();
    let out_path = files.path().join("stdout");
    let err_path = files.path().join("stderr");
    let out = std::fs::File::create(&out_path).expect("stdout file");
    let err = std::fs::File::create(&err_path).expect("stderr file");
    cmd.env(RUN_TAG, &tag).stdin(Stdio::null()).stdout(out).stderr(err).process_group(0);
    let start = Instant::now();
    let mut child = cmd.spawn().expect("spawn");
    let group = child.id() as i32;
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if start.elapsed() > limit {
            timed_out = true;
            // SAFETY: kill(2) on the process group we created.
            unsafe { libc::kill(-group, libc::SIGKILL) };
            break child.wait().expect("wait");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let elapsed = start.elapsed();
    // SAFETY: as above; the group may be gone already.
    unsafe { libc::kill(-group, libc::SIGKILL) };
    kill_tagged(&format!("{RUN_TAG}={tag}"));
    let text = |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned();
    Bounded { status, stdout: text(&out_path), stderr: text(&err_path), timed_out, elapsed }
}

/// SIGKILLs every process whose environment holds `entry` (NAME=value),
/// until none is left (a dying one may have forked).
fn kill_tagged(entry: &str) {
    for _ in 0..10 {
        let mut found = false;
        for pid in std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok()?.file_name().into_string().ok()?.parse::<i32>().ok())
        {
            let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else { continue };
            if environ.split(|&b| b == 0).any(|var| var == entry.as_bytes()) {
                found = true;
                // SAFETY: kill(2) on a process this run started.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        if !found {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
