//! The command line.

use clap::{Args, Parser, Subcommand};
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "ipcshim",
    version,
    about = "System V IPC and POSIX message queues in user space: run programs under the shim, inspect and clean up its namespaces"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run a program, and everything it starts, under the shim
    Run(RunArgs),
    /// Show a namespace's IPC objects, as util-linux's ipcs shows the kernel's
    Ipcs(IpcsArgs),
    /// Remove IPC objects from a namespace, as util-linux's ipcrm does on the kernel
    Ipcrm(IpcrmArgs),
    /// List the namespaces of a directory, or remove one
    Namespaces(NamespacesArgs),
    /// A live view of a namespace: queues, semaphore sets, segments, and the processes waiting on them or holding them
    Top(TopArgs),
    /// Print a completion script for SHELL
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), or write a page per subcommand into a directory
    Manpage {
        /// Write ipcshim.1 and ipcshim-SUBCOMMAND.1 here
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
    },
}

/// Which namespace: the library's own defaults and variables.
#[derive(Args, Clone)]
pub struct Place {
    /// Namespace name [default: $IPCSHIM_NAMESPACE, or "default"]
    #[arg(long, value_name = "NAME")]
    pub namespace: Option<String>,
    /// Directory of the namespace's region file [default: $IPCSHIM_DIR, or /dev/shm]
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub place: Place,
    /// Make the kernel's System V and POSIX queue system calls fail with ENOSYS (seccomp)
    #[arg(long)]
    pub no_kernel_ipc: bool,
    /// Log every IPC call, a line each with pid, arguments and result, to
    /// FILE (appended to), or to standard error
    #[arg(long, value_name = "FILE", num_args = 0..=1, require_equals = true, default_missing_value = "/dev/stderr")]
    pub trace: Option<OsString>,
    /// The program and its arguments
    #[arg(required = true, trailing_var_arg = true, value_name = "PROG")]
    pub program: Vec<OsString>,
}

#[derive(Args)]
#[command(
    about = "Show a namespace's IPC objects, as util-linux's ipcs shows the kernel's (System V message queues, shared memory, semaphores, then POSIX message queues)"
)]
pub struct IpcsArgs {
    #[command(flatten)]
    pub place: Place,
    /// Print details on the resource identified by ID (with one resource option)
    #[arg(short, long, value_name = "ID", allow_negative_numbers = true)]
    pub id: Option<String>,
    /// Message queues
    #[arg(short, long)]
    pub queues: bool,
    /// Shared memory segments
    #[arg(short = 'm', long)]
    pub shmems: bool,
    /// Semaphores
    #[arg(short, long)]
    pub semaphores: bool,
    /// POSIX message queues
    #[arg(long)]
    pub mq: bool,
    /// All (default)
    #[arg(short, long)]
    pub all: bool,
    /// Show attach, detach and change times
    #[arg(short, long)]
    pub time: bool,
    /// Show creator and last operations PIDs
    #[arg(short, long)]
    pub pid: bool,
    /// Show creator and owner
    #[arg(short, long)]
    pub creator: bool,
    /// Show resource limits
    #[arg(short, long)]
    pub limits: bool,
    /// Show status summary
    #[arg(short = 'u', long)]
    pub summary: bool,
    /// Show sizes in human-readable format
    #[arg(long)]
    pub human: bool,
    /// Show sizes in bytes
    #[arg(short, long)]
    pub bytes: bool,
}

#[derive(Args)]
#[command(
    about = "Remove IPC objects from a namespace, as util-linux's ipcrm does on the kernel; POSIX queues by name with --mq"
)]
pub struct IpcrmArgs {
    #[command(flatten)]
    pub place: Place,
    /// Remove shared memory segment by id
    #[arg(short = 'm', long, value_name = "ID", allow_negative_numbers = true)]
    pub shmem_id: Vec<String>,
    /// Remove shared memory segment by key
    #[arg(short = 'M', long, value_name = "KEY", allow_negative_numbers = true)]
    pub shmem_key: Vec<String>,
    /// Remove message queue by id
    #[arg(short = 'q', long, value_name = "ID", allow_negative_numbers = true)]
    pub queue_id: Vec<String>,
    /// Remove message queue by key
    #[arg(short = 'Q', long, value_name = "KEY", allow_negative_numbers = true)]
    pub queue_key: Vec<String>,
    /// Remove semaphore by id
    #[arg(short = 's', long, value_name = "ID", allow_negative_numbers = true)]
    pub semaphore_id: Vec<String>,
    /// Remove semaphore by key
    #[arg(short = 'S', long, value_name = "KEY", allow_negative_numbers = true)]
    pub semaphore_key: Vec<String>,
    /// Remove (unlink) POSIX message queue by name ("/name" or "name")
    #[arg(long, value_name = "NAME")]
    pub mq: Vec<String>,
    /// Remove all (in the specified category: shm, msg, sem or mq)
    #[arg(short, long, value_name = "KIND", num_args = 0..=1, require_equals = true, default_missing_value = "all")]
    pub all: Option<String>,
    /// Explain what is being done
    #[arg(short, long)]
    pub verbose: bool,
}

#[derive(Args)]
pub struct NamespacesArgs {
    /// Directory of the region files [default: $IPCSHIM_DIR, or /dev/shm]
    #[arg(long, value_name = "DIR", global = true)]
    pub dir: Option<PathBuf>,
    #[command(subcommand)]
    pub action: Option<NamespacesAction>,
}

#[derive(Subcommand)]
pub enum NamespacesAction {
    /// Remove a namespace (its region file and POSIX queue anchors)
    Rm {
        /// The namespace's name
        name: String,
        /// Remove it even while processes use it
        #[arg(long)]
        force: bool,
    },
}

#[derive(Args)]
#[command(
    about = "A live view of a namespace, refreshed every few seconds: message queues (messages, rates, waiting senders and receivers), semaphore sets (values, waiters), shared memory segments (attached processes), POSIX queues, and the processes waiting on them or holding them",
    after_help = "On a terminal the screen is redrawn at each frame; in batch mode, or when standard output is not a terminal, frames are printed one after another. Ctrl-C ends it."
)]
pub struct TopArgs {
    #[command(flatten)]
    pub place: Place,
    /// Seconds between frames (fractions allowed)
    #[arg(short, long, value_name = "SECS", default_value = "1", value_parser = parse_delay)]
    pub delay: Duration,
    /// Stop after N frames
    #[arg(short = 'n', long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub iterations: Option<u64>,
    /// Print frames one after another instead of redrawing the screen
    #[arg(short, long)]
    pub batch: bool,
}

/// A delay in seconds, fractions allowed ("0.5"), not negative.
fn parse_delay(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text.parse().map_err(|_| format!("not a number of seconds: '{text}'"))?;
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("not a delay: '{text}' (0 or more seconds)"))
}
