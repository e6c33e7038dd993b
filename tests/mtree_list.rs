//! mtree-list, run as a user runs it.

mod common;

use common::{Env, is_root, records, run};

fn tree() -> Env {
    let env = Env::new();
    env.write("src/b", "b");
    env.write("src/a", "a");
    env.write("src/A", "A");
    env.write("src/a b/x", "x");
    env.write("src/ab", "ab");
    env.write("src/-dash", "dash");
    env.write("src/café", "accent");
    env.write("src/empty", "");
    env.write(b"src/bad\xff", "invalid utf-8");
    env.write("src/back\\slash", "bs");
    env.write("src/d/e/f/g", "deep");
    env.mkdir("src/emptydir");
    env
}

#[test]
fn lists_files_depth_first_in_byte_order_with_the_root_marker() {
    let env = tree();
    let out = run(env.tool("mtree-list").arg("src"), "");
    assert_eq!(out.stderr, "");
    assert_eq!(out.status, 0);
    let expected: &[&[u8]] = &[
        b"src/./-dash",
        b"src/./A",
        b"src/./a",
        b"src/./a b/x",
        b"src/./ab",
        b"src/./b",
        b"src/./back\\slash",
        b"src/./bad\xff",
        b"src/./caf\xc3\xa9",
        b"src/./d/e/f/g",
        b"src/./empty",
    ];
    assert_eq!(records(&out.stdout, b'\n'), expected);
}

#[test]
fn trailing_slash_root_and_file_operand() {
    let env = tree();
    let out = run(env.tool("mtree-list").args(["src/d/", "src/a", "src/d/e/f/g"]), "");
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(out.stdout_str(), "src/d/./e/f/g\nsrc/./a\nsrc/d/e/f/./g\n");
}

#[test]
fn null_mode_lists_names_with_newlines() {
    let env = Env::new();
    env.write("src/new\nline", "1");
    env.write("src/plain", "2");
    let out = run(env.tool("mtree-list").args(["-0", "src"]), "");
    assert_eq!((out.status, out.stderr.as_str()), (0, ""));
    assert_eq!(records(&out.stdout, 0), [&b"src/./new\nline"[..], b"src/./plain"]);
}

#[test]
fn newline_mode_names_a_newline_name_on_stderr_and_exits_2() {
    let env = Env::new();
    env.write("src/new\nline", "1");
    env.write("src/plain", "2");
    let out = run(env.tool("mtree-list").arg("src"), "");
    assert_eq!(out.status, 2);
    assert_eq!(out.stdout_str(), "src/./plain\n");
    assert!(out.stderr.contains("src/./new\\nline: not listed: name contains a newline"), "{}", out.stderr);
    assert!(out.stderr.contains("use -0"), "{}", out.stderr);
}

#[test]
fn symlinks_to_files_are_listed_and_everything_else_is_named() {
    let env = Env::new();
    env.write("src/file", "f");
    env.mkdir("src/dir");
    env.symlink("file", "src/link");
    env.symlink("nowhere", "src/dangling");
    env.symlink("dir", "src/dirlink");
    env.mkfifo("src/fifo");
    let out = run(env.tool("mtree-list").arg("src"), "");
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(out.stdout_str(), "src/./file\nsrc/./link\n");
    assert_eq!(
        out.stderr,
        "mtree-list: src/./dangling: not listed: dangling symlink\n\
         mtree-list: src/./dirlink: not listed: symlink to a directory\n\
         mtree-list: src/./fifo: not listed: fifo\n"
    );
}

