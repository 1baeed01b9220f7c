//! System V semaphores (and a shared memory segment's life cycle): kernel
//! vs. ipcshim.
//!
//! Builds `benches/c/sembench.c` and runs every case on the kernel and under
//! the shim, interleaved over rounds; see `harness/mod.rs` for the method
//! (env `BENCH_ROUNDS`, `IPCSHIM_LIB`, filters).
//!
//!     cargo build --release && cargo bench --bench sem [-- FILTER...]
//!
//! The ping-pong runs in three placements: `2cpu` (the two processes pinned
//! to two different CPUs, the first two this process may use: CPU 0 and 1 on
//! an unrestricted machine), `1cpu` (both pinned to the first) and `free`
//! (left to the scheduler); with a single CPU `2cpu` is skipped.  The
//! one-process cases run `pinned` (to the first CPU) and `free`.

use std::process::ExitCode;

mod harness;

const SOURCE: &str = include_str!("c/sembench.c");

/// (mode, placement, count, how to show the printed ns per operation,
/// project target for the median shim/kernel ratio).  The counts aim at
/// 0.2–1 s per kernel run on a 2-core VM, where a round trip between two
/// CPUs costs about eight times one on a single CPU.
type Case = (&'static str, &'static str, u64, fn(f64) -> String, Option<f64>);
const CASES: [Case; 9] = [
    ("uncontended", "pinned", 500_000, pair, Some(0.2)),
    ("uncontended", "free", 500_000, pair, Some(0.2)),
    ("undo", "pinned", 400_000, pair, None),
    ("undo", "free", 400_000, pair, None),
    ("pingpong", "2cpu", 20_000, round_trip, None),
    ("pingpong", "1cpu", 100_000, round_trip, None),
    ("pingpong", "free", 20_000, round_trip, None),
    ("shm", "pinned", 20_000, cycle, None),
    ("shm", "free", 20_000, cycle, None),
];

fn pair(ns: f64) -> String {
    format!("{ns:.0} ns/pair")
}

fn round_trip(ns: f64) -> String {
    format!("{:.2} µs/rt", ns / 1e3)
}

fn cycle(ns: f64) -> String {
    format!("{:.2} µs/cycle", ns / 1e3)
}

fn main() -> ExitCode {
    harness::main("sem bench", run)
}

fn run() -> Result<(), String> {
    let bench = harness::Bench::new("sembench", SOURCE)?;
    let cpus = harness::usable_cpus()?;
    for (mode, placement, count, show, target) in CASES {
        let name = format!("{mode} {placement}");
        if !bench.selected(&name) {
            continue;
        }
        if placement == "2cpu" && cpus < 2 {
            println!("{}", harness::skipped(&name, cpus));
            continue;
        }
        let c = bench.compare(&[mode.to_string(), count.to_string(), placement.to_string()])?;
        println!("{}", harness::with_target(c.row(&name, show, "time", "lower"), &c, target));
    }
    Ok(())
}
