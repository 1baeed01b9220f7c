//! Which namespace a command works on, and opening it: the library's
//! defaults and variables, and a message for every way it can fail.

use crate::cli::Place;
use crate::Failure;
use ipcshim::error::Errno;
use ipcshim::ffi::{self, Opened};
use std::path::{Path, PathBuf};

/// A namespace, named.
pub struct Target {
    pub name: String,
    pub dir: PathBuf,
    /// Its region file.
    pub path: PathBuf,
}

/// The directory: the option, else `IPCSHIM_DIR`, else the library's default.
pub fn dir_of(dir: Option<&Path>) -> PathBuf {
    dir.map(Path::to_path_buf)
        .or_else(|| std::env::var_os("IPCSHIM_DIR").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(ffi::DEFAULT_DIR))
}

/// The namespace named by the options, the environment or the defaults
/// (as a program under the shim would find it).
pub fn resolve(place: &Place) -> Result<Target, Failure> {
    let dir = dir_of(place.dir.as_deref());
    let name = match &place.namespace {
        Some(name) => name.clone(),
        None => match std::env::var_os("IPCSHIM_NAMESPACE") {
            Some(name) => name.into_string().map_err(|n| Failure::new(format!("invalid namespace name {n:?}")))?,
            None => ffi::DEFAULT_NAMESPACE.to_owned(),
        },
    };
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    let path = ffi::region_path(Some(&dir), Some(&name), euid).map_err(|e| match e {
        Errno::ENAMETOOLONG => Failure::new(format!("namespace {name:?} in {}: path too long", dir.display())),
        _ => {
            Failure::new(format!("invalid namespace name {name:?}: a file name is needed (no '/', at most 200 bytes)"))
        }
    })?;
    Ok(Target { name, dir, path })
}

/// Opens the existing namespace `target`.
pub fn open(target: &Target) -> Result<Opened, Failure> {
    ffi::open_existing(&target.path).map_err(|e| open_failure(target, e))
}

fn open_failure(target: &Target, e: Errno) -> Failure {
    let path = target.path.display();
    Failure::new(match e {
        Errno::ENOENT => format!("no namespace {:?} in {} (no file {path})", target.name, target.dir.display()),
        Errno::EACCES => format!(
            "{path}: refused: not a regular file of this user (uid {}) with mode 0600",
            // SAFETY: geteuid has no preconditions.
            unsafe { libc::geteuid() }
        ),
        Errno::EIO => format!("{path}: damaged region file (or one of another ipcshim version)"),
        Errno::ENOMEM => format!("{path}: cannot map the region file: out of memory"),
        Errno(errno) => format!("{path}: {}", std::io::Error::from_raw_os_error(errno)),
    })
}
