//! `ipcshim ipcrm` against util-linux's `ipcrm` on the kernel: the same
//! requests on the same objects give the same messages, exit statuses and
//! leftovers.

mod support;

use support::*;

/// Requests made one after the other on make_objects' objects (each may
/// remove what a later one then misses).
const REQUESTS: &[&str] = &[
    "-q 99",
    "-q abc",
    "-Q 0x999",
    "-Q 0",
    "-Q zz",
    "-M 0x3456",
    "-m 1",
    "-s 0 -s 0",
    "-q 0 -q 0",
    "--all=shm",
    "",
    "-q -1",
    "-Q 0x1234",
    "-v -a",
];

/// "== request", what the command printed (stdout, then stderr without
/// the program's name), "rc=status", for each request.
fn transcript(mut run: impl FnMut(&str) -> (String, String, i32), name: &str) -> String {
    let mut out = String::new();
    for request in REQUESTS {
        let (stdout, stderr, status) = run(request);
        out += &format!("== {request}\n{stdout}{}rc={status}\n", stderr.replace(&format!("{name}: "), ""));
    }
    out
}

#[test]
fn messages_and_statuses_match_util_linux_s() {
    let (work, ns) = (TempDir::new("work"), TempDir::new("ns"));
    compile("make_objects", work.path());
    let script: String = REQUESTS
        .iter()
        .map(|r| format!("echo '== {r}'; ipcrm {r} 2>ipcrm.err; rc=$?; cat ipcrm.err; echo rc=$rc; "))
        .collect();
    let kernel = on_kernel(&format!("./make_objects >/dev/null && {{ {script} }}"), work.path());
    let kernel = stdout(&kernel).replace("ipcrm: ", "");
    let made = under_shim("./make_objects", ns.path(), work.path());
    assert!(made.status.success(), "{}", stderr(&made));
    let shim = transcript(
        |request| {
            let mut command = ipcshim(&["ipcrm", "--dir", ns.str()]);
            command.args(request.split_whitespace());
            let out = output(command);
            (stdout(&out), stderr(&out), out.status.code().unwrap_or(-1))
        },
        "ipcshim",
    );
    assert_eq!(shim, kernel);
    // `-v -a` left nothing.
    let left = stdout(&output(ipcshim(&["ipcs", "--dir", ns.str()])));
    assert!(!left.lines().any(|l| l.starts_with("0x")), "{left}");
}

#[test]
fn a_user_who_does_not_own_an_object_may_not_remove_it() {
    let (work, ns) = (TempDir::new("work"), TempDir::new("ns"));
    compile("other_user", work.path());
    // As root without CAP_SYS_ADMIN, a queue of uid 1000 is not ours.
    let denied = "setpriv --bounding-set=-sys_admin --";
    let kernel = on_kernel(
        &format!(
            "./other_user >/dev/null && {denied} ipcrm -q 0 2>&1; echo rc=$?; {denied} ipcrm -Q 0x4321 2>&1; echo rc=$?; \
             ipcs -q | grep -c 0x00004321"
        ),
        work.path(),
    );
    let made = under_shim("./other_user", ns.path(), work.path());
    assert!(made.status.success(), "{}", stderr(&made));
    let mut shim = String::new();
    for args in ["-q 0", "-Q 0x4321"] {
        let script = format!("{denied} {} ipcrm --dir {} {args}", binary().display(), ns.str());
        let mut command = std::process::Command::new("sh");
        command.args(["-c", &script]).env("IPCSHIM_LIB", library());
        let out = output(command);
        shim += &format!("{}rc={}\n", stderr(&out).replace("ipcshim: ", ""), out.status.code().unwrap_or(-1));
    }
    let left = stdout(&output(ipcshim(&["ipcs", "-q", "--dir", ns.str()])));
    shim += &format!("{}\n", left.lines().filter(|l| l.starts_with("0x00004321")).count());
    assert_eq!(shim, stdout(&kernel).replace("ipcrm: ", ""));
    assert_eq!(shim, "permission denied for id (0)\nrc=1\npermission denied for key (0)\nrc=1\n1\n");
}

#[test]
fn posix_queues_are_removed_by_name() {
    let (work, ns) = (TempDir::new("work"), TempDir::new("ns"));
    compile("make_objects", work.path());
    let made = under_shim("MAKE_POSIX_QUEUE=1 ./make_objects", ns.path(), work.path());
    assert!(made.status.success(), "{}", stderr(&made));
    let queues = || stdout(&output(ipcshim(&["ipcs", "--mq", "--dir", ns.str()])));
    assert!(queues().contains("/cli-queue "), "{}", queues());
    let out = output(ipcshim(&["ipcrm", "--dir", ns.str(), "-v", "--mq", "/cli-queue"]));
    assert_eq!((stdout(&out).as_str(), out.status.code()), ("removing POSIX message queue `/cli-queue'\n", Some(0)));
    assert!(!queues().contains("/cli-queue"), "{}", queues());
    let out = output(ipcshim(&["ipcrm", "--dir", ns.str(), "--mq", "cli-queue"]));
    assert_fails_cleanly(&out, 1, "ipcshim: invalid name (/cli-queue)");
    // The System V objects are still there.
    assert!(stdout(&output(ipcshim(&["ipcs", "-q", "--dir", ns.str()]))).contains("0x00001234"));
}

#[test]
fn all_of_one_kind_leaves_the_others() {
    let (work, ns) = (TempDir::new("work"), TempDir::new("ns"));
    compile("make_objects", work.path());
    under_shim("MAKE_POSIX_QUEUE=1 ./make_objects", ns.path(), work.path());
    let out = output(ipcshim(&["ipcrm", "--dir", ns.str(), "--all=mq"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let left = stdout(&output(ipcshim(&["ipcs", "--dir", ns.str()])));
    assert!(!left.contains("/cli-queue"), "{left}");
    assert_eq!(left.lines().filter(|l| l.starts_with("0x")).count(), 5, "{left}");
}

#[test]
fn bad_arguments_and_missing_namespaces_are_reported() {
    let ns = TempDir::new("ns");
    assert_fails_cleanly(&output(ipcshim(&["ipcrm", "--dir", ns.str(), "-q", "0"])), 1, "no namespace \"default\" in");
    assert_fails_cleanly(&output(ipcshim(&["ipcrm", "--dir", ns.str(), "--all=pipes"])), 1, "unknown argument: pipes");
    assert_fails_cleanly(&output(ipcshim(&["ipcrm", "-x"])), 2, "unexpected argument '-x'");
    // Nothing asked: nothing done, as util-linux's (not even the namespace is needed).
    assert_eq!(output(ipcshim(&["ipcrm", "--dir", ns.str()])).status.code(), Some(0));
}
