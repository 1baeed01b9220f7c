//! Every C program in `c-tests/` runs four ways: on the kernel, under the
//! shim through LD_PRELOAD, linked with the shim through pkg-config, and
//! under `ipcshim run --no-kernel-ipc` (the kernel's IPC system calls fail
//! with ENOSYS there, so a call that reached the kernel shows). Each prints
//! a transcript of what it observed; the four transcripts and exit statuses
//! must be identical. Each run gets a fresh working directory, and each
//! shim run a namespace directory of its own, which must hold nothing but
//! the region file afterwards.

mod common;

use common::{compile, run, Mode, TempDir};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

fn differential(name: &str) {
    let build = TempDir::new(name);
    let native = compile(name, build.path(), false);
    let linked = compile(name, build.path(), true);

    let kernel = run(&native, Mode::Kernel, LIMIT);
    assert!(
        kernel.status.success(),
        "{name} fails on the kernel itself ({}):\n{}{}",
        kernel.status,
        String::from_utf8_lossy(&kernel.stdout),
        String::from_utf8_lossy(&kernel.stderr)
    );
    let expected = String::from_utf8_lossy(&kernel.stdout).into_owned();
    assert!(!expected.is_empty(), "{name} printed nothing on the kernel");

    let shim_runs = [
        ("LD_PRELOAD", &native, Shim::Preload),
        ("linked", &linked, Shim::Linked),
        ("ipcshim run --no-kernel-ipc", &native, Shim::Command),
    ];
    for (how, exe, shim) in shim_runs {
        let ns = TempDir::new("ns");
        // Like /dev/shm: programs that change uid create queues there too.
        let sticky = std::os::unix::fs::PermissionsExt::from_mode(0o1777);
        std::fs::set_permissions(ns.path(), sticky).expect("chmod ns dir");
        let mode = match shim {
            Shim::Preload => Mode::Preload(ns.path()),
            Shim::Linked => Mode::Linked(ns.path()),
            Shim::Command => Mode::Command(ns.path()),
        };
        let shim = run(exe, mode, LIMIT);
        let got = String::from_utf8_lossy(&shim.stdout);
        if got != expected || shim.status.code() != kernel.status.code() {
            panic!(
                "{name} under the shim ({how}) differs from the kernel.\n--- kernel ({})\n{expected}--- shim ({})\n{got}--- shim stderr\n{}\n--- diff\n{}",
                kernel.status,
                shim.status,
                String::from_utf8_lossy(&shim.stderr),
                first_difference(&expected, &got)
            );
        }
        let left: Vec<_> =
            std::fs::read_dir(ns.path()).expect("ns dir").filter_map(|e| e.ok()).map(|e| e.file_name()).collect();
        assert!(
            left.iter().all(|f| f.to_string_lossy().ends_with(".region")),
            "{name} ({how}) left files behind in its namespace: {left:?}"
        );
    }
}

/// How a shim run gets the library.
enum Shim {
    Preload,
    Linked,
    Command,
}

fn first_difference(a: &str, b: &str) -> String {
    for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        if x != y {
            return format!("line {}: kernel {x:?}\n{:>width$}   shim {y:?}", i + 1, "", width = 0);
        }
    }
    format!("kernel has {} lines, shim {}", a.lines().count(), b.lines().count())
}

macro_rules! c_test {
    ($name:ident) => {
        #[test]
        fn $name() {
            differential(stringify!($name));
        }
    };
}

include!(concat!(env!("OUT_DIR"), "/c_tests.rs"));
