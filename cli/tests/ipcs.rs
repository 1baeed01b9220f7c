//! `ipcshim ipcs` against util-linux's `ipcs` on the kernel: the same
//! program leaves the same objects on both (and a fresh namespace hands
//! out the kernel's ids), so the outputs must match line for line, once
//! what differs between two runs (the creating process's pid, the clock)
//! is masked.

mod support;

use std::path::Path;
use support::*;

/// The creating process's pid (from make_objects' first line) and the rest.
fn split_pid(out: &str) -> (String, String) {
    let (first, rest) = out.split_once('\n').expect("make_objects prints its pid first");
    (first.strip_prefix("pid ").expect("pid line").to_owned(), rest.to_owned())
}

/// Masks what differs between two runs: a line naming the creating
/// process's pid gets "PID" for it, with its spaces collapsed (a pid's
/// width shifts the columns after it); a line with a time of day gets 9
/// for every digit, so dates a second apart compare equal.
fn normalise(text: &str, pid: &str) -> String {
    let has_time = |line: &str| {
        line.as_bytes()
            .windows(8)
            .any(|w| w.iter().enumerate().all(|(i, b)| if i == 2 || i == 5 { *b == b':' } else { b.is_ascii_digit() }))
    };
    let mut out = String::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split(|c: char| c.is_whitespace() || c == '=').collect();
        if words.contains(&pid) {
            let masked = line.replace(pid, "PID");
            out += &masked.split_whitespace().collect::<Vec<_>>().join(" ");
        } else if has_time(line) {
            out += &line.chars().map(|c| if c.is_ascii_digit() { '9' } else { c }).collect::<String>();
        } else {
            out += line;
        }
        out.push('\n');
    }
    out
}

/// Takes the POSIX queue section (which util-linux's ipcs does not have)
/// out of the shim's output; returns both parts.
fn without_posix_section(text: &str) -> (String, String) {
    match text.find("------ POSIX") {
        None => (text.to_owned(), String::new()),
        Some(at) => {
            let end = text[at..].find("\n\n").map_or(text.len(), |e| at + e + 2);
            (format!("{}{}", &text[..at], &text[end..]), text[at..end].to_owned())
        }
    }
}

/// make_objects then `ipcs ARGS` on the kernel, and under the shim then
/// `ipcshim ipcs ARGS`: (kernel, shim) outputs, normalised, with the
/// shim's POSIX section apart.
fn compare(args: &[&str], env: &str) -> (String, String, String) {
    let (work, ns) = (TempDir::new("work"), TempDir::new("ns"));
    compile("make_objects", work.path());
    let kernel = on_kernel(&format!("{env} ./make_objects && ipcs {}", args.join(" ")), work.path());
    assert!(kernel.status.success(), "kernel: {}", stderr(&kernel));
    let (kernel_pid, kernel_out) = split_pid(&stdout(&kernel));
    let made = under_shim(&format!("{env} ./make_objects"), ns.path(), work.path());
    assert!(made.status.success(), "shim: {}", stderr(&made));
    let (shim_pid, _) = split_pid(&stdout(&made));
    let mut command = ipcshim(&["ipcs", "--dir", ns.str()]);
    command.args(args);
    let shim = output(command);
    assert!(shim.status.success(), "ipcshim ipcs {args:?}: {}", stderr(&shim));
    let (system_v, posix) = without_posix_section(&stdout(&shim));
    (normalise(&kernel_out, &kernel_pid), normalise(&system_v, &shim_pid), posix)
}

#[test]
fn every_output_format_matches_util_linux_s_on_the_kernel() {
    let cases: &[&[&str]] = &[
        &["-a"],
        &["-b"],
        &["--human"],
        &["-c"],
        &["-l"],
        &["-l", "-b"],
        &["-l", "--human"],
        &["-p"],
        &["-t"],
        &["-q"],
        &["-m"],
        &["-s"],
        &["-m", "-c"],
        &["-s", "-t"],
        &["-q", "-p"],
        &["-m", "--human"],
        &["-t", "-c"],
    ];
    for args in cases {
        let (kernel, shim, _) = compare(args, "");
        assert_eq!(shim, kernel, "ipcs {args:?}");
    }
}

#[test]
fn details_of_one_object_match_util_linux_s() {
    let cases: &[&[&str]] = &[
        &["-q", "-i", "0"],
        &["-m", "-i", "0"],
        &["-s", "-i", "0"],
        &["-q", "-i", "0", "--human"],
        &["-m", "-i", "0", "--human"],
        &["-m", "-i", "1"],
    ];
    for args in cases {
        let (kernel, shim, posix) = compare(args, "");
        assert_eq!(shim, kernel, "ipcs {args:?}");
        assert_eq!(posix, "", "ipcs {args:?}");
    }
}

#[test]
fn the_default_sections_are_util_linux_s_then_posix_queues() {
    let (kernel, shim, posix) = compare(&[], "");
    assert_eq!(shim, kernel);
    let header =
        "name                 owner      perms      used-bytes   messages     maxmsg       msgsize      notify\n";
    assert_eq!(posix, format!("------ POSIX Message Queues --------\n{header}\n"));
}

#[test]
fn the_summary_matches_util_linux_s_but_for_resident_pages() {
    let (kernel, shim, _) = compare(&["-u"], "");
    // The shim reserves a segment's pages when it is created (so touching
    // one can never fault): all of them are resident, where the kernel
    // counts the pages touched so far.
    let resident =
        |text: &str| text.lines().filter(|l| !l.starts_with("pages resident")).collect::<Vec<_>>().join("\n");
    assert_eq!(resident(&shim), resident(&kernel));
    assert!(shim.contains("pages allocated 3\npages resident  3\n"), "{shim}");
}

