//! PostgreSQL on System V shared memory where the kernel has none: its
//! main segment (`shared_memory_type = sysv`) and the dynamic segments of
//! parallel queries (`dynamic_shared_memory_type = sysv`), every program
//! under `ipcshim run --no-kernel-ipc`. initdb, a parallel query, pgbench,
//! a second postmaster refused (through the lock file while the first
//! lives, through the segment's attach count once only its children do),
//! and a restart after the postmaster was killed; and, as the control,
//! initdb and postgres failing under the filter alone.
//!
//! The server runs as the `postgres` user when the tests run as root
//! (postgres refuses root), on a Unix socket in a directory of its own (no
//! TCP), so it meets no other cluster on the machine.

mod support;

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::*;

/// For one program to finish, or the server to become ready: generous,
/// as the machine may be busy with other tests.
const LIMIT: Duration = Duration::from_secs(180);

/// The programs the tests run.
const PROGRAMS: [&str; 5] = ["initdb", "postgres", "pg_isready", "psql", "pgbench"];

/// The newest PostgreSQL installed in Debian's layout with all of
/// [`PROGRAMS`], /usr/lib/postgresql/<major version>/bin: (version,
/// directory).
fn server_programs() -> (u32, PathBuf) {
    let newest = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let e = e.ok()?;
            let version: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            PROGRAMS.iter().all(|p| bin.join(p).is_file()).then_some((version, bin))
        })
        .max();
    newest.expect("PostgreSQL is needed for these tests: install the Debian package postgresql")
}

/// The user the server runs as: `postgres` for root, else the caller.
struct ServerUser {
    /// uid and gid to switch to (with setpriv), when root.
    switch_to: Option<(u32, u32)>,
}

impl ServerUser {
    fn get() -> ServerUser {
        // SAFETY: geteuid has no arguments.
        if unsafe { libc::geteuid() } != 0 {
            return ServerUser { switch_to: None };
        }
        // SAFETY: a NUL-terminated name; the entry is read at once, before
        // any other getpw* call of this thread.
        let entry = unsafe { libc::getpwnam(c"postgres".as_ptr()) };
        assert!(!entry.is_null(), "no user postgres to run the server as: install the Debian package postgresql");
        // SAFETY: getpwnam returned a valid entry.
        let (uid, gid) = unsafe { ((*entry).pw_uid, (*entry).pw_gid) };
        ServerUser { switch_to: Some((uid, gid)) }
    }

    /// `program`, run as this user.
    fn command(&self, program: &Path) -> Command {
        match self.switch_to {
            Some((uid, gid)) => {
                let mut command = Command::new("setpriv");
                command.arg(format!("--reuid={uid}")).arg(format!("--regid={gid}")).arg("--init-groups").arg("--");
                command.arg(program);
                command
            }
            None => Command::new(program),
        }
    }

    fn give(&self, path: &Path) {
        if let Some((uid, gid)) = self.switch_to {
            std::os::unix::fs::chown(path, Some(uid), Some(gid)).expect("chown to the server's user");
        }
    }
}

/// A cluster in a temporary directory of its own: `data/`, `sock/` (its
/// Unix socket), `ns/` (the shim's namespace), `tools/` (copies of the
/// command and of the libraries, where the server's user can read them),
/// `server.log`. Every process started in it (the server and its
/// children have `data/` as working directory, the clients the root) is
/// killed when it is dropped, whether the test passed or not.
struct Cluster {
    version: u32,
    programs: PathBuf,
    user: ServerUser,
    port: u16,
    /// What IPCSHIM_LIB names for each [`Ipc`]: copies in `tools/`.
    shim_library: PathBuf,
    empty_library: PathBuf,
    postmaster: Option<Child>,
    root: TempDir,
}

impl Cluster {
    fn new() -> Cluster {
        let (version, programs) = server_programs();
        let user = ServerUser::get();
        let root = TempDir::new("postgresql");
        for dir in ["sock", "ns", "tools"] {
            std::fs::create_dir(root.path().join(dir)).unwrap();
        }
        for dir in ["", "sock", "ns"] {
            user.give(&root.path().join(dir));
        }
        let tools = root.path().join("tools");
        std::fs::copy(binary(), tools.join("ipcshim")).expect("copy the command");
        let shim_library = tools.join("libipcshim.so");
        std::fs::copy(Ipc::Shim.library(&tools), &shim_library).expect("copy the library");
        let empty_library = Ipc::FilterAlone.library(&tools);
        // Only names the socket file: the server listens on no TCP port.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        Cluster { version, programs, user, port, shim_library, empty_library, postmaster: None, root }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.root.path().join(name)
    }

