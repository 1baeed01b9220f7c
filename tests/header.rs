//! The generated C header: committed, in sync with the Rust sources, and
//! usable beside the system IPC headers.

mod common;

use common::{compile, TempDir};
use std::process::Command;
use std::time::Duration;

/// build.rs regenerates include/ipcshim.h on every build; the committed
/// copy must be what it generates.
#[test]
fn committed_header_matches_the_sources() {
    let generated = std::fs::read_to_string(concat!(env!("OUT_DIR"), "/ipcshim.h")).expect("generated header");
    let in_tree = std::fs::read_to_string(common::repo().join("include/ipcshim.h")).expect("include/ipcshim.h");
    assert_eq!(generated, in_tree, "include/ipcshim.h differs from what cbindgen generates");
    let committed = Command::new("git")
        .args(["show", "HEAD:include/ipcshim.h"])
        .current_dir(common::repo())
        .output()
        .expect("git is needed to compare with the committed header");
    assert!(committed.status.success(), "include/ipcshim.h is not committed");
    assert_eq!(
        String::from_utf8_lossy(&committed.stdout),
        generated,
        "include/ipcshim.h changed with the sources but the new version is not committed"
    );
}

#[test]
fn header_lives_beside_the_system_ipc_headers() {
    let build = TempDir::new("own-api");
    let exe = compile("shim/own_api", build.path(), true);
    let ns = TempDir::new("ns");
    let mut cmd = Command::new(&exe);
    cmd.arg(env!("CARGO_PKG_VERSION")).env("IPCSHIM_DIR", ns.path()).env_remove("LD_LIBRARY_PATH");
    let out = common::run_with_limit(cmd, Duration::from_secs(30));
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}
