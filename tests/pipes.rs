//! Pipes and FIFOs are the kernel's, and stay so under the shim: shell
//! pipelines and a named pipe shared by exec'd programs give the same bytes
//! with the library preloaded (each run in a fresh namespace directory) as
//! without it.

mod common;

use common::{run_with_limit, shim_library, TempDir};
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

/// `sh -c script` in `cwd`, under the shim (namespace directory `ns`) or not.
fn shell(script: &str, cwd: &Path, ns: Option<&Path>) -> Output {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(script).current_dir(cwd);
    for var in ["LD_PRELOAD", "LD_LIBRARY_PATH", "IPCSHIM_DIR", "IPCSHIM_NAMESPACE", "IPCSHIM_LOG"] {
        cmd.env_remove(var);
    }
    if let Some(ns) = ns {
        cmd.env("LD_PRELOAD", shim_library()).env("IPCSHIM_DIR", ns);
    }
    run_with_limit(cmd, LIMIT)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `script` without and with the shim, each in a fresh working
/// directory: both succeed with the same output, which is `expected`, and
/// the shim's namespace directory holds nothing but region files.
fn same_with_and_without_shim(script: &str, expected: &str) {
    let plain_cwd = TempDir::new("plain");
    let plain = shell(script, plain_cwd.path(), None);
    assert!(
        plain.status.success(),
        "without the shim: {}\n{}{}",
        plain.status,
        text(&plain.stdout),
        text(&plain.stderr)
    );

    let shim_cwd = TempDir::new("shim");
    let ns = TempDir::new("ns");
    // The programs of the pipeline really have the library loaded.
    let maps = shell("cat /proc/self/maps", shim_cwd.path(), Some(ns.path()));
    assert!(text(&maps.stdout).contains("libipcshim.so"), "the shim was not preloaded:\n{}", text(&maps.stderr));
    let shim = shell(script, shim_cwd.path(), Some(ns.path()));
    assert!(shim.status.success(), "under the shim: {}\n{}{}", shim.status, text(&shim.stdout), text(&shim.stderr));

    assert_eq!(text(&shim.stdout), text(&plain.stdout), "the output differs under the shim");
    assert_eq!(text(&plain.stdout), expected, "the pipeline's output");
    let left: Vec<_> =
        std::fs::read_dir(ns.path()).expect("ns dir").filter_map(|e| e.ok()).map(|e| e.file_name()).collect();
    assert!(left.iter().all(|f| f.to_string_lossy().ends_with(".region")), "left in the namespace: {left:?}");
}

/// `seq 1 n`'s output, as seq prints it.
fn seq_text(n: u32) -> String {
    (1..=n).map(|i| format!("{i}\n")).collect()
}

/// What `wc -c` and `cksum` print for `data` (POSIX CRC, so no hash tool
/// beyond coreutils is needed to know the expected line).
fn cksum_line(data: &[u8]) -> String {
    let mut crc: u32 = 0;
    let mut feed = |byte: u8| {
        crc ^= u32::from(byte) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 { (crc << 1) ^ 0x04C1_1DB7 } else { crc << 1 };
        }
    };
    data.iter().copied().for_each(&mut feed);
    let mut len = data.len();
    while len > 0 {
        feed(len as u8);
        len >>= 8;
    }
    format!("{} {}\n", !crc, data.len())
}

#[test]
fn a_shell_pipeline_through_xz_is_unchanged_under_the_shim() {
    let expected = cksum_line(seq_text(100_000).as_bytes());
    same_with_and_without_shim("seq 1 100000 | xz | xz -d | cksum", &expected);
}

#[test]
fn a_long_pipeline_of_cats_is_unchanged_under_the_shim() {
    let expected = cksum_line(seq_text(300_000).as_bytes());
    same_with_and_without_shim("seq 1 300000 | cat | cat | cat | cat | cat | cksum", &expected);
}

#[test]
fn a_fifo_shared_by_exec_d_programs_is_unchanged_under_the_shim() {
    // The course's named pipe: mkfifo, xz reading it in the background,
    // seq writing into it, rm; then the compressed file decompressed.
    let script = "mkfifo mi_tuberia && { xz < mi_tuberia > 1m.xz & } && seq 1 100000 > mi_tuberia && wait $! \
                  && rm mi_tuberia && test ! -e mi_tuberia && xz -dc 1m.xz | cksum";
    let expected = cksum_line(seq_text(100_000).as_bytes());
    same_with_and_without_shim(script, &expected);
}

#[test]
fn a_fifo_opened_both_ways_by_one_shell_and_read_by_exec_d_programs_is_unchanged_under_the_shim() {
    // The shell opens the FIFO read-write (no open blocks), and the
    // programs it runs inherit the descriptor across exec.
    let script = "mkfifo f && exec 3<>f && rm f && seq 1 2000 >&3 && echo end >&3 \
                  && sed -n '/^end$/q;p' <&3 | cksum";
    let expected = cksum_line(seq_text(2000).as_bytes());
    same_with_and_without_shim(script, &expected);
}
