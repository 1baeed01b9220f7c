//! `ipcshim top`: what its frames show of queues, semaphore sets, segments
//! and the processes waiting on them or holding them, while programs under
//! the shim (`c-tests/top_activity.c`) wait and send.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};
use support::*;

/// How long a test waits for a started program to be seen blocked.
const SETTLE_LIMIT: Duration = Duration::from_secs(30);

/// A program of `c-tests/` under the shim in namespace `dir`, from the
/// line it printed once it made its objects (its words after "ready"),
/// until it is dropped: then killed (it may be blocked) and reaped.
struct Running {
    child: Child,
    words: Vec<String>,
}

impl Running {
    fn start(dir: &TempDir, program: &std::path::Path, args: &[&str]) -> Running {
        let mut command = ipcshim(&["run", "--dir", dir.str(), "--", program.to_str().unwrap()]);
        command.args(args).stdin(Stdio::null()).stdout(Stdio::piped());
        let mut child = command.spawn().expect("start the program");
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
        let words: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
        let running = Running { child, words };
        assert_eq!(running.words.first().map(String::as_str), Some("ready"), "{args:?} printed {line:?}");
        running
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    fn word(&self, n: usize) -> &str {
        &self.words[n]
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The program `top_activity`, built into `work`.
fn activity(work: &TempDir) -> std::path::PathBuf {
    compile("top_activity", work.path())
}

/// `ipcshim top --dir DIR -b ARGS`, run to its end.
fn top(dir: &TempDir, args: &[&str]) -> std::process::Output {
    let mut command = ipcshim(&["top", "--dir", dir.str(), "-b"]);
    command.args(args);
    output(command)
}

/// One frame (`-n 1`), taken again until `ready` accepts it (a program
/// that printed "ready" blocks a moment later), or the limit passes: then
/// the last one, for the assertions to show.
fn frame_when(dir: &TempDir, ready: impl Fn(&str) -> bool) -> String {
    let start = Instant::now();
    loop {
        let out = top(dir, &["-n", "1"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let text = stdout(&out);
        if ready(&text) || start.elapsed() > SETTLE_LIMIT {
            return text;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The lines of section `title` of a frame: its column header, then its rows.
fn section<'a>(frame: &'a str, title: &str) -> Vec<&'a str> {
    frame.lines().skip_while(|l| *l != title).skip(1).take_while(|l| !l.is_empty()).collect()
}

/// The row of section `title` whose first column is `first`, by column name.
fn row(frame: &str, title: &str, first: &str) -> Option<std::collections::HashMap<String, String>> {
    let lines = section(frame, title);
    let header: Vec<&str> = lines.first()?.split_whitespace().collect();
    let row = lines.iter().skip(1).find(|l| l.split_whitespace().next() == Some(first))?;
    Some(header.iter().map(|h| h.to_string()).zip(row.split_whitespace().map(str::to_owned)).collect())
}

/// The processes section's row of `pid`, whole.
fn process_line(frame: &str, pid: i32) -> Option<String> {
    let lines = section(frame, "Processes");
    lines.iter().find(|l| l.split_whitespace().next() == Some(&pid.to_string())).map(|l| l.to_string())
}

#[test]
fn a_queue_s_messages_and_a_blocked_receiver_s_pid_are_shown() {
    let (work, ns) = (TempDir::new("work"), TempDir::new("ns"));
    let program = activity(&work);
    let receiver = Running::start(&ns, &program, &["msg-receiver", "3"]);
    let (full, empty) = (receiver.word(1).to_owned(), receiver.word(2).to_owned());
    let posix = Running::start(&ns, &program, &["mq-receiver"]);
    let waiting =
        |frame: &str, title: &str, first: &str| row(frame, title, first).is_some_and(|r| r["RCV-WAIT"] == "1");
    let frame =
        frame_when(&ns, |f| waiting(f, "Message queues", &empty) && waiting(f, "POSIX message queues", "/top-empty"));
    let queue = row(&frame, "Message queues", &full).unwrap_or_else(|| panic!("queue {full}: {frame}"));
    assert_eq!((queue["MESSAGES"].as_str(), queue["BYTES"].as_str()), ("3", "15"), "{frame}");
    assert_eq!((queue["SND-WAIT"].as_str(), queue["RCV-WAIT"].as_str()), ("0", "0"), "{frame}");
    assert_eq!(queue["LSPID"], receiver.pid().to_string(), "{frame}");
    let blocked = row(&frame, "Message queues", &empty).unwrap_or_else(|| panic!("queue {empty}: {frame}"));
    assert_eq!((blocked["MESSAGES"].as_str(), blocked["RCV-WAIT"].as_str()), ("0", "1"), "{frame}");
    let line = process_line(&frame, receiver.pid()).unwrap_or_else(|| panic!("no process row: {frame}"));
    assert!(line.contains(&format!("msg {empty} (receive)")), "{line}");
    assert!(line.contains("top_activity"), "{line}");
    let mq = row(&frame, "POSIX message queues", "/top-empty").unwrap_or_else(|| panic!("{frame}"));
    assert_eq!((mq["MESSAGES"].as_str(), mq["RCV-WAIT"].as_str()), ("0", "1"), "{frame}");
    let line = process_line(&frame, posix.pid()).unwrap_or_else(|| panic!("no process row: {frame}"));
    assert!(line.contains("mq /top-empty (receive)"), "{line}");
}

#[test]
fn a_process_blocked_in_semop_is_shown_waiting() {
    let (work, ns) = (TempDir::new("work"), TempDir::new("ns"));
    let waiter = Running::start(&ns, &activity(&work), &["sem-waiter"]);
    let set = waiter.word(1).to_owned();
    let frame = frame_when(&ns, |f| row(f, "Semaphore sets", &set).is_some_and(|r| r["NCNT"] == "1"));
    let row = row(&frame, "Semaphore sets", &set).unwrap_or_else(|| panic!("set {set}: {frame}"));
    assert_eq!((row["NSEMS"].as_str(), row["VALUES"].as_str()), ("2", "0,0"), "{frame}");
    assert_eq!((row["NCNT"].as_str(), row["ZCNT"].as_str()), ("1", "0"), "{frame}");
    let line = process_line(&frame, waiter.pid()).unwrap_or_else(|| panic!("no process row: {frame}"));
    assert!(line.contains(&format!("sem {set} (#0 increase)")), "{line}");
}

#[test]
fn a_segment_shows_the_live_process_attached_to_it() {
    let (work, ns) = (TempDir::new("work"), TempDir::new("ns"));
    let holder = Holder::start(&ns, work.path(), "holds_attachment", &[]);
    let out = top(&ns, &["-n", "1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let frame = stdout(&out);
    let segment = row(&frame, "Shared memory segments", "0").unwrap_or_else(|| panic!("{frame}"));
    assert_eq!((segment["NATTCH"].as_str(), segment["SIZE"].as_str()), ("1", "4K"), "{frame}");
    assert_eq!(segment["ATTACHED"], holder.pid().to_string(), "{frame}");
    assert_eq!(segment["CPID"], holder.pid().to_string(), "{frame}");
    let line = process_line(&frame, holder.pid() as i32).unwrap_or_else(|| panic!("no process row: {frame}"));
    assert!(line.contains("shm 0 (attached)"), "{line}");
    assert!(frame.starts_with("ipcshim top - "), "{frame}");
    assert!(frame.lines().next().unwrap().ends_with(" - 1 live process"), "{frame}");
    holder.stop();
}

#[test]
fn batch_mode_prints_the_frames_asked_for_and_empty_sections_say_so() {
    let (work, ns) = (TempDir::new("work"), TempDir::new("ns"));
    let holder = Holder::start(&ns, work.path(), "holds_attachment", &[]);
    let out = top(&ns, &["-n", "2", "-d", "0.2"]);
    holder.stop();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let headers: Vec<&str> = text.lines().filter(|l| l.starts_with("ipcshim top - ")).collect();
    assert_eq!(headers.len(), 2, "{text}");
    assert!(headers[0].contains(&format!("namespace \"default\" in {}", ns.str())), "{}", headers[0]);
    for title in ["Message queues", "POSIX message queues", "Semaphore sets"] {
        assert_eq!(section(&text, title).get(1), Some(&"  none"), "{title}: {text}");
    }
}

#[test]
fn rates_show_the_messages_sent_and_taken_between_two_frames() {
    let (work, ns) = (TempDir::new("work"), TempDir::new("ns"));
    let program = activity(&work);
    let queue = Running::start(&ns, &program, &["queue"]).word(1).to_owned();
    // Two frames far enough apart for the traffic to run between them.
    let mut command = ipcshim(&["top", "--dir", ns.str(), "-b", "-n", "2", "-d", "4"]);
    command.stdin(Stdio::null()).stdout(Stdio::piped());
    let mut top = command.spawn().expect("start ipcshim top");
    let mut reader = BufReader::new(top.stdout.take().unwrap());
    let mut first = String::new();
    while !first.contains("\nProcesses\n") {
        assert_ne!(reader.read_line(&mut first).unwrap(), 0, "the first frame ended early: {first}");
    }
    let mut sender = ipcshim(&["run", "--dir", ns.str(), "--", program.to_str().unwrap(), "traffic"]);
    sender.arg(&queue);
    let traffic = output(sender);
    assert!(traffic.status.success(), "{}", stderr(&traffic));
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut reader, &mut rest).unwrap();
    assert!(top.wait().unwrap().success());
    let before = row(&first, "Message queues", &queue).unwrap_or_else(|| panic!("{first}"));
    assert_eq!((before["IN/S"].as_str(), before["OUT/S"].as_str()), ("-", "-"), "{first}");
    let second = &rest[rest.find("ipcshim top - ").unwrap_or_else(|| panic!("no second frame: {rest}"))..];
    let after = row(second, "Message queues", &queue).unwrap_or_else(|| panic!("{second}"));
    assert_eq!(after["MESSAGES"], "3", "{second}");
    let rate = |column: &str| after[column].parse::<f64>().unwrap_or_else(|_| panic!("{column}: {second}"));
    assert!(rate("IN/S") > 0.0 && rate("OUT/S") > 0.0, "{second}");
    assert!(rate("IN/S") > rate("OUT/S"), "5 sent, 2 taken: {second}");
}

#[test]
fn a_missing_namespace_or_a_bad_delay_is_reported() {
    let ns = TempDir::new("ns");
    let out = top(&ns, &["--namespace", "nothing", "-n", "1"]);
    assert_fails_cleanly(&out, 1, &format!("no namespace \"nothing\" in {}", ns.str()));
    assert_eq!(stdout(&out), "");
    assert_fails_cleanly(&top(&ns, &["--delay=-1"]), 2, "not a delay: '-1'");
    assert_fails_cleanly(&top(&ns, &["-d", "soon"]), 2, "not a number of seconds: 'soon'");
    assert_fails_cleanly(&top(&ns, &["-n", "0"]), 2, "invalid value '0'");
}

#[test]
fn ctrl_c_ends_it_cleanly_between_frames() {
    let (work, ns) = (TempDir::new("work"), TempDir::new("ns"));
    drop(Running::start(&ns, &activity(&work), &["queue"]));
    let mut command = ipcshim(&["top", "--dir", ns.str(), "-b", "-d", "0.1"]);
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut top = command.spawn().expect("start ipcshim top");
    let mut reader = BufReader::new(top.stdout.take().unwrap());
    let mut frames = String::new();
    while frames.matches("ipcshim top - ").count() < 2 {
        assert_ne!(reader.read_line(&mut frames).unwrap(), 0, "it ended by itself: {frames}");
    }
    // SAFETY: kill has no memory preconditions; the child is ours and not yet reaped.
    assert_eq!(unsafe { libc::kill(top.id() as i32, libc::SIGINT) }, 0);
    let out = top.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
}
