//! The shim beside other preload libraries.
//!
//! Libraries like libfakeroot wrap file calls (stat, open, ...) and make
//! IPC calls inside them. Loaded together with the shim, the shim's own
//! file calls (while it maps its region at load, or inside an IPC call)
//! reach the wrapper, which calls back into the shim: that must neither
//! deadlock nor recurse without end, whichever library comes first in
//! LD_PRELOAD. `c-tests/shim/wrap_files.c` is such a library; fakeroot
//! itself (`fakeroot-sysv`, whose faked daemon also closes every
//! descriptor before serving) is the real case, run under
//! `c-tests/shim/no_kernel_ipc.c` so that the kernel could not have served
//! a single IPC call.
//!
//! Every run is bounded: a hang is killed and reported as a failure.

mod common;

use common::{compile, compile_library, run_bounded, shim_library, unshare_works, Bounded, TempDir};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
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
const FAKEROOT_LIMIT: Duration = Duration::from_secs(30);

/// A command with none of the variables that would change what is loaded
/// or which namespace is used, in `cwd`, with messages in English.
fn clean_command(program: &Path, cwd: &Path) -> Command {
    let mut cmd = Command::new(program);
    for var in
        ["LD_PRELOAD", "LD_LIBRARY_PATH", "IPCSHIM_NAMESPACE", "IPCSHIM_SIZE_MB", "IPCSHIM_CRASH_AT", "FAKEROOTKEY"]
    {
        cmd.env_remove(var);
    }
    cmd.env("LC_ALL", "C").current_dir(cwd);
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

// ------------------------------------------------------------------ fakeroot

fn fakeroot() -> PathBuf {
    let found = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("fakeroot-sysv"))
        .find(|p| p.exists());
    found.expect("fakeroot-sysv is needed for these tests (Debian package fakeroot)")
}

/// Where a fakeroot script runs and how.
enum Ipc {
    /// Through the shim (LD_PRELOAD) only: under no_kernel_ipc.
    Shim,
    /// On the kernel (in an IPC namespace of its own, where possible).
    Kernel,
    /// Neither: no shim, and under no_kernel_ipc.
    Nothing,
}

struct FakerootRun {
    run: Bounded,
    /// The directory the script ran in.
    work: TempDir,
    /// The shim's namespace directory.
    ns: TempDir,
}

/// Runs `sh -c script` under fakeroot-sysv in a fresh directory. Real
/// chown calls are off (FAKEROOTDONTTRYCHOWN): as root they would succeed
/// and hide whether the owners seen inside were faked.
fn under_fakeroot(script: &str, ipc: Ipc) -> FakerootRun {
    let build = TempDir::new("fakeroot");
    let launcher = compile("shim/no_kernel_ipc", build.path(), false);
    let work = TempDir::new("work");
    let ns = TempDir::new("ns");
    let fakeroot = fakeroot();
    let mut cmd = match ipc {
        Ipc::Shim | Ipc::Nothing => {
            let mut c = clean_command(&launcher, work.path());
            c.arg(&fakeroot);
            c
        }
        Ipc::Kernel if unshare_works() => {
            let mut c = clean_command(Path::new("unshare"), work.path());
            c.arg("--ipc").arg(&fakeroot);
            c
        }
        Ipc::Kernel => clean_command(&fakeroot, work.path()),
    };
    cmd.args(["sh", "-c", script]).env("FAKEROOTDONTTRYCHOWN", "1");
    if let Ipc::Shim = ipc {
        cmd.env("LD_PRELOAD", shim_library()).env("IPCSHIM_DIR", ns.path()).env("IPCSHIM_LOG", "1");
    }
    FakerootRun { run: run_bounded(cmd, FAKEROOT_LIMIT), work, ns }
}

/// `ls -ln` lines as (type and mode, uid, gid, name).
fn listing(stdout: &str) -> Vec<(String, String, String, String)> {
    stdout
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            (f.len() >= 5).then(|| (f[0].into(), f[2].into(), f[3].into(), f[f.len() - 1].into()))
        })
        .collect()
}

