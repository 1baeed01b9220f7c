//! One-line diagnostics on stderr, only when `IPCSHIM_LOG` is set: a C
//! program's output must not change because it runs under the shim.

use once_cell::sync::Lazy;

static ENABLED: Lazy<bool> = Lazy::new(|| std::env::var_os("IPCSHIM_LOG").is_some_and(|v| !v.is_empty()));

pub fn enabled() -> bool {
    *ENABLED
}

/// Logs `message` (built lazily) when logging is on.
pub fn diag(message: impl FnOnce() -> String) {
    if enabled() {
        crate::platform::log_line(&message());
    }
}