    /// A server program (`initdb`, `psql`...) under `ipcshim run
    /// --no-kernel-ipc`, as the server's user, preloading `ipc`'s library.
    fn under_no_kernel_ipc(&self, ipc: Ipc, program: &str, args: &[&str]) -> Command {
        let mut command = self.as_server_user(&self.path("tools/ipcshim"));
        command.args(["run", "--no-kernel-ipc", "--dir"]).arg(self.path("ns")).arg("--");
        command.arg(self.programs.join(program)).args(args);
        let library = match ipc {
            Ipc::Shim => &self.shim_library,
            Ipc::FilterAlone => &self.empty_library,
        };
        command.env("IPCSHIM_LIB", library);
        command
    }

    /// `program` as the server's user, in the cluster's directory, with
    /// none of the caller's shim or PostgreSQL variables.
    fn as_server_user(&self, program: &Path) -> Command {
        let mut command = self.user.command(program);
        command.env("LC_ALL", "C").current_dir(self.root.path());
        for variable in ["LD_PRELOAD", "LD_LIBRARY_PATH", "IPCSHIM_DIR", "IPCSHIM_NAMESPACE", "IPCSHIM_LOG"] {
            command.env_remove(variable);
        }
        for variable in ["PGHOST", "PGPORT", "PGDATA", "PGUSER", "PGDATABASE", "PGOPTIONS", "PGSERVICE"] {
            command.env_remove(variable);
        }
        command
    }

    /// Runs a program to its end, bounded in time.
    fn run(&self, ipc: Ipc, program: &str, args: &[&str]) -> Bounded {
        let run = run_bounded(self.under_no_kernel_ipc(ipc, program, args), LIMIT);
        assert!(!run.timed_out, "{program} hung:\n{}", run.describe());
        run
    }

    /// A client program (psql, pgbench...) on the cluster's socket.
    fn client(&self, program: &str, args: &[&str]) -> Bounded {
        let (socket, port) = (self.path("sock"), self.port.to_string());
        let mut all = vec!["-h", socket.to_str().unwrap(), "-p", &port, "-U", "postgres"];
        all.extend(args);
        self.run(Ipc::Shim, program, &all)
    }

    /// The nattch column of `ipcshim ipcs -m` in the cluster's namespace.
    fn attach_counts(&self) -> Vec<u64> {
        let mut command = self.as_server_user(&self.path("tools/ipcshim"));
        command.args(["ipcs", "-m", "--dir"]).arg(self.path("ns"));
        let run = run_bounded(command, LIMIT);
        assert!(run.status.success(), "ipcshim ipcs -m:\n{}", run.describe());
        run.stdout.lines().filter_map(|l| l.split_whitespace().nth(5)?.parse().ok()).collect()
    }

