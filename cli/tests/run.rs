//! `ipcshim run`: the environment it gives a program, its exit status, its
//! errors, and `--no-kernel-ipc`.

mod support;

use support::*;

/// The calls `calls_every_ipc` makes, in its order.
const CALLS: [&str; 18] = [
    "msgget",
    "msgsnd",
    "msgrcv",
    "msgctl",
    "semget",
    "semop",
    "semtimedop",
    "semctl",
    "shmget",
    "shmat",
    "shmdt",
    "shmctl",
    "mq_open",
    "mq_timedsend",
    "mq_timedreceive",
    "mq_notify",
    "mq_getsetattr",
    "mq_unlink",
];

fn every_call_reports(outcome: &str) -> String {
    CALLS.iter().map(|call| format!("{call} {outcome}\n")).collect()
}

#[test]
fn every_ipc_call_succeeds_under_the_shim_with_the_kernel_s_taken_away() {
    let (work, ns) = (TempDir::new("work"), TempDir::new("ns"));
    let program = compile("calls_every_ipc", work.path());
    let out = output(without_kernel_ipc(Ipc::Shim, ns.path(), work.path(), program.to_str().unwrap(), &[]));
    assert_eq!(stdout(&out), every_call_reports("ok"), "stderr: {}", stderr(&out));
    assert!(out.status.success());
}

