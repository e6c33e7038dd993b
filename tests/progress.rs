//! Progress on stderr: a bar on a terminal, a plain line with --progress in a log, nothing
//! otherwise.

mod common;

use common::{Env, bytes, run, tool_path};
use std::process::Command;

/// Runs a shell command line on a pseudo-terminal (util-linux `script`) and returns what the
/// terminal showed.
fn on_a_terminal(env: &Env, command: &str) -> String {
    let out = Command::new("script")
        .args(["-qfec", command, "/dev/null"])
        .current_dir(env.root())
        .output()
        .unwrap();
    assert!(out.status.success(), "{command}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn tree() -> Env {
    let env = Env::new();
    env.write("src/big", bytes(1, 48 << 20));
    env.write("src/small", "s");
    let list = run(env.tool("mtree-list").args(["-0", "src"]), "");
    std::fs::write(env.path("M"), run(env.tool("mhash").arg("-0"), &list.stdout).stdout).unwrap();
    env
}

#[test]
fn each_tool_draws_a_bar_with_bytes_rate_and_eta_on_a_terminal() {
    let env = tree();
    for (tool, args) in
        [("mhash", "--blake3-threads 1 src/big src/small"), ("mcheck", "src M"), ("mcopy", "src dst")]
    {
        let shown = on_a_terminal(&env, &format!("{} {args} >/dev/null", tool_path(tool).display()));
        assert!(shown.contains("ETA"), "{tool}: {shown:?}");
        assert!(shown.contains("MiB"), "{tool}: {shown:?}");
        assert!(shown.contains("\u{1b}[2K"), "{tool} redraws the line: {shown:?}");
        let quiet =
            on_a_terminal(&env, &format!("{} --no-progress {args} >/dev/null", tool_path(tool).display()));
        assert!(!quiet.contains("ETA"), "{tool} --no-progress: {quiet:?}");
    }
}

#[test]
fn forced_progress_in_a_log_is_a_plain_line() {
    let env = tree();
    let copy = run(env.tool("mcopy").args(["--progress", "src", "dst"]), "");
    assert_eq!(copy.status, 0);
    assert!(copy.stderr.starts_with("mcopy: 2 files, 48.00 MiB, "), "{}", copy.stderr);
    assert!(!copy.stderr.contains('\u{1b}'), "no terminal codes in a log");
    let check = run(env.tool("mcheck").args(["--progress", "-q", "dst", "M"]), "");
    assert!(check.stderr.starts_with("mcheck: 2 files, 48.00 MiB, "), "{}", check.stderr);
}
