//! The caller's credentials, as the kernel sees them.
//!
//! Read with raw system calls: fakeroot's `geteuid` says 0 to a program it
//! fakes root for, but the kernel checks IPC permissions against the real
//! effective ids, and so does the shim. They are cached per thread (see
//! `caller`) so that the fast path makes no system call; the set*id
//! interposers in [`crate::ffi`] call [`credentials_changed`] after every
//! identity change, so checks always use the ids in force at call time.

use super::sys::sys;
use std::sync::atomic::{AtomicU32, Ordering};

#[derive(Clone, Debug)]
pub struct Credentials {
    pub euid: u32,
    pub egid: u32,
    pub groups: Vec<u32>,
    /// Effective capability bits (CAP_* numbers as bit positions).
    pub caps: u64,
}

pub const CAP_DAC_OVERRIDE: u32 = 1;
pub const CAP_DAC_READ_SEARCH: u32 = 2;
pub const CAP_FOWNER: u32 = 3;
pub const CAP_IPC_LOCK: u32 = 14;
pub const CAP_IPC_OWNER: u32 = 15;
pub const CAP_SYS_ADMIN: u32 = 21;
pub const CAP_SYS_RESOURCE: u32 = 24;

impl Credentials {
    pub fn has_cap(&self, cap: u32) -> bool {
        self.caps & (1u64 << cap) != 0
    }

    pub fn in_group(&self, gid: u32) -> bool {
        self.egid == gid || self.groups.contains(&gid)
    }
}

/// Bumped by every identity change; a cached copy from an older generation
/// is stale.
static GENERATION: AtomicU32 = AtomicU32::new(1);

/// Forgets the cached credentials; the next check reads them afresh.
pub fn credentials_changed() {
    GENERATION.fetch_add(1, Ordering::AcqRel);
}

/// The generation of the credentials in force: a copy read in an older one
/// is stale.
pub(super) fn generation() -> u32 {
    GENERATION.load(Ordering::Acquire)
}

/// The effective uid, without the cache.
pub fn euid() -> u32 {
    // SAFETY: no arguments.
    unsafe { sys!(libc::SYS_geteuid) }.map_or(u32::MAX, |v| v as u32)
}

/// The credentials in force, read afresh.
pub(super) fn read() -> Credentials {
    // SAFETY: no arguments.
    let egid = unsafe { sys!(libc::SYS_getegid) }.map_or(u32::MAX, |v| v as u32);
    // SAFETY: size 0 asks for the count only.
    let n = unsafe { sys!(libc::SYS_getgroups, 0, 0) }.unwrap_or(0);
    let mut groups = vec![0u32; n];
    // SAFETY: `groups` has room for `n` gids.
    let got = unsafe { sys!(libc::SYS_getgroups, n, groups.as_mut_ptr()) }.unwrap_or(0);
    groups.truncate(got);
    Credentials { euid: euid(), egid, groups, caps: effective_caps() }
}

fn effective_caps() -> u64 {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const VERSION_3: u32 = 0x2008_0522;
    let mut header = Header { version: VERSION_3, pid: 0 };
    let mut data = [Data::default(); 2];
    // SAFETY: capget with version 3 writes exactly two Data records.
    match unsafe { sys!(libc::SYS_capget, &mut header as *mut Header, data.as_mut_ptr()) } {
        Ok(_) => data[0].effective as u64 | (data[1].effective as u64) << 32,
        Err(_) => 0,
    }
}
