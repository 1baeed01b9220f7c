//! What call tracing (`IPCSHIM_TRACE`, `src/ffi/trace.rs`) costs: the
//! shim against itself built without it.
//!
//! Builds the library a second time without the `trace` feature (into
//! `notrace/` under this bench's target directory) and `benches/c/tracebench.c`,
//! and runs every case on three sides, interleaved over rounds (see
//! `harness/mod.rs` for the method: env `BENCH_ROUNDS`, `IPCSHIM_LIB`,
//! filters):
//!
//! - `untraced`, the baseline: the library built without tracing, where a
//!   call goes straight to its work;
//! - `trace-off`: the library as built by default, tracing compiled in but
//!   off (`IPCSHIM_TRACE` unset);
//! - `trace-on`: the same with `IPCSHIM_TRACE=/dev/null`, a line formatted
//!   and written per call, for scale.
//!
//!     cargo build --release && cargo bench --bench trace [-- FILTER...]
//!
//! The cases are the cheapest calls, in a loop that never waits: a semop P
//! and V on an uncontended semaphore, and an 8-byte msgsnd and msgrcv with
//! IPC_NOWAIT, `pinned` (to the first CPU) and `free`.  The claim measured:
//! trace-off/untraced is 1 within the rounds' spread.

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

mod harness;

use harness::Side;

const SOURCE: &str = include_str!("c/tracebench.c");

/// (mode, placement, pairs per run): about 0.05–0.1 s per untraced run on
/// a 2-core VM, where a traced call costs about 2.5 µs (some 5 s a run).
const CASES: [(&str, &str, u64); 4] = [
    ("semop", "pinned", 1_000_000),
    ("semop", "free", 1_000_000),
    ("msg", "pinned", 500_000),
    ("msg", "free", 500_000),
];

fn main() -> ExitCode {
    harness::main("trace bench", run)
}

fn run() -> Result<(), String> {
    let traced = harness::shim_library()?;
    let sides = vec![
        Side { name: "untraced", lib: Some(untraced_library()?), env: Vec::new() },
        Side { name: "trace-off", lib: Some(traced.clone()), env: Vec::new() },
        Side { name: "trace-on", lib: Some(traced), env: vec![("IPCSHIM_TRACE", "/dev/null".to_string())] },
    ];
    let bench = harness::Bench::with_sides("tracebench", SOURCE, sides)?;
    for (mode, placement, count) in CASES {
        bench.run(&harness::Case {
            name: format!("{mode} {}", if mode == "semop" { "P+V" } else { "8B" }),
            placement,
            args: vec![mode.to_string(), count.to_string(), placement.to_string()],
            measure: harness::Measure::Time,
            show: per_pair,
            target: None,
        })?;
    }
    Ok(())
}

fn per_pair(ns: f64) -> String {
    format!("{ns:.0} ns/pair")
}

/// Builds the library without the `trace` feature, with the cargo that
/// runs this bench (which holds no lock on a target directory of its own),
/// into `<target>/notrace`, and returns its path.
fn untraced_library() -> Result<PathBuf, String> {
    // <target>/release/deps/trace-<hash>
    let exe = env::current_exe().map_err(|e| format!("locating the bench executable: {e}"))?;
    let target = exe.ancestors().nth(3).ok_or("cannot locate the target directory")?;
    let target = target.join("notrace");
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    eprintln!("building the library without tracing into {}", target.display());
    let status = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--release", "--no-default-features", "-p", "ipcshim", "--lib"])
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target)
        .stdin(Stdio::null())
        .status()
        .map_err(|e| format!("running cargo: {e}"))?;
    if !status.success() {
        return Err(format!("cargo build --no-default-features failed ({status})"));
    }
    Ok(target.join("release").join("libipcshim.so"))
}
