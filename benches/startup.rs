//! Starting a process that makes no IPC call: kernel vs. ipcshim.
//!
//! Builds `benches/c/startbench.c`, which forks and execs `/bin/true` over
//! and over (waiting for each), and runs it on the kernel and under the
//! shim, interleaved over rounds; see `harness/mod.rs` for the method (env
//! `BENCH_ROUNDS`, `IPCSHIM_LIB`, filters).
//!
//!     cargo build --release && cargo bench --bench startup [-- FILTER...]
//!
//! Under the shim every one of those processes loads the library; what the
//! ratio shows is what loading it costs a program that never calls it.
//! `existing`: a namespace exists already (made by a helper before the
//! timing), as on a machine where it is in use; `fresh`: none does.

use std::process::ExitCode;

mod harness;

const SOURCE: &str = include_str!("c/startbench.c");

/// (mode, execs per run, project target for the median shim/kernel ratio).
const CASES: [(&str, u64, f64); 2] = [("existing", 200, 1.05), ("fresh", 200, 1.05)];

fn main() -> ExitCode {
    harness::main("startup bench", run)
}

fn run() -> Result<(), String> {
    let bench = harness::Bench::new("startbench", SOURCE)?;
    for (mode, count, target) in CASES {
        bench.run(&harness::Case {
            name: format!("/bin/true {mode}"),
            placement: "free",
            args: vec![mode.to_string(), count.to_string()],
            measure: harness::Measure::Time,
            show: per_exec,
            target: Some(target),
        })?;
    }
    Ok(())
}

fn per_exec(ns: f64) -> String {
    format!("{:.0} µs/exec", ns / 1e3)
}