#[test]
fn exclude_matches_base_names_and_slash_patterns_as_rsync_does() {
    let env = Env::new();
    for f in [
        "src/BLAKE3SUMS",
        "src/keep.fq",
        "src/x.tmp",
        "src/run/x.tmp",
        "src/run/BLAKE3SUMS",
        "src/run/sub/a.fq",
        "src/cache/big",
        "src/sub/a.fq",
        "src/sub/b.txt",
    ] {
        env.write(f, "x");
    }
    let out = run(
        env.tool("mtree-list").args([
            "--exclude",
            "*.tmp",
            "--exclude",
            "/BLAKE3SUMS",
            "--exclude",
            "cache/",
            "--exclude",
            "sub/*.fq",
            "src",
        ]),
        "",
    );
    assert_eq!((out.status, out.stderr.as_str()), (0, ""));
    assert_eq!(out.stdout_str(), "src/./keep.fq\nsrc/./run/BLAKE3SUMS\nsrc/./sub/b.txt\n");
}

#[test]
fn invalid_exclude_pattern_is_a_usage_error() {
    let env = tree();
    let out = run(env.tool("mtree-list").args(["--exclude", "a[", "src"]), "");
    assert_eq!(out.status, 2);
    assert!(out.stderr.contains("a["), "{}", out.stderr);
    assert!(out.stdout.is_empty());
}

#[test]
fn missing_root_exits_2_and_lists_the_others() {
    let env = tree();
    let out = run(env.tool("mtree-list").args(["nope", "src/d"]), "");
    assert_eq!(out.status, 2);
    assert_eq!(out.stdout_str(), "src/d/./e/f/g\n");
    assert_eq!(out.stderr, "mtree-list: nope: No such file or directory\n");
}

#[test]
fn unreadable_directory_is_named_and_exits_2() {
    let env = Env::new();
    env.write("src/a/secret", "s");
    env.write("src/b", "b");
    let mut cmd = env.tool("mtree-list");
    if is_root() {
        // Root reads any directory: run as nobody instead.
        std::fs::set_permissions(env.root(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        cmd = std::process::Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(common::tool_path("mtree-list"))
            .current_dir(env.root());
    }
    std::fs::set_permissions(env.path("src/a"), std::os::unix::fs::PermissionsExt::from_mode(0o000)).unwrap();
    let out = run(cmd.arg("src"), "");
    std::fs::set_permissions(env.path("src/a"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    assert_eq!(out.status, 2, "{}", out.stderr);
    assert_eq!(out.stdout_str(), "src/./b\n");
    assert_eq!(out.stderr, "mtree-list: src/./a: Permission denied\n");
}

#[test]
fn deep_nesting() {
    let env = Env::new();
    let deep: String = (0..200).map(|i| format!("d{i}/")).collect();
    env.write(format!("src/{deep}leaf"), "leaf");
    let out = run(env.tool("mtree-list").arg("src"), "");
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(out.stdout_str(), format!("src/./{deep}leaf\n"));
}

#[test]
fn broken_pipe_ends_quietly_with_status_0() {
    let env = Env::new();
    for i in 0..3000 {
        env.write(format!("src/{i:05}-a-rather-long-file-name-to-fill-the-pipe-buffer"), "");
    }
    let (first, status, stderr) = common::close_stdout_after(env.tool("mtree-list").arg("src"), 10);
    assert_eq!(first, b"src/./0000");
    assert_eq!((status, stderr.as_str()), (Some(0), ""));
}

#[test]
fn one_file_system_does_not_descend_into_a_mount() {
    if !is_root() {
        assert!(std::env::var_os("CI").is_none(), "CI runs as root");
        return;
    }
    let env = Env::new();
    env.write("src/a", "a");
    let mnt = env.mkdir("src/mnt");
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(&mnt)
        .status()
        .unwrap();
    assert!(mounted.success());
    std::fs::write(mnt.join("inside"), "i").unwrap();
    let crossing = run(env.tool("mtree-list").arg("src"), "");
    let staying = run(env.tool("mtree-list").args(["-x", "src"]), "");
    std::process::Command::new("umount").arg(&mnt).status().unwrap();
    assert_eq!(crossing.stdout_str(), "src/./a\nsrc/./mnt/inside\n");
    assert_eq!((staying.status, staying.stdout_str()), (0, "src/./a\n"));
    assert_eq!(staying.stderr, "mtree-list: src/./mnt: not descended: another filesystem (-x)\n");
}
