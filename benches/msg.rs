//! System V message queues: kernel vs. ipcshim.
//!
//! Builds `benches/c/msgbench.c` and runs every case on the kernel and under
//! the shim, interleaved over rounds; see `harness/mod.rs` for the method
//! (env `BENCH_ROUNDS`, `IPCSHIM_LIB`, filters).
//!
//!     cargo build --release && cargo bench --bench msg [-- FILTER...]

use std::process::ExitCode;

mod harness;

const SOURCE: &str = include_str!("c/msgbench.c");

/// (mode, message size in bytes, message count).  The counts aim at
/// 0.2–1 s per kernel run on a 2-core VM.
const CASES: [(&str, usize, u64); 4] =
    [("pingpong", 64, 15_000), ("pingpong", 4096, 15_000), ("stream", 64, 300_000), ("stream", 4096, 50_000)];

fn main() -> ExitCode {
    harness::main("msg bench", run)
}

fn run() -> Result<(), String> {
    let bench = harness::Bench::new("msgbench", SOURCE)?;
    for (mode, size, count) in CASES {
        let name = format!("{mode} {size}B");
        if !bench.selected(&name) {
            continue;
        }
        // pingpong: time per round trip; stream: messages per second.
        // Either way the ratio is shim/kernel of what was measured.
        let c = bench.compare(&[mode.to_string(), size.to_string(), count.to_string()])?;
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
