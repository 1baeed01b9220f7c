//! One-line diagnostics on stderr, only when `IPCSHIM_LOG` is set: a C
//! program's output must not change because it runs under the shim.

use crate::platform::Once;

static ENABLED: Once<bool> = Once::new();

pub fn enabled() -> bool {
    *ENABLED.get_or_init(|| std::env::var_os("IPCSHIM_LOG").is_some_and(|v| !v.is_empty()))
}

/// Decides now, from `IPCSHIM_LOG`'s value (at load, from the environment
/// the program started with), unless it is decided already.
pub fn enable_from(value: Option<&[u8]>) {
    ENABLED.get_or_init(|| value.is_some_and(|v| !v.is_empty()));
}

/// Logs `message` (built lazily) when logging is on.
pub fn diag(message: impl FnOnce() -> String) {
    if enabled() {
        crate::platform::log_line(&message());
    }
}
