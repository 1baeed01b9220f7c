//! Memory that belongs to the C caller.
//!
//! The kernel answers a bad buffer with EFAULT; a library that simply
//! dereferences it would crash the program instead. So before a caller's
//! buffer is touched, [`accessible`] makes sure its pages can be read (or
//! written), asking the kernel once per page range: the answer is cached
//! per thread for the few ranges used last, so a program that keeps using
//! the same buffers pays nothing after the first call.

use std::cell::Cell;
use std::marker::PhantomData;

/// Page ranges of the calling thread recently found accessible:
/// (first page, end page, writable too).
const REMEMBERED: usize = 4;

thread_local! {
    static GOOD: Cell<[(usize, usize, bool); REMEMBERED]> = const { Cell::new([(0, 0, false); REMEMBERED]) };
}

fn page_size() -> usize {
    crate::shm::page_size() as usize
}

/// Whether `len` bytes at `addr` can be read, and written if `write`.
/// Addresses in the first page are never accessible.
pub fn accessible(addr: usize, len: usize, write: bool) -> bool {
    let page = page_size();
    if addr < page {
        return false;
    }
    if len == 0 {
        return true;
    }
    let Some(last) = addr.checked_add(len - 1) else { return false };
    let (first_page, end_page) = (addr / page, last / page + 1);
    let remembered = GOOD.try_with(|g| g.get()).unwrap_or_default();
    if remembered.iter().any(|&(a, b, w)| a <= first_page && end_page <= b && (w || !write)) {
        return true;
    }
    let ok = (first_page..end_page).all(|p| crate::platform::probe_page(p * page, write).unwrap_or(true));
    if ok {
        let _ = GOOD.try_with(|g| {
            let mut ranges = g.get();
            ranges.rotate_right(1);
            ranges[0] = (first_page, end_page, write);
            g.set(ranges);
        });
    }
    ok
}

/// A destination buffer supplied by a C caller: `len` bytes at `ptr` that the
/// caller promised are writable. Only the bytes actually written are touched,
/// and every write is bounds-checked against `len`.
pub struct OutBuf<'a> {
    ptr: *mut u8,
    len: usize,
    _caller: PhantomData<&'a mut [u8]>,
}

impl<'a> OutBuf<'a> {
    /// # Safety
    /// `ptr` must be valid for writes of `len` bytes for `'a` (the C caller's
    /// contract, e.g. msgrcv's `msgsz`), and not be read by Rust meanwhile.
    pub unsafe fn new(ptr: *mut u8, len: usize) -> Self {
        OutBuf { ptr, len, _caller: PhantomData }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the first `count` bytes can be written (see [`accessible`]).
    pub fn writable(&self, count: usize) -> bool {
        count <= self.len && accessible(self.ptr as usize, count, true)
    }

    /// Copies `src` to offset `at`; false (and nothing written) if it does not fit.
    pub fn write_at(&mut self, at: usize, src: &[u8]) -> bool {
        if at.checked_add(src.len()).is_none_or(|end| end > self.len) {
            return false;
        }
        // SAFETY: `at + src.len() <= len`, and `new`'s contract makes the
        // whole range writable; `src` is Rust memory, so they cannot overlap.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), self.ptr.add(at), src.len()) };
        true
    }

    /// Raw destination for `count` bytes at `at`, for copies straight out of
    /// shared memory; `None` if out of range.
    pub fn range_ptr(&mut self, at: usize, count: usize) -> Option<*mut u8> {
        if at.checked_add(count).is_none_or(|end| end > self.len) {
            return None;
        }
        // SAFETY: in range, per the check above.
        Some(unsafe { self.ptr.add(at) })
    }
}
