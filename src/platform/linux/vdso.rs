//! Finding a symbol in the vDSO image (an ELF shared object the kernel
//! maps into every process).

/// The address of the vDSO's function `name`, if there is a vDSO that has one.
pub fn find(name: &str) -> Option<usize> {
    // SAFETY: getauxval only reads the auxiliary vector.
    let base = unsafe { libc::getauxval(libc::AT_SYSINFO_EHDR) } as usize;
    if base == 0 {
        return None;
    }
    // SAFETY: AT_SYSINFO_EHDR is the address of the mapped vDSO image,
    // a complete ELF file (headers, sections, symbols) that stays
    // mapped for the life of the process.
    unsafe { lookup(base, name.as_bytes()) }
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
