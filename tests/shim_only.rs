//! Behaviour the kernel has no counterpart for: the fast path's lack of
//! system calls, recovery from processes killed inside the shim, damaged
//! region files, a full file system. The C programs in `c-tests/shim/` run
//! under the shim only (LD_PRELOAD), each in a namespace of its own.

mod common;

use common::{compile, run_with_limit, shim_library, TempDir};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

/// Builds `c-tests/shim/<name>.c` once per test.
fn program(name: &str, build: &TempDir) -> PathBuf {
    compile(&format!("shim/{name}"), build.path(), false)
}

fn under_shim(exe: &Path, args: &[&str], ns: &Path, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(exe);
    cmd.args(args).current_dir(ns).env("LD_PRELOAD", shim_library()).env("IPCSHIM_DIR", ns).env("IPCSHIM_LOG", "1");
    for var in ["LD_LIBRARY_PATH", "IPCSHIM_NAMESPACE", "IPCSHIM_CRASH_AT", "IPCSHIM_SIZE_MB"] {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied());
    run_with_limit(cmd, LIMIT)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_success(what: &str, out: &Output) {
    assert!(out.status.success(), "{what}: {}\n{}{}", out.status, text(&out.stdout), text(&out.stderr));
}

#[test]
fn fast_path_makes_no_system_call() {
    let build = TempDir::new("fast");
    let ns = TempDir::new("ns");
    let out = under_shim(&program("fast_path", &build), &[], ns.path(), &[]);
    assert_success("fast_path", &out);
    assert!(text(&out.stdout).contains("made no system call: yes"));
}

/// A process is killed at `point` (its `n`-th passage) while it holds the
/// queue lock; the survivors must take over, repair, and lose nothing.
fn crash_at(point: &str, n: u32, size_mb: Option<&str>) {
    let build = TempDir::new("crash");
    let ns = TempDir::new("ns");
    let mut env = vec![];
    if let Some(mb) = size_mb {
        env.push(("IPCSHIM_SIZE_MB", mb));
    }
    let out = under_shim(&program("crash_recovery", &build), &[point, &n.to_string()], ns.path(), &env);
    assert_success(point, &out);
    assert!(text(&out.stdout).contains("all checks held"), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("lock holder died; repairing") || point.contains("remove"),
        "the lock was not taken over from the dead holder:\n{}",
        text(&out.stderr)
    );
}

#[test]
fn crash_before_linking_a_message_loses_only_that_message() {
    crash_at("msg-send-before-link", 30, None);
}

#[test]
fn crash_after_linking_a_message_keeps_it() {
    crash_at("msg-send-after-link", 30, None);
}

#[test]
fn crash_after_claiming_a_chunk_leaks_nothing() {
    crash_at("msg-chunk-claimed", 2, None);
}

#[test]
fn crash_while_making_the_type_index_loses_nothing() {
    crash_at("msg-index-claimed", 1, None);
}

#[test]
fn crash_while_dropping_the_type_index_of_an_emptied_queue_keeps_the_queue_usable() {
    crash_at("msg-index-dropped", 1, None);
}

#[test]
fn crash_while_moving_the_type_index_to_a_larger_table_loses_nothing() {
    crash_at("msg-index-claimed", 2, None);
}

#[test]
fn crash_after_moving_the_type_index_keeps_every_message_reachable_by_type() {
    crash_at("msg-index-moved", 2, None);
}

#[test]
fn crash_while_merging_the_free_space_loses_nothing() {
    crash_at("msg-free-merging", 3, None);
}

#[test]
fn crash_after_copying_a_message_out_leaves_it_queued() {
    crash_at("msg-receive-after-copy", 5, None);
}

#[test]
fn crash_after_unlinking_a_message_consumes_it_and_frees_its_blocks() {
    crash_at("msg-receive-after-unlink", 5, None);
}

#[test]
fn crash_while_removing_a_queue_leaves_its_chunks_reclaimable() {
    crash_at("msg-remove-after-commit", 1, Some("1"));
}

/// A semop moving a unit between two semaphores (with SEM_UNDO) is killed
/// at `point`, holding the set's lock: the move is all or nothing, and the
/// dead process's undo is applied by the survivors.
fn sem_crash_at(point: &str) {
    let build = TempDir::new("semcrash");
    let ns = TempDir::new("ns");
    let out = under_shim(&program("sem_crash", &build), &[point, "7"], ns.path(), &[]);
    assert_success(point, &out);
    assert!(text(&out.stdout).contains("all checks held"), "{}", text(&out.stdout));
    assert!(text(&out.stderr).contains("lock holder died; finishing its journal"), "{}", text(&out.stderr));
}

#[test]
fn crash_before_a_semop_commits_changes_nothing() {
    sem_crash_at("sem-before-commit");
}

#[test]
fn crash_after_a_semop_commits_is_finished_by_the_next_holder() {
    sem_crash_at("sem-after-commit");
}

/// Thousands of random SIGKILLs against processes sending, receiving,
/// doing P/V with SEM_UNDO (and so granting to each other), and creating
/// and removing objects: nothing wedges, counts stay right, every unit of
/// the semaphore comes back exactly once, and once the dead are reaped no
/// record is left to anyone.
#[test]
fn random_kills_never_wedge_or_corrupt() {
    let build = TempDir::new("storm");
    let ns = TempDir::new("ns");
    let out = under_shim(&program("kill_storm", &build), &["5"], ns.path(), &[]);
    assert_success("kill_storm", &out);
    assert!(text(&out.stdout).contains("all checks held"), "{}", text(&out.stdout));
    assert_nothing_held(ns.path());
}

/// Senders (random sizes and priorities, every message with a unique id),
/// receivers, a process opening, registering on and closing the queue, and
/// one creating and unlinking another, all SIGKILLed at random and
/// restarted for a few seconds: every message a sender saw accepted is
/// received exactly once (but one per receiver killed inside a receive),
/// intact and in order; mq_curmsgs counts what drains; the queue still
/// works; and once it is unlinked and closed and the dead are reaped,
/// nothing is left.
#[test]
fn random_kills_of_mq_senders_and_receivers_lose_and_duplicate_nothing() {
    let build = TempDir::new("mqstorm");
    let ns = TempDir::new("ns");
    let out = under_shim(&program("mq_storm", &build), &["4"], ns.path(), &[]);
    assert_success("mq_storm", &out);
    assert!(text(&out.stdout).contains("all checks held"), "{}", text(&out.stdout));
    assert_nothing_held(ns.path());
    assert_no_queue_left(ns.path());
}

/// Runs one scenario of `windows` (a process dies, stops or panics inside
/// the shim at a named point); everything it checks must hold, and no
/// record may be left to any process afterwards. Returns its stderr.
fn window(scenario: &str) -> String {
    let build = TempDir::new("window");
    let ns = TempDir::new("ns");
    let out = under_shim(&program("windows", &build), &[scenario], ns.path(), &[]);
    assert_success(scenario, &out);
    assert!(text(&out.stdout).contains("all checks held"), "{}\n{}", text(&out.stdout), text(&out.stderr));
    assert_nothing_held(ns.path());
    text(&out.stderr)
}

#[test]
fn a_granter_killed_before_its_commit_leaves_the_grant_to_the_next_holder() {
    let err = window("grant-before");
    assert!(err.contains("lock holder died"), "{err}");
}

#[test]
fn a_granter_killed_after_its_commit_has_granted_exactly_once() {
    window("grant-after");
}

#[test]
fn a_granter_killed_after_granting_a_sem_undo_sleeper_has_granted_exactly_once() {
    window("grant-undo-after");
}

#[test]
fn a_remover_killed_after_its_commit_still_ends_every_semop_sleep_with_eidrm() {
    window("remove-sem");
}

#[test]
fn a_remover_killed_after_its_commit_still_ends_every_msgrcv_sleep_with_eidrm() {
    window("remove-msg-receiver");
}

#[test]
fn a_remover_killed_after_its_commit_still_ends_every_msgsnd_sleep_with_eidrm() {
    window("remove-msg-sender");
}

#[test]
fn an_attacher_killed_with_its_record_claimed_leaks_nothing() {
    window("attach");
}

#[test]
fn a_process_killed_with_its_undo_record_claimed_leaks_nothing() {
    window("undo-claim");
}

#[test]
fn a_waiter_killed_with_its_wait_record_claimed_leaks_nothing() {
    let err = window("wait-claim");
    assert!(err.contains("lock holder died"), "{err}");
}

#[test]
fn a_waker_killed_between_settling_a_sleeper_and_unqueueing_it_still_wakes_it() {
    window("settled");
}

#[test]
fn a_stopped_lock_holder_is_waited_for_not_taken_over() {
    let err = window("stop-lock");
    assert!(!err.contains("lock holder died"), "a live (stopped) holder's lock was taken over:\n{err}");
}

#[test]
fn a_call_that_panics_holding_a_lock_leaves_it_to_be_repaired() {
    let err = window("panic");
    assert!(err.contains("lock holder died; repairing"), "the next holder did not repair:\n{err}");
}

/// Runs one scenario of `mq_windows` (a process is killed inside an mq
/// call at a named point); everything it checks must hold, and afterwards
/// (it unlinks and closes every queue, and reaps the dead) no record may be
/// left to any process and no queue left in the namespace. Returns its
/// stderr.
fn mq_window(scenario: &str) -> String {
    let build = TempDir::new("mqwindow");
    let ns = TempDir::new("ns");
    let out = under_shim(&program("mq_windows", &build), &[scenario], ns.path(), &[]);
    assert_success(scenario, &out);
    assert!(text(&out.stdout).contains("all checks held"), "{}\n{}", text(&out.stdout), text(&out.stderr));
    assert_nothing_held(ns.path());
    assert_no_queue_left(ns.path());
    text(&out.stderr)
}

/// The victim died holding the queue's lock, and the next holder repaired.
fn assert_queue_repaired(stderr: &str) {
    assert!(
        stderr.lines().any(|l| l.contains("mq slot") && l.contains("lock holder died; repairing")),
        "the queue's lock was not taken over from the dead holder:\n{stderr}"
    );
}

#[test]
fn an_mq_send_killed_before_linking_its_message_loses_only_that_message() {
    assert_queue_repaired(&mq_window("send-before-link"));
}

#[test]
fn an_mq_send_killed_after_linking_its_message_keeps_it_and_counts_it() {
    assert_queue_repaired(&mq_window("send-after-link"));
}

#[test]
fn an_mq_send_killed_with_a_chunk_claimed_leaks_nothing() {
    assert_queue_repaired(&mq_window("send-chunk"));
}

#[test]
fn an_mq_receive_killed_after_copying_its_message_leaves_it_queued() {
    assert_queue_repaired(&mq_window("receive-after-copy"));
}

#[test]
fn an_mq_receive_killed_after_unlinking_its_message_has_consumed_it() {
    assert_queue_repaired(&mq_window("receive-after-unlink"));
}

#[test]
fn an_mq_sender_killed_holding_the_lock_is_repaired_by_the_next_holder() {
    assert_queue_repaired(&mq_window("lock-send"));
}

#[test]
fn an_mq_open_killed_with_the_slot_claimed_creates_nothing() {
    mq_window("create-claimed");
}

#[test]
fn an_mq_open_killed_before_publishing_the_queue_creates_nothing() {
    mq_window("create-before-publish");
}

#[test]
fn an_mq_unlink_killed_after_its_commit_leaves_the_queue_to_its_holder() {
    mq_window("unlink-held");
}

#[test]
fn an_mq_unlink_killed_after_its_commit_with_no_holder_left_is_finished_by_the_reaper() {
    mq_window("unlink-unheld");
}

#[test]
fn an_unlinked_queue_whose_last_holder_is_killed_is_freed_by_the_reaper() {
    mq_window("holder-killed");
}

#[test]
fn a_last_mq_close_killed_while_freeing_the_queue_is_finished_by_the_reaper() {
    mq_window("free-at-close");
}

#[test]
fn an_mq_unlink_killed_while_freeing_the_queue_is_finished_by_the_reaper() {
    mq_window("free-at-unlink");
}

#[test]
fn an_mq_send_killed_firing_a_thread_notification_still_notifies_and_ends_it() {
    assert_queue_repaired(&mq_window("notify-thread"));
}

#[test]
fn an_mq_send_killed_firing_a_thread_notification_notifies_even_if_another_registers_at_once() {
    assert_queue_repaired(&mq_window("notify-thread-reregistered"));
}

#[test]
fn an_mq_send_killed_firing_a_signal_notification_still_notifies_and_ends_it() {
    assert_queue_repaired(&mq_window("notify-signal"));
}

/// No POSIX queue is left in the namespace in `ns`: no anchor file beside
/// the region file, no slot of the queue table in use (named, unlinked or
/// being created), no chunk owned by a queue.
fn assert_no_queue_left(ns: &Path) {
    use std::os::unix::fs::FileExt;
    let anchors: Vec<String> = std::fs::read_dir(ns)
        .expect("ns")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.contains(".region.mq-"))
        .collect();
    assert!(anchors.is_empty(), "anchor files left: {anchors:?}");
    let (region, layout) = layout_of(ns);
    let file = std::fs::File::open(&region).expect("region file");
    let (index, table) = layout.table(ipcshim::mq::TAG).expect("a queue table");
    let stride = table.spec.stride as usize;
    let mut entries = vec![0u8; table.spec.count as usize * stride];
    file.read_exact_at(&mut entries, table.entries).expect("read the queue table");
    // Every entry starts with its slot's state (0: free).
    let in_use: Vec<usize> =
        entries.chunks(stride).enumerate().filter(|(_, e)| e[..4] != [0; 4]).map(|(i, _)| i).collect();
    assert!(in_use.is_empty(), "queue slots still in use: {in_use:?}");
    let mut owners = vec![0u8; layout.chunk_count as usize * 8];
    file.read_exact_at(&mut owners, layout.chunk_owners).expect("read the chunk owners");
    // An owner word names its table (directory index + 1) in its top byte.
    let queue_owned: Vec<usize> = owners
        .chunks(8)
        .enumerate()
        .filter(|(_, w)| u64::from_le_bytes((*w).try_into().expect("8 bytes")) >> 56 == index as u64 + 1)
        .map(|(i, _)| i)
        .collect();
    assert!(queue_owned.is_empty(), "chunks still owned by queues: {queue_owned:?}");
}

