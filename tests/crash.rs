//! Crash consistency: mcopy and run-mirror killed with SIGKILL at many points of a copy. At no
//! point is there a file under its final name that differs from the source, and reruns finish
//! with a destination that mcheck verifies.

mod common;

use common::{Env, bytes, run};
use std::collections::HashMap;
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const KILLS: u64 = 24;

fn tree() -> Env {
    let env = Env::new();
    for i in 0..3u64 {
        env.write(format!("src/big{i}.bam"), bytes(100 + i, 40 << 20));
    }
    for i in 0..300u64 {
        env.write(format!("src/lane{}/r{i:03}.fq", i % 7), bytes(i, (i as usize * 7919) % 200_000));
    }
    env
}

/// Every file under its final name in `dst` equals its source; temporaries are ignored.
fn assert_no_torn_file(src: &Path, dst: &Path, sources: &HashMap<String, blake3::Hash>) {
    if !dst.exists() {
        return;
    }
    let out =
        Command::new("find").arg(".").args(["-type", "f", "-print0"]).current_dir(dst).output().unwrap();
    for rel in common::records(&out.stdout, 0) {
        let rel = String::from_utf8(rel.to_vec()).unwrap();
        // A killed run leaves its temporaries and DST's lock (unlocked) for the next run.
        let base = rel.rsplit('/').next().unwrap();
        if base.starts_with(".mcopy.tmp.") || rel == "./.mcopy.lock" || base.contains("BLAKE3SUMS") {
            continue;
        }
        let data = fs::read(dst.join(&rel)).unwrap();
        let want = sources
            .get(rel.trim_start_matches("./"))
            .unwrap_or_else(|| panic!("{rel} not in {}", src.display()));
        assert_eq!(&blake3::hash(&data), want, "{rel} is torn");
    }
}

fn source_hashes(src: &Path) -> HashMap<String, blake3::Hash> {
    let out =
        Command::new("find").arg(".").args(["-type", "f", "-print0"]).current_dir(src).output().unwrap();
    common::records(&out.stdout, 0)
        .into_iter()
        .map(|r| {
            let rel = String::from_utf8(r.to_vec()).unwrap();
            let hash = blake3::hash(&fs::read(src.join(&rel)).unwrap());
            (rel.trim_start_matches("./").to_string(), hash)
        })
        .collect()
}

/// Kills `cmd` (its whole process group) with SIGKILL after `ms` milliseconds; true when it
/// had finished by itself.
fn kill_after(cmd: &mut Command, ms: u64) -> bool {
    let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).process_group(0).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(ms));
    if child.try_wait().unwrap().is_some() {
        return true;
    }
    // SAFETY: signalling the child's own process group.
    unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
    child.wait().unwrap();
    false
}

/// Verifies `dst` against a manifest of `src` made by mhash.
fn assert_verified(env: &Env) {
    let list = run(env.tool("mtree-list").args(["-0", "--exclude", "/BLAKE3SUMS*", "src"]), "");
    let manifest = run(env.tool("mhash").arg("-0"), &list.stdout);
    let check = run(env.tool("mcheck").args(["--quiet", "dst"]), &manifest.stdout);
    assert_eq!(check.status, 0, "{}", check.stderr);
}

/// Kills the tool at many points; a run that finishes by itself is verified and DST wiped,
/// so the kills keep landing in the middle of copies.
fn kill_many_times_then_finish(tool_args: &[&str], tool: &str) {
    let env = tree();
    let sources = source_hashes(&env.path("src"));
    let (mut kills, mut attempt) = (0, 0u64);
    while kills < KILLS {
        attempt += 1;
        assert!(attempt < 10 * KILLS, "could not interrupt the copy often enough");
        // Spread the kills over the copy: early, middle, late (deterministic).
        let ms = 5 + (attempt * 7_919) % 300;
        if kill_after(env.tool(tool).args(tool_args), ms) {
            assert_verified(&env);
            fs::remove_dir_all(env.path("dst")).unwrap();
            continue;
        }
        kills += 1;
        assert_no_torn_file(&env.path("src"), &env.path("dst"), &sources);
    }
    let last = run(env.tool(tool).args(tool_args), "");
    assert_eq!(last.status, 0, "{}", last.stderr);
    assert_no_torn_file(&env.path("src"), &env.path("dst"), &sources);
    assert_verified(&env);
    let leftovers =
        Command::new("find").arg(env.path("dst")).args(["-name", ".mcopy.tmp.*"]).output().unwrap();
    assert!(leftovers.stdout.is_empty(), "{}", String::from_utf8_lossy(&leftovers.stdout));
    assert!(!env.path("dst/.mcopy.lock").exists(), "a finished run removes DST's lock");
}

#[test]
fn mcopy_killed_24_times_never_leaves_a_torn_file_and_a_rerun_finishes() {
    kill_many_times_then_finish(&["src", "dst"], "mcopy");
}

#[test]
fn run_mirror_killed_24_times_never_leaves_a_torn_file_and_a_rerun_finishes() {
    kill_many_times_then_finish(&["--jobs", "2", "src", "dst"], "run-mirror");
}
