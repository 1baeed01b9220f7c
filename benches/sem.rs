//! System V semaphores (and a shared memory segment's life cycle): kernel
//! vs. ipcshim.
//!
//! Builds `benches/c/sembench.c` and runs every case on the kernel and under
//! the shim, interleaved over rounds; see `harness/mod.rs` for the method
//! (env `BENCH_ROUNDS`, `IPCSHIM_LIB`, filters).
//!
//!     cargo build --release && cargo bench --bench sem [-- FILTER...]

use std::process::ExitCode;

mod harness;

const SOURCE: &str = include_str!("c/sembench.c");

/// (mode, count, how to show the printed ns per operation, project target
/// for the median shim/kernel ratio).  The counts aim at 0.2–1 s per kernel
/// run on a 2-core VM.
type Case = (&'static str, u64, fn(f64) -> String, Option<f64>);
const CASES: [Case; 4] = [
    ("uncontended", 500_000, |ns| format!("{ns:.0} ns/pair"), Some(0.2)),
    ("undo", 400_000, |ns| format!("{ns:.0} ns/pair"), None),
    ("pingpong", 60_000, |ns| format!("{:.2} µs/rt", ns / 1e3), None),
    ("shm", 20_000, |ns| format!("{:.2} µs/cycle", ns / 1e3), None),
];

fn main() -> ExitCode {
    harness::main("sem bench", run)
}

fn run() -> Result<(), String> {
    let bench = harness::Bench::new("sembench", SOURCE)?;
    for (mode, count, show, target) in CASES {
        if !bench.selected(mode) {
            continue;
        }
        let c = bench.compare(&[mode.to_string(), count.to_string()])?;
        let mut line = c.row(mode, show, "time", "lower");
        if let Some(t) = target {
            let met = harness::median(&c.ratio) <= t;
            line += &format!(" [target ≤ {t:.2}: {}]", if met { "met" } else { "MISSED" });
        }
        println!("{line}");
    }
    Ok(())
}
