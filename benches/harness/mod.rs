//! Shared by the kernel-vs-ipcshim benches.
//!
//! A bench compiles its C program with `cc` and, for every case, runs it R
//! rounds (env `BENCH_ROUNDS`, default 7).  A round runs the program once
//! against the kernel and once with `LD_PRELOAD=libipcshim.so` (and a fresh
//! `IPCSHIM_DIR`), back to back, alternating which goes first, so that noise
//! on a shared machine hits both sides alike.  The program prints one
//! positive number; reported are the median of each side and the median and
//! min–max of the per-round shim/kernel ratio.
//!
//! The library is `target/release/libipcshim.so` (found next to the bench
//! binary's `deps/` directory) unless `IPCSHIM_LIB` names another one.
//! Arguments that do not start with `-` select cases by substring.
//!
//! With env `BENCH_LOAD=1` every measured run, kernel and shim alike, has
//! competing load: one busy-looping `sh` per online CPU, unpinned, started
//! just before the run and killed and reaped right after it (also when the
//! run fails or the bench panics; each hog also gets SIGKILL should the
//! bench itself die).  The header on stderr says whether load was on.

use std::env;
use std::fs;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Runs a bench's body; prints its error, prefixed with `tag`, on failure.
pub fn main(tag: &str, body: impl FnOnce() -> Result<(), String>) -> ExitCode {
    match body() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{tag}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A compiled C benchmark program plus the run settings.
pub struct Bench {
    name: &'static str,
    bin: PathBuf,
    lib: PathBuf,
    rounds: usize,
    /// Busy-looping hogs to run beside each measured run (0: no load).
    hogs: usize,
    filters: Vec<String>,
    _build: TempDir,
}

impl Bench {
    /// Locates the library, reads the settings and compiles `source` as
    /// program `name`.
    pub fn new(name: &'static str, source: &str) -> Result<Bench, String> {
        let lib = shim_library()?;
        let rounds = match env::var("BENCH_ROUNDS") {
            Ok(s) => s
                .parse()
                .ok()
                .filter(|&r: &usize| r > 0)
                .ok_or_else(|| format!("BENCH_ROUNDS={s:?} is not a positive integer"))?,
            Err(_) => 7,
        };
        let hogs = match env::var("BENCH_LOAD").as_deref() {
            Ok("1") => online_cpus(),
            Ok("0") | Ok("") | Err(env::VarError::NotPresent) => 0,
            Ok(s) => return Err(format!("BENCH_LOAD={s:?} is neither 0 nor 1")),
            Err(e) => return Err(format!("BENCH_LOAD: {e}")),
        };
        // `cargo bench` passes `--bench`; other arguments select cases by name.
        let filters = env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
        let build = TempDir::new("build")?;
        let bin = compile(name, source, &build.0)?;
        let load = match hogs {
            0 => "off".to_string(),
            n => format!("on ({n} busy-looping hog{}, one per online CPU)", if n == 1 { "" } else { "s" }),
        };
        eprintln!("shim library: {}; {rounds} rounds per case; load {load}", lib.display());
        Ok(Bench { name, bin, lib, rounds, hogs, filters, _build: build })
    }

    /// Whether case `name` passes the command-line filters.
    pub fn selected(&self, name: &str) -> bool {
        self.filters.is_empty() || self.filters.iter().any(|f| name.contains(f.as_str()))
    }

    /// Runs the program with `args` on both sides, interleaved over the rounds.
    pub fn compare(&self, args: &[String]) -> Result<Comparison, String> {
        let mut c = Comparison { kernel: Vec::new(), shim: Vec::new(), ratio: Vec::new() };
        for round in 0..self.rounds {
            let (k, s) = if round % 2 == 0 {
                let k = self.run_once(args, false)?;
                (k, self.run_once(args, true)?)
            } else {
                let s = self.run_once(args, true)?;
                (self.run_once(args, false)?, s)
            };
            c.kernel.push(k);
            c.shim.push(s);
            c.ratio.push(s / k);
        }
        Ok(c)
    }

    /// One run, on the kernel or under the shim (preloaded, with a fresh
    /// `IPCSHIM_DIR` that is removed afterwards); returns the printed number.
    fn run_once(&self, args: &[String], shim: bool) -> Result<f64, String> {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args).env_remove("LD_PRELOAD").env_remove("IPCSHIM_DIR");
        cmd.stdin(Stdio::null()).stderr(Stdio::inherit());
        let state = shim.then(|| TempDir::for_state("state")).transpose()?;
        if let Some(state) = &state {
            cmd.env("LD_PRELOAD", &self.lib).env("IPCSHIM_DIR", &state.0);
        }
        let load = Load::start(self.hogs)?;
        let out = cmd.output().map_err(|e| format!("running {}: {e}", self.bin.display()));
        drop(load);
        let out = out?;
        drop(state);
        let variant = if shim { "shim" } else { "kernel" };
        let stdout = String::from_utf8_lossy(&out.stdout);
        match stdout.trim().parse::<f64>() {
            Ok(v) if out.status.success() && v.is_finite() && v > 0.0 => Ok(v),
            _ => Err(format!(
                "{variant} run `{} {}` failed ({}), stdout {:?}",
                self.name,
                args.join(" "),
                out.status,
                stdout.trim()
            )),
        }
    }
}

