//! Which namespace the process uses, and how big a new one is, from the
//! environment: `$IPCSHIM_DIR/ipcshim-<euid>-<IPCSHIM_NAMESPACE>.region`
//! (defaults `/dev/shm` and `default`) and `IPCSHIM_SIZE_MB`.
//!
//! A program may change its environment (setenv, clearenv) long before its
//! first IPC call, so a C program's namespace is the one its environment
//! named when it started, as with LD_PRELOAD itself: the library copies
//! what it needs when it loads ([`take_at_load`]), into static memory,
//! with no system call and no allocation beyond one geteuid. A Rust binary
//! that links the crate (the tests) takes none, and reads the environment
//! as it is at first use, so that each test picks its namespace.

use crate::error::{Errno, Result};
use crate::platform::{self, Once};
use std::ffi::{CStr, OsStr};
use std::fmt::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Where namespaces live, and which one, when the environment does not say.
pub const DEFAULT_DIR: &str = "/dev/shm";
pub const DEFAULT_NAMESPACE: &str = "default";

/// The longest path the kernel takes, NUL included.
const PATH_CAPACITY: usize = libc::PATH_MAX as usize;

#[derive(Clone)]
pub(super) struct Config {
    /// The region file's path, NUL-terminated.
    path: [u8; PATH_CAPACITY],
    /// Its length, without the NUL.
    len: usize,
    /// The chunks of a new namespace.
    pub chunks: u32,
}

impl Config {
    pub fn path(&self) -> &Path {
        Path::new(OsStr::from_bytes(&self.path[..self.len]))
    }

    pub fn c_path(&self) -> &CStr {
        CStr::from_bytes_with_nul(&self.path[..=self.len]).expect("one NUL, at the end")
    }

    /// From the variables' values and the effective uid.
    fn new(dir: Option<&[u8]>, name: Option<&[u8]>, size_mb: Option<&[u8]>, euid: u32) -> Result<Config> {
        use crate::region::layout::{CHUNK_SIZE, DEFAULT_CHUNKS, MAX_CHUNKS};
        // A name that is not UTF-8 is as good as none (the default).
        let name = name.and_then(|n| std::str::from_utf8(n).ok()).unwrap_or(DEFAULT_NAMESPACE);
        if name.is_empty() || name.len() > 200 || name.contains('/') || name == "." || name == ".." {
            crate::log::diag(|| format!("IPCSHIM_NAMESPACE {name:?} is not a valid file name"));
            return Err(Errno::EINVAL);
        }
        let chunks = size_mb
            .and_then(|mb| std::str::from_utf8(mb).ok()?.parse::<u64>().ok())
            .map(|mb| (mb.saturating_mul(1 << 20) / CHUNK_SIZE).clamp(1, MAX_CHUNKS as u64) as u32)
            .unwrap_or(DEFAULT_CHUNKS);
        let mut config = Config { path: [0; PATH_CAPACITY], len: 0, chunks };
        let dir = dir.unwrap_or(DEFAULT_DIR.as_bytes());
        // As Path::join: no separator after an empty directory or one that
        // ends with one.
        let separator: &[u8] = if dir.is_empty() || dir.ends_with(b"/") { b"" } else { b"/" };
        let mut out = PathWriter { config: &mut config, full: false };
        out.push(dir);
        out.push(separator);
        let _ = write!(out, "ipcshim-{euid}-{name}.region");
        if out.full {
            return Err(Errno::ENAMETOOLONG);
        }
        Ok(config)
    }
}

/// Appends to a config's path, leaving room for the NUL.
struct PathWriter<'a> {
    config: &'a mut Config,
    full: bool,
}

impl PathWriter<'_> {
    fn push(&mut self, bytes: &[u8]) {
        let at = self.config.len;
        match self.config.path.get_mut(at..at + bytes.len()).filter(|_| at + bytes.len() < PATH_CAPACITY) {
            Some(room) => {
                room.copy_from_slice(bytes);
                self.config.len += bytes.len();
            }
            None => self.full = true,
        }
    }
}

