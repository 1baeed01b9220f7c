//! Memory that belongs to the C caller.
//!
//! The kernel answers a bad buffer with EFAULT; a library that simply
//! dereferences it would crash the program instead. So the first time a
//! buffer is used, the kernel does the access for us: an input is probed by
//! reading one byte of each page into a scratch byte, and an output is
//! written by the kernel (`process_vm_writev` on ourselves), which reports
//! EFAULT instead of faulting. Only the output itself is ever written: a
//! check that wrote anything else (even a byte back unchanged) could undo
//! another thread's store to it. Page ranges found good are remembered, so
//! a program that keeps using the same buffers pays nothing after the first
//! call; the program's munmap (and shmdt) forgets what they unmap.

use crate::error::{Errno, Result};
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

/// Page ranges recently found accessible. Mappings belong to the process,
/// so this does too (any thread's probe serves every thread, and munmap can
/// forget a range for all of them), and it needs no thread storage, whose
/// every access is a call in a shared library. Two-way set-associative by
/// the range's first page; one word per range, so a racing update can
/// lose a range but never tear one: `first page << 20 | pages << 1 |
/// writable`, 0 when empty (page 0 is never accessible).
static GOOD: [AtomicU64; SLOTS] = [const { AtomicU64::new(0) }; SLOTS];
const SLOTS: usize = 1024;
/// The most pages any remembered range has held: a range that overlaps a
/// given page starts at most this many pages before it.
static MOST_PAGES: AtomicUsize = AtomicUsize::new(0);
const PAGE_SHIFT: u32 = 20;
const MAX_PAGES: usize = (1 << (PAGE_SHIFT - 1)) - 1;

/// A remembered range: first page, end page, writable too.
#[derive(Clone, Copy)]
struct Range(usize, usize, bool);

impl Range {
    fn encode(self) -> Option<u64> {
        let count = (self.1 - self.0).min(MAX_PAGES);
        (self.0 < 1 << (64 - PAGE_SHIFT)).then(|| (self.0 as u64) << PAGE_SHIFT | (count as u64) << 1 | self.2 as u64)
    }

    fn decode(word: u64) -> Option<Range> {
        let first = (word >> PAGE_SHIFT) as usize;
        let count = (word >> 1) as usize & MAX_PAGES;
        (word != 0).then_some(Range(first, first + count, word & 1 != 0))
    }

    /// The two slots a range starting at page `first` may take.
    fn slots(first: usize) -> [&'static AtomicU64; 2] {
        let i = ((first as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 54) as usize & (SLOTS - 1);
        [&GOOD[i], &GOOD[i ^ 1]]
    }
}

fn pages(addr: usize, len: usize) -> Option<(usize, usize)> {
    // Page sizes are powers of two: shifts, not divisions.
    let shift = crate::platform::page_size().trailing_zeros();
    let last = addr.checked_add(len.checked_sub(1)?)?;
    Some((addr >> shift, (last >> shift) + 1))
}

fn remembered(addr: usize, len: usize, write: bool) -> bool {
    remembered_until(addr, len, write).is_some()
}

/// If `len` bytes at `addr` lie in a remembered range, where that range ends.
#[inline]
fn remembered_until(addr: usize, len: usize, write: bool) -> Option<usize> {
    let (first, end) = pages(addr, len)?;
    let shift = crate::platform::page_size().trailing_zeros();
    Range::slots(first).into_iter().find_map(|slot| {
        let Range(a, b, w) = Range::decode(slot.load(Relaxed))?;
        (a == first && end <= b && (w || !write)).then_some(b << shift)
    })
}

fn remember(addr: usize, len: usize, write: bool) {
    let Some((first, end)) = pages(addr, len) else { return };
    let Some(word) = Range(first, end, write).encode() else { return };
    let [one, other] = Range::slots(first);
    // Replace the range of the same start, else an empty slot, else the
    // second slot (the first keeps what has been there longer).
    let same = |slot: &AtomicU64| Range::decode(slot.load(Relaxed)).filter(|r| r.0 == first);
    let slot = match (same(one), same(other)) {
        (Some(Range(_, b, w)), _) | (_, Some(Range(_, b, w))) if end <= b && (w || !write) => return,
        (Some(_), _) => one,
        (_, Some(_)) => other,
        _ if one.load(Relaxed) == 0 => one,
        _ => other,
    };
    // Raised first: a range is never in the table longer than the bound
    // `forget` relies on.
    MOST_PAGES.fetch_max((end - first).min(MAX_PAGES), Relaxed);
    slot.store(word, Relaxed);
}

/// The program unmapped `[addr, addr + len)`: ranges that overlap it are
/// no longer known to be accessible.
/// Only the slots of ranges that may start close enough to overlap are
/// looked at, unless that is more than the whole table.
pub fn forget(addr: usize, len: usize) {
    let Some((first, end)) = pages(addr, len) else { return };
    let forget_in = |slot: &AtomicU64| {
        let word = slot.load(Relaxed);
        if Range::decode(word).is_some_and(|r| r.0 < end && first < r.1) {
            let _ = slot.compare_exchange(word, 0, Relaxed, Relaxed);
        }
    };
    let lowest = first.saturating_sub(MOST_PAGES.load(Relaxed).saturating_sub(1));
    if end - lowest <= SLOTS / 2 {
        (lowest..end).flat_map(Range::slots).for_each(forget_in);
    } else {
        GOOD.iter().for_each(forget_in);
    }
}

/// Whether `len` bytes at `addr` can be read. Addresses in the first page
/// never can; zero bytes always can.
pub fn readable(addr: usize, len: usize) -> bool {
    if len == 0 {
        return true;
    }
    if addr < crate::platform::page_size() {
        return false;
    }
    if remembered(addr, len, false) {
        return true;
    }
    // When the kernel will not say (the probe is forbidden here), the
    // buffer is taken to be good.
    let ok = crate::platform::readable(addr, len).unwrap_or(true);
    if ok {
        remember(addr, len, false);
    }
    ok
}

/// Reads a `T` from caller memory, or EFAULT.
///
/// # Safety
/// `T` must be plain data (any bytes are a valid `T`).
pub unsafe fn read<T: Copy>(p: *const T) -> Result<T> {
    if !readable(p as usize, std::mem::size_of::<T>()) {
        return Err(Errno::EFAULT);
    }
    // SAFETY: readable (checked); plain data per the contract.
    Ok(unsafe { p.read_unaligned() })
}

/// `count` `T`s of caller memory, or EFAULT.
///
/// # Safety
/// `T` must be plain data, and the caller memory must not change while the
/// slice is used (the C caller's contract).
pub unsafe fn slice<'a, T>(p: *const T, count: usize) -> Result<&'a [T]> {
    let bytes = count.checked_mul(std::mem::size_of::<T>()).ok_or(Errno::EFAULT)?;
    if !readable(p as usize, bytes) || (count > 0 && !p.is_aligned()) {
        return Err(Errno::EFAULT);
    }
    if count == 0 {
        return Ok(&[]);
    }
    // SAFETY: readable and aligned (checked), per the contract.
    Ok(unsafe { std::slice::from_raw_parts(p, count) })
}

/// A destination buffer supplied by a C caller: up to `len` bytes at `ptr`.
/// Only the bytes actually written are touched, every write is
/// bounds-checked against `len`, and one that cannot be made is EFAULT.
pub struct OutBuf<'a> {
    ptr: *mut u8,
    len: usize,
    /// The first bytes known writable: written (or remembered) already.
    verified: usize,
    _caller: PhantomData<&'a mut [u8]>,
}