    fn initdb(&self, ipc: Ipc) -> Bounded {
        let data = self.path("data");
        let args = ["-D", data.to_str().unwrap(), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"];
        self.run(ipc, "initdb", &args)
    }

    /// initdb under the shim, and the settings under test.
    fn create(&self) {
        let run = self.initdb(Ipc::Shim);
        assert!(run.status.success(), "initdb under the shim:\n{}", run.describe());
        let settings = format!(
            "\nshared_memory_type = sysv\ndynamic_shared_memory_type = sysv\nlisten_addresses = ''\n\
             port = {}\nunix_socket_directories = '{}'\nshared_buffers = 32MB\nfsync = off\n",
            self.port,
            self.path("sock").display()
        );
        use std::io::Write;
        let mut conf = File::options().append(true).open(self.path("data/postgresql.conf")).expect("postgresql.conf");
        conf.write_all(settings.as_bytes()).unwrap();
    }

    /// `postgres -D data` under the shim, run until it is stopped or
    /// killed; returns once it accepts connections.
    fn start(&mut self) {
        assert!(self.postmaster.is_none(), "a postmaster of ours is already running");
        let log = File::options().create(true).append(true).open(self.path("server.log")).expect("server.log");
        let data = self.path("data");
        let mut command = self.under_no_kernel_ipc(Ipc::Shim, "postgres", &["-D", data.to_str().unwrap()]);
        command.stdin(Stdio::null()).stdout(log.try_clone().unwrap()).stderr(log).process_group(0);
        self.postmaster = Some(command.spawn().expect("start postgres"));
        let start = Instant::now();
        loop {
            if let Some(status) = self.postmaster.as_mut().unwrap().try_wait().unwrap() {
                self.postmaster = None;
                panic!("postgres exited ({status}) before accepting connections:\n{}", self.log());
            }
            if self.client("pg_isready", &["-d", "postgres"]).status.success() {
                return;
            }
            assert!(start.elapsed() < LIMIT, "postgres not ready after {LIMIT:?}:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn postmaster_pid(&self) -> i32 {
        self.postmaster.as_ref().expect("a running postmaster").id() as i32
    }

    /// Fast shutdown (SIGINT): the postmaster exits with status 0.
    fn stop(&mut self) {
        let mut postmaster = self.postmaster.take().expect("a running postmaster");
        // SAFETY: kill(2) on our own child, not yet waited for.
        unsafe { libc::kill(postmaster.id() as i32, libc::SIGINT) };
        let status = wait_bounded(&mut postmaster);
        assert!(
            status.is_some_and(|s| s.success()),
            "postgres did not shut down cleanly ({status:?}):\n{}",
            self.log()
        );
    }

    /// SIGKILL, and reaped (so that its pid is no longer a live process).
    fn kill_postmaster(&mut self) {
        let mut postmaster = self.postmaster.take().expect("a running postmaster");
        postmaster.kill().unwrap();
        postmaster.wait().unwrap();
    }

    /// `psql -c SQL` (each statement's rows, unaligned); it must succeed.
    fn psql(&self, sql: &str) -> String {
        let run = self.client("psql", &["-d", "postgres", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql]);
        assert!(run.status.success(), "psql -c {sql:?}:\n{}\nserver log:\n{}", run.describe(), self.log());
        run.stdout
    }

    /// A second postmaster on the same data directory; it must be refused.
    fn second_postmaster(&self) -> Bounded {
        let data = self.path("data");
        let run = self.run(Ipc::Shim, "postgres", &["-D", data.to_str().unwrap()]);
        assert!(!run.status.success(), "a second postmaster started:\n{}", run.describe());
        run
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.path("server.log")).unwrap_or_default()
    }

    /// The processes working in the cluster's directory (live ones: a
    /// zombie has no working directory left).
    fn processes(&self) -> Vec<i32> {
        let root = std::fs::canonicalize(self.root.path()).unwrap();
        std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
            .filter(|pid| std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd.starts_with(&root)))
            .collect()
    }

    /// SIGKILLs every process in the cluster, until none is left.
    fn kill_all(&self) {
        let start = Instant::now();
        loop {
            let left = self.processes();
            if left.is_empty() || start.elapsed() > LIMIT {
                return;
            }
            for pid in left {
                // SAFETY: kill(2) on a process of this cluster.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.kill_all();
        if let Some(mut postmaster) = self.postmaster.take() {
            let _ = postmaster.kill();
            let _ = postmaster.wait();
        }
    }
}

/// Waits for a child for at most [`LIMIT`]; None if it is still running.
fn wait_bounded(child: &mut Child) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < LIMIT {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// The number after `label` on some line of `text`.
fn number_after(text: &str, label: &str) -> Option<u64> {
    let rest = &text[text.find(label)? + label.len()..];
    rest.split_whitespace().next()?.parse().ok()
}

#[test]
fn postgresql_runs_a_parallel_query_and_pgbench_on_the_shim_s_shared_memory() {
    let mut cluster = Cluster::new();
    cluster.create();
    cluster.start();
    assert_eq!(cluster.psql("SHOW shared_memory_type"), "sysv\n");
    assert_eq!(cluster.psql("SHOW dynamic_shared_memory_type"), "sysv\n");

    cluster.psql("CREATE TABLE numbers AS SELECT x FROM generate_series(1, 200000) AS x; ANALYZE numbers");
    // Workers even for a small table, and a plan with them whatever the
    // costs (the setting's name changed in PostgreSQL 16).
    let force = if cluster.version >= 16 { "debug_parallel_query" } else { "force_parallel_mode" };
    let parallel = format!(
        "SET max_parallel_workers_per_gather = 4; SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; \
         SET min_parallel_table_scan_size = 0; SET {force} = on; "
    );
    let plan = cluster.psql(&format!("{parallel} EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) SELECT sum(x) FROM numbers"));
    let launched = number_after(&plan, "Workers Launched:");
    assert!(launched.is_some_and(|n| n > 0), "no parallel worker launched:\n{plan}");
    let sum = cluster.psql(&format!("{parallel} SELECT sum(x) FROM numbers"));
    assert_eq!(sum.lines().last(), Some("20000100000"), "{sum}");

    let init = cluster.client("pgbench", &["-i", "-q", "-s", "1", "postgres"]);
    assert!(init.status.success(), "pgbench -i:\n{}", init.describe());
    let bench = cluster.client("pgbench", &["-c", "4", "-j", "2", "-T", "3", "postgres"]);
    assert!(bench.status.success(), "pgbench:\n{}", bench.describe());
    let done = number_after(&bench.stdout, "number of transactions actually processed:");
    assert!(done.is_some_and(|n| n > 0), "pgbench processed no transaction:\n{}", bench.describe());
    assert_eq!(number_after(&bench.stdout, "number of failed transactions:"), Some(0), "{}", bench.describe());
    assert!(!bench.stderr.contains("aborted"), "a pgbench client aborted:\n{}", bench.describe());

    // The segments are the shim's, attached by the server's processes.
    let counts = cluster.attach_counts();
    assert!(counts.iter().any(|&n| n > 0), "no attached segment in the shim's namespace: {counts:?}");

    cluster.stop();
    assert!(cluster.log().contains("database system is shut down"), "{}", cluster.log());

    // The control: the same server under the filter alone cannot create
    // its segment.
    let data = cluster.path("data");
    let alone = cluster.run(Ipc::FilterAlone, "postgres", &["-D", data.to_str().unwrap()]);
    assert!(!alone.status.success(), "postgres started with no IPC at all:\n{}", alone.describe());
    assert!(
        alone.stderr.contains("could not create shared memory segment: Function not implemented"),
        "{}",
        alone.describe()
    );
}

#[test]
fn a_second_postmaster_is_refused_and_a_killed_one_restarts() {
    let mut cluster = Cluster::new();
    cluster.create();
    cluster.start();
    cluster.psql("CREATE TABLE kept AS SELECT x FROM generate_series(1, 1000) AS x");

    // While the first lives, its lock file names a live process.
    let refused = cluster.second_postmaster();
    assert!(refused.stderr.contains("lock file \"postmaster.pid\" already exists"), "{}", refused.describe());

    // The postmaster killed, its children (stopped, so that they cannot
    // notice and exit) still attached: the lock file names a dead process,
    // so postgres asks the segment it names for its attach count.
    let postmaster = cluster.postmaster_pid();
    let children: Vec<i32> = cluster.processes().into_iter().filter(|&pid| pid != postmaster).collect();
    assert!(!children.is_empty(), "the postmaster has no children");
    for &child in &children {
        // SAFETY: kill(2) on a process of this cluster.
        unsafe { libc::kill(child, libc::SIGSTOP) };
    }
    cluster.kill_postmaster();
    let refused = cluster.second_postmaster();
    assert!(refused.stderr.contains("pre-existing shared memory block"), "{}", refused.describe());
    assert!(refused.stderr.contains("is still in use"), "{}", refused.describe());

    // Once they are gone too, the segment has no attachment: postgres
    // removes it, recovers, and keeps what was committed.
    cluster.kill_all();
    cluster.start();
    assert!(cluster.log().contains("automatic recovery in progress"), "{}", cluster.log());
    assert_eq!(cluster.psql("SELECT count(*), sum(x) FROM kept"), "1000|500500\n");
    cluster.stop();
}

/// The control: under the filter alone, initdb cannot create the segment
/// of its bootstrap server.
#[test]
fn initdb_fails_under_the_filter_alone() {
    let cluster = Cluster::new();
    let run = cluster.initdb(Ipc::FilterAlone);
    assert!(!run.status.success(), "initdb worked with no IPC at all:\n{}", run.describe());
    let expected = "could not create shared memory segment: Function not implemented";
    assert!(run.stderr.contains(expected) && run.stderr.contains("shmget("), "{}", run.describe());
}
