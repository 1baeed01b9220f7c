//! Finding, creating and validating the region file of a namespace.
//!
//! The file is `$IPCSHIM_DIR/ipcshim-<euid>-<namespace>.region`, with
//! `IPCSHIM_DIR` defaulting to `/dev/shm` and `IPCSHIM_NAMESPACE` to
//! `default`, so each user has a namespace of their own and tests can run in
//! namespaces of their own in parallel.
//!
//! Creation and validation happen under an exclusive `flock` on the file. The
//! creator sizes the file, reserves the control area, fills in the header and
//! stores the magic number last; a creator that dies earlier leaves a file
//! without magic (and without the lock, which dies with it), which the next
//! opener initialises again. An existing file is mapped only if it is a
//! regular file owned by us, not readable by others, with our magic, our
//! version and exactly the size its header implies.

use super::layout::{Layout, Params, CHUNK_SIZE, DEFAULT_CHUNKS, MAGIC, MAX_CHUNKS, MAX_SLOTS, VERSION};
use super::Region;
use crate::error::{Errno, Result};
use crate::log::diag;
use crate::platform;
use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

pub(super) fn open_from_environment() -> Result<Region> {
    let path = region_path()?;
    open_or_create(&path).inspect_err(|e| diag(|| format!("{}: cannot use region file: {e:?}", path.display())))
}

fn region_path() -> Result<PathBuf> {
    let dir = std::env::var_os("IPCSHIM_DIR").unwrap_or_else(|| "/dev/shm".into());
    let name = std::env::var("IPCSHIM_NAMESPACE").unwrap_or_else(|_| "default".into());
    if name.is_empty() || name.len() > 200 || name.contains('/') || name == "." || name == ".." {
        diag(|| format!("IPCSHIM_NAMESPACE {name:?} is not a valid file name"));
        return Err(Errno::EINVAL);
    }
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    Ok(Path::new(&dir).join(format!("ipcshim-{euid}-{name}.region")))
}

/// Holds an exclusive flock for its lifetime. (The descriptor outlives it:
/// it moves into the `Region`, or is closed after the lock is dropped.)
struct FileLock(std::os::fd::RawFd);

impl FileLock {
    fn exclusive(file: &File) -> Result<Self> {
        loop {
            // SAFETY: flock on a descriptor we own.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0 {
                return Ok(FileLock(file.as_raw_fd()));
            }
            if Errno::last() != Errno::EINTR {
                return Err(Errno::last());
            }
        }
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        // SAFETY: flock on a descriptor we own.
        unsafe { libc::flock(self.0, libc::LOCK_UN) };
    }
}

fn open_or_create(path: &Path) -> Result<Region> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| {
            let errno = Errno::from(e);
            if errno.0 == libc::ELOOP {
                diag(|| format!("{}: is a symbolic link; refusing it", path.display()));
                return Errno::EACCES;
            }
            errno
        })?;
    let _lock = FileLock::exclusive(&file)?;
    let meta = file.metadata()?;
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    if !meta.file_type().is_file() || meta.uid() != euid || meta.mode() & 0o077 != 0 {
        diag(|| format!("{}: not a regular file of uid {euid} with mode 0600; refusing it", path.display()));
        return Err(Errno::EACCES);
    }
    let mut magic = [0u8; 8];
    let have_magic = meta.len() >= 8 && file.read_exact_at(&mut magic, 0).is_ok() && u64::from_le_bytes(magic) != 0;
    if !have_magic {
        return initialise(file, path);
    }
    let layout = read_layout(&file, meta.len(), path)?;
    drop(_lock);
    map(file, path, layout)
}

