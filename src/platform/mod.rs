//! The operating system underneath: futexes, clocks, thread and process
//! identity, credentials, file space. Everything else in the crate reaches the
//! OS through here, so a port (macOS, Android) is one more file chosen by cfg.

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub use linux::*;

#[cfg(not(target_os = "linux"))]
compile_error!("ipcshim has a Linux platform layer only so far");
