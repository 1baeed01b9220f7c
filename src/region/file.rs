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
    open_file(path, Some((tables, chunk_count)))
}

/// A region of its own for a unit test (`name` tells tests apart): one
/// table of `entries` entries of 64 bytes, `chunk_count` chunks, its file
/// already removed.
#[cfg(test)]
pub fn scratch(name: &str, entries: u32, chunk_count: u32) -> Region {
    let path = std::env::temp_dir().join(format!("ipcshim-{name}-test-{}.region", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let spec = TableSpec { tag: TableSpec::tag(b"TEST"), prefix: 0, stride: 64, count: entries };
    let region = open(&path, &[spec], chunk_count).expect("a scratch region");
    std::fs::remove_file(&path).expect("remove the scratch region's file");
    region
}

/// Maps the existing namespace at `path` (for tools that look into one):
/// ENOENT if there is no file; one that was never completely created is
/// refused (EIO) rather than created.
pub fn open_existing(path: &Path) -> Result<Region> {
    open_file(path, None)
}

/// Opens, validates and maps the file; creates it with `create`'s tables
/// and chunks unless that is None.
fn open_file(path: &Path, create: Option<(&[TableSpec], u32)>) -> Result<Region> {
    let c_path = CString::new(path.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)?;
    let creating = if create.is_some() { libc::O_CREAT } else { 0 };
    let file = Fd::open(&c_path, libc::O_RDWR | creating | libc::O_NOFOLLOW, 0o600).map_err(|e| {
        if e.0 == libc::ELOOP {
            diag(|| format!("{}: is a symbolic link; refusing it", path.display()));
            return Errno::EACCES;
        }
        e
    })?;
    file.lock_exclusive()?;
    let result = open_locked(&file, &c_path, path, create);
    file.unlock();
    result.inspect_err(|e| diag(|| format!("{}: cannot use region file: {e:?}", path.display())))
}

fn open_locked(file: &Fd, c_path: &CStr, path: &Path, create: Option<(&[TableSpec], u32)>) -> Result<Region> {
    let st = file.stat()?;
    let euid = platform::euid();
    if st.st_mode & libc::S_IFMT != libc::S_IFREG || st.st_uid != euid || st.st_mode & 0o077 != 0 {
        diag(|| format!("{}: not a regular file of uid {euid} with mode 0600; refusing it", path.display()));
        return Err(Errno::EACCES);
    }
    let mut magic = [0u8; 8];
    let have_magic = st.st_size >= 8 && file.read_at(&mut magic, 0) == Ok(8) && magic != [0; 8];
    let layout = match create {
        _ if have_magic => read_layout(file, st.st_size as u64, path)?,
        Some((tables, chunk_count)) => initialise(file, path, tables, chunk_count)?,
        None => {
            diag(|| format!("{}: not an initialised region (no magic number)", path.display()));
            return Err(Errno::EIO);
        }
    };
    map(file, c_path, path, layout, &st)
}

/// A region file's header, as bytes read from the file (not through a
/// mapping): a copy, to be checked before it is believed.
struct HeaderBytes([u8; size_of::<Header>()]);

impl HeaderBytes {
    /// The header of `file`, if it has a whole one.
    fn read(file: &Fd) -> Option<HeaderBytes> {
        let mut header = HeaderBytes([0; size_of::<Header>()]);
        (file.read_at(&mut header.0, 0) == Ok(header.0.len())).then_some(header)
    }

    fn u32_at(&self, at: usize) -> u32 {
        u32::from_le_bytes(self.0[at..at + 4].try_into().expect("4 bytes"))
    }

    fn u64_at(&self, at: usize) -> u64 {
        u64::from_le_bytes(self.0[at..at + 8].try_into().expect("8 bytes"))
    }

    /// Our magic number and our version, or why not (logged).
    fn check(&self, path: &Path) -> Result<()> {
        if self.u64_at(offset_of!(Header, magic)) != MAGIC {
            diag(|| format!("{}: not an ipcshim region (bad magic number)", path.display()));
            return Err(Errno::EIO);
        }
        let version = self.u32_at(offset_of!(Header, version));
        if version != VERSION {
            diag(|| format!("{}: region layout version {version}, this library speaks {VERSION}", path.display()));
            return Err(Errno::EIO);
        }
        Ok(())
    }

    /// How many tables the directory lists (unchecked).
    fn table_count(&self) -> usize {
        self.u32_at(offset_of!(Header, table_count)) as usize
    }

    /// Directory record `i` (below [`MAX_TABLES`]): the table and its offset.
    fn record(&self, i: usize) -> (TableSpec, u64) {
        let at = |field: usize| offset_of!(Header, tables) + i * size_of::<TableRecord>() + field;
        let spec = TableSpec {
            tag: self.u32_at(at(offset_of!(TableRecord, tag))),
            prefix: self.u32_at(at(offset_of!(TableRecord, prefix))),
            stride: self.u32_at(at(offset_of!(TableRecord, stride))),
            count: self.u32_at(at(offset_of!(TableRecord, count))),
        };
        (spec, self.u64_at(at(offset_of!(TableRecord, offset))))
    }
}

/// The layout an existing region file's header describes, if the header
/// is sound and the file has exactly the size it implies.
fn read_layout(file: &Fd, file_len: u64, path: &Path) -> Result<Layout> {
    let Some(header) = HeaderBytes::read(file) else {
        diag(|| format!("{}: truncated header: truncated or corrupted", path.display()));
        return Err(Errno::EIO);
    };
    header.check(path)?;
    let table_count = header.table_count();
    let chunk_count = header.u32_at(offset_of!(Header, chunk_count));
    let specs: Vec<TableSpec> = (0..table_count.min(MAX_TABLES)).map(|i| header.record(i).0).collect();
    let layout = Layout::compute(&specs, chunk_count).filter(|l| {
        table_count <= MAX_TABLES && l.tables.iter().enumerate().all(|(i, t)| header.record(i).1 == t.offset)
    });
    let Some(layout) = layout else {
        diag(|| format!("{}: corrupted header ({table_count} tables, {chunk_count} chunks)", path.display()));
        return Err(Errno::EIO);
    };
    let recorded_size = header.u64_at(offset_of!(Header, total_size));
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
    header.chunks_used.store(0, Ordering::Relaxed);
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

/// A region file looked into without mapping it: a handful of system calls,
/// no lock, no allocation. For a look that most processes make and few
/// follow up, such as whether a process has anything in the namespace at
/// all. What it reads may be changing as it reads it (other processes
/// store through their mappings), so it only ever decides whether to map
/// the file, which checks everything.
pub struct Unmapped {
    file: Fd,
    header: HeaderBytes,
}

impl Unmapped {
    /// The region file at `path`, if it has our magic and version.
    pub fn open(path: &CStr) -> Result<Unmapped> {
        let file = Fd::open(path, libc::O_RDONLY | libc::O_NOFOLLOW, 0)?;
        let header = HeaderBytes::read(&file).ok_or(Errno::EIO)?;
        header.check(Path::new(std::ffi::OsStr::from_bytes(path.to_bytes())))?;
        Ok(Unmapped { file, header })
    }

    /// Table `tag`, as the directory lists it.
    pub fn table(&self, tag: u32) -> Option<TableSpec> {
        self.find(tag).map(|(spec, _)| spec)
    }

    fn find(&self, tag: u32) -> Option<(TableSpec, u64)> {
        (0..self.header.table_count().min(MAX_TABLES)).map(|i| self.header.record(i)).find(|(spec, _)| spec.tag == tag)
    }

    /// Reads the entries of table `tag` from index `first` on into `out`,
    /// as many whole entries as fit (and the table has); how many it read.
    pub fn read_entries(&self, tag: u32, first: u32, out: &mut [u8]) -> Result<usize> {
        let (spec, offset) = self.find(tag).ok_or(Errno::EIO)?;
        let stride = spec.stride as usize;
        if stride == 0 || first >= spec.count {
            return Ok(0);
        }
        let wanted = (out.len() / stride).min((spec.count - first) as usize);
        let at = super::layout::entries_offset(offset, spec.prefix) + first as u64 * spec.stride as u64;
        let read = self.file.read_at(&mut out[..wanted * stride], at)?;
        Ok(read / stride)
    }
}
