//! `mqd_t`: a real descriptor of the calling process, as on Linux.
//!
//! Each queue has an *anchor*, an empty file beside the region file. An
//! `mq_open` opens the anchor (with the caller's access mode and
//! O_NONBLOCK), so the program gets a descriptor that takes a slot
//! (EMFILE), is inherited over fork, is close-on-exec as every mq_open
//! descriptor is on Linux (whether O_CLOEXEC was given or not), and can be
//! closed with close(), dup'ed or passed on like any other. Anchors are
//! created by whoever creates the queue, so the namespace's directory must
//! let every user of the namespace create files (as /dev/shm does). The kernel
//! keeps, per open description, what POSIX keeps per open description:
//!
//! - **which queue, and the access mode:** the description's file position
//!   is set to a value naming them (queue slot, generation, access mode,
//!   and a marker), so one `lseek(fd, 0, SEEK_CUR)` tells whether a number
//!   is one of our descriptors and which: closed numbers fail (EBADF), and
//!   pipes, sockets and any file not positioned at such a value are not
//!   ours (EBADF). The positions lie past 2^39 (no real file of the program
//!   sits at exactly such an offset) and below 2^40 (allowed on every local
//!   file system);
//! - **O_NONBLOCK:** the description's own status flag (`mq_setattr` sets
//!   it with F_SETFL; a send or receive reads it only when it would block);
//! - **whether any description is left:** each holds a shared `flock` on
//!   the anchor, released by the kernel when its last descriptor closes,
//!   in whatever process, however it ends. A queue whose name is gone is
//!   freed once an exclusive `flock` can be had.

use super::queue::MqQueue;
use crate::error::{Errno, Result};
use crate::platform::descriptors as fd;
use crate::region::Region;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;

const MARKER: u64 = 0xb;
const MARKER_SHIFT: u32 = 36;
const MODE_SHIFT: u32 = 34;
const GENERATION_SHIFT: u32 = 12;
const GENERATION_BITS: u32 = 22;
/// Queue slots a position can name.
pub const MAX_SLOTS: u32 = 1 << GENERATION_SHIFT;

/// What a descriptor names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Description {
    pub slot: u32,
    /// The low bits of the queue's generation.
    pub generation: u32,
    /// O_RDONLY, O_WRONLY, O_RDWR (or 3, which allows neither, as Linux).
    pub access: i32,
}

impl Description {
    fn position(self) -> u64 {
        MARKER << MARKER_SHIFT
            | (self.access as u64 & 3) << MODE_SHIFT
            | (self.generation as u64 & ((1 << GENERATION_BITS) - 1)) << GENERATION_SHIFT
            | self.slot as u64
    }

    fn from_position(at: u64) -> Option<Description> {
        (at >> MARKER_SHIFT == MARKER).then(|| Description {
            slot: (at & (MAX_SLOTS as u64 - 1)) as u32,
            generation: ((at >> GENERATION_SHIFT) & ((1 << GENERATION_BITS) - 1)) as u32,
            access: ((at >> MODE_SHIFT) & 3) as i32,
        })
    }

    /// Whether `q` is the queue this names.
    pub fn names(self, q: &MqQueue) -> bool {
        let generation = q.slot.generation.load(std::sync::atomic::Ordering::Relaxed);
        q.holds(generation) && generation & ((1 << GENERATION_BITS) - 1) == self.generation
    }

    pub fn can_read(self) -> bool {
        matches!(self.access, libc::O_RDONLY | libc::O_RDWR)
    }

    pub fn can_write(self) -> bool {
        matches!(self.access, libc::O_WRONLY | libc::O_RDWR)
    }
}

/// What descriptor `fd` names, if it is one of ours (EBADF otherwise).
pub fn resolve(fd: i32) -> Result<Description> {
    if fd < 0 {
        return Err(Errno::EBADF);
    }
    fd::position(fd).ok().and_then(resolve_position).ok_or(Errno::EBADF)
}

/// What a description at file position `at` names, if it is one of ours.
pub fn resolve_position(at: u64) -> Option<Description> {
    Description::from_position(at)
}

/// The anchor of the queue in `slot` at `generation`: the region file's
/// path, [`ANCHOR_INFIX`], `<slot>-<generation>`.
pub fn anchor_path(region: &Region, slot: u32, generation: u32) -> Result<CString> {
    let mut path = region.path().as_os_str().as_bytes().to_vec();
    path.extend_from_slice(format!("{ANCHOR_INFIX}{slot}-{generation}").as_bytes());
    CString::new(path).map_err(|_| Errno::EINVAL)
}

/// What follows the region file's name in its anchors' names.
pub const ANCHOR_INFIX: &str = ".mq-";

/// Opens a new description of a queue for the program: creating its
/// anchor if `create`. `flags` are mq_open's (O_NONBLOCK counts). The
/// descriptor, ready to use.
pub fn open(path: &CString, what: Description, flags: i32, create: bool) -> Result<i32> {
    // Linux sets close-on-exec on every mq_open descriptor, asked for or not.
    let mut open_flags = (flags & libc::O_NONBLOCK) | libc::O_CLOEXEC | libc::O_NOFOLLOW;
    // The kernel's own access mode, so F_GETFL shows what Linux shows; 3
    // (neither) opens read-only underneath.
    open_flags |= if what.access == 3 { libc::O_RDONLY } else { what.access };
    if create {
        open_flags |= libc::O_CREAT | libc::O_EXCL;
    }
    let fd = fd::open_for_program(path, open_flags, 0o666)?;
    let ready = (|| {
        if create {
            // Any user of the namespace may open it (the queue's own mode is
            // checked by mq_open); the umask must not narrow that.
            fd::set_mode(fd, 0o666)?;
        }
        fd::set_position(fd, what.position())?;
        fd::lock_shared(fd)
    })();
    match ready {
        Ok(()) => Ok(fd),
        Err(e) => {
            let _ = fd::close(fd);
            Err(e)
        }
    }
}

/// Whether no description of the anchor at `path` is left anywhere (or
/// the anchor is gone).
pub fn unreferenced(path: &CString) -> bool {
    match crate::platform::Fd::open(path, libc::O_RDONLY | libc::O_NOFOLLOW, 0) {
        Ok(probe) => fd::try_lock_exclusive(probe.raw()).unwrap_or(false),
        Err(e) => e.0 == libc::ENOENT,
    }
}
