//! `ipcshim run`: execs a program with the shim preloaded. LD_PRELOAD and
//! the shim's variables are inherited, so everything the program forks and
//! execs runs under the shim too, in the same namespace.

use crate::cli::{Place, RunArgs};
use crate::Failure;
use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

/// Replaces the process with the program; returns only on failure.
pub fn run(args: RunArgs) -> Result<std::convert::Infallible, Failure> {
    let library = library()?;
    let mut preload = library.into_os_string().into_vec();
    if let Some(existing) = std::env::var_os("LD_PRELOAD").filter(|v| !v.is_empty()) {
        preload.push(b' ');
        preload.extend_from_slice(existing.as_bytes());
    }
    let (program, program_args) = args.program.split_first().expect("clap requires a program");
    let mut command = std::process::Command::new(program);
    command.args(program_args).env("LD_PRELOAD", OsString::from_vec(preload));
    for (variable, value) in namespace_variables(&args.place)? {
        command.env(variable, value);
    }
    if let Some(file) = &args.trace {
        command.env("IPCSHIM_TRACE", absolute(file)?);
    }
    if args.no_kernel_ipc {
        crate::seccomp::deny_kernel_ipc()?;
    }
    let error = command.exec();
    let name = program.to_string_lossy();
    Err(match error.raw_os_error() {
        // As a shell reports them: 127 for a program not found, 126 for one
        // that cannot be run.
        Some(libc::ENOENT) if !program.as_bytes().contains(&b'/') => {
            Failure::with_status(format!("{name}: command not found"), 127)
        }
        Some(libc::ENOENT) => Failure::with_status(format!("{name}: No such file or directory"), 127),
        _ => Failure::with_status(format!("{name}: cannot run: {error}"), 126),
    })
}

/// IPCSHIM_NAMESPACE and IPCSHIM_DIR for the options given (checked as
/// the library would check them, with the directory made absolute so a
/// program that changes directory keeps its namespace).
fn namespace_variables(place: &Place) -> Result<Vec<(&'static str, OsString)>, Failure> {
    let mut variables = Vec::new();
    if place.namespace.is_some() || place.dir.is_some() {
        crate::place::resolve(place)?;
    }
    if let Some(name) = &place.namespace {
        variables.push(("IPCSHIM_NAMESPACE", OsString::from(name)));
    }
    if let Some(dir) = &place.dir {
        if !dir.is_dir() {
            return Err(Failure::new(format!("--dir {}: not a directory", dir.display())));
        }
        variables.push(("IPCSHIM_DIR", absolute(dir.as_os_str())?));
    }
    Ok(variables)
}

/// `path` made absolute, so that a program that changes directory keeps
/// writing to the same file.
fn absolute(path: &std::ffi::OsStr) -> Result<OsString, Failure> {
    std::path::absolute(path)
        .map(PathBuf::into_os_string)
        .map_err(|e| Failure::new(format!("{}: {e}", Path::new(path).display())))
}

/// The library to preload: `IPCSHIM_LIB`, else the one beside this binary
/// (a build tree: `target/<profile>/`, or its `deps/` where a build of
/// this crate alone leaves it), else the installed one in `../lib`.
fn library() -> Result<PathBuf, Failure> {
    let found = match std::env::var_os("IPCSHIM_LIB").filter(|v| !v.is_empty()) {
        Some(lib) => {
            let lib = PathBuf::from(lib);
            if !lib.is_file() {
                return Err(Failure::new(format!("IPCSHIM_LIB={}: no such file", lib.display())));
            }
            std::path::absolute(&lib).map_err(|e| Failure::new(format!("IPCSHIM_LIB={}: {e}", lib.display())))?
        }
        None => {
            let exe =
                std::env::current_exe().map_err(|e| Failure::new(format!("cannot find this program's path: {e}")))?;
            let bin = exe.parent().unwrap_or(Path::new("/"));
            let candidates =
                [bin.join("libipcshim.so"), bin.join("deps/libipcshim.so"), bin.join("../lib/libipcshim.so.0")];
            let found = candidates.iter().find(|c| c.is_file()).ok_or_else(|| {
                let looked: Vec<String> = candidates.iter().map(|c| c.display().to_string()).collect();
                Failure::new(format!("cannot find libipcshim.so (looked for {}); set IPCSHIM_LIB", looked.join(", ")))
            })?;
            found.clone()
        }
    };
    // LD_PRELOAD separates its entries with spaces and colons.
    if found.as_os_str().as_bytes().iter().any(|b| matches!(b, b' ' | b':')) {
        return Err(Failure::new(format!("{}: a path with a space or colon cannot be preloaded", found.display())));
    }
    Ok(found)
}