/// The records a process can hold (the process table, wait records, undo
/// records, attachments): tag, and where in an entry its holder's key is.
const HOLDERS: [(&[u8; 4], u64); 4] = [(b"PRC1", 0), (b"WAI1", 0), (b"UND1", 8), (b"ATT1", 0)];

/// No entry of any per-process table of the namespace in `ns` names a process.
fn assert_nothing_held(ns: &Path) {
    use std::os::unix::fs::FileExt;
    let (region, layout) = layout_of(ns);
    let file = std::fs::File::open(&region).expect("region file");
    for (tag, key_at) in HOLDERS {
        let (_, table) = layout.table(ipcshim::region::TableSpec::tag(tag)).expect("table");
        let bytes = table.spec.count as usize * table.spec.stride as usize;
        let mut entries = vec![0u8; bytes];
        file.read_exact_at(&mut entries, table.entries).expect("read table");
        let held: Vec<usize> = entries
            .chunks(table.spec.stride as usize)
            .enumerate()
            .filter(|(_, e)| e[key_at as usize..key_at as usize + 8] != [0; 8])
            .map(|(i, _)| i)
            .collect();
        assert!(held.is_empty(), "{}: entries still held: {held:?}", String::from_utf8_lossy(tag));
    }
}

/// Runs `probe get` against a namespace whose region file is `damage`d
/// after a healthy run created it; returns stdout and stderr.
fn probe_damaged(damage: impl FnOnce(&Path)) -> (String, String) {
    let build = TempDir::new("probe");
    let ns = TempDir::new("ns");
    let probe = program("probe", &build);
    assert_success("healthy probe", &under_shim(&probe, &["get"], ns.path(), &[]));
    let region = std::fs::read_dir(ns.path())
        .expect("ns")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "region"))
        .expect("a region file");
    damage(&region);
    let out = under_shim(&probe, &["get"], ns.path(), &[]);
    assert_success("probe on a damaged region", &out);
    (text(&out.stdout), text(&out.stderr))
}

