//! fakeroot (`fakeroot-sysv`, whose client and `faked` daemon talk over a
//! System V message queue and semaphore) under `ipcshim run
//! --no-kernel-ipc`: owners and device nodes faked, a saved state
//! reloaded in a second session, four clients at once; and, as the
//! control, the same command failing under the filter alone.
//!
//! Real chown calls are off (FAKEROOTDONTTRYCHOWN): as root they would
//! succeed and hide whether the owners seen inside were faked.

mod support;

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::Duration;
use support::*;

const LIMIT: Duration = Duration::from_secs(120);

fn fakeroot() -> String {
    let found = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("fakeroot-sysv"))
        .find(|p| p.is_file());
    let path: PathBuf = found.expect("fakeroot-sysv is needed for these tests: install the Debian package fakeroot");
    path.to_str().expect("UTF-8 path").to_owned()
}

/// `fakeroot-sysv FAKEROOT_ARGS sh -c SCRIPT` in `work`, under
/// `ipcshim run --no-kernel-ipc` in namespace `ns`, bounded in time (a
/// hang is killed, with the daemon).
fn in_fakeroot(ipc: Ipc, ns: &TempDir, work: &TempDir, fakeroot_args: &[&str], script: &str) -> Bounded {
    let mut args = fakeroot_args.to_vec();
    args.extend(["sh", "-c", script]);
    let mut command = without_kernel_ipc(ipc, ns.path(), work.path(), &fakeroot(), &args);
    command.current_dir(work.path()).env("FAKEROOTDONTTRYCHOWN", "1").env("LC_ALL", "C").env_remove("FAKEROOTKEY");
    let run = run_bounded(command, LIMIT);
    assert!(!run.timed_out, "fakeroot hung:\n{}", run.describe());
    run
}

fn succeeded(run: Bounded) -> String {
    assert!(run.status.success(), "fakeroot under the shim:\n{}", run.describe());
    run.stdout
}

/// `stat` as the tests print it: name, owner, group, type, device numbers.
const STAT: &str = "stat -c '%n %u %g %F %t:%T'";

/// What `STAT` prints for the files `OWNERS_AND_DEVICES` makes.
const FAKED: &str = "f 1234 5678 regular empty file 0:0\nn 0 0 character special file 1:3\n";

const OWNERS_AND_DEVICES: &str = "touch f && chown 1234:5678 f && mknod n c 1 3";

/// Outside fakeroot both are still plain files of ours: all of it was faked.
fn assert_really_plain_files_of_ours(work: &Path) {
    // SAFETY: plain getters.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    let f = std::fs::metadata(work.join("f")).expect("f exists");
    assert_eq!((f.uid(), f.gid()), (uid, gid), "f's real owner changed: the chown was not faked");
    let n = std::fs::symlink_metadata(work.join("n")).expect("n exists");
    assert!(n.file_type().is_file() && !n.file_type().is_char_device(), "n is really a {:?}", n.file_type());
}

#[test]
fn fakeroot_fakes_owners_and_a_device_node() {
    let (ns, work) = (TempDir::new("ns"), TempDir::new("work"));
    let script = format!("{OWNERS_AND_DEVICES} && {STAT} f n && ls -ln f n");
    let out = succeeded(in_fakeroot(Ipc::Shim, &ns, &work, &[], &script));
    let (stat, ls) = out.split_at(FAKED.len().min(out.len()));
    assert_eq!(stat, FAKED, "inside fakeroot:\n{out}");
    let ls: Vec<Vec<&str>> = ls.lines().map(|l| l.split_whitespace().collect()).collect();
    assert!(ls.len() == 2 && ls[0][0].starts_with('-') && ls[0][2..4] == ["1234", "5678"], "ls -ln:\n{out}");
    assert!(ls[1][0].starts_with('c') && ls[1][2..6] == ["0", "0", "1,", "3"], "ls -ln:\n{out}");
    assert_really_plain_files_of_ours(work.path());
}

#[test]
fn a_saved_state_is_reloaded_by_a_second_session() {
    let (ns, work) = (TempDir::new("ns"), TempDir::new("work"));
    succeeded(in_fakeroot(Ipc::Shim, &ns, &work, &["-s", "state"], OWNERS_AND_DEVICES));
    assert!(work.path().join("state").is_file(), "the first session saved no state");
    let out = succeeded(in_fakeroot(Ipc::Shim, &ns, &work, &["-i", "state"], &format!("{STAT} f n")));
    assert_eq!(out, FAKED, "the second session, from the saved state");
    assert_really_plain_files_of_ours(work.path());
}

/// Four shells in the background of one session, each making and
/// chown'ing files of its own (owner 100*i+j, group i) and checking them,
/// all at once; then the session lists them all.
#[test]
fn four_clients_at_once_in_one_session() {
    let (ns, work) = (TempDir::new("ns"), TempDir::new("work"));
    let client = |i: u32| {
        format!(
            "(for j in $(seq 1 20); do touch c{i}-$j && chown $((100*{i}+j)):{i} c{i}-$j || exit 1; done; \
             stat -c '%n %u %g' c{i}-* > seen{i}) &"
        )
    };
    let script = format!(
        "{} wait && cat seen1 seen2 seen3 seen4 && stat -c '%n %u %g' c*",
        (1..=4).map(client).collect::<String>()
    );
    let out = succeeded(in_fakeroot(Ipc::Shim, &ns, &work, &[], &script));
    let mut expected: Vec<String> =
        (1..=4).flat_map(|i| (1..=20).map(move |j| format!("c{i}-{j} {} {i}", 100 * i + j))).collect();
    expected.sort();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2 * expected.len(), "each client's view, then the session's:\n{out}");
    for (whose, seen) in [("the clients'", &lines[..expected.len()]), ("the session's", &lines[expected.len()..])] {
        let mut seen: Vec<&str> = seen.to_vec();
        seen.sort();
        assert_eq!(seen, expected, "{whose} view:\n{out}");
    }
}

/// The control: the same command under the filter, with no shim, cannot
/// start fakeroot's daemon; so the tests above succeed through the shim.
#[test]
fn fakeroot_fails_under_the_filter_alone() {
    let (ns, work) = (TempDir::new("ns"), TempDir::new("work"));
    let run = in_fakeroot(Ipc::FilterAlone, &ns, &work, &[], "touch f");
    assert!(!run.status.success(), "fakeroot worked with no IPC at all:\n{}", run.describe());
    assert!(run.stderr.contains("Function not implemented"), "{}", run.describe());
    assert!(!work.path().join("f").exists(), "the script ran:\n{}", run.describe());
}
