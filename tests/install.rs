//! `make install` and `make uninstall` (the top-level Makefile): the
//! library, its soname links, the header and ipcshim.pc in cargo-c's
//! layout; a C program built with `pkg-config` against the installed copy
//! runs with no library path set; uninstall leaves no file behind.
//!
//! The library installed is the one cargo built for this test run
//! (`LIBRARY=`), so the tests never start a release build of their own.

mod common;

use common::{repo, run_with_limit, shim_library, TempDir};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(120);
const VERSION: &str = env!("CARGO_PKG_VERSION");

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `make -C <repo> <target> VAR=value...`; it must succeed.
fn make(target: &str, vars: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new("make");
    cmd.arg("-s").arg("-C").arg(repo()).arg(target);
    for (name, value) in vars {
        cmd.arg(format!("{name}={}", value.display()));
    }
    for var in ["DESTDIR", "PREFIX", "LIBDIR", "INCLUDEDIR", "BINDIR", "PKGCONFIGDIR", "RPATH", "MAKEFLAGS"] {
        cmd.env_remove(var);
    }
    let out = run_with_limit(cmd, LIMIT);
    assert!(out.status.success(), "make {target}: {}\n{}{}", out.status, text(&out.stdout), text(&out.stderr));
    out
}

/// Every file and link under `root` (directories left out).
fn files_under(root: &Path) -> Vec<PathBuf> {
    let mut found = vec![];
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read_dir").filter_map(|e| e.ok()) {
            let path = entry.path();
            if entry.file_type().expect("file type").is_dir() {
                dirs.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// The cargo-c layout under `libdir` and `includedir`.
fn assert_installed_layout(libdir: &Path, includedir: &Path) {
    let real = format!("libipcshim.so.{VERSION}");
    let meta = std::fs::symlink_metadata(libdir.join(&real)).expect("the library");
    assert!(meta.file_type().is_file(), "{real} is a regular file");
    assert_eq!(meta.permissions().mode() & 0o777, 0o755);
    assert_eq!(std::fs::read(libdir.join(&real)).expect("read"), std::fs::read(shim_library()).expect("read"));
    for link in ["libipcshim.so.0", "libipcshim.so"] {
        let target = std::fs::read_link(libdir.join(link)).unwrap_or_else(|e| panic!("{link}: {e}"));
        assert_eq!(target, Path::new(&real), "{link} points to {real}");
    }
    let header = includedir.join("ipcshim/ipcshim.h");
    assert_eq!(
        std::fs::read(&header).expect("installed header"),
        std::fs::read(repo().join("include/ipcshim.h")).expect("header"),
        "{} is include/ipcshim.h",
        header.display()
    );
}

/// `pkg-config --cflags --libs ipcshim` from the .pc files in `dir`.
fn pkg_config(dir: &Path) -> Vec<String> {
    let out = Command::new("pkg-config")
        .args(["--cflags", "--libs", "ipcshim"])
        .env("PKG_CONFIG_PATH", dir)
        .env_remove("PKG_CONFIG_SYSROOT_DIR")
        .output()
        .expect("pkg-config");
    assert!(out.status.success(), "pkg-config: {}", text(&out.stderr));
    text(&out.stdout).split_whitespace().map(str::to_owned).collect()
}

#[test]
fn installed_into_a_prefix_a_course_program_builds_with_pkg_config_and_runs_then_uninstall_removes_everything() {
    let prefix = TempDir::new("prefix");
    let no_program = prefix.path().join("no-such-program");
    make("install", &[("PREFIX", prefix.path()), ("LIBRARY", &shim_library()), ("PROGRAM", &no_program)]);
    let libdir = prefix.path().join("lib");
    assert_installed_layout(&libdir, &prefix.path().join("include"));
    assert!(!prefix.path().join("bin/ipcshim").exists(), "no program was built, none is installed");

    // A program that includes the installed header too.
    let build = TempDir::new("build");
    let source = build.path().join("version.c");
    std::fs::write(
        &source,
        "#include <ipcshim.h>\n#include <stdio.h>\nint main(void) { puts(ipcshim_version()); return 0; }\n",
    )
    .expect("write version.c");
    let flags = pkg_config(&libdir.join("pkgconfig"));
    let runpath = format!("-Wl,-rpath,{}", libdir.display());
    assert!(flags.contains(&runpath), "the installed .pc gives programs the library's directory: {flags:?}");
    for (name, src) in
        [("version", source.clone()), ("course_buffer_server", repo().join("c-tests/course_buffer_server.c"))]
    {
        let exe = build.path().join(name);
        let cc = Command::new("cc").arg("-std=gnu11").arg("-o").arg(&exe).arg(&src).args(&flags).output().expect("cc");
        assert!(cc.status.success(), "cc {name}: {}", text(&cc.stderr));
    }

    let run = |exe: &Path, ns: &Path| {
        let mut cmd = Command::new(exe);
        for var in ["LD_PRELOAD", "LD_LIBRARY_PATH", "IPCSHIM_NAMESPACE", "IPCSHIM_LOG"] {
            cmd.env_remove(var);
        }
        cmd.env("IPCSHIM_DIR", ns).current_dir(ns);
        run_with_limit(cmd, LIMIT)
    };
    let ns = TempDir::new("ns");
    let version = run(&build.path().join("version"), ns.path());
    assert!(version.status.success(), "version: {}\n{}", version.status, text(&version.stderr));
    assert_eq!(text(&version.stdout).trim(), VERSION, "the installed library's ipcshim_version()");

    let ldd = Command::new("ldd")
        .arg(build.path().join("course_buffer_server"))
        .env_remove("LD_LIBRARY_PATH")
        .env_remove("LD_PRELOAD")
        .output()
        .expect("ldd");
    let installed = libdir.join("libipcshim.so.0");
    assert!(
        text(&ldd.stdout).contains(&format!("libipcshim.so.0 => {}", installed.display())),
        "the program loads the installed library:\n{}",
        text(&ldd.stdout)
    );
    let ns = TempDir::new("ns");
    let out = run(&build.path().join("course_buffer_server"), ns.path());
    assert!(out.status.success(), "course_buffer_server: {}\n{}{}", out.status, text(&out.stdout), text(&out.stderr));
    assert!(
        text(&out.stdout).contains("the consumer got every item exactly once and in order: yes"),
        "{}",
        text(&out.stdout)
    );
    let regions: Vec<_> = std::fs::read_dir(ns.path())
        .expect("ns")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".region"))
        .collect();
    assert_eq!(regions.len(), 1, "the program's message queue lived in the shim's namespace");

    make("uninstall", &[("PREFIX", prefix.path())]);
    assert_eq!(files_under(prefix.path()), Vec::<PathBuf>::new(), "uninstall left files behind");
    assert!(!prefix.path().join("include/ipcshim").exists(), "uninstall removes include/ipcshim/");
}