impl Write for PathWriter<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.push(s.as_bytes());
        Ok(())
    }
}

/// The configuration the environment named when the library loaded.
static AT_LOAD: Once<Result<Config>> = Once::new();

/// Copies the configuration out of the environment as it is now (at load,
/// before the program runs). Also whether to log and to trace.
pub(super) fn take_at_load() -> &'static Result<Config> {
    crate::log::enable_from(platform::env_var("IPCSHIM_LOG"));
    super::trace::enable_from(platform::env_var("IPCSHIM_TRACE"));
    AT_LOAD.get_or_init(|| {
        let var = platform::env_var;
        Config::new(var("IPCSHIM_DIR"), var("IPCSHIM_NAMESPACE"), var("IPCSHIM_SIZE_MB"), platform::euid())
    })
}

/// Whether the configuration was taken at load (a C program).
pub(super) fn taken_at_load() -> bool {
    AT_LOAD.get().is_some()
}

/// The configuration to map the namespace with: the one taken at load, or
/// (in a Rust binary) the environment's now.
pub(super) fn current() -> Result<Config> {
    if let Some(config) = AT_LOAD.get() {
        return config.clone();
    }
    let var = |name| std::env::var_os(name);
    let (dir, name, size_mb) = (var("IPCSHIM_DIR"), var("IPCSHIM_NAMESPACE"), var("IPCSHIM_SIZE_MB"));
    let bytes = |v: &Option<std::ffi::OsString>| v.as_deref().map(OsStr::as_bytes).map(<[u8]>::to_vec);
    let (dir, name, size_mb) = (bytes(&dir), bytes(&name), bytes(&size_mb));
    Config::new(dir.as_deref(), name.as_deref(), size_mb.as_deref(), platform::euid())
}

/// The region file of namespace `name` of user `euid` in `dir` (the
/// defaults where None), with the checks a program's environment gets:
/// EINVAL for a name that is not a file name, ENAMETOOLONG.
pub fn region_path(dir: Option<&Path>, name: Option<&str>, euid: u32) -> Result<std::path::PathBuf> {
    let config = Config::new(
        dir.map(|d| d.as_os_str().as_bytes()),
        Some(name.unwrap_or(DEFAULT_NAMESPACE).as_bytes()),
        None,
        euid,
    )?;
    Ok(config.path().to_owned())
}

/// The user and the namespace whose region file is called `file_name`
/// (the reverse of [`region_path`]); None for any other file.
pub fn namespace_of_file(file_name: &str) -> Option<(u32, &str)> {
    let rest = file_name.strip_prefix("ipcshim-")?.strip_suffix(".region")?;
    let (uid, name) = rest.split_once('-')?;
    let uid = uid.parse().ok().filter(|_| uid.bytes().all(|b| b.is_ascii_digit()))?;
    (!name.is_empty()).then_some((uid, name))
}

#[cfg(test)]
mod tests {
    use super::{namespace_of_file, region_path};
    use std::path::Path;

    #[test]
    fn region_file_names_read_back_as_their_user_and_namespace() {
        let path = region_path(Some(Path::new("/run/x/")), Some("build-7"), 1000).unwrap();
        assert_eq!(path, Path::new("/run/x/ipcshim-1000-build-7.region"));
        let name = path.file_name().unwrap().to_str().unwrap();
        assert_eq!(namespace_of_file(name), Some((1000, "build-7")));
        assert_eq!(region_path(None, None, 0).unwrap(), Path::new("/dev/shm/ipcshim-0-default.region"));
    }

    #[test]
    fn other_files_and_bad_names_are_not_namespaces() {
        for file in
            ["ipcshim-0-a.region.mq-0-1", "ipcshim-x-a.region", "ipcshim-0-.region", "ipcshim--1-a.region", "other"]
        {
            assert_eq!(namespace_of_file(file), None, "{file}");
        }
        assert!(region_path(None, Some("a/b"), 0).is_err());
        assert!(region_path(None, Some(".."), 0).is_err());
    }
}
