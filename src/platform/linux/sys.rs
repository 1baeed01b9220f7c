//! Raw system calls.
//!
//! The shim lives inside other people's processes, beside preload libraries
//! (fakeroot, libfaketime, sandboxes) that wrap libc's functions. A call the
//! shim makes for itself must never reach such a wrapper: a wrapper that
//! calls back into the shim while it maps its region would wait on itself,
//! and one that fakes answers (fakeroot's `geteuid`, libfaketime's clocks)
//! would make the shim disagree with the kernel it imitates. So every
//! system call goes through [`syscall`] here, which enters the kernel
//! directly and reports failure as an [`Errno`] instead of through the
//! thread's `errno` (which belongs to the C caller).

use crate::error::{Errno, Result};

/// Makes system call `number` with up to six arguments.
///
/// # Safety
/// The arguments must be valid for that system call: every pointer among
/// them must be valid for what the kernel reads or writes through it.
#[inline]
pub unsafe fn syscall(number: libc::c_long, args: [usize; 6]) -> Result<usize> {
    let ret: isize;
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the x86_64 Linux system call convention: number in rax,
    // arguments in rdi, rsi, rdx, r10, r8, r9; rcx and r11 are clobbered.
    // The caller vouches for the arguments.
    unsafe {
        core::arch::asm!(
            "syscall",
            inlateout("rax") number as isize => ret,
            in("rdi") args[0],
            in("rsi") args[1],
            in("rdx") args[2],
            in("r10") args[3],
            in("r8") args[4],
            in("r9") args[5],
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    #[cfg(target_arch = "aarch64")]
    // SAFETY: the aarch64 Linux convention: number in x8, arguments in
    // x0..x5, result in x0. The caller vouches for the arguments.
    unsafe {
        core::arch::asm!(
            "svc 0",
            in("x8") number as usize,
            inlateout("x0") args[0] => ret,
            in("x1") args[1],
            in("x2") args[2],
            in("x3") args[3],
            in("x4") args[4],
            in("x5") args[5],
            options(nostack),
        );
    }
    // The kernel returns -errno in [-4095, -1]; anything else is a result.
    if (-4095..0).contains(&ret) {
        Err(Errno(-ret as i32))
    } else {
        Ok(ret as usize)
    }
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!("raw system calls are written for x86_64 and aarch64 only");

/// [`syscall`] with fewer arguments (the rest are zero).
macro_rules! sys {
    ($nr:expr $(, $arg:expr)* $(,)?) => {{
        let mut args = [0usize; 6];
        let given = [$($arg as usize),*];
        args[..given.len()].copy_from_slice(&given);
        $crate::platform::sys::syscall($nr, args)
    }};
}
pub(crate) use sys;
