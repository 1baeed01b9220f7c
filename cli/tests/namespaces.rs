//! `ipcshim namespaces` and `namespaces rm`, and how every command reports
//! a region file it cannot use (damaged, or someone else's).

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use support::*;

fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() }
}

fn region(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("ipcshim-{}-{name}.region", euid()))
}

fn listing(dir: &TempDir) -> String {
    let out = output(ipcshim(&["namespaces", "--dir", dir.str()]));
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
}

fn row(name: &str, uid: u32, size: &str, objects: &str, processes: &str, file: &str) -> String {
    format!("{name:<20} {uid:<8} {size:<8} {objects:>8} {processes:>10}  {file}\n")
}

#[test]
fn the_list_shows_each_namespace_s_objects_and_live_processes() {
    let (work, ns) = (TempDir::new("work"), TempDir::new("ns"));
    compile("make_objects", work.path());
    assert!(under_shim("MAKE_POSIX_QUEUE=1 ./make_objects", ns.path(), work.path()).status.success());
    let holder = Holder::start(&ns, work.path(), "holds_attachment", &[]);
    let mut command = ipcshim(&["run", "--dir", ns.str(), "--namespace", "second", "--", "./make_objects"]);
    command.current_dir(work.path());
    assert!(output(command).status.success());
    std::fs::write(ns.path().join("unrelated-file"), "x").unwrap();
    let file = |name: &str| format!("ipcshim-{}-{name}.region", euid());
    // The default 1024 MiB of object space, and the tables before it.
    let size = "1G";
    let expected = format!(
        "{:<20} {:<8} {:<8} {:>8} {:>10}  FILE\n{}{}",
        "NAMESPACE",
        "UID",
        "SIZE",
        "OBJECTS",
        "PROCESSES",
        // make_objects' 5 System V objects and its POSIX queue, and the holder's segment.
        row("default", euid(), size, "7", "1", &file("default")),
        row("second", euid(), size, "5", "0", &file("second"))
    );
    assert_eq!(listing(&ns), expected);
    holder.stop();
    // Its segment stays (nobody removed it); the process is gone.
    assert!(listing(&ns).contains(&row("default", euid(), size, "7", "0", &file("default"))), "{}", listing(&ns));
}

