//! Shared by the benches: the kernel vs ipcshim, or one build or setting of
//! ipcshim vs another.
//!
//! A bench compiles its C program with `cc` and, for every case, runs it R
//! rounds (env `BENCH_ROUNDS`, default 7).  A round runs the program once on
//! each of the bench's sides, back to back, each side going first in turn,
//! so that noise on a shared machine hits all sides alike.  The sides are
//! the kernel and `LD_PRELOAD=libipcshim.so` (with a fresh `IPCSHIM_DIR`)
//! unless the bench names its own ([`Bench::with_sides`]): the first is the
//! baseline, and every other is compared with it.  The program prints one
//! positive number; reported per compared side are the median of it and of
//! the baseline, and the median and min–max of the per-round side/baseline
//! ratio (shim/kernel).
//!
//! The library is `target/release/libipcshim.so` (found next to the bench
//! binary's `deps/` directory) unless `IPCSHIM_LIB` names another one.
//! `IPCSHIM_TRACE` is never passed on (a side may set it).  Arguments that
//! do not start with `-` select cases by substring.
//!
//! With env `BENCH_LOAD=1` every measured run, kernel and shim alike, has
//! competing load: one busy-looping `sh` per online CPU, unpinned, started
//! just before the run and killed and reaped right after it (also when the
//! run fails or the bench panics; each hog also gets SIGKILL should the
//! bench itself die).  The header on stderr says whether load was on.
//!
//! With env `BENCH_RESULTS=FILE` every case measured also appends one line to
//! FILE (see [`Bench::run`] for its fields), which `benches/report.rs` turns
//! into BENCHMARKS.md and its plot.

use std::env;
use std::fs;
use std::io::{self, Write};
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

/// How much worse than the kernel the shim may be, at most, in any case
/// when other work competes for the CPUs (in benches with the kernel as
/// baseline).
pub const LOADED_BOUND: f64 = 1.5;

/// What a case's program prints, and so which way is better.
#[derive(Clone, Copy)]
pub enum Measure {
    /// Nanoseconds per operation: lower is better.
    Time,
    /// Operations per second: higher is better.
    Rate,
}

impl Measure {
    fn what(self) -> &'static str {
        match self {
            Measure::Time => "time",
            Measure::Rate => "rate",
        }
    }

    fn better(self) -> &'static str {
        match self {
            Measure::Time => "lower",
            Measure::Rate => "higher",
        }
    }

    /// The target of every case under competing load: a time at most
    /// [`LOADED_BOUND`] times the kernel's, a rate at least its inverse.
    fn loaded_bound(self) -> f64 {
        match self {
            Measure::Time => LOADED_BOUND,
            Measure::Rate => 1.0 / LOADED_BOUND,
        }
    }

    /// Whether a median shim/kernel ratio of `ratio` meets `target`: at most
    /// the target for a time, at least it for a rate.
    fn meets(self, ratio: f64, target: f64) -> bool {
        match self {
            Measure::Time => ratio <= target,
            Measure::Rate => ratio >= target,
        }
    }
}

/// One case of a bench: what to run and how to report it.
#[derive(Clone)]
pub struct Case {
    /// What is measured, without the placement ("pingpong 64B").
    pub name: String,
    /// Where the processes run: "2cpu", "1cpu", "free" or "pinned" (see
    /// bench.h).  A `2cpu` case is skipped on a machine with one CPU.
    pub placement: &'static str,
    /// The program's arguments.
    pub args: Vec<String>,
    pub measure: Measure,
    /// Formats a printed value with its unit ("1.23 µs/rt").
    pub show: fn(f64) -> String,
    /// Project target for the median shim/kernel ratio, if any.
    pub target: Option<f64>,
}

