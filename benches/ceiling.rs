//! The ceiling: how fast any user-space queue could stream messages on
//! this machine, against the kernel's queue of the same kind and capacity.
//!
//! Builds `benches/c/ceilingbench.c` and runs each stream case on three
//! sides, interleaved over rounds (see `harness/mod.rs` for the method:
//! env `BENCH_ROUNDS`, filters):
//!
//! - `kernel`, the baseline: the kernel's System V queue (`msg`) or POSIX
//!   queue (`mq`), as the msg and mq benches' stream cases;
//! - `ring`: a bare single-producer, single-consumer ring in shared memory
//!   that holds as much as the kernel's queue, a copy in and a copy out per
//!   message and nothing else: the best any implementation of these calls
//!   in user space could do;
//! - `ring-fd`: the same with one `lseek` per call, the check that a POSIX
//!   queue descriptor is still open (see `src/mq/descriptor.rs`): the best
//!   a user-space `mq_send`/`mq_receive` with real descriptors could do.
//!
//!     cargo bench --bench ceiling [-- FILTER...]
//!
//! Next to the msg and mq benches' stream rows, it says how much of what
//! is possible the shim reaches, and whether a target is out of reach of
//! any implementation. Measured idle only: under `BENCH_LOAD` a ring that
//! polls says nothing about a bound.

use std::process::ExitCode;

mod harness;

use harness::Side;

const SOURCE: &str = include_str!("c/ceilingbench.c");

/// (queue kind, message size, messages): the stream cases of the msg and
/// mq benches, each run in every placement they use.
const CASES: [(&str, usize, u64); 4] =
    [("msg", 64, 300_000), ("msg", 4096, 50_000), ("mq", 64, 300_000), ("mq", 4096, 50_000)];
const PLACEMENTS: [&str; 3] = ["2cpu", "1cpu", "free"];

fn main() -> ExitCode {
    harness::main("ceiling bench", run)
}

fn run() -> Result<(), String> {
    if std::env::var("BENCH_LOAD").is_ok_and(|v| v != "0") {
        println!("ceiling bench: measured idle only; nothing to do under BENCH_LOAD");
        return Ok(());
    }
    let side = |name: &'static str| Side { name, lib: None, env: vec![("CEILING_SIDE", name.to_string())] };
    let bench =
        harness::Bench::with_sides("ceilingbench", SOURCE, vec![side("kernel"), side("ring"), side("ring-fd")])?;
    let cases =
        CASES.iter().flat_map(|&(kind, size, count)| PLACEMENTS.map(|placement| (kind, size, placement, count)));
    for (kind, size, placement, count) in cases {
        bench.run(&harness::Case {
            name: format!("{kind} stream {size}B"),
            placement,
            args: vec![kind.to_string(), size.to_string(), count.to_string(), placement.to_string()],
            measure: harness::Measure::Rate,
            show: harness::show_message_rate,
            target: None,
        })?;
    }
    Ok(())
}
