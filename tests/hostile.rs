//! Hostile input: manifests and path streams from an untrusted drive, and a destination that
//! changes under mcopy's feet.

mod common;

use common::{Env, FaultFs, bytes, run, run_measured};
use std::fs;
use std::io::Write;

fn b3(data: &[u8]) -> String {
    blake3::hash(data).to_hex().to_string()
}

fn dst() -> Env {
    let env = Env::new();
    env.write("dst/a", "a");
    env.write("dst/b", "b");
    env
}

#[test]
fn a_nul_in_a_name_is_malformed_and_u_fffd_is_just_a_name() {
    let env = dst();
    env.write("dst/caf\u{fffd}", "replacement character");
    let mut m = format!("{}  a\n", b3(b"a")).into_bytes();
    m.extend_from_slice(format!("{}  b\0c\n", b3(b"b")).as_bytes());
    m.extend_from_slice(format!("{}  caf\u{fffd}\n", b3(b"replacement character")).as_bytes());
    m.extend_from_slice(format!("{}  caf\u{fffd}-missing\n", b3(b"x")).as_bytes());
    let out = run(env.tool("mcheck").arg("dst"), &m);
    assert_eq!(out.status, 2);
    assert_eq!(out.stdout_str(), "a: OK\ncaf\u{fffd}: OK\ncaf\u{fffd}-missing: MISSING\n");
    assert!(out.stderr.starts_with("mcheck: -:2: NUL byte in file name\n"), "{}", out.stderr);
}

#[test]
fn the_same_name_twice_with_different_digests_fails() {
    let env = dst();
    let m = format!("{}  a\n{}  a\n", b3(b"a"), b3(b"not a"));
    let out = run(env.tool("mcheck").arg("dst"), m);
    assert_eq!(out.status, 1);
    assert_eq!(out.stdout_str(), "a: OK\na: FAILED\n");
}

#[test]
fn over_long_lines_are_reported_and_memory_stays_bounded() {
    let env = dst();
    let path = env.path("M");
    let mut f = fs::File::create(&path).unwrap();
    writeln!(f, "{}  a", b3(b"a")).unwrap();
    // A 10 MB line, then a 100 MB one, between good lines.
    for len in [10_000_000usize, 100_000_000] {
        f.write_all(b3(b"x").as_bytes()).unwrap();
        f.write_all(b"  ").unwrap();
        let chunk = vec![b'n'; 1 << 20];
        for _ in 0..len / chunk.len() {
            f.write_all(&chunk).unwrap();
        }
        f.write_all(b"\n").unwrap();
        writeln!(f, "{}  b", b3(b"b")).unwrap();
    }
    drop(f);
    let out = run(env.tool("mcheck").args(["dst", "M"]), "");
    assert_eq!(out.status, 2);
    assert_eq!(out.stdout_str(), "a: OK\nb: OK\nb: OK\n");
    assert!(
        out.stderr.starts_with("mcheck: M:2: line too long\nmcheck: M:4: line too long\n"),
        "{}",
        out.stderr
    );
    let (status, rss_kib) = run_measured(env.tool("mcheck").arg("dst"), &path);
    assert_eq!(status, 2);
    assert!(rss_kib < 64 * 1024, "peak RSS {rss_kib} KiB for a 100 MB line");
}

#[test]
fn an_over_long_path_record_is_refused_without_harm() {
    let env = dst();
    let mut record = b"src/./".to_vec();
    record.extend(std::iter::repeat_n(b'x', 300));
    record.push(b'\n');
    let out = run(env.tool("mcopy").arg("out"), &record);
    assert_eq!(out.status, 2);
    assert!(
        out.stderr.contains("File name too long") || out.stderr.contains("No such file"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_dst_directory_swapped_for_a_symlink_mid_copy_is_not_written_through() {
    let env = Env::new();
    env.write("src/sub/1-slow", bytes(1, 100_000));
    env.write("src/sub/2-next", bytes(2, 100_000));
    env.mkdir("outside");
    let faults = r#"{"sub/1-slow": {"stall": 1.5}}"#;
    let Some(_fuse) = FaultFs::mount(&env.path("src"), env.path("mnt"), faults) else { return };
    let child =
        env.tool("mcopy").args(["-j1", "mnt", "dst"]).stderr(std::process::Stdio::piped()).spawn().unwrap();
    // While the first file stalls, replace dst/sub by a link to a directory outside DST.
    common::wait_for_temporary(&env.path("dst/sub"), "1-slow");
    fs::rename(env.path("dst/sub"), env.path("dst/sub.moved")).unwrap();
    std::os::unix::fs::symlink("../outside", env.path("dst/sub")).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        fs::read_dir(env.path("outside")).unwrap().count(),
        0,
        "nothing written through the link: {stderr}"
    );
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("a symlink inside DST is never followed"), "{stderr}");
}