/// One way of running a case's program.
#[derive(Clone)]
pub struct Side {
    /// Its name in rows and result lines ("kernel", "shim").
    pub name: &'static str,
    /// The library to preload, with a fresh `IPCSHIM_DIR`; none: the kernel.
    pub lib: Option<PathBuf>,
    /// More environment for the program.
    pub env: Vec<(&'static str, String)>,
}

/// A compiled C benchmark program plus the run settings.
pub struct Bench {
    name: &'static str,
    bin: PathBuf,
    /// The baseline first, then the sides compared with it.
    sides: Vec<Side>,
    rounds: usize,
    /// Busy-looping hogs to run beside each measured run (0: no load).
    hogs: usize,
    /// CPUs in this process's affinity mask (the programs inherit it).
    cpus: u32,
    filters: Vec<String>,
    /// Where to append a line per case measured (env `BENCH_RESULTS`).
    results: Option<PathBuf>,
    _build: TempDir,
}

impl Bench {
    /// Locates the library, reads the settings and compiles `source` as
    /// program `name`, to be run on the kernel and under the shim.
    #[allow(dead_code)] // the trace bench names its own sides
    pub fn new(name: &'static str, source: &str) -> Result<Bench, String> {
        let shim = Side { name: "shim", lib: Some(shim_library()?), env: Vec::new() };
        Self::with_sides(name, source, vec![Side { name: "kernel", lib: None, env: Vec::new() }, shim])
    }

    /// As [`Bench::new`], with `sides` instead: the first is the baseline,
    /// each other one is compared with it.
    pub fn with_sides(name: &'static str, source: &str, sides: Vec<Side>) -> Result<Bench, String> {
        if sides.len() < 2 {
            return Err("a bench needs a baseline and at least one side to compare with it".to_string());
        }
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
        let results = env::var_os("BENCH_RESULTS").filter(|p| !p.is_empty()).map(PathBuf::from);
        let cpus = usable_cpus()?;
        let build = TempDir::new("build")?;
        let bin = compile(name, source, &build.0)?;
        let load = match hogs {
            0 => "off".to_string(),
            n => format!("on ({n} busy-looping hog{}, one per online CPU)", if n == 1 { "" } else { "s" }),
        };
        let libs = sides.iter().filter_map(|s| Some(format!("{} library: {}", s.name, s.lib.as_ref()?.display())));
        eprintln!("{}; {rounds} rounds per case; load {load}", libs.collect::<Vec<_>>().join("; "));
        Ok(Bench { name, bin, sides, rounds, hogs, cpus, filters, results, _build: build })
    }

    /// Measures `case` unless the command-line filters leave it out: prints
    /// a table row per side compared with the baseline and, with
    /// `BENCH_RESULTS` set, appends its result line (see
    /// [`Bench::result_line`]).
    pub fn run(&self, case: &Case) -> Result<(), String> {
        let full_name = format!("{} {}", case.name, case.placement);
        if !self.filters.is_empty() && !self.filters.iter().any(|f| full_name.contains(f.as_str())) {
            return Ok(());
        }
        if case.placement == "2cpu" && self.cpus < 2 {
            println!("{:<20} skipped: this process may run on only {} CPU", format!("{full_name}:"), self.cpus);
            return Ok(());
        }
        // Under load every case compared with the kernel has one target:
        // never worse than the kernel by more than LOADED_BOUND.
        let loaded;
        let case = if self.hogs > 0 && self.sides[0].lib.is_none() {
            loaded = Case { target: Some(case.measure.loaded_bound()), ..case.clone() };
            &loaded
        } else {
            case
        };
        for c in self.compare(&case.args)? {
            let met = case.target.map(|t| case.measure.meets(median(&c.ratio), t));
            let mut row = c.row(&full_name, case.show, case.measure);
            if let (Some(t), Some(met)) = (case.target, met) {
                let bound = match case.measure {
                    Measure::Time => "≤",
                    Measure::Rate => "≥",
                };
                row += &format!(" [target {bound} {t:.2}: {}]", if met { "met" } else { "MISSED" });
            }
            println!("{row}");
            let Some(path) = &self.results else { continue };
            let line = self.result_line(case, &c, met);
            // One write of a whole line to a file opened for appending: lines
            // of benches run one after another never interleave.
            fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .and_then(|mut f| f.write_all(line.as_bytes()))
                .map_err(|e| format!("appending to {}: {e}", path.display()))?;
        }
        Ok(())
    }