fn patch(path: &Path, offset: u64, bytes: &[u8]) {
    use std::os::unix::fs::FileExt;
    std::fs::OpenOptions::new().write(true).open(path).expect("open").write_all_at(bytes, offset).expect("patch");
}

#[test]
fn a_foreign_file_is_refused_with_eio() {
    let (out, err) = probe_damaged(|p| std::fs::write(p, vec![0x5a; 8192]).expect("write"));
    assert_eq!(out, "msgget = EIO\n");
    assert!(err.contains("not an ipcshim region"), "{err}");
}

#[test]
fn a_truncated_region_is_refused_with_eio() {
    let (out, err) = probe_damaged(|p| {
        std::fs::OpenOptions::new().write(true).open(p).expect("open").set_len(1 << 20).expect("truncate")
    });
    assert_eq!(out, "msgget = EIO\n");
    assert!(err.contains("truncated"), "{err}");
}

#[test]
fn another_layout_version_is_refused_with_eio() {
    let (out, err) = probe_damaged(|p| patch(p, 8, &99u32.to_le_bytes()));
    assert_eq!(out, "msgget = EIO\n");
    assert!(err.contains("version 99"), "{err}");
}

#[test]
fn a_corrupted_header_is_refused_with_eio() {
    // The chunk count (after magic, version and table count): 0 is absurd.
    let (out, err) = probe_damaged(|p| patch(p, 16, &0u32.to_le_bytes()));
    assert_eq!(out, "msgget = EIO\n");
    assert!(err.contains("corrupted header"), "{err}");
}