#[test]
fn a_destdir_install_under_the_default_prefix_names_the_final_paths_and_uninstall_removes_everything() {
    let destdir = TempDir::new("destdir");
    // Any file stands for the `ipcshim` program here: the Makefile copies it.
    let program = destdir.path().join("program");
    std::fs::write(&program, "#!/bin/sh\n").expect("program");
    let staged = destdir.path().join("usr/local");
    make("install", &[("DESTDIR", destdir.path()), ("LIBRARY", &shim_library()), ("PROGRAM", &program)]);
    assert_installed_layout(&staged.join("lib"), &staged.join("include"));
    let bin = std::fs::metadata(staged.join("bin/ipcshim")).expect("the program is installed");
    assert_eq!(bin.permissions().mode() & 0o777, 0o755);

    let pc = std::fs::read_to_string(staged.join("lib/pkgconfig/ipcshim.pc")).expect("ipcshim.pc");
    for line in [
        "prefix=/usr/local",
        "libdir=/usr/local/lib",
        "includedir=/usr/local/include",
        &format!("Version: {VERSION}"),
        "Libs: -L${libdir} -Wl,-rpath,${libdir} -lipcshim",
        "Cflags: -I${includedir}/ipcshim",
    ] {
        assert!(pc.lines().any(|l| l == line), "ipcshim.pc lacks {line:?}:\n{pc}");
    }
    assert!(!pc.contains('@') && !pc.contains("Template"), "ipcshim.pc has template leftovers:\n{pc}");
    assert!(!pc.contains(&destdir.path().display().to_string()), "ipcshim.pc names DESTDIR:\n{pc}");

    make("uninstall", &[("DESTDIR", destdir.path())]);
    assert_eq!(files_under(destdir.path()), vec![program], "uninstall left files behind");
}

#[test]
fn a_library_directory_the_loader_searches_gets_no_rpath() {
    let destdir = TempDir::new("destdir");
    let no_program = destdir.path().join("no-such-program");
    let vars = [
        ("DESTDIR", destdir.path()),
        ("PREFIX", Path::new("/usr")),
        ("LIBRARY", &shim_library()),
        ("PROGRAM", &no_program),
    ];
    make("install", &vars);
    let pc = std::fs::read_to_string(destdir.path().join("usr/lib/pkgconfig/ipcshim.pc")).expect("ipcshim.pc");
    assert!(pc.lines().any(|l| l == "Libs: -L${libdir} -lipcshim"), "no rpath for /usr/lib:\n{pc}");
    make("uninstall", &vars[..2]);
    assert_eq!(files_under(destdir.path()), Vec::<PathBuf>::new(), "uninstall left files behind");
}
