//! Mappings, and the caller's memory.
//!
//! The region is mapped once, from descriptors that are closed right away;
//! everything later works on the mapping itself, never on a descriptor the
//! program could have closed or replaced: pages are reserved by
//! prefaulting them (MADV_POPULATE_WRITE fails where a store would SIGBUS),
//! given back with MADV_REMOVE, and a shared-memory attachment is a second
//! mapping of the same pages made with mremap (old size 0 duplicates a
//! shared mapping).

use super::sys::sys;
use crate::error::{Errno, Result};

const MADV_POPULATE_WRITE: usize = 23;

/// Maps `len` bytes of `fd` from offset 0, MAP_SHARED with `prot`.
pub fn map_shared(fd: i32, len: usize, prot: i32) -> Result<usize> {
    // SAFETY: a new mapping at an address the kernel picks.
    unsafe { sys!(libc::SYS_mmap, 0, len, prot, libc::MAP_SHARED, fd, 0) }
}

/// The page size (from the auxiliary vector, once: no system call).
pub fn page_size() -> usize {
    static PAGE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    match PAGE.load(std::sync::atomic::Ordering::Relaxed) {
        0 => {
            // SAFETY: getauxval only reads the auxiliary vector.
            let size = match unsafe { libc::getauxval(libc::AT_PAGESZ) } as usize {
                0 => 4096,
                size => size,
            };
            PAGE.store(size, std::sync::atomic::Ordering::Relaxed);
            size
        }
        size => size,
    }
}

/// Unmaps a range this library mapped.
pub fn unmap(addr: usize, len: usize) {
    // SAFETY: the caller names a range of its own mapping.
    let _ = unsafe { sys!(libc::SYS_munmap, addr, len) };
}

/// Gives `[addr, addr + len)` of a shared file mapping real pages (ENOMEM
/// if the file system is full: the kernel reports what would have been a
/// SIGBUS as an error).
pub fn populate(addr: usize, len: usize) -> Result<()> {
    // SAFETY: advice on our own mapping; the pages read as before.
    match unsafe { sys!(libc::SYS_madvise, addr, len, MADV_POPULATE_WRITE) } {
        Ok(_) => Ok(()),
        Err(e) if e.0 == libc::EINVAL => Err(e), // kernel older than 5.14
        Err(_) => Err(Errno::ENOMEM),
    }
}

/// Frees the file pages behind `[addr, addr + len)` of a shared mapping;
/// they read as zeros afterwards.
pub fn remove_pages(addr: usize, len: usize) {
    // SAFETY: advice on our own mapping, whose contents the caller gives up.
    let _ = unsafe { sys!(libc::SYS_madvise, addr, len, libc::MADV_REMOVE) };
}

/// A second mapping of the `len` bytes at `source` (inside a MAP_SHARED
/// mapping), with the protection `source` has: anywhere, or exactly at
/// `at`. Without `replace`, an `at` overlapping an existing mapping is
/// refused (EINVAL, as shmat does).
pub fn duplicate(source: usize, len: usize, at: Option<usize>, replace: bool) -> Result<usize> {
    let Some(at) = at else {
        // SAFETY: old size 0 duplicates a shared mapping; the kernel picks the address.
        return unsafe { sys!(libc::SYS_mremap, source, 0, len, libc::MREMAP_MAYMOVE) }.map_err(map_error);
    };
    if !replace {
        // Claim the range first, failing if anything is there; the
        // duplicate then replaces only our placeholder.
        // SAFETY: MAP_FIXED_NOREPLACE never replaces an existing mapping.
        let placeholder = unsafe {
            sys!(
                libc::SYS_mmap,
                at,
                len,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE,
                -1i32,
                0
            )
        }
        .map_err(map_error)?;
        if placeholder != at {
            // A kernel without MAP_FIXED_NOREPLACE took it as a hint.
            unmap(placeholder, len);
            return Err(Errno::EINVAL);
        }
    }
    // SAFETY: MREMAP_FIXED replaces what is at `at`: our placeholder, or
    // whatever the caller allowed to be replaced (SHM_REMAP).
    let result = unsafe { sys!(libc::SYS_mremap, source, 0, len, libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED, at) };
    if result.is_err() && !replace {
        unmap(at, len);
    }
    result.map_err(map_error)
}

fn map_error(e: Errno) -> Errno {
    match e.0 {
        libc::EEXIST => Errno::EINVAL,
        // Below mmap_min_addr.
        libc::EACCES | libc::EPERM => e,
        _ => Errno::ENOMEM,
    }
}

/// Changes the protection of a range of our own mapping.
pub fn protect(addr: usize, len: usize, prot: i32) -> Result<()> {
    // SAFETY: the caller names a mapping it made.
    unsafe { sys!(libc::SYS_mprotect, addr, len, prot) }.map(drop)
}

/// RLIMIT_MEMLOCK in bytes (None: unlimited).
pub fn memlock_limit() -> Option<u64> {
    let mut limit = libc::rlimit64 { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: prlimit64 on ourselves writes `limit`.
    let read = unsafe { sys!(libc::SYS_prlimit64, 0, libc::RLIMIT_MEMLOCK, 0, &mut limit as *mut libc::rlimit64) };
    match read {
        Ok(_) if limit.rlim_cur != libc::RLIM64_INFINITY => Some(limit.rlim_cur),
        _ => None,
    }
}

/// Whether `len` bytes at `addr` of our own memory can be read: they are
/// read (into a scratch buffer, a page at a time) through the kernel, which
/// reports EFAULT instead of faulting. None when the kernel will not say
/// (the call is forbidden here).
pub fn readable(addr: usize, len: usize) -> Option<bool> {
    let mut scratch = [0u8; 1];
    let page = page_size();
    let mut at = addr;
    let end = addr.checked_add(len)?;
    // One byte of each page is enough: protection is per page.
    while at < end {
        let local = libc::iovec { iov_base: scratch.as_mut_ptr().cast(), iov_len: 1 };
        let remote = libc::iovec { iov_base: at as *mut libc::c_void, iov_len: 1 };
        match self_vm(libc::SYS_process_vm_readv, &local, &remote) {
            Ok(1) => {}
            Ok(_) => return Some(false),
            Err(e) if e.0 == libc::EFAULT => return Some(false),
            Err(_) => return None,
        }
        at = (at / page + 1) * page;
    }
    Some(true)
}

/// Copies `src` to `dst` in our own memory through the kernel: EFAULT (and
/// perhaps a partial copy, as the kernel's own copies) instead of a fault
/// if `dst` is not writable. None when the kernel will not do it here.
pub fn write_checked(dst: usize, src: &[u8]) -> Option<Result<()>> {
    let local = libc::iovec { iov_base: src.as_ptr() as *mut libc::c_void, iov_len: src.len() };
    let remote = libc::iovec { iov_base: dst as *mut libc::c_void, iov_len: src.len() };
    match self_vm(libc::SYS_process_vm_writev, &local, &remote) {
        Ok(n) if n == src.len() => Some(Ok(())),
        Ok(_) => Some(Err(Errno::EFAULT)),
        Err(e) if e.0 == libc::EFAULT => Some(Err(Errno::EFAULT)),
        Err(_) => None,
    }
}

fn self_vm(call: libc::c_long, local: &libc::iovec, remote: &libc::iovec) -> Result<usize> {
    let pid = super::identity::pid();
    // SAFETY: one iovec each way; the local one is ours and valid, the
    // remote one is checked by the kernel.
    unsafe { sys!(call, pid, local as *const libc::iovec, 1, remote as *const libc::iovec, 1, 0) }
}