#[test]
fn a_symbolic_link_is_refused_with_eacces() {
    let (out, err) = probe_damaged(|p| {
        let real = p.with_extension("real");
        std::fs::rename(p, &real).expect("rename");
        std::os::unix::fs::symlink(&real, p).expect("symlink");
    });
    assert_eq!(out, "msgget = EACCES\n");
    assert!(err.contains("symbolic link"), "{err}");
}

#[test]
fn a_region_others_could_write_is_refused_with_eacces() {
    use std::os::unix::fs::PermissionsExt;
    let (out, err) =
        probe_damaged(|p| std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o666)).expect("chmod"));
    assert_eq!(out, "msgget = EACCES\n");
    assert!(err.contains("mode 0600"), "{err}");
}

#[test]
fn an_empty_file_is_initialised() {
    let (out, _) = probe_damaged(|p| std::fs::write(p, b"").expect("truncate"));
    assert_eq!(out, "msgget = ok\n");
}

/// The layout of the region file in `ns` (as created by the probe).
fn layout_of(ns: &Path) -> (PathBuf, ipcshim::region::layout::Layout) {
    let region = ns.join(format!("ipcshim-{}-default.region", unsafe { libc::geteuid() }));
    let layout = ipcshim::region::layout_of(&region).expect("layout of the region file");
    (region, layout)
}

