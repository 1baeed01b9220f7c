//! ipcshim: System V IPC and POSIX message queues for unmodified C programs, implemented in user space
//! over a memory-mapped shared region.
//!
//! Module map, from the top down (each imports only the ones below it):
//! - [`ffi`]: the exported C functions; C types in, `-1` + `errno` out; the
//!   namespace of the process, and its load, fork and exit.
//! - [`msg`], [`sem`], [`shm`]: one System V family each; [`mq`]: POSIX
//!   message queues. A family registers
//!   its tables and its per-process hooks with the namespace, and never
//!   imports another family.
//! - [`ipc`]: what the System V families share: ids, `ipc_perm`, the registry.
//! - [`messages`]: a crash-consistent list of messages in chunks, the
//!   storage of both kinds of message queue.
//! - [`wait`]: the one way a call waits (records, queues, hand-off).
//! - [`process`]: the process table, the reaper, and the fork/exec/exit
//!   dispatcher that families plug into; `process::inspect`, the rows in
//!   which families describe their objects to tools (the `ipcshim` command).
//! - [`region`]: the shared region: file, directory of tables, bounds-checked
//!   offsets, chunk allocation, recoverable locks. It names no family.
//! - [`user`]: memory owned by the C caller.
//! - [`platform`]: the operating system, through raw system calls only.
//! - [`crash_point`]: deliberate failures for recovery tests (`IPCSHIM_CRASH_AT`).
//! - [`error`]: the one error type, an errno value; [`log`]: `IPCSHIM_LOG` diagnostics.

#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

pub mod crash_point;
pub mod error;
pub mod ffi;
pub mod ipc;
pub mod log;
pub mod messages;
pub mod mq;
pub mod msg;
pub mod platform;
pub mod process;
pub mod region;
pub mod sem;
pub mod shm;
pub mod user;
pub mod wait;
