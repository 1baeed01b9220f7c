//! Shell completions and man pages.

mod support;

use support::*;

#[test]
fn completions_cover_every_subcommand() {
    for shell in ["bash", "zsh", "fish"] {
        let out = output(ipcshim(&["completions", shell]));
        assert!(out.status.success(), "{shell}: {}", stderr(&out));
        let script = stdout(&out);
        for word in ["run", "ipcs", "ipcrm", "namespaces", "top", "no-kernel-ipc", "queue-key", "iterations"] {
            assert!(script.contains(word), "{shell} completion lacks {word}");
        }
    }
    assert_fails_cleanly(&output(ipcshim(&["completions", "cmd.exe"])), 2, "invalid value 'cmd.exe'");
}

#[test]
fn the_man_page_and_one_per_subcommand() {
    let out = output(ipcshim(&["manpage"]));
    assert!(stdout(&out).contains(".TH ipcshim 1"), "{}", stdout(&out));
    let dir = TempDir::new("man");
    let out = output(ipcshim(&["manpage", "--out-dir", dir.str()]));
    assert!(out.status.success(), "{}", stderr(&out));
    for page in
        ["ipcshim.1", "ipcshim-run.1", "ipcshim-ipcs.1", "ipcshim-ipcrm.1", "ipcshim-namespaces.1", "ipcshim-top.1"]
    {
        let text = std::fs::read_to_string(dir.path().join(page)).unwrap_or_default();
        assert!(text.contains(".TH "), "{page}: {text}");
    }
    let missing = dir.path().join("missing");
    let out = output(ipcshim(&["manpage", "--out-dir", missing.to_str().unwrap()]));
    assert_fails_cleanly(&out, 1, "cannot write the man pages into");
}
