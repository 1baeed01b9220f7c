//! Memory that belongs to the C caller.

use std::marker::PhantomData;

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
