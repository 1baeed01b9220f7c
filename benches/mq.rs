//! POSIX message queues: kernel vs. ipcshim.
//!
//! Builds `benches/c/mqbench.c` and runs every case on the kernel and under
//! the shim, interleaved over rounds; see `harness/mod.rs` for the method
//! (env `BENCH_ROUNDS`, `IPCSHIM_LIB`, filters).
//!
//!     cargo build --release && cargo bench --bench mq [-- FILTER...]
//!
//! Each case runs in three placements: `2cpu` (sender and receiver pinned to
//! two different CPUs, the first two this process may use: CPU 0 and 1 on an
//! unrestricted machine), `1cpu` (both pinned to the first) and `free`
//! (left to the scheduler).  With a single CPU the `2cpu` cases are skipped.
//!
//! `cycle` (one process, `pinned` or `free`) times mq_open of a new queue,
//! a message through it, mq_close and mq_unlink.

use std::process::ExitCode;

mod harness;

const SOURCE: &str = include_str!("c/mqbench.c");

/// (mode, message size in bytes, placement, message count).  The counts aim
/// at 0.2–1 s per kernel run on a 2-core VM, where a round trip between two
/// CPUs costs about eight times one on a single CPU.
const CASES: [harness::QueueCase; 12] = [
    ("pingpong", 64, "2cpu", 10_000),
    ("pingpong", 64, "1cpu", 80_000),
    ("pingpong", 64, "free", 10_000),
    ("pingpong", 4096, "2cpu", 10_000),
    ("pingpong", 4096, "1cpu", 80_000),
    ("pingpong", 4096, "free", 10_000),
    ("stream", 64, "2cpu", 400_000),
    ("stream", 64, "1cpu", 400_000),
    ("stream", 64, "free", 400_000),
    ("stream", 4096, "2cpu", 300_000),
    ("stream", 4096, "1cpu", 300_000),
    ("stream", 4096, "free", 300_000),
];

fn main() -> ExitCode {
    harness::main("mq bench", run)
}

fn run() -> Result<(), String> {
    let bench = harness::Bench::new("mqbench", SOURCE)?;
    harness::queue_cases(&bench, &CASES)?;
    harness::cycle_cases(&bench, 5_000)
}