/// Garbage over a live queue's fields (its lock, state and id kept, so the
/// calls reach it) and over its messages: every call must return, none may
/// crash or hang, and the namespace must stay usable.
#[test]
fn garbage_in_queues_and_messages_never_crashes_or_hangs() {
    let build = TempDir::new("scribble");
    let probe = program("probe", &build);
    let header = std::mem::size_of::<ipcshim::ipc::ObjectHeader>() as u64;
    let slot = std::mem::size_of::<ipcshim::msg::MsgQueue>() as u64;
    for seed in 1..=16u64 {
        let ns = TempDir::new("ns");
        assert_success("fill", &under_shim(&probe, &["fill"], ns.path(), &[]));
        let (region, layout) = layout_of(ns.path());
        let mut noise = Noise(seed);
        patch(&region, msg_table(&layout) + header, &noise.bytes((slot - header) as usize));
        patch(&region, layout.chunk_area, &noise.bytes(65536));
        let out = under_shim(&probe, &["use"], ns.path(), &[]);
        assert_success(&format!("use after garbage (seed {seed})"), &out);
        assert!(text(&out.stdout).contains("a new queue works afterwards: yes"), "{}", text(&out.stdout));
    }
}

/// A lock word naming a live thread (here: init) with a start time that is
/// not that thread's can only be garbage (or a recycled TID): it is taken
/// over at once.
#[test]
fn a_lock_word_naming_an_unrelated_live_process_is_taken_over() {
    let build = TempDir::new("lockword");
    let probe = program("probe", &build);
    let ns = TempDir::new("ns");
    assert_success("fill", &under_shim(&probe, &["fill"], ns.path(), &[]));
    let (region, layout) = layout_of(ns.path());
    // The lock word of the queue's receiving end: TID 1 (init), and a
    // start time in the upper half that init does not have.
    let lock = ipcshim::msg::MsgQueue::RECEIVING_LOCK as u64;
    patch(&region, msg_table(&layout) + lock, &(0xdead_beef_u64 << 32 | 1).to_le_bytes());
    let out = under_shim(&probe, &["use"], ns.path(), &[]);
    assert_success("use after a garbage lock word", &out);
    assert!(text(&out.stderr).contains("lock holder died; repairing"), "{}", text(&out.stderr));
}

