//! Clocks, read through the vDSO's own `clock_gettime`, never libc's.
//!
//! libc's `clock_gettime` may be wrapped by a preload library
//! (libfaketime moves time for the program), but the kernel's IPC
//! timestamps and timeouts follow the real clocks. The vDSO's entry point
//! is found once by reading the vDSO's ELF symbol table (the kernel maps it
//! into every process and names it in the auxiliary vector); without one,
//! the system call is made instead. The seconds that IPC timestamps hold
//! come from the vDSO's `time` where it has one (x86_64): one load, where
//! the coarse clock reads a whole timespec under a sequence count.

use super::sys::sys;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

type ClockGettime = unsafe extern "C" fn(libc::clockid_t, *mut libc::timespec) -> libc::c_int;
type Time = unsafe extern "C" fn(*mut libc::time_t) -> libc::time_t;

/// The vDSO functions' addresses; 0 before the lookup, 1 if there is none.
static VDSO_CLOCK_GETTIME: AtomicUsize = AtomicUsize::new(0);
static VDSO_TIME: AtomicUsize = AtomicUsize::new(0);
const NO_VDSO: usize = 1;

/// The vDSO's function `name`, looked up once into `cache`.
#[inline]
fn vdso_entry(cache: &AtomicUsize, name: &[u8]) -> usize {
    match cache.load(Ordering::Relaxed) {
        0 => {
            // Racing threads find the same address: storing it twice is harmless.
            let entry = vdso::find(name).unwrap_or(NO_VDSO);
            cache.store(entry, Ordering::Relaxed);
            entry
        }
        entry => entry,
    }
}

fn read(clock: libc::clockid_t) -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    let name: &[u8] = if cfg!(target_arch = "aarch64") { b"__kernel_clock_gettime" } else { b"__vdso_clock_gettime" };
    let entry = vdso_entry(&VDSO_CLOCK_GETTIME, name);
    let ok = if entry != NO_VDSO {
        // SAFETY: `entry` is the vDSO's clock_gettime, found by name in the
        // vDSO's symbol table, which has this signature.
        let f: ClockGettime = unsafe { std::mem::transmute::<usize, ClockGettime>(entry) };
        // SAFETY: `ts` is a valid out-parameter.
        unsafe { f(clock, &mut ts) == 0 }
    } else {
        // SAFETY: `ts` is a valid out-parameter.
        unsafe { sys!(libc::SYS_clock_gettime, clock, &mut ts as *mut libc::timespec) }.is_ok()
    };
    if !ok {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec.max(0) as u64, ts.tv_nsec.clamp(0, 999_999_999) as u32)
}

/// A monotonic instant, for deadlines and bounding spins.
pub fn monotonic_now() -> Duration {
    read(libc::CLOCK_MONOTONIC)
}

/// The time since the epoch, for absolute POSIX deadlines.
pub fn realtime_now() -> Duration {
    read(libc::CLOCK_REALTIME)
}

/// Seconds since the epoch, as stored in `msg_stime` and friends (the
/// coarse clock: the kernel's IPC timestamps are at second resolution).
#[inline]
pub fn now_secs() -> i64 {
    // The vDSO's time() returns the seconds of the same kernel clock
    // (xtime) that the coarse clock and the kernel's own IPC timestamps
    // read. aarch64's vDSO has none.
    if cfg!(target_arch = "x86_64") {
        let entry = vdso_entry(&VDSO_TIME, b"__vdso_time");
        if entry != NO_VDSO {
            // SAFETY: `entry` is the vDSO's time, found by name in the
            // vDSO's symbol table, which has this signature; a null
            // argument asks for the return value only.
            return unsafe { std::mem::transmute::<usize, Time>(entry)(std::ptr::null_mut()) };
        }
    }
    read(libc::CLOCK_REALTIME_COARSE).as_secs() as i64
}

mod vdso {
    //! Finding a symbol in the vDSO image (an ELF shared object the kernel
    //! maps into every process).

    /// The address of the vDSO's function `name`, if there is a vDSO that
    /// has one.
    pub fn find(name: &[u8]) -> Option<usize> {
        // SAFETY: getauxval only reads the auxiliary vector.
        let base = unsafe { libc::getauxval(libc::AT_SYSINFO_EHDR) } as usize;
        if base == 0 {
            return None;
        }
        // SAFETY: AT_SYSINFO_EHDR is the address of the mapped vDSO image,
        // a complete ELF file (headers, sections, symbols) that stays
        // mapped for the life of the process.
        unsafe { lookup(base, name) }
    }

    /// # Safety
    /// `base` must be the start of a mapped, well-formed ELF64 image.
    unsafe fn lookup(base: usize, name: &[u8]) -> Option<usize> {
        use libc::{Elf64_Ehdr, Elf64_Phdr, Elf64_Shdr, Elf64_Sym};
        const SHT_DYNSYM: u32 = 11;
        /// `count` `T`s at `offset` in the image.
        ///
        /// # Safety
        /// They must lie inside the image (the ELF header says where).
        unsafe fn table<'a, T>(base: usize, offset: u64, count: usize) -> &'a [T] {
            // SAFETY: per the contract.
            unsafe { std::slice::from_raw_parts((base + offset as usize) as *const T, count) }
        }
        // SAFETY: the image starts with its ELF header (the contract).
        let header = unsafe { &*(base as *const Elf64_Ehdr) };
        if header.e_ident[..4] != *b"\x7fELF" || header.e_ident[4] != 2 {
            return None;
        }
        // SAFETY: the program headers the ELF header locates.
        let phdrs: &[Elf64_Phdr] = unsafe { table(base, header.e_phoff, header.e_phnum as usize) };
        // Symbol values are link-time addresses; the image sits at `base`.
        let load = phdrs.iter().find(|p| p.p_type == libc::PT_LOAD)?;
        let bias = base.wrapping_sub((load.p_vaddr - load.p_offset) as usize);
        // SAFETY: the section headers the ELF header locates.
        let sections: &[Elf64_Shdr] = unsafe { table(base, header.e_shoff, header.e_shnum as usize) };
        let dynsym = sections.iter().find(|s| s.sh_type == SHT_DYNSYM)?;
        let strtab = sections.get(dynsym.sh_link as usize)?;
        let count = (dynsym.sh_size / dynsym.sh_entsize.max(1)) as usize;
        // SAFETY: the dynamic symbol table its section header locates.
        let symbols: &[Elf64_Sym] = unsafe { table(base, dynsym.sh_offset, count) };
        let strings = base + strtab.sh_offset as usize;
        symbols.iter().find_map(|sym| {
            // SAFETY: a NUL-terminated name in the string table the symbol
            // table's section links to.
            let symbol_name = unsafe { std::ffi::CStr::from_ptr((strings + sym.st_name as usize) as *const _) };
            let defined = sym.st_shndx != 0 && sym.st_value != 0;
            (defined && symbol_name.to_bytes() == name).then(|| bias.wrapping_add(sym.st_value as usize))
        })
    }
}