fn owner_of(listing: &[(String, String, String, String)], name: &str) -> Option<(String, String)> {
    listing.iter().find(|e| e.3 == name).map(|e| (e.1.clone(), e.2.clone()))
}

const OWNERS_AND_DEVICES: &str = "touch f; chown 1:2 f; mknod n c 1 3; ls -ln f n";

/// Inside: f owned by 1:2, n a character device. Outside: both still
/// plain files of ours, so all of it was faked.
fn check_owners_and_devices(how: &str, r: &FakerootRun) {
    assert!(!r.run.timed_out, "fakeroot {how} hung:\n{}", r.run.describe());
    assert!(r.run.status.success(), "fakeroot {how}:\n{}", r.run.describe());
    let seen = listing(&r.run.stdout);
    assert_eq!(owner_of(&seen, "f"), Some(("1".into(), "2".into())), "fakeroot {how}:\n{}", r.run.describe());
    let n = seen.iter().find(|e| e.3 == "n").unwrap_or_else(|| panic!("no n listed:\n{}", r.run.describe()));
    assert!(n.0.starts_with('c'), "n is not a character device inside fakeroot {how}:\n{}", r.run.describe());
    // SAFETY: plain getters.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    let f = std::fs::metadata(r.work.path().join("f")).expect("f exists");
    assert_eq!((f.uid(), f.gid()), (uid, gid), "f's real owner changed: the chown was not faked");
    let n = std::fs::symlink_metadata(r.work.path().join("n")).expect("n exists");
    assert!(n.file_type().is_file() && !n.file_type().is_char_device(), "n is really a {:?}", n.file_type());
}

#[test]
fn fakeroot_fakes_owners_and_devices_through_the_shim() {
    let r = under_fakeroot(OWNERS_AND_DEVICES, Ipc::Shim);
    check_owners_and_devices("under the shim (no kernel IPC)", &r);
    let region = std::fs::read_dir(r.ns.path())
        .expect("ns")
        .filter_map(|e| e.ok())
        .any(|e| e.file_name().to_string_lossy().ends_with(".region"));
    assert!(region, "the shim's namespace holds no region file");
}

const FOUR_CLIENTS: &str =
    "touch a b c d; (chown 3:4 a & chown 5:6 b & chown 7:8 c & chown 9:10 d & wait); ls -ln a b c d";

fn check_four_clients(how: &str, r: &FakerootRun) {
    assert!(!r.run.timed_out, "fakeroot {how} hung:\n{}", r.run.describe());
    assert!(r.run.status.success(), "fakeroot {how}:\n{}", r.run.describe());
    let seen = listing(&r.run.stdout);
    for (name, uid, gid) in [("a", "3", "4"), ("b", "5", "6"), ("c", "7", "8"), ("d", "9", "10")] {
        assert_eq!(
            owner_of(&seen, name),
            Some((uid.into(), gid.into())),
            "{name}, fakeroot {how}:\n{}",
            r.run.describe()
        );
    }
}

#[test]
fn fakeroot_serves_four_clients_at_once_through_the_shim() {
    let r = under_fakeroot(FOUR_CLIENTS, Ipc::Shim);
    check_four_clients("under the shim (no kernel IPC)", &r);
}

/// The references: the same scripts on the kernel give what the tests
/// above expect.
#[test]
fn fakeroot_on_the_kernel() {
    check_owners_and_devices("on the kernel", &under_fakeroot(OWNERS_AND_DEVICES, Ipc::Kernel));
    check_four_clients("on the kernel", &under_fakeroot(FOUR_CLIENTS, Ipc::Kernel));
}

/// The control: under no_kernel_ipc without the shim, fakeroot cannot
/// start its daemon; so the tests above succeed only through the shim.
#[test]
fn fakeroot_fails_without_kernel_ipc_and_without_the_shim() {
    let r = under_fakeroot("true", Ipc::Nothing);
    assert!(!r.run.timed_out, "{}", r.run.describe());
    assert!(!r.run.status.success(), "fakeroot worked with no IPC at all:\n{}", r.run.describe());
    assert!(r.run.stderr.contains("Function not implemented"), "{}", r.run.describe());
}