#[test]
fn posix_queues_are_listed_with_their_messages_and_owners() {
    let (work, ns) = (TempDir::new("work"), TempDir::new("ns"));
    compile("make_objects", work.path());
    let made = under_shim("MAKE_POSIX_QUEUE=1 ./make_objects", ns.path(), work.path());
    let (pid, _) = split_pid(&stdout(&made));
    let me = my_name();
    let show = |args: &[&str]| {
        let mut command = ipcshim(&["ipcs", "--mq", "--dir", ns.str()]);
        command.args(args);
        stdout(&output(command))
    };
    let row =
        format!("{:<20} {me:<10} {:<10} {:<12} {:<12} {:<12} {:<12} -\n", "/cli-queue", "640", "5", "1", "4", "64");
    assert!(show(&[]).ends_with(&format!("{row}\n")), "{}", show(&[]));
    let human = format!(
        "{:<20} {me:<10} {:<10} {:>6}       {:<12} {:<12} {:<12} -\n",
        "/cli-queue", "640", "5B", "1", "4", "64"
    );
    assert!(show(&["--human"]).contains(&human), "{}", show(&["--human"]));
    let pids = format!("{:<20} {me:<10} {pid:<10} {:<10}\n", "/cli-queue", "0");
    assert!(show(&["-p"]).contains(&pids), "{}", show(&["-p"]));
    assert!(show(&["-u"]).contains("allocated queues = 1\nmessages = 1\nused space = 5 bytes\n"), "{}", show(&["-u"]));
    // Linux keeps no times for POSIX queues.
    assert!(!show(&["-t"]).contains("POSIX"), "{}", show(&["-t"]));
}

/// `ipcs ARGS` on the kernel (with no objects) and `ipcshim ipcs ARGS`
/// on an empty namespace: (status, stderr without the program's name).
fn failure_on_both(args: &[&str]) -> ((Option<i32>, String), (Option<i32>, String)) {
    let (work, ns) = (TempDir::new("work"), TempDir::new("ns"));
    let kernel = on_kernel(&format!("ipcs {}", args.join(" ")), work.path());
    make_namespace(ns.path(), work.path());
    let mut command = ipcshim(&["ipcs", "--dir", ns.str()]);
    command.args(args);
    let shim = output(command);
    let strip = |err: String, name: &str| err.replace(&format!("{name}: "), "");
    ((kernel.status.code(), strip(stderr(&kernel), "ipcs")), (shim.status.code(), strip(stderr(&shim), "ipcshim")))
}

/// Makes the namespace in `dir` exist (a program's first IPC call does).
fn make_namespace(dir: &Path, work: &Path) {
    compile("calls_every_ipc", work);
    let out = under_shim("./calls_every_ipc", dir, work);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn an_id_not_found_and_an_id_without_one_resource_are_util_linux_s_errors() {
    for args in [&["-q", "-i", "99"][..], &["-i", "0"], &["-q", "-m", "-i", "0"], &["-q", "-i", "zero"]] {
        let (kernel, shim) = failure_on_both(args);
        assert_eq!(shim, kernel, "ipcs {args:?}");
    }
}

#[test]
fn a_locked_segment_removed_while_attached_shows_its_status() {
    let (work, ns) = (TempDir::new("work"), TempDir::new("ns"));
    compile("holds_attachment", work.path());
    // The holder keeps its attachment until the fifo it reads closes.
    let script = "mkfifo hold && { ./holds_attachment lock-and-remove <hold >ready & } && exec 3>hold && \
                  until grep -q ready ready 2>/dev/null; do sleep 0.01; done && ipcs -m && ipcs -m -i 0 && exec 3>&- && wait";
    let kernel = on_kernel(script, work.path());
    assert!(kernel.status.success(), "{}", stderr(&kernel));
    let holder = Holder::start(&ns, work.path(), "holds_attachment", &["lock-and-remove"]);
    let list = stdout(&output(ipcshim(&["ipcs", "-m", "--dir", ns.str()])));
    let details = stdout(&output(ipcshim(&["ipcs", "-m", "-i", "0", "--dir", ns.str()])));
    let pid = holder.pid().to_string();
    holder.stop();
    let shim = normalise(&(list + &details), &pid);
    let kernel_text = stdout(&kernel);
    let kernel_pid = kernel_text.split(['\t', '\n']).find_map(|field| field.strip_prefix("lpid="));
    let kernel_text = normalise(&kernel_text, kernel_pid.expect("ipcs -i shows the holder's pid"));
    assert_eq!(shim, kernel_text);
    assert!(shim.contains(" 1          dest   locked\n"), "{shim}");
}

#[test]
fn a_posix_queue_s_notification_shows_who_registered_it() {
    let (work, ns) = (TempDir::new("work"), TempDir::new("ns"));
    let holder = Holder::start(&ns, work.path(), "notified_queue", &[]);
    let shown = stdout(&output(ipcshim(&["ipcs", "--mq", "--dir", ns.str()])));
    let pid = holder.pid();
    holder.stop();
    let row = format!(
        "{:<20} {:<10} {:<10} {:<12} {:<12} {:<12} {:<12} pid {pid} (signal {})\n",
        "/notified",
        my_name(),
        "600",
        "0",
        "0",
        "2",
        "32",
        libc::SIGUSR1
    );
    assert!(shown.contains(&row), "{shown}");
    // The registration ended with its process.
    let shown = stdout(&output(ipcshim(&["ipcs", "--mq", "--dir", ns.str()])));
    assert!(shown.contains(&format!("{:<12} -\n", "32")), "{shown}");
}