/// The layout an existing region file's header describes, if the header
/// is sound and the file has exactly the size it implies.
pub(super) fn read_layout(file: &File, file_len: u64, path: &Path) -> Result<Layout> {
    let mut magic = [0u8; 8];
    file.read_exact_at(&mut magic, 0).map_err(|_| Errno::EIO)?;
    if u64::from_le_bytes(magic) != MAGIC {
        diag(|| format!("{}: not an ipcshim region (bad magic number)", path.display()));
        return Err(Errno::EIO);
    }
    let mut fixed = [0u8; 32];
    file.read_exact_at(&mut fixed, 8).map_err(|_| Errno::EIO)?;
    let word = |i: usize| u32::from_le_bytes(fixed[i..i + 4].try_into().expect("4 bytes"));
    let version = word(0);
    let params = Params { chunk_count: word(4), msg_slots: word(8), sem_slots: word(12), shm_slots: word(16) };
    let recorded_size = u64::from_le_bytes(fixed[24..32].try_into().expect("8 bytes"));
    if version != VERSION {
        diag(|| format!("{}: region layout version {version}, this library speaks {VERSION}", path.display()));
        return Err(Errno::EIO);
    }
    let Some(layout) = Layout::compute(params) else {
        diag(|| format!("{}: corrupted header ({params:?})", path.display()));
        return Err(Errno::EIO);
    };
    if recorded_size != layout.total_size || file_len != layout.total_size {
        diag(|| {
            format!(
                "{}: size {} but the header implies {}: truncated or corrupted",
                path.display(),
                file_len,
                layout.total_size
            )
        });
        return Err(Errno::EIO);
    }
    Ok(layout)
}

fn initialise(file: File, path: &Path) -> Result<Region> {
    let slots = |limit: Option<u64>| limit.unwrap_or(32000).clamp(1, MAX_SLOTS as u64) as u32;
    let chunk_count = std::env::var("IPCSHIM_SIZE_MB")
        .ok()
        .and_then(|mb| mb.parse::<u64>().ok())
        .map(|mb| (mb * 1024 * 1024 / CHUNK_SIZE).clamp(1, MAX_CHUNKS as u64) as u32)
        .unwrap_or(DEFAULT_CHUNKS);
    let params = Params {
        chunk_count,
        msg_slots: slots(platform::kernel_limit("msgmni")),
        sem_slots: slots(platform::kernel_limits("sem").and_then(|v| v.get(3).copied())),
        shm_slots: slots(platform::kernel_limit("shmmni").or(Some(4096))),
    };
    let layout = Layout::compute(params).ok_or(Errno::EINVAL)?;
    // Zero-fill from scratch: a half-initialised file may hold anything.
    file.set_len(0)?;
    file.set_len(layout.total_size)?;
    // No room for the control area: the kernel's answer to an IPC call that
    // cannot get memory is ENOMEM.
    platform::reserve_file_space(file.as_raw_fd(), 0, layout.control_end).map_err(|_| Errno::ENOMEM)?;
    let region = map(file, path, layout)?;
    let header = region.header();
    header.version.store(VERSION, Ordering::Relaxed);
    header.chunk_count.store(params.chunk_count, Ordering::Relaxed);
    header.msg_slots.store(params.msg_slots, Ordering::Relaxed);
    header.sem_slots.store(params.sem_slots, Ordering::Relaxed);
    header.shm_slots.store(params.shm_slots, Ordering::Relaxed);
    header.total_size.store(layout.total_size, Ordering::Relaxed);
    // Release: whoever reads the magic (under the flock, or later through the
    // mapping) sees the fields above.
    header.magic.store(MAGIC, Ordering::Release);
    diag(|| {
        format!(
            "{}: created ({params:?}, {} MiB of object space)",
            path.display(),
            (params.chunk_count as u64 * CHUNK_SIZE) >> 20
        )
    });
    Ok(region)
}

fn map(file: File, path: &Path, layout: Layout) -> Result<Region> {
    let map = memmap2::MmapOptions::new().len(layout.total_size as usize).map_raw(&file)?;
    let read_only = OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC).open(path).ok();
    Ok(Region { base: map.as_mut_ptr(), layout, path: path.to_owned(), file, read_only, _map: map })
}