#[test]
fn a_namespace_in_use_is_removed_only_by_force() {
    let (work, ns) = (TempDir::new("work"), TempDir::new("ns"));
    compile("make_objects", work.path());
    assert!(under_shim("MAKE_POSIX_QUEUE=1 ./make_objects", ns.path(), work.path()).status.success());
    let holder = Holder::start(&ns, work.path(), "holds_attachment", &[]);
    let out = output(ipcshim(&["namespaces", "--dir", ns.str(), "rm", "default"]));
    let message = format!("namespace \"default\" is in use by 1 live process(es) (pid {}); --force", holder.pid());
    assert_fails_cleanly(&out, 1, &message);
    assert!(region(ns.path(), "default").is_file());
    let out = output(ipcshim(&["namespaces", "--dir", ns.str(), "rm", "--force", "default"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // The region file and the POSIX queue's anchor are gone.
    assert_eq!(std::fs::read_dir(ns.path()).unwrap().count(), 0);
    holder.stop();
}

#[test]
fn a_namespace_nobody_uses_any_more_is_removed() {
    let (work, ns) = (TempDir::new("work"), TempDir::new("ns"));
    let holder = Holder::start(&ns, work.path(), "holds_attachment", &[]);
    holder.stop();
    let out = output(ipcshim(&["namespaces", "--dir", ns.str(), "rm", "default"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!region(ns.path(), "default").exists());
    let out = output(ipcshim(&["namespaces", "--dir", ns.str(), "rm", "default"]));
    assert_fails_cleanly(&out, 1, "no namespace \"default\" in");
}

#[test]
fn a_damaged_region_file_is_reported_by_every_command() {
    let (work, ns) = (TempDir::new("work"), TempDir::new("ns"));
    compile("make_objects", work.path());
    let mut command = ipcshim(&["run", "--dir", ns.str(), "--namespace", "cut", "--", "./make_objects"]);
    command.current_dir(work.path());
    assert!(output(command).status.success());
    // Truncated, as a full disk or a crash in a copy would leave it.
    let cut = region(ns.path(), "cut");
    let file = std::fs::OpenOptions::new().write(true).open(&cut).unwrap();
    file.set_len(file.metadata().unwrap().len() / 2).unwrap();
    // And one that never was a region.
    std::fs::write(region(ns.path(), "junk"), "not a region at all").unwrap();
    std::fs::set_permissions(region(ns.path(), "junk"), std::fs::Permissions::from_mode(0o600)).unwrap();
    for name in ["cut", "junk"] {
        let damaged = format!("{}: damaged region file", region(ns.path(), name).display());
        assert_fails_cleanly(&output(ipcshim(&["ipcs", "--dir", ns.str(), "--namespace", name])), 1, &damaged);
        let out = output(ipcshim(&["top", "--dir", ns.str(), "--namespace", name, "-b", "-n", "1"]));
        assert_fails_cleanly(&out, 1, &damaged);
        let out = output(ipcshim(&["ipcrm", "--dir", ns.str(), "--namespace", name, "-q", "0"]));
        assert_fails_cleanly(&out, 1, &damaged);
        let out = output(ipcshim(&["namespaces", "--dir", ns.str(), "rm", name]));
        assert_fails_cleanly(&out, 1, &damaged);
    }
    let list = listing(&ns);
    assert!(list.contains(&format!(" {:>8} {:>10}  ipcshim-{}-junk.region\n", "damaged", "-", euid())), "{list}");
    assert!(list.contains(&format!(" {:>8} {:>10}  ipcshim-{}-cut.region\n", "damaged", "-", euid())), "{list}");
    let out = output(ipcshim(&["namespaces", "--dir", ns.str(), "rm", "--force", "junk"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!region(ns.path(), "junk").exists());
}

#[test]
fn someone_else_s_region_file_is_refused() {
    let ns = TempDir::new("ns");
    let theirs = region(ns.path(), "theirs");
    std::fs::write(&theirs, "").unwrap();
    std::fs::set_permissions(&theirs, std::fs::Permissions::from_mode(0o600)).unwrap();
    let other = if euid() == 1000 { 1001 } else { 1000 };
    std::os::unix::fs::chown(&theirs, Some(other), Some(other)).expect("the tests run as root");
    let refused = format!("{}: refused: not a regular file of this user (uid {})", theirs.display(), euid());
    assert_fails_cleanly(&output(ipcshim(&["ipcs", "--dir", ns.str(), "--namespace", "theirs"])), 1, &refused);
    let out = output(ipcshim(&["top", "--dir", ns.str(), "--namespace", "theirs", "-b", "-n", "1"]));
    assert_fails_cleanly(&out, 1, &refused);
    let out = output(ipcshim(&["namespaces", "--dir", ns.str(), "rm", "--force", "theirs"]));
    assert_fails_cleanly(&out, 1, &refused);
    assert!(theirs.exists());
    let list = listing(&ns);
    let file = format!("ipcshim-{}-theirs.region", euid());
    assert!(list.contains(&row("theirs", other, "0B", "not yours", "-", &file)), "{list}");
}

#[test]
fn a_missing_directory_or_namespace_is_reported() {
    let ns = TempDir::new("ns");
    let missing = ns.path().join("missing");
    assert_fails_cleanly(
        &output(ipcshim(&["namespaces", "--dir", missing.to_str().unwrap()])),
        1,
        "missing: No such file or directory",
    );
    let out = output(ipcshim(&["ipcs", "--dir", ns.str(), "--namespace", "nothing"]));
    assert_fails_cleanly(&out, 1, &format!("no namespace \"nothing\" in {}", ns.str()));
    assert_fails_cleanly(&output(ipcshim(&["namespaces", "--bogus"])), 2, "unexpected argument '--bogus'");
}
