//! Formatting as util-linux's ipcs does: user and group names, ctime(3)
//! dates, and sizes in its units.

use std::ffi::CStr;

/// The user's name, if the password database knows the uid.
pub fn user(uid: u32) -> Option<String> {
    let mut buf = vec![0 as libc::c_char; 4096];
    // SAFETY: passwd is plain data; all-zero is valid.
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call; buf outlives the read of pw_name below.
    let rc = unsafe { libc::getpwuid_r(uid, &mut entry, buf.as_mut_ptr(), buf.len(), &mut found) };
    if rc != 0 || found.is_null() {
        return None;
    }
    // SAFETY: on success pw_name points to a NUL-terminated string in buf.
    Some(unsafe { CStr::from_ptr(entry.pw_name) }.to_string_lossy().into_owned())
}

/// The group's name, if the group database knows the gid.
pub fn group(gid: u32) -> Option<String> {
    let mut buf = vec![0 as libc::c_char; 4096];
    // SAFETY: group is plain data; all-zero is valid.
    let mut entry: libc::group = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::group = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call; buf outlives the read of gr_name below.
    let rc = unsafe { libc::getgrgid_r(gid, &mut entry, buf.as_mut_ptr(), buf.len(), &mut found) };
    if rc != 0 || found.is_null() {
        return None;
    }
    // SAFETY: on success gr_name points to a NUL-terminated string in buf.
    Some(unsafe { CStr::from_ptr(entry.gr_name) }.to_string_lossy().into_owned())
}

/// `%-10s` of the user's name (`%-10.10s` if `truncate`), or `%-10u` of the uid.
pub fn user_column(uid: u32, truncate: bool) -> String {
    match user(uid) {
        Some(name) if truncate => format!("{:<10.10}", name),
        Some(name) => format!("{name:<10}"),
        None => format!("{uid:<10}"),
    }
}

pub fn group_column(gid: u32) -> String {
    group(gid).map_or_else(|| format!("{gid:<10}"), |name| format!("{name:<10}"))
}

/// ctime(3) without its newline: "Sat Dec  5 21:13:12 2026", local time.
pub fn ctime(secs: i64) -> String {
    let mut buf = [0 as libc::c_char; 64];
    let t: libc::time_t = secs;
    // SAFETY: ctime_r writes at most 26 bytes into buf.
    let out = unsafe { libc::ctime_r(&t, buf.as_mut_ptr()) };
    if out.is_null() {
        return "?".to_owned();
    }
    // SAFETY: ctime_r NUL-terminates what it wrote.
    let text = unsafe { CStr::from_ptr(buf.as_ptr()) }.to_string_lossy().into_owned();
    text.trim_end_matches('\n').to_owned()
}

/// ipcs's short date: `ctime + 4`, 16 characters ("Dec  5 21:13:12 "),
/// or "Not set".
pub fn short_time(secs: i64) -> String {
    if secs == 0 {
        return "Not set".to_owned();
    }
    format!("{} ", &ctime(secs)[4..]).chars().take(16).collect()
}

/// ipcs's long date: the 24 characters of ctime, or "Not set".
pub fn long_time(secs: i64) -> String {
    if secs == 0 {
        "Not set".to_owned()
    } else {
        ctime(secs)
    }
}

/// How sizes are shown (`--human`, `--bytes`, or each place's default).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Default,
    Bytes,
    Kilobytes,
    Human,
}

/// util-linux's `size_to_human_string` with one-letter suffixes: "4K",
/// "1.5M", "100B" (one decimal, rounded, a trailing zero dropped).
pub fn human(bytes: u64) -> String {
    let exp = (10..=60).step_by(10).find(|&shift| bytes < 1u64 << shift).map_or(60, |shift| shift - 10);
    let letter = b"BKMGTPE"[(exp / 10) as usize] as char;
    let (mut whole, frac) = if exp == 0 { (bytes, 0) } else { (bytes >> exp, bytes & ((1u64 << exp) - 1)) };
    let mut tenths = 0;
    if frac != 0 {
        let thousandths = if frac >= u64::MAX / 1000 {
            ((frac / 1024) * 1000) / (1u64 << (exp - 10))
        } else {
            (frac * 1000) / (1u64 << exp)
        };
        let mut hundredths = ((thousandths + 50) / 100) * 10;
        if hundredths == 100 {
            whole += 1;
            hundredths = 0;
        }
        tenths = hundredths / 10;
    }
    if tenths != 0 {
        format!("{whole}.{tenths}{letter}")
    } else {
        format!("{whole}{letter}")
    }
}

/// util-linux's `ipc_print_size`: an optional label ("label = ", or the
/// label itself when it ends with '='), the size in `unit` in a field of
/// `width` (negative: left-aligned), then `end`.
pub fn size(unit: Unit, label: Option<&str>, bytes: u64, end: &str, width: i32) -> String {
    let mut out = String::new();
    if let Some(label) = label {
        out += &match unit {
            _ if label.ends_with('=') => label.to_owned(),
            Unit::Bytes => format!("{label} (bytes) = "),
            Unit::Kilobytes => format!("{label} (kbytes) = "),
            _ => format!("{label} = "),
        };
    }
    let value = match unit {
        Unit::Default | Unit::Bytes => bytes.to_string(),
        Unit::Kilobytes => (bytes / 1024).to_string(),
        Unit::Human => human(bytes),
    };
    let w = width.unsigned_abs() as usize;
    out += &if width < 0 { format!("{value:<w$}") } else { format!("{value:>w$}") };
    out + end
}

#[cfg(test)]
mod tests {
    use super::human;

    #[test]
    fn human_sizes_are_util_linux_s() {
        assert_eq!(human(0), "0B");
        assert_eq!(human(1023), "1023B");
        assert_eq!(human(1024), "1K");
        assert_eq!(human(1536), "1.5K");
        assert_eq!(human(5000), "4.9K");
        assert_eq!(human(1 << 20), "1M");
        assert_eq!(human((1 << 20) - 1), "1024K");
        assert_eq!(human(u64::MAX), "16E");
    }
}
