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

use std::process::ExitCode;

mod harness;

const SOURCE: &str = include_str!("c/mqbench.c");

/// (mode, message size in bytes, placement, message count).  The counts aim
/// at 0.2–1 s per kernel run on a 2-core VM, where a round trip between two
/// CPUs costs about eight times one on a single CPU.
const CASES: [(&str, usize, &str, u64); 12] = [
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
    let cpus = harness::usable_cpus()?;
    for (mode, size, placement, count) in CASES {
        let name = format!("{mode} {size}B {placement}");
        if !bench.selected(&name) {
            continue;
        }
        if placement == "2cpu" && cpus < 2 {
            println!("{}", harness::skipped(&name, cpus));
            continue;
        }
        // pingpong: time per round trip; stream: messages per second.
        // Either way the ratio is shim/kernel of what was measured.
        let args = [mode.to_string(), size.to_string(), count.to_string(), placement.to_string()];
        let c = bench.compare(&args)?;
        let (what, better) = if mode == "pingpong" { ("time", "lower") } else { ("rate", "higher") };
        println!("{}", c.row(&name, |v| show(mode, v), what, better));
    }
    Ok(())
}

fn show(mode: &str, value: f64) -> String {
    if mode == "pingpong" {
        format!("{:.2} µs/rt", value / 1e3)
    } else {
        format!("{:.3} Mmsg/s", value / 1e6)
    }
}
