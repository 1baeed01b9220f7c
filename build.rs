//! Build steps besides compiling the crate:
//! - generate the C header of ipcshim's own API with cbindgen, into
//!   `include/ipcshim.h` (committed; `tests/header.rs` fails if it is stale);
//! - give `libipcshim.so` a soname, with the `libipcshim.so.0` link next to it;
//! - link the unwinder into it statically (see `link_unwinder_statically`);
//! - write `target/<profile>/pkgconfig/ipcshim.pc` for the uninstalled library;
//! - list the C programs in `c-tests/` for `tests/c_programs.rs`.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

const SONAME: &str = "libipcshim.so.0";

fn main() {
    let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("set by cargo"));
    for watched in ["src", "cbindgen.toml", "pkgconfig/ipcshim.pc.in", "c-tests"] {
        println!("cargo:rerun-if-changed={watched}");
    }
    generate_header(&crate_dir, &out_dir);
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{SONAME}");
    link_unwinder_statically();
    // OUT_DIR is <target>/<profile>/build/ipcshim-<hash>/out.
    let profile_dir = out_dir.ancestors().nth(3).expect("OUT_DIR layout").to_path_buf();
    link_soname(&profile_dir);
    write_pkg_config(&crate_dir, &profile_dir);
    list_c_tests(&crate_dir, &out_dir);
}

/// The library needs an unwinder only to catch its own panics at the C
/// boundary, yet linking libgcc_s (as Rust does by default) makes every
/// process that preloads it load one more shared library, which costs a
/// short-lived program more than all the rest of the library's start-up.
/// So the cdylib takes the compiler's static unwinder, libgcc_eh (what
/// `-static-libgcc` gives a C++ shared library), in whole: its `_Unwind_*`
/// definitions come before libgcc_s's, which `--as-needed` then drops.
/// Nothing changes for the Rust test binaries. Without a libgcc_eh the
/// library links libgcc_s as before.
fn link_unwinder_statically() {
    let cc = env::var_os("CC").unwrap_or_else(|| "cc".into());
    let Ok(out) = std::process::Command::new(cc).arg("-print-file-name=libgcc_eh.a").output() else { return };
    let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    // An unknown file name is printed back bare, without a directory.
    if out.status.success() && path.is_absolute() && path.is_file() {
        println!("cargo:rustc-cdylib-link-arg=-Wl,--whole-archive,{},--no-whole-archive", path.display());
    }
}

fn generate_header(crate_dir: &Path, out_dir: &Path) {
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_crate(crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen could not generate the header");
    let generated = out_dir.join("ipcshim.h");
    bindings.write_to_file(&generated);
    let text = fs::read(&generated).expect("generated header");
    let committed = crate_dir.join("include/ipcshim.h");
    if fs::read(&committed).ok().as_deref() != Some(&text[..]) {
        fs::create_dir_all(committed.parent().expect("include/")).expect("include/");
        fs::write(&committed, &text).expect("write include/ipcshim.h");
    }
}

/// `cargo build` puts the library in target/<profile>, `cargo test` only in
/// target/<profile>/deps: the soname link goes in both.
fn link_soname(profile_dir: &Path) {
    for dir in [profile_dir.to_path_buf(), profile_dir.join("deps")] {
        let link = dir.join(SONAME);
        if fs::symlink_metadata(&link).is_err() {
            // Dangling until the library is linked, right after this script.
            let _ = fs::create_dir_all(&dir);
            let _ = std::os::unix::fs::symlink("libipcshim.so", &link);
        }
    }
}

fn write_pkg_config(crate_dir: &Path, profile_dir: &Path) {
    let template = fs::read_to_string(crate_dir.join("pkgconfig/ipcshim.pc.in")).expect("ipcshim.pc.in");
    let libdir = profile_dir.display().to_string();
    let pc = template
        .lines()
        .filter(|line| !line.starts_with("# Template"))
        .map(|line| format!("{line}\n"))
        .collect::<String>()
        .replace("@PREFIX@", &crate_dir.display().to_string())
        .replace("@LIBDIR@", &libdir)
        .replace("@INCLUDEDIR@", &crate_dir.join("include").display().to_string())
        // Installed, the header has a directory of its own (include/ipcshim/).
        .replace("@HEADER_SUBDIR@", "")
        .replace("@VERSION@", &env::var("CARGO_PKG_VERSION").expect("set by cargo"))
        // Uninstalled: let programs find the library where it was built.
        .replace("@RPATH@", "-Wl,-rpath,${libdir}");
    let dir = profile_dir.join("pkgconfig");
    fs::create_dir_all(&dir).expect("pkgconfig dir");
    fs::write(dir.join("ipcshim.pc"), pc).expect("write ipcshim.pc");
}

/// One `c_test!(name);` line per `c-tests/<name>.c`.
fn list_c_tests(crate_dir: &Path, out_dir: &Path) {
    let mut names: Vec<String> = fs::read_dir(crate_dir.join("c-tests"))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter_map(|f| f.strip_suffix(".c").map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let lines: String = names.iter().map(|n| format!("c_test!({n});\n")).collect();
    fs::write(out_dir.join("c_tests.rs"), lines).expect("write c_tests.rs");
}