/// Competing load: busy-looping processes, killed and reaped when dropped.
struct Load(Vec<Child>);

impl Load {
    /// Starts `n` hogs (none for 0).
    fn start(n: usize) -> Result<Load, String> {
        let mut load = Load(Vec::with_capacity(n));
        let parent = std::process::id();
        for _ in 0..n {
            let mut cmd = Command::new("sh");
            cmd.args(["-c", "while :; do :; done"]);
            cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
            // SAFETY: the closure runs in the forked child before exec and
            // calls only async-signal-safe functions (prctl, getppid, _exit).
            unsafe {
                cmd.pre_exec(move || {
                    // Die with the bench, even if it is killed outright.
                    if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                        return Err(io::Error::last_os_error());
                    }
                    if libc::getppid() as u32 != parent {
                        libc::_exit(1);
                    }
                    Ok(())
                });
            }
            // On failure `load` is dropped, which stops the hogs started so far.
            load.0.push(cmd.spawn().map_err(|e| format!("starting a load process: {e}"))?);
        }
        Ok(load)
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        for hog in &mut self.0 {
            let _ = hog.kill();
            let _ = hog.wait();
        }
    }
}

/// Per-round results of one case.
pub struct Comparison {
    pub kernel: Vec<f64>,
    pub shim: Vec<f64>,
    /// shim / kernel, per round.
    pub ratio: Vec<f64>,
}

impl Comparison {
    /// One table row: `name`, both medians formatted by `show`, and the
    /// ratio of `what` (time, rate) with its spread.
    pub fn row(&self, name: &str, show: impl Fn(f64) -> String, what: &str, better: &str) -> String {
        let (lo, hi) = self.ratio.iter().fold((f64::MAX, f64::MIN), |(lo, hi), &r| (lo.min(r), hi.max(r)));
        // Two significant digits at least: some targets are 0.01.
        let digits = if lo < 0.1 { 3 } else { 2 };
        format!(
            "{:<20} kernel {:>13}   shim {:>13}   shim/kernel {what} ratio median {:.digits$} ({lo:.digits$}–{hi:.digits$}) over {} rounds ({better} is better)",
            format!("{name}:"),
            show(median(&self.kernel)),
            show(median(&self.shim)),
            median(&self.ratio),
            self.ratio.len(),
        )
    }
}

/// `line` with whether the median ratio met the project's `target`, if any.
#[allow(dead_code)] // the msg and sem benches use it, the mq bench does not
pub fn with_target(mut line: String, c: &Comparison, target: Option<f64>) -> String {
    if let Some(t) = target {
        let met = median(&c.ratio) <= t;
        line += &format!(" [target ≤ {t:.2}: {}]", if met { "met" } else { "MISSED" });
    }
    line
}

pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// How many CPUs are online (the number of load processes).
fn online_cpus() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    if n >= 1 {
        n as usize
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }
}

/// How many CPUs this process's affinity mask holds: the programs, which
/// inherit the mask, pin to the first two of them.
pub fn usable_cpus() -> Result<u32, String> {
    // SAFETY: `set` is a plain bit mask that sched_getaffinity fills in; an
    // all-zero cpu_set_t is a valid (empty) value.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return Err(format!("sched_getaffinity: {}", io::Error::last_os_error()));
        }
        Ok(libc::CPU_COUNT(&set) as u32)
    }
}

