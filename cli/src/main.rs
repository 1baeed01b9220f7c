//! `ipcshim`: runs programs under the shim, and shows and cleans up what
//! its namespaces hold.
//!
//! - `run`: the environment that puts a program and its children under
//!   the shim, and optionally a seccomp filter that takes the kernel's IPC
//!   away (`seccomp`).
//! - `ipcs`, `ipcrm`: util-linux's commands for a namespace, over the
//!   library's generic walk of its objects (`ipcs`, `ipcrm`, with `place`:
//!   which namespace, opened with a message for each way that can fail).
//! - `namespaces`: the namespaces of a directory.
//! - `top`: a live view of a namespace, from the same walk, with who waits
//!   on and holds each object.
//! - `completions`, `manpage`: shell completions and the man page.

mod cli;
mod ipcrm;
mod ipcs;
mod names;
mod namespaces;
mod place;
mod run;
mod seccomp;
mod top;

use clap::{CommandFactory, FromArgMatches};
use std::process::ExitCode;

/// Why a command failed: the message for stderr and the exit status.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub status: u8,
}

impl Failure {
    pub fn new(message: impl Into<String>) -> Failure {
        Failure { message: message.into(), status: 1 }
    }

    pub fn with_status(message: impl Into<String>, status: u8) -> Failure {
        Failure { message: message.into(), status }
    }
}

fn main() -> ExitCode {
    let matches = cli::Cli::command().get_matches();
    let parsed = match cli::Cli::from_arg_matches(&matches) {
        Ok(parsed) => parsed,
        Err(e) => e.exit(),
    };
    let sub = matches.subcommand().map(|(_, m)| m).expect("a subcommand is required");
    let outcome = match parsed.command {
        cli::Command::Run(args) => run::run(args).map(|never| match never {}),
        cli::Command::Ipcs(args) => ipcs::ipcs(&args, sub),
        cli::Command::Ipcrm(args) => ipcrm::ipcrm(&args, sub),
        cli::Command::Namespaces(args) => namespaces::namespaces(&args),
        cli::Command::Top(args) => top::top(&args),
        cli::Command::Completions { shell } => {
            clap_complete::generate(shell, &mut cli::Cli::command(), "ipcshim", &mut std::io::stdout());
            Ok(0)
        }
        cli::Command::Manpage { out_dir } => match out_dir {
            Some(dir) => clap_mangen::generate_to(cli::Cli::command(), &dir)
                .map(|()| 0)
                .map_err(|e| Failure::new(format!("cannot write the man pages into {}: {e}", dir.display()))),
            None => clap_mangen::Man::new(cli::Cli::command())
                .render(&mut std::io::stdout())
                .map(|()| 0)
                .map_err(|e| Failure::new(format!("cannot write the man page: {e}"))),
        },
    };
    match outcome {
        Ok(status) => ExitCode::from(status),
        Err(failure) => {
            eprintln!("ipcshim: {}", failure.message);
            ExitCode::from(failure.status)
        }
    }
}