#[test]
fn the_filter_alone_makes_every_kernel_ipc_call_fail_with_enosys() {
    let work = TempDir::new("work");
    let program = compile("calls_every_ipc", work.path());
    // The same program and filter, with a library that does nothing
    // preloaded in the shim's place: the calls reach the kernel's filter.
    let ns = TempDir::new("ns");
    let out = output(without_kernel_ipc(Ipc::FilterAlone, ns.path(), work.path(), program.to_str().unwrap(), &[]));
    assert_eq!(stdout(&out), every_call_reports(&format!("errno {}", libc::ENOSYS)), "stderr: {}", stderr(&out));
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn without_the_filter_the_same_calls_succeed_on_the_kernel() {
    let work = TempDir::new("work");
    let program = compile("calls_every_ipc", work.path());
    compile_library("empty", work.path());
    let script = format!("IPCSHIM_LIB=./empty.so {} run -- {}", binary().display(), program.display());
    let out = on_kernel(&script, work.path());
    assert_eq!(stdout(&out), every_call_reports("ok"), "stderr: {}", stderr(&out));
}

#[test]
fn the_program_gets_the_library_first_in_ld_preload_and_the_namespace() {
    let (work, ns) = (TempDir::new("work"), TempDir::new("ns"));
    let other = compile_library("empty", work.path());
    let script = r#"printf '%s\n' "$LD_PRELOAD" "$IPCSHIM_NAMESPACE" "$IPCSHIM_DIR""#;
    let mut command = ipcshim(&["run", "--namespace", "mine", "--dir", ns.str(), "--", "sh", "-c", script]);
    command.env("LD_PRELOAD", &other);
    let out = output(command);
    let expected = format!("{} {}\nmine\n{}\n", library().display(), other.display(), ns.str());
    assert_eq!(stdout(&out), expected, "stderr: {}", stderr(&out));
}

#[test]
fn children_of_the_program_run_under_the_shim_in_its_namespace() {
    let (work, ns) = (TempDir::new("work"), TempDir::new("ns"));
    compile("make_objects", work.path());
    let out = under_shim("./make_objects && ./make_objects >/dev/null", ns.path(), work.path());
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let out = output(ipcshim(&["ipcs", "-q", "--dir", ns.str()]));
    // The second run found the first one's queue (its key) in the namespace.
    let keyed = stdout(&out).lines().filter(|l| l.starts_with("0x00001234 ")).count();
    assert_eq!(keyed, 1, "{}", stdout(&out));
    assert!(ns.path().join(format!("ipcshim-{}-default.region", unsafe { libc::geteuid() })).is_file());
}

#[test]
fn the_exit_status_is_the_program_s() {
    let out = output(ipcshim(&["run", "--", "sh", "-c", "exit 7"]));
    assert_eq!(out.status.code(), Some(7));
}

#[test]
fn a_program_not_found_fails_with_127_as_in_a_shell() {
    let out = output(ipcshim(&["run", "--", "no-such-program-anywhere"]));
    assert_fails_cleanly(&out, 127, "ipcshim: no-such-program-anywhere: command not found");
    let out = output(ipcshim(&["run", "--", "/no/such/program"]));
    assert_fails_cleanly(&out, 127, "ipcshim: /no/such/program: No such file or directory");
}

#[test]
fn a_program_that_cannot_run_fails_with_126() {
    let work = TempDir::new("work");
    let file = work.path().join("not-executable");
    std::fs::write(&file, "data").unwrap();
    let out = output(ipcshim(&["run", "--", file.to_str().unwrap()]));
    assert_fails_cleanly(&out, 126, "not-executable: cannot run");
}

#[test]
fn an_installed_command_finds_the_library_in_lib() {
    let root = TempDir::new("prefix");
    std::fs::create_dir_all(root.path().join("bin")).unwrap();
    std::fs::create_dir_all(root.path().join("lib")).unwrap();
    std::fs::copy(binary(), root.path().join("bin/ipcshim")).unwrap();
    std::fs::copy(library(), root.path().join("lib/libipcshim.so.0")).unwrap();
    let mut command = std::process::Command::new(root.path().join("bin/ipcshim"));
    command.args(["run", "--", "sh", "-c", "echo $LD_PRELOAD"]).env_remove("LD_PRELOAD").env_remove("IPCSHIM_LIB");
    let out = output(command);
    assert_eq!(stdout(&out), format!("{}/bin/../lib/libipcshim.so.0\n", root.str()), "stderr: {}", stderr(&out));
}

#[test]
fn no_library_anywhere_is_reported() {
    let root = TempDir::new("alone");
    std::fs::copy(binary(), root.path().join("ipcshim")).unwrap();
    let mut command = std::process::Command::new(root.path().join("ipcshim"));
    command.args(["run", "--", "true"]).env_remove("IPCSHIM_LIB");
    assert_fails_cleanly(&output(command), 1, "cannot find libipcshim.so");
    let mut command = ipcshim(&["run", "--", "true"]);
    command.env("IPCSHIM_LIB", root.path().join("missing.so"));
    assert_fails_cleanly(&output(command), 1, "missing.so: no such file");
}

#[test]
fn bad_options_are_refused_with_a_message() {
    assert_fails_cleanly(&output(ipcshim(&["run", "--bogus", "--", "true"])), 2, "unexpected argument '--bogus'");
    assert_fails_cleanly(&output(ipcshim(&["run"])), 2, "required");
    assert_fails_cleanly(
        &output(ipcshim(&["run", "--namespace", "a/b", "--", "true"])),
        1,
        "invalid namespace name \"a/b\"",
    );
    assert_fails_cleanly(
        &output(ipcshim(&["run", "--dir", "/no/such/dir", "--", "true"])),
        1,
        "/no/such/dir: not a directory",
    );
}

/// `--trace=FILE`: every call of the program, one line each, appended to
/// FILE (made absolute, so the program may change directory).
#[test]
fn trace_logs_every_call_to_the_file() {
    let (work, ns) = (TempDir::new("work"), TempDir::new("ns"));
    let program = compile("calls_every_ipc", work.path());
    let file = work.path().join("calls.trace");
    let trace = format!("--trace={}", file.display());
    let out = output(ipcshim(&["run", &trace, "--dir", ns.str(), "--", program.to_str().unwrap()]));
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let logged = std::fs::read_to_string(&file).expect("the trace file");
    let names: Vec<&str> = logged.lines().filter_map(|l| l.split_once(' ')?.1.split('(').next()).collect();
    for call in ["msgget", "msgsnd", "msgrcv", "msgctl", "semget", "semop", "semctl", "shmget", "shmat", "mq_open"] {
        assert!(names.contains(&call), "{call} missing from the trace:\n{logged}");
    }
    assert!(logged.lines().all(|l| l.contains(") = ")), "every line ends with its result:\n{logged}");
}
