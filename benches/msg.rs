//! System V message queues: kernel vs. ipcshim.
//!
//! Builds `benches/c/msgbench.c` and runs every case on the kernel and under
//! the shim, interleaved over rounds; see `harness/mod.rs` for the method
//! (env `BENCH_ROUNDS`, `IPCSHIM_LIB`, filters).
//!
//!     cargo build --release && cargo bench --bench msg [-- FILTER...]
//!
//! Each two-process case runs in three placements: `2cpu` (sender and
//! receiver pinned to two different CPUs, the first two this process may
//! use: CPU 0 and 1 on an unrestricted machine), `1cpu` (both pinned to the
//! first) and `free` (left to the scheduler).  With a single CPU the `2cpu`
//! cases are skipped.
//!
//! `stream-after-mix` streams on a queue that first carried 100 000 messages
//! of mixed sizes: storage cut up by earlier traffic must not slow a queue
//! down for good.
//!
//! The one-process cases (`pinned` to the first CPU, or `free`) time a send
//! and a receive by type of a message queued behind 10 000 of other types:
//! msgtyp > 0 (`bytype`), MSG_EXCEPT (`except`), msgtyp < 0 (`lowest`).
//! The kernel walks past the 10 000; the shim's index of types should not.
//! `cycle` (one process too) times msgget of a new queue, a message through
//! it, and IPC_RMID.

use std::process::ExitCode;

mod harness;

const SOURCE: &str = include_str!("c/msgbench.c");

/// (mode, message size in bytes, placement, message count).  The counts aim
/// at 0.2–1 s per kernel run on a 2-core VM, where a round trip between two
/// CPUs costs about eight times one on a single CPU.
const CASES: [harness::QueueCase; 15] = [
    ("pingpong", 64, "2cpu", 15_000),
    ("pingpong", 64, "1cpu", 80_000),
    ("pingpong", 64, "free", 15_000),
    ("pingpong", 4096, "2cpu", 15_000),
    ("pingpong", 4096, "1cpu", 80_000),
    ("pingpong", 4096, "free", 15_000),
    ("stream", 64, "2cpu", 300_000),
    ("stream", 64, "1cpu", 300_000),
    ("stream", 64, "free", 300_000),
    ("stream", 4096, "2cpu", 50_000),
    ("stream", 4096, "1cpu", 50_000),
    ("stream", 4096, "free", 50_000),
    ("stream-after-mix", 4096, "2cpu", 50_000),
    ("stream-after-mix", 4096, "1cpu", 50_000),
    ("stream-after-mix", 4096, "free", 50_000),
];

/// The one-process cases: (mode, message size, placement, count).  The
/// kernel takes about 60 µs a pair.
const SELECTIVE: [harness::QueueCase; 6] = [
    ("bytype", 8, "pinned", 6_000),
    ("bytype", 8, "free", 6_000),
    ("except", 8, "pinned", 6_000),
    ("except", 8, "free", 6_000),
    ("lowest", 8, "pinned", 6_000),
    ("lowest", 8, "free", 6_000),
];

/// The project target for the one-process cases' median shim/kernel time
/// ratio: a receive by type costs the same whatever else is queued.
const SELECTIVE_TARGET: f64 = 0.01;

fn main() -> ExitCode {
    harness::main("msg bench", run)
}

fn run() -> Result<(), String> {
    let bench = harness::Bench::new("msgbench", SOURCE)?;
    harness::queue_cases(&bench, &CASES)?;
    for (mode, size, placement, count) in SELECTIVE {
        bench.run(&harness::Case {
            name: format!("{mode} {size}B"),
            placement,
            args: vec![mode.to_string(), size.to_string(), count.to_string(), placement.to_string()],
            measure: harness::Measure::Time,
            show: per_pair,
            target: Some(SELECTIVE_TARGET),
        })?;
    }
    harness::cycle_cases(&bench, 20_000)
}

fn per_pair(ns: f64) -> String {
    format!("{ns:.0} ns/pair")
}