/// Where the message queue table's entries start.
fn msg_table(layout: &ipcshim::region::Layout) -> u64 {
    let tag = ipcshim::msg::TAG;
    layout.table(tag).expect("a message queue table").1.entries
}

/// xorshift: reproducible garbage, mixing plausible small numbers (which
/// pass more checks and reach deeper) with arbitrary bytes.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut buf = vec![0u8; len];
        for word in buf.chunks_mut(4) {
            let value = match self.next() % 4 {
                0 => (self.next() % 300) as u32,
                1 => u32::MAX,
                _ => self.next() as u32,
            };
            word.copy_from_slice(&value.to_le_bytes()[..word.len()]);
        }
        buf
    }
}

/// Runs `full_tmpfs <mode>` with its namespace on a tmpfs of `size`, in a
/// mount namespace of its own.
fn on_small_tmpfs(size: &str, mode: &str) -> Output {
    let build = TempDir::new("full");
    let exe = program("full_tmpfs", &build);
    let mount = TempDir::new("mnt");
    let root = unsafe { libc::geteuid() } == 0;
    let script = format!(
        "mount -t tmpfs -o size={size} tmpfs {dir} && LD_PRELOAD={lib} IPCSHIM_DIR={dir} exec {exe} {mode}",
        dir = mount.path().display(),
        lib = shim_library().display(),
        exe = exe.display(),
    );
    let mut cmd = Command::new("unshare");
    cmd.args(if root { &["--mount"][..] } else { &["--mount", "--map-root-user"][..] }).args(["sh", "-c", &script]);
    cmd.env_remove("LD_LIBRARY_PATH");
    run_with_limit(cmd, LIMIT)
}

/// The size of a namespace's control area, from one made for the purpose.
fn control_area_kib() -> u64 {
    let build = TempDir::new("control");
    let ns = TempDir::new("ns");
    assert_success("probe", &under_shim(&program("probe", &build), &["get"], ns.path(), &[]));
    layout_of(ns.path()).1.control_end / 1024
}

#[test]
fn a_full_file_system_gives_enomem_for_messages() {
    // Room for the control area and 2 MiB of messages: less than a queue
    // may hold, so the file system fills before the queue does.
    let out = on_small_tmpfs(&format!("{}k", control_area_kib() + 2048), "chunks");
    assert_success("full_tmpfs chunks", &out);
    assert!(text(&out.stdout).contains("with ENOMEM: yes"), "{}", text(&out.stdout));
}

#[test]
fn a_full_file_system_gives_enomem_for_the_region() {
    let out = on_small_tmpfs(&format!("{}k", control_area_kib() / 2), "region");
    assert_success("full_tmpfs region", &out);
    assert_eq!(text(&out.stdout), "msgget with no room for the region = -1 ENOMEM\n");
}