    /// The results file's line for `case` compared on one side: tab-separated
    /// `key=value` fields, so that the report takes new cases and fields as
    /// they come.
    ///
    /// `bench` (the cargo bench target), `case`, `placement`, `load` (`off`
    /// or `on`), `hogs` (how many load processes), `measure` (`time`, ns per
    /// operation, or `rate`, operations per second), `better` (`lower` or
    /// `higher`), `base` and `side` (the names of the baseline and of the
    /// side compared with it: `kernel` and `shim` unless the bench names its
    /// own), `base_value` and `side_value` (their medians as the program
    /// printed them), `base_shown` and `side_shown` (the same with their
    /// unit), `ratio`, `min` and `max` (median and spread of the per-round
    /// side/baseline ratio), `rounds`, `cpus` (usable CPUs) and, for a case
    /// with a target, `target` and `met` (`yes` or `no`).
    fn result_line(&self, case: &Case, c: &Comparison, met: Option<bool>) -> String {
        let (base, side) = (median(&c.base), median(&c.side));
        let (lo, hi) = c.ratio_spread();
        let mut fields = vec![
            ("bench", bench_target()),
            ("case", case.name.clone()),
            ("placement", case.placement.to_string()),
            ("load", if self.hogs > 0 { "on" } else { "off" }.to_string()),
            ("hogs", self.hogs.to_string()),
            ("measure", case.measure.what().to_string()),
            ("better", case.measure.better().to_string()),
            ("base", c.names.0.to_string()),
            ("side", c.names.1.to_string()),
            ("base_value", base.to_string()),
            ("side_value", side.to_string()),
            ("base_shown", (case.show)(base)),
            ("side_shown", (case.show)(side)),
            ("ratio", median(&c.ratio).to_string()),
            ("min", lo.to_string()),
            ("max", hi.to_string()),
            ("rounds", c.ratio.len().to_string()),
            ("cpus", self.cpus.to_string()),
        ];
        if let (Some(t), Some(met)) = (case.target, met) {
            fields.push(("target", t.to_string()));
            fields.push(("met", if met { "yes" } else { "no" }.to_string()));
        }
        let fields: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={}", v.replace(['\t', '\n'], " "))).collect();
        fields.join("\t") + "\n"
    }

    /// Runs the program with `args` on every side, interleaved over the
    /// rounds; returns the comparison of each side after the first with it.
    fn compare(&self, args: &[String]) -> Result<Vec<Comparison>, String> {
        let n = self.sides.len();
        let mut values = vec![Vec::with_capacity(self.rounds); n];
        for round in 0..self.rounds {
            for k in 0..n {
                let at = (round + k) % n;
                values[at].push(self.run_once(args, &self.sides[at])?);
            }
        }
        let (base, sides) = values.split_first().expect("at least two sides");
        let compared = self.sides[1..].iter().zip(sides).map(|(side, values)| Comparison {
            names: (self.sides[0].name, side.name),
            ratio: values.iter().zip(base).map(|(s, b)| s / b).collect(),
            base: base.clone(),
            side: values.clone(),
        });
        Ok(compared.collect())
    }

    /// One run on `side`: on the kernel, or under the shim (preloaded, with
    /// a fresh `IPCSHIM_DIR` that is removed afterwards); returns the
    /// printed number.
    fn run_once(&self, args: &[String], side: &Side) -> Result<f64, String> {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args).env_remove("LD_PRELOAD").env_remove("IPCSHIM_DIR").env_remove("IPCSHIM_TRACE");
        cmd.envs(side.env.iter().map(|(k, v)| (k, v)));
        cmd.stdin(Stdio::null()).stderr(Stdio::inherit());
        let state = match &side.lib {
            Some(lib) => Some((lib, TempDir::for_state("state")?)),
            None => None,
        };
        if let Some((lib, state)) = &state {
            cmd.env("LD_PRELOAD", lib).env("IPCSHIM_DIR", &state.0);
        }
        let load = Load::start(self.hogs)?;
        let out = cmd.output().map_err(|e| format!("running {}: {e}", self.bin.display()));
        drop(load);
        let out = out?;
        drop(state);
        let variant = side.name;
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

/// Per-round results of one case on one side and the baseline.
struct Comparison {
    /// The baseline's name and the side's.
    names: (&'static str, &'static str),
    base: Vec<f64>,
    side: Vec<f64>,
    /// side / baseline, per round.
    ratio: Vec<f64>,
}

impl Comparison {
    /// The smallest and the largest per-round ratio.
    fn ratio_spread(&self) -> (f64, f64) {
        self.ratio.iter().fold((f64::MAX, f64::MIN), |(lo, hi), &r| (lo.min(r), hi.max(r)))
    }

