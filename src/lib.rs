//! ipcshim: System V IPC for unmodified C programs, implemented in user space
//! over a memory-mapped shared region.
//!
//! Module map:
//! - [`ffi`]: the exported C functions; C types in, `-1` + `errno` out.
//! - [`msg`]: System V message queues.
//! - [`sem`]: System V semaphores.
//! - [`shm`]: System V shared memory.
//! - [`ipc`]: what the System V families share: ids, `ipc_perm`, permission checks.
//! - [`region`]: the shared region: layout, bounds-checked offsets, chunk
//!   allocation, recoverable locks.
//! - [`user`]: memory owned by the C caller.
//! - [`platform`]: the operating system underneath (futex, mmap, clocks, pids, credentials).
//! - [`crash_point`]: deliberate crashes for recovery tests (`IPCSHIM_CRASH_AT`).
//! - [`error`]: the one error type, an errno value; [`log`]: `IPCSHIM_LOG` diagnostics.

pub mod crash_point;
pub mod error;
pub mod ffi;
pub mod ipc;
pub mod log;
pub mod msg;
pub mod platform;
pub mod region;
pub mod sem;
pub mod shm;
pub mod user;