/// IPCSHIM_TRACE: a line per call, arguments decoded and results named,
/// and the lines of two processes appending at once each whole.
#[test]
fn trace_shows_each_call_and_its_result() {
    let build = TempDir::new("trace");
    let ns = TempDir::new("ns");
    let file = ns.path().join("calls.trace");
    let count = 300;
    let out = under_shim(
        &program("traced", &build),
        &[&count.to_string()],
        ns.path(),
        &[("IPCSHIM_TRACE", file.to_str().expect("utf-8 path"))],
    );
    assert_success("traced", &out);
    let trace = std::fs::read_to_string(&file).expect("the trace file");
    // Pids and addresses differ from run to run; the parent made the first call.
    let pid = trace.split(' ').next().expect("a line").to_owned();
    let normal: Vec<String> = trace
        .lines()
        .map(|line| {
            let (who, call) = line.split_once(' ').expect("pid, then the call");
            let who = if who == pid { "P" } else { "C" };
            format!("{who} {}", without_addresses(call))
        })
        .collect();
    // The queue's descriptor is the lowest free one, which depends on what
    // the test harness left open.
    let mqd = normal.iter().find_map(|l| l.strip_prefix("P mq_open(")?.rsplit_once(" = ").map(|(_, d)| d.to_owned()));
    let mqd = mqd.expect("an mq_open line");
    let normal: Vec<String> = normal
        .into_iter()
        .map(|l| match l.strip_suffix(&format!(" = {mqd}")) {
            Some(open) if l.starts_with("P mq_open(") => format!("{open} = D"),
            _ if l.starts_with("P mq_") => l.replace(&format!("({mqd},"), "(D,").replace(&format!("({mqd})"), "(D)"),
            _ => l,
        })
        .collect();
    let expected = [
        "P msgget(0x1234, IPC_CREAT|IPC_EXCL|0600) = 0",
        r#"P msgsnd(0, {7, "hello\n"}, 6, IPC_NOWAIT) = 0"#,
        "P msgrcv(0, ADDR, 16, 3, IPC_NOWAIT|MSG_NOERROR) = -1 ENOMSG",
        "P msgrcv(0, ADDR, 16, 0, 0) = 6",
        "P semget(IPC_PRIVATE, 2, 0600) = 0",
        "P semop(0, [{0, 1, SEM_UNDO}, {1, 0, IPC_NOWAIT}], 2) = 0",
        "P semctl(0, 0, SETVAL, 5) = 0",
        "P semctl(0, 0, GETVAL) = 5",
        "P semctl(0, 0, IPC_RMID) = 0",
        "P shmget(IPC_PRIVATE, 4096, IPC_CREAT|0600) = 0",
        "P shmat(0, NULL, SHM_RDONLY) = ADDR",
        "P shmdt(ADDR) = 0",
        "P shmctl(0, IPC_RMID, NULL) = 0",
        r#"P mq_open("/traced", O_RDWR|O_CREAT, 0600, {mq_maxmsg=4, mq_msgsize=64}) = D"#,
        r#"P mq_send(D, "abc", 3, 2) = 0"#,
        "P mq_receive(D, ADDR, 64, ADDR) = 3",
        "P mq_close(D) = 0",
        r#"P mq_unlink("/traced") = 0"#,
    ];
    assert_eq!(normal[..expected.len()], expected, "trace:\n{trace}");
    let rest = &normal[expected.len()..];
    let sends = rest.iter().filter(|l| l.starts_with(r#"C msgsnd(0, {"#) && l.ends_with(r#""hello\n"}, 6, 0) = 0"#));
    let receives = rest.iter().filter(|l| l.as_str() == "P msgrcv(0, ADDR, 16, 0, 0) = 6");
    assert_eq!(sends.count(), count, "the child's sends, each on a line of its own:\n{trace}");
    assert_eq!(receives.count(), count, "the parent's receives:\n{trace}");
    assert_eq!(rest.last().map(String::as_str), Some("P msgctl(0, IPC_RMID, NULL) = 0"));
    assert_eq!(rest.len(), 2 * count + 1, "nothing but those calls:\n{trace}");
}

/// `text` with each user-space address (0x and at least eight hex
/// digits) replaced by ADDR.
fn without_addresses(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    // Any long hex number: mappings start below 0x7f00_0000_0000 too when
    // ASLR draws a large offset.
    while let Some(at) = rest.find("0x") {
        let digits = rest[at + 2..].bytes().take_while(u8::is_ascii_hexdigit).count();
        out.push_str(&rest[..at]);
        out.push_str(if digits >= 8 { "ADDR" } else { &rest[at..at + 2 + digits] });
        rest = &rest[at + 2 + digits..];
    }
    out.push_str(rest);
    out
}
