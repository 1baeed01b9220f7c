//! Finding, creating, validating and mapping the region file of a namespace.
//!
//! Creation and validation happen under an exclusive `flock` on the file. The
//! creator sizes the file, reserves the control area, fills in the header and
//! stores the magic number last; a creator that dies earlier leaves a file
//! without magic (and without the lock, which dies with it), which the next
//! opener initialises again. An existing file is mapped only if it is a
//! regular file owned by us, not accessible by others, with our magic, our
//! version, a sound directory and exactly the size its header implies.
//!
//! Every file operation is a raw system call (see `platform::sys`), and no
//! descriptor outlives [`open`]: the file is mapped twice (read-write, and
//! read-only for SHM_RDONLY attachments) and both descriptors are closed.

use super::layout::{Header, Layout, TableRecord, TableSpec, CHUNK_SIZE, MAGIC, MAX_TABLES, PAGE, VERSION};
use super::Region;
use crate::error::{Errno, Result};
use crate::log::diag;
use crate::platform::{self, Fd};
use std::ffi::{CStr, CString};
use std::mem::{offset_of, size_of};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::Ordering;

/// Maps the namespace at `path`, creating it with `tables` and `chunk_count`
/// chunks if it does not exist (or was left half-created).
pub fn open(path: &Path, tables: &[TableSpec], chunk_count: u32) -> Result<Region> {
    let c_path = CString::new(path.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)?;
    let file = Fd::open(&c_path, libc::O_RDWR | libc::O_CREAT | libc::O_NOFOLLOW, 0o600).map_err(|e| {
        if e.0 == libc::ELOOP {
            diag(|| format!("{}: is a symbolic link; refusing it", path.display()));
            return Errno::EACCES;
        }
        e
    })?;
    file.lock_exclusive()?;
    let result = open_locked(&file, &c_path, path, tables, chunk_count);
    file.unlock();
    result.inspect_err(|e| diag(|| format!("{}: cannot use region file: {e:?}", path.display())))
}

fn open_locked(file: &Fd, c_path: &CStr, path: &Path, tables: &[TableSpec], chunk_count: u32) -> Result<Region> {
    let st = file.stat()?;
    let euid = platform::euid();
    if st.st_mode & libc::S_IFMT != libc::S_IFREG || st.st_uid != euid || st.st_mode & 0o077 != 0 {
        diag(|| format!("{}: not a regular file of uid {euid} with mode 0600; refusing it", path.display()));
        return Err(Errno::EACCES);
    }
    let mut magic = [0u8; 8];
    let have_magic = st.st_size >= 8 && file.read_at(&mut magic, 0) == Ok(8) && magic != [0; 8];
    let layout = if have_magic {
        read_layout(file, st.st_size as u64, path)?
    } else {
        initialise(file, path, tables, chunk_count)?
    };
    map(file, c_path, path, layout, &st)
}

/// The layout an existing region file's header describes, if the header
/// is sound and the file has exactly the size it implies.
fn read_layout(file: &Fd, file_len: u64, path: &Path) -> Result<Layout> {
    let mut page = vec![0u8; size_of::<Header>()];
    if file.read_at(&mut page, 0) != Ok(page.len()) {
        diag(|| format!("{}: truncated header: truncated or corrupted", path.display()));
        return Err(Errno::EIO);
    }
    let u32_at = |at: usize| u32::from_le_bytes(page[at..at + 4].try_into().expect("4 bytes"));
    let u64_at = |at: usize| u64::from_le_bytes(page[at..at + 8].try_into().expect("8 bytes"));
    if u64_at(offset_of!(Header, magic)) != MAGIC {
        diag(|| format!("{}: not an ipcshim region (bad magic number)", path.display()));
        return Err(Errno::EIO);
    }
    let version = u32_at(offset_of!(Header, version));
    if version != VERSION {
        diag(|| format!("{}: region layout version {version}, this library speaks {VERSION}", path.display()));
        return Err(Errno::EIO);
    }
    let table_count = u32_at(offset_of!(Header, table_count)) as usize;
    let chunk_count = u32_at(offset_of!(Header, chunk_count));
    let record = |i: usize, field: usize| offset_of!(Header, tables) + i * size_of::<TableRecord>() + field;
    let specs: Vec<TableSpec> = (0..table_count.min(MAX_TABLES))
        .map(|i| TableSpec {
            tag: u32_at(record(i, offset_of!(TableRecord, tag))),
            prefix: u32_at(record(i, offset_of!(TableRecord, prefix))),
            stride: u32_at(record(i, offset_of!(TableRecord, stride))),
            count: u32_at(record(i, offset_of!(TableRecord, count))),
        })
        .collect();
    let layout = Layout::compute(&specs, chunk_count).filter(|l| {
        table_count <= MAX_TABLES
            && l.tables.iter().enumerate().all(|(i, t)| u64_at(record(i, offset_of!(TableRecord, offset))) == t.offset)
    });
    let Some(layout) = layout else {
        diag(|| format!("{}: corrupted header ({table_count} tables, {chunk_count} chunks)", path.display()));
        return Err(Errno::EIO);
    };
    let recorded_size = u64_at(offset_of!(Header, total_size));
    if recorded_size != layout.total_size || file_len != layout.total_size {
        diag(|| {
            let expected = layout.total_size;
            format!("{}: size {file_len} but the header implies {expected}: truncated or corrupted", path.display())
        });
        return Err(Errno::EIO);
    }
    Ok(layout)
}

