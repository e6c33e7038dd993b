//! Faults at the source, served by a FUSE filesystem that injects them: a refused mmap, a bad
//! sector (EIO), a link that returns different bytes on a second read.

mod common;

use common::{Env, FaultFs, bytes, run};
use std::fs;

fn source() -> Env {
    let env = Env::new();
    env.write("src/a-good", bytes(1, 200_000));
    env.write("src/bad", bytes(2, 3 << 20));
    env.write("src/z-good", bytes(3, 5000));
    env
}

fn b3(data: &[u8]) -> String {
    blake3::hash(data).to_hex().to_string()
}

#[test]
fn where_mmap_is_refused_mhash_reads() {
    let env = source();
    let Some(fuse) = FaultFs::mount(&env.path("src"), env.path("mnt"), "{}") else { return };
    let big = fuse.dir.join("bad");
    let out = run(env.tool("mhash").arg(&big), "");
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(out.stdout_str(), format!("{}  {}\n", b3(&bytes(2, 3 << 20)), big.display()));
    if let Some(mut b3sum) = env.peer("b3sum", ".") {
        // The reason for the fallback: b3sum maps the file and fails with ENODEV here.
        let theirs = run(b3sum.arg(&big), "");
        assert_ne!(theirs.status, 0, "{}", theirs.stdout_str());
    }
}

#[test]
fn an_eio_while_hashing_names_the_file_and_the_rest_is_hashed() {
    let env = source();
    let faults = r#"{"bad": {"eio_at": 1500000}}"#;
    let Some(_fuse) = FaultFs::mount(&env.path("src"), env.path("mnt"), faults) else { return };
    let list = run(env.tool("mtree-list").args(["-0", "mnt"]), "");
    let out = run(env.tool("mhash").arg("-0"), &list.stdout);
    assert_eq!(out.status, 2);
    assert_eq!(out.stderr, "mhash: mnt/./bad: Input/output error\n");
    assert_eq!(
        out.stdout_str(),
        format!("{}  a-good\n{}  z-good\n", b3(&bytes(1, 200_000)), b3(&bytes(3, 5000)))
    );
}

#[test]
fn an_eio_while_copying_leaves_nothing_partial_and_the_rest_is_copied() {
    let env = source();
    let faults = r#"{"bad": {"eio_at": 1500000}}"#;
    let Some(_fuse) = FaultFs::mount(&env.path("src"), env.path("mnt"), faults) else { return };
    let out = run(env.tool("mcopy").args(["--hash-out", "H", "mnt", "dst"]), "");
    assert_eq!(out.status, 2);
    assert_eq!(
        out.stderr,
        "mcopy: mnt/./bad: Input/output error\nmcopy: 2 copied (200.20 KiB), 0 up to date, 1 failed\n\
         mcopy: --hash-out H: not written, as not every file was copied\n"
    );
    let mut names: Vec<_> = fs::read_dir(env.path("dst")).unwrap().map(|e| e.unwrap().file_name()).collect();
    names.sort();
    assert_eq!(names, ["a-good", "z-good"], "no partial file, no temporary");
    assert_eq!(fs::read(env.path("dst/z-good")).unwrap(), bytes(3, 5000));
    // A manifest without a line for `bad` is never installed under its name.
    assert!(!env.path("H").exists());
    assert!(
        !fs::read_dir(env.root()).unwrap().any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with(".H."))
    );
}

#[test]
fn a_source_that_reads_differently_twice_is_caught_by_all_not_by_one_pass() {
    let env = source();
    let faults = r#"{"bad": {"flaky": true}}"#;
    let Some(_fuse) = FaultFs::mount(&env.path("src"), env.path("mnt"), faults) else { return };
    // The mount is read-only: the manifest goes to DST.
    let out = run(env.tool("run-mirror").args(["--step", "all", "mnt", "dst"]), "");
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert!(out.stderr.contains("mnt/./bad: the source does not match the manifest"), "{}", out.stderr);
    assert!(!env.path("dst/bad").exists(), "the file is not installed");
    assert!(env.path("dst/a-good").is_file() && env.path("dst/z-good").is_file());
    drop(_fuse);

    // One pass reads each range once: nothing to compare, nothing caught (see README).
    let faults = r#"{"bad": {"flaky": true}}"#;
    let Some(_fuse) = FaultFs::mount(&env.path("src"), env.path("mnt2"), faults) else { return };
    let out = run(env.tool("run-mirror").args(["--one-pass", "mnt2", "dst2"]), "");
    assert_eq!(out.status, 0, "{}", out.stderr);
}

#[test]
fn an_eio_inside_a_mapped_file_is_a_read_error_not_a_crash() {
    let env = source();
    let faults = r#"{"bad": {"eio_at": 1500000}}"#;
    // Cached: the kernel lets mhash map the file, and the bad sector arrives as SIGBUS.
    let Some(_fuse) = FaultFs::mount_with(&env.path("src"), env.path("mnt"), faults, &["--cached"]) else {
        return;
    };
    let list = run(env.tool("mtree-list").args(["-0", "mnt"]), "");
    for threads in ["1", "0"] {
        let out = run(env.tool("mhash").args(["-0", "--blake3-threads", threads]), &list.stdout);
        assert_eq!(out.status, 2, "{}", out.stderr);
        assert_eq!(out.stderr, "mhash: mnt/./bad: Input/output error\n");
        assert_eq!(
            out.stdout_str(),
            format!("{}  a-good\n{}  z-good\n", b3(&bytes(1, 200_000)), b3(&bytes(3, 5000)))
        );
    }
}
