//! The operating system underneath: futexes, clocks, process and thread
//! identity, credentials, files and mappings. Everything else in the crate
//! reaches the OS through here, and only with raw system calls (see
//! `linux::sys`), so a port (macOS, Android) is one more directory chosen by
//! cfg, and no preload library can come between the shim and the kernel.

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub use linux::*;

mod local;
mod once;
pub mod spin;
pub use local::{LocalGuard, LocalMutex};
pub use once::Once;

#[cfg(not(target_os = "linux"))]
compile_error!("ipcshim has a Linux platform layer only so far");