/// Sizes a new (or half-created) file and reserves its control area. The
/// header is written through the mapping, in [`map`]'s caller.
fn initialise(file: &Fd, path: &Path, tables: &[TableSpec], chunk_count: u32) -> Result<Layout> {
    let layout = Layout::compute(tables, chunk_count).ok_or(Errno::EINVAL)?;
    // Zero-fill from scratch: a half-initialised file may hold anything.
    file.set_len(0)?;
    file.set_len(layout.total_size)?;
    // No room for the control area: the kernel's answer to an IPC call that
    // cannot get memory is ENOMEM.
    file.allocate(0, layout.control_end).map_err(|_| Errno::ENOMEM)?;
    diag(|| {
        let mib = (layout.chunk_count as u64 * CHUNK_SIZE) >> 20;
        format!("{}: created ({} tables, {mib} MiB of object space)", path.display(), layout.tables.len())
    });
    Ok(layout)
}

fn map(file: &Fd, c_path: &CStr, path: &Path, layout: Layout, st: &libc::stat) -> Result<Region> {
    let len = layout.total_size as usize;
    let base = platform::map_shared(file.raw(), len, libc::PROT_READ | libc::PROT_WRITE)? as *mut u8;
    // The read-only mapping must be of this very file, not of whatever the
    // path names by now.
    let read_only = Fd::open(c_path, libc::O_RDONLY | libc::O_NOFOLLOW, 0)
        .ok()
        .filter(|ro| ro.stat().is_ok_and(|s| s.st_dev == st.st_dev && s.st_ino == st.st_ino))
        .and_then(|ro| platform::map_shared(ro.raw(), len, libc::PROT_READ).ok())
        .unwrap_or(0) as *const u8;
    let region = Region::new(base, read_only, layout, path.to_owned());
    let header = region.header();
    if header.magic.load(Ordering::Acquire) != MAGIC {
        write_header(header, &region.layout);
    }
    Ok(region)
}

fn write_header(header: &Header, layout: &Layout) {
    header.version.store(VERSION, Ordering::Relaxed);
    header.table_count.store(layout.tables.len() as u32, Ordering::Relaxed);
    header.chunk_count.store(layout.chunk_count, Ordering::Relaxed);
    header.chunk_hint.store(0, Ordering::Relaxed);
    header.total_size.store(layout.total_size, Ordering::Relaxed);
    for (record, table) in header.tables.iter().zip(&layout.tables) {
        record.tag.store(table.spec.tag, Ordering::Relaxed);
        record.prefix.store(table.spec.prefix, Ordering::Relaxed);
        record.stride.store(table.spec.stride, Ordering::Relaxed);
        record.count.store(table.spec.count, Ordering::Relaxed);
        record.offset.store(table.offset, Ordering::Relaxed);
    }
    // Release: whoever reads the magic (under the flock, or later through the
    // mapping) sees the fields above.
    header.magic.store(MAGIC, Ordering::Release);
}

/// The layout of the region file at `path` (for tools and tests that look
/// inside one), after the same checks as when mapping it.
pub fn layout_of(path: &Path) -> Result<Layout> {
    let c_path = CString::new(path.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)?;
    let file = Fd::open(&c_path, libc::O_RDONLY, 0)?;
    let len = file.stat()?.st_size as u64;
    read_layout(&file, len, path)
}

const _: () = assert!(size_of::<Header>() as u64 <= PAGE);
