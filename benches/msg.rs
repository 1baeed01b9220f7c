//! System V message queues: kernel vs. ipcshim.
//!
//! Builds `benches/c/msgbench.c` with `cc`, then for every case runs R rounds
//! (env `BENCH_ROUNDS`, default 7).  A round runs the C program once against
//! the kernel and once with `LD_PRELOAD=libipcshim.so`, back to back,
//! alternating which goes first, so that noise on a shared machine hits both
//! sides alike.  Reported: the median of each side and the median and
//! min–max of the per-round shim/kernel ratio.
//!
//! The library is `target/release/libipcshim.so` (found next to this
//! binary's `deps/` directory) unless `IPCSHIM_LIB` names another one.
//!
//!     cargo build --release && cargo bench --bench msg [-- FILTER...]

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

const SOURCE: &str = include_str!("c/msgbench.c");

/// (mode, message size in bytes, message count).  The counts aim at
/// 0.2–1 s per kernel run on a 2-core VM.
const CASES: [(&str, usize, u64); 4] =
    [("pingpong", 64, 15_000), ("pingpong", 4096, 15_000), ("stream", 64, 300_000), ("stream", 4096, 50_000)];

/// A fresh directory under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Result<TempDir, String> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("ipcshim-bench-{}-{tag}-{n}", std::process::id());
        let path = env::temp_dir().join(name);
        fs::create_dir(&path).map_err(|e| format!("creating {}: {e}", path.display()))?;
        Ok(TempDir(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("msg bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let lib = shim_library()?;
    let rounds = match env::var("BENCH_ROUNDS") {
        Ok(s) => s
            .parse()
            .ok()
            .filter(|&r: &usize| r > 0)
            .ok_or_else(|| format!("BENCH_ROUNDS={s:?} is not a positive integer"))?,
        Err(_) => 7,
    };
    // `cargo bench` passes `--bench`; other arguments select cases by name.
    let filters: Vec<String> = env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let build = TempDir::new("build")?;
    let bin = compile(&build.0)?;
    eprintln!("shim library: {}; {rounds} rounds per case", lib.display());

    for (mode, size, count) in CASES {
        let name = format!("{mode} {size}B");
        if !filters.is_empty() && !filters.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        let args = [mode.to_string(), size.to_string(), count.to_string()];
        let (mut kernel, mut shim, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..rounds {
            let (k, s) = if round % 2 == 0 {
                let k = run_once(&bin, &args, None)?;
                (k, run_once(&bin, &args, Some(&lib))?)
            } else {
                let s = run_once(&bin, &args, Some(&lib))?;
                (run_once(&bin, &args, None)?, s)
            };
            // pingpong: time per round trip; stream: messages per second.
            // Either way the ratio is shim/kernel of what was measured.
            kernel.push(k);
            shim.push(s);
            ratio.push(s / k);
        }
        let (what, better) = if mode == "pingpong" { ("time", "lower") } else { ("rate", "higher") };
        let (lo, hi) = ratio.iter().fold((f64::MAX, f64::MIN), |(lo, hi), &r| (lo.min(r), hi.max(r)));
        println!(
            "{:<16} kernel {:>13}   shim {:>13}   shim/kernel {what} ratio median {:.2} ({lo:.2}–{hi:.2}) over {rounds} rounds ({better} is better)",
            format!("{name}:"),
            show(mode, median(&kernel)),
            show(mode, median(&shim)),
            median(&ratio),
        );
    }
    Ok(())
}

fn shim_library() -> Result<PathBuf, String> {
    let path = match env::var_os("IPCSHIM_LIB") {
        Some(p) => PathBuf::from(p),
        // target/release/deps/msg-<hash>  ->  target/release/libipcshim.so
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

fn compile(dir: &Path) -> Result<PathBuf, String> {
    let (src, bin) = (dir.join("msgbench.c"), dir.join("msgbench"));
    fs::write(&src, SOURCE).map_err(|e| format!("writing {}: {e}", src.display()))?;
    let cc = env::var_os("CC").unwrap_or_else(|| "cc".into());
    let status = Command::new(&cc)
        .args(["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Werror", "-o"])
        .args([&bin, &src])
        .status()
        .map_err(|e| format!("running {}: {e}", cc.to_string_lossy()))?;
    if !status.success() {
        return Err(format!("compiling msgbench.c failed ({status})"));
    }
    Ok(bin)
}

/// One run of msgbench; `lib` = None for the kernel, Some for the shim
/// (preloaded, with a fresh `IPCSHIM_DIR` that is removed afterwards).
fn run_once(bin: &Path, args: &[String], lib: Option<&Path>) -> Result<f64, String> {
    let mut cmd = Command::new(bin);
    cmd.args(args).env_remove("LD_PRELOAD").env_remove("IPCSHIM_DIR");
    cmd.stdin(Stdio::null()).stderr(Stdio::inherit());
    let state = lib.map(|_| TempDir::new("state")).transpose()?;
    if let (Some(lib), Some(state)) = (lib, &state) {
        cmd.env("LD_PRELOAD", lib).env("IPCSHIM_DIR", &state.0);
    }
    let out = cmd.output().map_err(|e| format!("running {}: {e}", bin.display()))?;
    drop(state);
    let variant = if lib.is_some() { "shim" } else { "kernel" };
    let stdout = String::from_utf8_lossy(&out.stdout);
    match stdout.trim().parse::<f64>() {
        Ok(v) if out.status.success() && v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!(
            "{variant} run `msgbench {}` failed ({}), stdout {:?}",
            args.join(" "),
            out.status,
            stdout.trim()
        )),
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

fn show(mode: &str, value: f64) -> String {
    if mode == "pingpong" {
        format!("{:.2} µs/rt", value / 1e3)
    } else {
        format!("{:.3} Mmsg/s", value / 1e6)
    }
}