    /// One table row: `name`, both medians formatted by `show`, and the
    /// ratio of what `measure` says with its spread.
    fn row(&self, name: &str, show: fn(f64) -> String, measure: Measure) -> String {
        let (lo, hi) = self.ratio_spread();
        // Two significant digits at least: some targets are 0.01.
        let digits = ratio_digits(lo);
        let (base, side) = self.names;
        format!(
            "{:<20} {base} {:>13}   {side} {:>13}   {side}/{base} {} ratio median {:.digits$} ({lo:.digits$}–{hi:.digits$}) over {} rounds ({} is better)",
            format!("{name}:"),
            show(median(&self.base)),
            show(median(&self.side)),
            measure.what(),
            median(&self.ratio),
            self.ratio.len(),
            measure.better(),
        )
    }
}

/// Decimals that show a ratio as low as `lowest` with two significant digits.
pub fn ratio_digits(lowest: f64) -> usize {
    if lowest < 0.1 {
        3
    } else {
        2
    }
}

fn median(values: &[f64]) -> f64 {
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
fn usable_cpus() -> Result<u32, String> {
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

/// The cargo bench target this is, from the executable's name
/// (`target/release/deps/msg-0123abcd` is `msg`).
fn bench_target() -> String {
    let exe = env::current_exe().ok();
    let stem = exe.as_deref().and_then(Path::file_stem).map(|s| s.to_string_lossy().into_owned());
    let stem = stem.unwrap_or_else(|| "unknown".to_string());
    match stem.rsplit_once('-') {
        Some((target, hash)) if hash.chars().all(|c| c.is_ascii_hexdigit()) => target.to_string(),
        _ => stem,
    }
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

/// The library the shim side preloads (see the module comment).
pub fn shim_library() -> Result<PathBuf, String> {
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
/// shim/kernel of what was measured.
#[allow(dead_code)] // as QueueCase
pub fn queue_cases(bench: &Bench, cases: &[QueueCase]) -> Result<(), String> {
    for &(mode, size, placement, count) in cases {
        let pingpong = mode == "pingpong";
        // The project's targets: a ping-pong across CPUs at most a tenth of
        // the kernel's time, on one CPU 0.7 of it; a stream five times the
        // kernel's rate across CPUs, three times on one.
        let target = match (pingpong, placement) {
            (true, "1cpu") => 0.7,
            (true, _) => 0.1,
            (false, "1cpu") => 3.0,
            (false, _) => 5.0,
        };
        bench.run(&Case {
            name: format!("{mode} {size}B"),
            placement,
            args: vec![mode.to_string(), size.to_string(), count.to_string(), placement.to_string()],
            measure: if pingpong { Measure::Time } else { Measure::Rate },
            show: if pingpong { show_round_trip } else { show_message_rate },
            target: Some(target),
        })?;
    }
    Ok(())
}

/// The create-use-remove cases of a queue bench (mode `cycle`): per cycle a
/// new queue, one 64-byte message sent and received, and the queue's
/// removal, in one process, pinned and free. The target is the one for any
/// object creation: no slower than the kernel.
#[allow(dead_code)] // as QueueCase
pub fn cycle_cases(bench: &Bench, count: u64) -> Result<(), String> {
    for placement in ["pinned", "free"] {
        bench.run(&Case {
            name: "cycle 64B".to_string(),
            placement,
            args: vec!["cycle".to_string(), "64".to_string(), count.to_string(), placement.to_string()],
            measure: Measure::Time,
            show: |ns| format!("{:.2} µs/cycle", ns / 1e3),
            target: Some(1.0),
        })?;
    }
    Ok(())
}

/// Nanoseconds per round trip, in µs.
pub fn show_round_trip(ns: f64) -> String {
    format!("{:.2} µs/rt", ns / 1e3)
}

#[allow(dead_code)] // as QueueCase
pub fn show_message_rate(rate: f64) -> String {
    format!("{:.3} Mmsg/s", rate / 1e6)
}