impl OutBuf<'_> {
    /// A buffer of `len` bytes at `ptr`, which may be invalid: writes to it
    /// fail with EFAULT instead of faulting.
    pub fn new(ptr: *mut u8, len: usize) -> Self {
        OutBuf { ptr, len, verified: 0, _caller: PhantomData }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Copies `src` to offset `at`: EFAULT if it does not fit or the memory
    /// cannot be written (some of it may have been written then, as with
    /// the kernel's own copies).
    pub fn write_at(&mut self, at: usize, src: &[u8]) -> Result<()> {
        let end = at.checked_add(src.len()).filter(|&end| end <= self.len).ok_or(Errno::EFAULT)?;
        if src.is_empty() {
            return Ok(());
        }
        let dst = (self.ptr as usize).checked_add(at).ok_or(Errno::EFAULT)?;
        if dst < crate::platform::page_size() {
            return Err(Errno::EFAULT);
        }
        if end > self.verified {
            match remembered_until(dst, src.len(), true) {
                // Known writable up to the end of the remembered range: the
                // next writes there need no look.
                Some(until) => {
                    if at <= self.verified {
                        self.verified = (until - self.ptr as usize).min(self.len);
                    }
                }
                None => match crate::platform::write_checked(dst, src) {
                    Some(Ok(())) => {
                        remember(dst, src.len(), true);
                        if at <= self.verified {
                            self.verified = end;
                        }
                        return Ok(());
                    }
                    Some(Err(e)) => return Err(e),
                    // The kernel will not do it here: the buffer is taken to be good.
                    None => {}
                },
            }
        }
        // SAFETY: in range of the caller's buffer (checked above) and known
        // writable (remembered, or taken on trust where the kernel cannot
        // tell); `src` is our memory, so they cannot overlap.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), dst as *mut u8, src.len()) };
        Ok(())
    }

    /// Writes a plain-data value at offset 0.
    pub fn write_value<T: Copy>(&mut self, value: &T) -> Result<()> {
        // SAFETY: a `T: Copy` value's bytes, read for the copy only.
        let bytes = unsafe { std::slice::from_raw_parts((value as *const T).cast::<u8>(), std::mem::size_of::<T>()) };
        self.write_at(0, bytes)
    }
}

/// Writes a plain-data value to caller memory at `p`, or EFAULT.
pub fn write<T: Copy>(p: *mut T, value: T) -> Result<()> {
    OutBuf::new(p.cast(), std::mem::size_of::<T>()).write_value(&value)
}

/// A NUL-terminated string of caller memory, or EFAULT (the string is
/// probed a page at a time as it is scanned).
///
/// # Safety
/// The caller memory must not change while the string is used.
pub unsafe fn c_str<'a>(p: *const libc::c_char) -> Result<&'a std::ffi::CStr> {
    let page = crate::platform::page_size();
    let mut at = p as usize;
    loop {
        let chunk = page - at % page;
        if !readable(at, chunk) {
            return Err(Errno::EFAULT);
        }
        // SAFETY: `chunk` bytes at `at` are readable (checked).
        let bytes = unsafe { std::slice::from_raw_parts(at as *const u8, chunk) };
        if bytes.contains(&0) {
            // SAFETY: readable up to and including a NUL (checked page by page).
            return Ok(unsafe { std::ffi::CStr::from_ptr(p) });
        }
        at += chunk;
    }
}