/// The table row for a `2cpu` case skipped for want of a second CPU.
pub fn skipped(name: &str, cpus: u32) -> String {
    format!("{:<20} skipped: this process may run on only {cpus} CPU", format!("{name}:"))
}

/// A fresh directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    /// Under the system temp dir.
    fn new(tag: &str) -> Result<TempDir, String> {
        Self::under(&env::temp_dir(), tag)
    }

    /// Where the shim keeps its state by default: /dev/shm (tmpfs), so the
    /// shim is measured as it runs, not on a disk file system.
    fn for_state(tag: &str) -> Result<TempDir, String> {
        let shm = Path::new("/dev/shm");
        Self::under(if shm.is_dir() { shm } else { Path::new("/tmp") }, tag)
    }

    fn under(root: &Path, tag: &str) -> Result<TempDir, String> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("ipcshim-bench-{}-{tag}-{n}", std::process::id());
        let path = root.join(name);
        fs::create_dir(&path).map_err(|e| format!("creating {}: {e}", path.display()))?;
        Ok(TempDir(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn shim_library() -> Result<PathBuf, String> {
    let path = match env::var_os("IPCSHIM_LIB") {
        Some(p) => PathBuf::from(p),
        // target/release/deps/<bench>-<hash>  ->  target/release/libipcshim.so
        None => env::current_exe()
            .map_err(|e| format!("locating the bench executable: {e}"))?
            .parent()
            .and_then(Path::parent)
            .ok_or("cannot locate the target directory")?
            .join("libipcshim.so"),
    };
    fs::canonicalize(&path).map_err(|e| {
        format!(
            "shim library {} not found ({e}); build it with `cargo build --release` or set IPCSHIM_LIB",
            path.display()
        )
    })
}

/// The header the C programs share (`#include "bench.h"`).
const BENCH_H: &str = include_str!("../c/bench.h");

/// Compiles `source` into `dir/name`, with `bench.h` beside it.
fn compile(name: &str, source: &str, dir: &Path) -> Result<PathBuf, String> {
    let (src, bin) = (dir.join(format!("{name}.c")), dir.join(name));
    let header = dir.join("bench.h");
    fs::write(&header, BENCH_H).map_err(|e| format!("writing {}: {e}", header.display()))?;
    fs::write(&src, source).map_err(|e| format!("writing {}: {e}", src.display()))?;
    let cc = env::var_os("CC").unwrap_or_else(|| "cc".into());
    let status = Command::new(&cc)
        .args(["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Werror", "-o"])
        .args([&bin, &src])
        .status()
        .map_err(|e| format!("running {}: {e}", cc.to_string_lossy()))?;
    if !status.success() {
        return Err(format!("compiling {name}.c failed ({status})"));
    }
    Ok(bin)
}

/// A queue bench's case: (mode, message size in bytes, placement, count).
#[allow(dead_code)] // the queue benches (msg, mq) use it, the sem bench does not
pub type QueueCase = (&'static str, usize, &'static str, u64);

/// Runs the ping-pong and stream cases of a queue bench program (msg, mq):
/// time per round trip, or messages per second; either way the ratio is
/// shim/kernel of what was measured. Two-CPU cases are skipped on a
/// machine that has one.
#[allow(dead_code)] // as QueueCase
pub fn queue_cases(bench: &Bench, cases: &[QueueCase]) -> Result<(), String> {
    let cpus = usable_cpus()?;
    for &(mode, size, placement, count) in cases {
        let name = format!("{mode} {size}B {placement}");
        if !bench.selected(&name) {
            continue;
        }
        if placement == "2cpu" && cpus < 2 {
            println!("{}", skipped(&name, cpus));
            continue;
        }
        let args = [mode.to_string(), size.to_string(), count.to_string(), placement.to_string()];
        let c = bench.compare(&args)?;
        let (what, better) = if mode == "pingpong" { ("time", "lower") } else { ("rate", "higher") };
        println!("{}", c.row(&name, |v| show_queue(mode, v), what, better));
    }
    Ok(())
}

#[allow(dead_code)] // as QueueCase
fn show_queue(mode: &str, value: f64) -> String {
    if mode == "pingpong" {
        format!("{:.2} µs/rt", value / 1e3)
    } else {
        format!("{:.3} Mmsg/s", value / 1e6)
    }
}
