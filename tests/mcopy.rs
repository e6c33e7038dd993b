//! mcopy, run as a user runs it: the copy equals the source, reruns resume, and nothing
//! partial or outside DST is ever left.

mod common;

use common::{Env, Mount, bytes, can_mount, is_root, run, wait_for_temporary};
use std::fs;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};

fn tree() -> Env {
    let env = Env::new();
    env.write("src/plain", bytes(1, 1000));
    env.write("src/with space/é", bytes(2, 70_000));
    env.write("src/-dash", "dash");
    env.write("src/empty", "");
    env.write(b"src/bad\xff", "not utf-8");
    env.write("src/back\\slash", "bs");
    env.write("src/deep/a/b/c/big", bytes(3, 6 << 20));
    env.mkdir("src/empty-dir/inner-empty");
    env.symlink("plain", "src/link");
    fs::set_permissions(env.path("src/plain"), fs::Permissions::from_mode(0o640)).unwrap();
    fs::set_permissions(env.path("src/-dash"), fs::Permissions::from_mode(0o755)).unwrap();
    set_mtime(&env.path("src/plain"), 1_600_000_000, 123_456_789);
    set_mtime(&env.path("src/deep/a"), 1_500_000_000, 5);
    env
}

fn set_mtime(path: &Path, sec: i64, nsec: i64) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    let times =
        [libc::timespec { tv_sec: sec, tv_nsec: nsec }, libc::timespec { tv_sec: sec, tv_nsec: nsec }];
    // SAFETY: valid C string and times.
    assert_eq!(
        unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), times.as_ptr(), libc::AT_SYMLINK_NOFOLLOW) },
        0
    );
}

/// Asserts that `dst` holds exactly what `src` holds: types, content, mode, mtime to the
/// nanosecond, symlink targets; directories too when `dirs`.
fn assert_same_tree(src: &Path, dst: &Path, dirs: bool) {
    let list = |root: &Path| -> Vec<std::path::PathBuf> {
        let out =
            Command::new("find").args([".", "-mindepth", "1", "-print0"]).current_dir(root).output().unwrap();
        let mut v: Vec<_> =
            common::records(&out.stdout, 0).into_iter().map(|r| common::os(r).into()).collect();
        v.sort();
        v
    };
    let (a, b) = (list(src), list(dst));
    assert_eq!(a, b, "same entries");
    for rel in a {
        let rel = rel.as_path();
        let rel_shown = rel.display();
        let (s, d) = (src.join(rel), dst.join(rel));
        let (sm, dm) = (fs::symlink_metadata(&s).unwrap(), fs::symlink_metadata(&d).unwrap());
        assert_eq!(sm.file_type(), dm.file_type(), "{rel_shown}");
        if sm.is_dir() && !dirs {
            continue;
        }
        if sm.file_type().is_symlink() {
            assert_eq!(fs::read_link(&s).unwrap(), fs::read_link(&d).unwrap(), "{rel_shown}");
        } else {
            assert_eq!(sm.mode(), dm.mode(), "mode of {rel_shown}");
            if sm.is_file() {
                assert!(fs::read(&s).unwrap() == fs::read(&d).unwrap(), "content of {rel_shown}");
            }
        }
        assert_eq!((sm.mtime(), sm.mtime_nsec()), (dm.mtime(), dm.mtime_nsec()), "mtime of {rel_shown}");
    }
}

fn mcopy(env: &Env, args: &[&str]) -> common::Output {
    run(env.tool("mcopy").args(args), "")
}

fn inodes(dir: &Path) -> Vec<(Vec<u8>, u64)> {
    let out = Command::new("find").args([".", "-type", "f", "-print0"]).current_dir(dir).output().unwrap();
    let mut v: Vec<(Vec<u8>, u64)> = common::records(&out.stdout, 0)
        .into_iter()
        .map(|r| (r.to_vec(), fs::metadata(dir.join(common::os(r))).unwrap().ino()))
        .collect();
    v.sort();
    v
}

#[test]
fn copy_equals_the_source_including_empty_directories() {
    let env = tree();
    let out = mcopy(&env, &["src", "dst"]);
    assert_eq!(
        (out.status, out.stderr.as_str()),
        (0, "mcopy: 8 copied (6.07 MiB), 0 up to date, 0 failed\n")
    );
    assert_same_tree(&env.path("src"), &env.path("dst"), true);
}

#[test]
fn path_stream_form_with_null_records_and_a_newline_name() {
    let env = tree();
    env.write("src/new\nline", "nl");
    let list = run(env.tool("mtree-list").args(["-0", "src"]), "");
    let out = run(env.tool("mcopy").args(["-0", "dst"]), &list.stdout);
    assert_eq!(
        (out.status, out.stderr.as_str()),
        (0, "mcopy: 9 copied (6.07 MiB), 0 up to date, 0 failed\n")
    );
    assert_eq!(fs::read(env.path("dst/new\nline")).unwrap(), b"nl");
    // Directories come from the files: empty ones are not in a path stream.
    fs::remove_dir_all(env.path("src/empty-dir")).unwrap();
    assert_same_tree(&env.path("src"), &env.path("dst"), false);
}

#[test]
fn newline_records_from_find() {
    let env = tree();
    let out =
        run(env.tool("mcopy").arg("../dst").current_dir(env.path("src")), "./plain\n-dash\ndeep/a/b/c/big\n");
    assert_eq!(
        (out.status, out.stderr.as_str()),
        (0, "mcopy: 3 copied (6.00 MiB), 0 up to date, 0 failed\n")
    );
    assert_eq!(
        fs::read(env.path("dst/deep/a/b/c/big")).unwrap(),
        fs::read(env.path("src/deep/a/b/c/big")).unwrap()
    );
    assert!(env.path("dst/plain").is_file() && env.path("dst/-dash").is_file());
}

#[test]
fn rerun_copies_nothing() {
    let env = tree();
    assert_eq!(mcopy(&env, &["src", "dst"]).status, 0);
    let before = inodes(&env.path("dst"));
    let again = mcopy(&env, &["src", "dst"]);
    assert_eq!((again.status, again.stderr.as_str()), (0, "mcopy: 0 copied (0 B), 8 up to date, 0 failed\n"));
    assert_eq!(inodes(&env.path("dst")), before, "no file was rewritten");
    let plan = mcopy(&env, &["--dry-run", "--hash-out", "H", "src", "dst"]);
    assert!(!env.path("H").exists(), "a dry run writes no manifest either");
    assert!(
        plan.stdout_str()
            .ends_with("dry run: would copy 0 file(s) (0 B), skip 8 up to date; nothing was changed\n")
    );
}

#[test]
fn a_changed_file_is_copied_again_and_checksum_looks_at_content() {
    let env = tree();
    assert_eq!(mcopy(&env, &["src", "dst"]).status, 0);
    // Same size and mtime, other content: only --checksum notices.
    fs::write(env.path("dst/plain"), bytes(9, 1000)).unwrap();
    set_mtime(&env.path("dst/plain"), 1_600_000_000, 123_456_789);
    assert_eq!(mcopy(&env, &["src", "dst"]).status, 0);
    assert_eq!(fs::read(env.path("dst/plain")).unwrap(), bytes(9, 1000));
    assert_eq!(mcopy(&env, &["--checksum", "src", "dst"]).status, 0);
    assert_eq!(fs::read(env.path("dst/plain")).unwrap(), bytes(1, 1000));
    // Same content, other mtime and mode: --checksum installs a new file with the source's
    // attributes (never changing the old inode), so the next run by size and mtime finds it
    // up to date.
    set_mtime(&env.path("dst/plain"), 1_000_000_000, 0);
    fs::set_permissions(env.path("dst/plain"), fs::Permissions::from_mode(0o600)).unwrap();
    let ino = fs::metadata(env.path("dst/plain")).unwrap().ino();
    assert_eq!(mcopy(&env, &["--checksum", "src", "dst"]).status, 0);
    let meta = fs::metadata(env.path("dst/plain")).unwrap();
    assert_ne!(meta.ino(), ino, "installed anew");
    assert_eq!(meta.mode() & 0o7777, 0o640);
    assert_eq!((meta.mtime(), meta.mtime_nsec()), (1_600_000_000, 123_456_789));
    let ino = meta.ino();
    assert_eq!(mcopy(&env, &["--checksum", "src", "dst"]).status, 0);
    assert_eq!(fs::metadata(env.path("dst/plain")).unwrap().ino(), ino, "up to date: left alone");
    // A newer source is copied by the default rule.
    fs::write(env.path("src/-dash"), "DASH").unwrap();
    assert_eq!(mcopy(&env, &["src", "dst"]).status, 0);
    assert_eq!(fs::read(env.path("dst/-dash")).unwrap(), b"DASH");
}

#[test]
fn dry_run_changes_nothing() {
    let env = tree();
    let out = mcopy(&env, &["--dry-run", "src", "dst"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(!env.path("dst").exists(), "DST not created");
    assert!(out.stdout_str().contains("would copy deep/a/b/c/big (6.00 MiB)\n"), "{}", out.stdout_str());
    assert!(
        out.stdout_str()
            .ends_with("dry run: would copy 8 file(s) (6.07 MiB), skip 0 up to date; nothing was changed\n"),
        "{}",
        out.stdout_str()
    );
    assert_eq!(mcopy(&env, &["src", "dst"]).status, 0);
    fs::write(env.path("src/plain"), "changed").unwrap();
    let before =
        Command::new("ls").args(["-laRi", "--time-style=full-iso"]).arg(env.path("dst")).output().unwrap();
    let out = mcopy(&env, &["-n", "src", "dst"]);
    // Only what would change is listed, then one summary.
    assert_eq!(
        out.stdout_str(),
        "would copy plain (7 B)\ndry run: would copy 1 file(s) (7 B), skip 7 up to date; nothing was changed\n"
    );
    let after =
        Command::new("ls").args(["-laRi", "--time-style=full-iso"]).arg(env.path("dst")).output().unwrap();
    assert_eq!(before.stdout, after.stdout);
}

#[test]
fn hash_out_equals_the_mhash_manifest_of_src() {
    let env = tree();
    let list = run(env.tool("mtree-list").args(["-0", "src"]), "");
    let manifest = run(env.tool("mhash").arg("-0"), &list.stdout);
    for args in [&["--hash-out", "H", "-j1", "src", "dst"][..], &["--hash-out", "H", "-j4", "src", "dst"]] {
        let out = mcopy(&env, args);
        assert_eq!(out.status, 0, "{}", out.stderr);
        assert_eq!(fs::read(env.path("H")).unwrap(), manifest.stdout, "{args:?}");
    }
    // The second run skipped everything and still wrote every line: skipped files are hashed too.
    let sha = run(env.tool("mhash").args(["-0", "--algo", "sha256"]), &list.stdout);
    assert_eq!(mcopy(&env, &["--algo", "sha256", "--hash-out", "-", "src", "dst"]).stdout, sha.stdout);
}

#[test]
fn expect_refuses_a_changed_source_and_an_unnamed_file() {
    let env = tree();
    let list = run(env.tool("mtree-list").args(["-0", "src"]), "");
    fs::write(env.path("M"), run(env.tool("mhash").arg("-0"), &list.stdout).stdout).unwrap();
    fs::write(env.path("src/plain"), bytes(7, 1000)).unwrap();
    env.write("src/new-file", "not in the manifest");
    let out = mcopy(&env, &["--expect", "M", "src", "dst"]);
    assert_eq!(out.status, 1);
    assert_eq!(
        out.stderr,
        "mcopy: src/./link: the source does not match the manifest (changed since, or read differently), not installed\n\
         mcopy: src/./new-file: not named in the manifest, not installed\n\
         mcopy: src/./plain: the source does not match the manifest (changed since, or read differently), not installed\n\
         mcopy: 6 copied (6.07 MiB), 0 up to date, 3 failed\n"
    );
    assert!(
        !env.path("dst/plain").exists()
            && !env.path("dst/new-file").exists()
            && !env.path("dst/link").exists()
    );
    assert_eq!(
        fs::read(env.path("dst/deep/a/b/c/big")).unwrap(),
        fs::read(env.path("src/deep/a/b/c/big")).unwrap()
    );
    let leftovers =
        Command::new("find").arg(env.path("dst")).args(["-name", ".mcopy.tmp.*"]).output().unwrap();
    assert!(leftovers.stdout.is_empty());
}

#[test]
fn unsafe_names_are_refused() {
    let env = tree();
    let abs = env.path("src/plain");
    let input = format!("src/./../outside\n{}\nsrc/./plain\n", abs.display());
    let out = run(env.tool("mcopy").arg("dst"), input);
    assert_eq!(out.status, 2);
    assert_eq!(
        out.stderr,
        format!(
            "mcopy: src/./../outside: unsafe name: '..' component\nmcopy: {}: unsafe name: absolute path\n\
             mcopy: 1 copied (1000 B), 0 up to date, 2 failed\n",
            abs.display()
        )
    );
    assert!(env.path("dst/plain").is_file());
    assert!(!env.path("outside").exists());
}

#[test]
fn a_symlink_inside_dst_is_never_followed() {
    let env = tree();
    env.mkdir("elsewhere");
    env.mkdir("dst");
    env.symlink("../elsewhere", "dst/deep");
    let out = mcopy(&env, &["src", "dst"]);
    assert_eq!(out.status, 2);
    assert!(out.stderr.contains("mcopy: dst/deep: deep in DST is a symlink or not a directory: a symlink inside DST is never followed\n"), "{}", out.stderr);
    assert!(out.stderr.contains("mcopy: dst/deep/a/b/c/big: deep in DST is a symlink"), "{}", out.stderr);
    assert_eq!(fs::read_dir(env.path("elsewhere")).unwrap().count(), 0, "nothing written through the link");
    assert!(env.path("dst/plain").is_file(), "the other files are copied");
}

#[test]
fn a_tree_is_never_copied_into_itself() {
    let env = tree();
    for (src, dst) in [("src", "src/inside"), ("src", "src"), ("src/", "./src/deep/x")] {
        let out = mcopy(&env, &[src, dst]);
        assert_eq!(out.status, 2, "{src} {dst}");
        assert!(
            out.stderr.contains("refusing to copy a tree onto itself")
                || out.stderr.contains("refusing to copy a tree into itself"),
            "{}",
            out.stderr
        );
    }
    assert!(!env.path("src/inside").exists() && !env.path("src/deep/x").exists());
    let list = run(env.tool("mtree-list").args(["-0", "src"]), "");
    let out = run(env.tool("mcopy").args(["-0", "src/sub"]), &list.stdout);
    assert_eq!(out.status, 2);
    assert!(!env.path("src/sub").exists());
}

#[test]
fn a_vanished_source_is_named_and_the_rest_copied() {
    let env = tree();
    let out = run(env.tool("mcopy").arg("dst"), "src/./plain\nsrc/./gone\nsrc/./-dash\n");
    assert_eq!(out.status, 2);
    assert_eq!(
        out.stderr,
        "mcopy: src/./gone: No such file or directory\nmcopy: 2 copied (1004 B), 0 up to date, 1 failed\n"
    );
    assert!(env.path("dst/plain").is_file() && env.path("dst/-dash").is_file());
}

#[test]
fn stale_temporaries_are_removed_by_the_next_run() {
    let env = tree();
    env.write(format!("dst/deep/{}", common::stale_temp_name("big")), "half a file");
    let out = mcopy(&env, &["src", "dst"]);
    assert_eq!(out.status, 0);
    assert_eq!(
        out.stderr,
        "mcopy: removed 1 temporary file(s) left by an interrupted run\nmcopy: 8 copied (6.07 MiB), 0 up to date, 0 failed\n"
    );
    assert_same_tree(&env.path("src"), &env.path("dst"), true);
}

/// The sweep once deleted `DST/.mcopy.tmp.mine`, and a source file of that name could never
/// be mirrored; it also removed live temporaries of another run.
#[test]
fn only_temporaries_whose_writer_is_gone_are_removed() {
    let env = Env::new();
    env.write("src/.mcopy.tmp.mine", "a user's file");
    env.write("src/data", "data");
    env.write("dst/.mcopy.tmp.mine", "an older copy of the user's file");
    env.write("dst/.mcopy.tmp.notes", "another user's file");
    let live = common::live_temp_name("data");
    env.write(format!("dst/{live}"), "a live writer's temporary");
    let stale = common::stale_temp_name("data");
    env.write(format!("dst/{stale}"), "a killed writer's temporary");
    let out = mcopy(&env, &["src", "dst"]);
    assert_eq!(
        (out.status, out.stderr.as_str()),
        (
            0,
            "mcopy: removed 1 temporary file(s) left by an interrupted run\nmcopy: 2 copied (17 B), 0 up to date, 0 failed\n"
        )
    );
    assert_eq!(
        fs::read(env.path("dst/.mcopy.tmp.mine")).unwrap(),
        b"a user's file",
        "mirrored like any file"
    );
    assert_eq!(fs::read(env.path("dst/.mcopy.tmp.notes")).unwrap(), b"another user's file");
    assert!(env.path(format!("dst/{live}")).exists(), "a live writer's temporary is kept");
    assert!(!env.path(format!("dst/{stale}")).exists());
    assert!(!env.path("dst/.mcopy.lock").exists(), "the lock goes with the run");
}

/// Two runs into one DST once unlinked each other's live temporaries, and one renamed the
/// other's half-written file into place and exited 0.
#[test]
fn a_second_writer_into_the_same_dst_is_refused_while_the_first_runs() {
    let env = Env::new();
    env.write("src/huge.bam", bytes(9, 300 << 20));
    env.write("src/small", "small");
    let mut first =
        env.tool("mcopy").args(["--jobs", "1", "src", "dst"]).stderr(Stdio::piped()).spawn().unwrap();
    common::wait_for_temporary(&env.path("dst"), "huge.bam");
    let second = mcopy(&env, &["src", "dst"]);
    let stdin_form = run(env.tool("mcopy").arg("dst"), "src/./small\n");
    let status = first.wait().unwrap();
    let mut stderr = String::new();
    first.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert_eq!(
        (status.code(), stderr.as_str()),
        (Some(0), "mcopy: 2 copied (300.00 MiB), 0 up to date, 0 failed\n")
    );
    let refused = format!(
        "mcopy: dst: another mcopy (pid {}) is writing into it; refusing to run a second writer (wait for it to finish)\n",
        first.id()
    );
    assert_eq!((second.status, second.stderr.as_str()), (2, refused.as_str()));
    assert_eq!((stdin_form.status, stdin_form.stderr.as_str()), (2, refused.as_str()));
    assert_eq!(fs::read(env.path("dst/huge.bam")).unwrap(), fs::read(env.path("src/huge.bam")).unwrap());
    assert_eq!(common::temporaries_in(&env.path("dst")), Vec::<String>::new());
    // Once the first is done, a second run finds everything up to date.
    assert_eq!(mcopy(&env, &["src", "dst"]).status, 0);
}

/// One stream that names a file twice, with -j2, once had two workers share one temporary.
#[test]
fn a_name_twice_in_the_stream_is_copied_once_and_reported() {
    let env = Env::new();
    env.write("a/x", bytes(1, 5 << 20));
    env.write("b/x", bytes(2, 5 << 20));
    env.write("a/y", "y");
    let out = run(env.tool("mcopy").args(["-0", "-j2", "dst"]), b"a/./x\0b/./x\0a/./y\0a/./x\0");
    assert_eq!(out.status, 2);
    assert_eq!(
        out.stderr,
        "mcopy: b/./x: x is named twice in the path stream: copied once, this record ignored\n\
         mcopy: a/./x: x is named twice in the path stream: copied once, this record ignored\n\
         mcopy: 2 copied (5.00 MiB), 0 up to date, 0 failed\n"
    );
    assert_eq!(
        fs::read(env.path("dst/x")).unwrap(),
        fs::read(env.path("a/x")).unwrap(),
        "the first record wins"
    );
    assert_eq!(fs::read(env.path("dst/y")).unwrap(), b"y");
}

#[test]
fn a_4_gib_sparse_file_stays_sparse_and_hashes_right() {
    let env = Env::new();
    env.mkdir("src");
    let size: u64 = 4 << 30;
    let f = fs::File::create(env.path("src/sparse")).unwrap();
    f.set_len(size).unwrap();
    std::os::unix::fs::FileExt::write_at(&f, b"data in the middle", 2 << 30).unwrap();
    std::os::unix::fs::FileExt::write_at(&f, b"and at the end", size - 14).unwrap();
    drop(f);
    let out = mcopy(&env, &["--hash-out", "H", "src", "dst"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    let meta = fs::metadata(env.path("dst/sparse")).unwrap();
    assert_eq!(meta.len(), size);
    assert!(meta.blocks() * 512 < 1 << 20, "{} blocks allocated", meta.blocks());
    let expected = run(env.tool("mhash").arg("src/./sparse"), "");
    assert_eq!(fs::read(env.path("H")).unwrap(), expected.stdout, "the hash covers the holes as zeros");
    let check = run(env.tool("mcheck").args(["dst", "H"]), "");
    assert_eq!(check.stdout_str(), "sparse: OK\n", "{}", check.stderr);
}

#[test]
fn owner_and_group_are_kept_as_root() {
    if !is_root() {
        return;
    }
    let env = tree();
    std::os::unix::fs::lchown(env.path("src/plain"), Some(1234), Some(5678)).unwrap();
    std::os::unix::fs::lchown(env.path("src/link"), Some(4321), Some(8765)).unwrap();
    assert_eq!(mcopy(&env, &["src", "dst"]).status, 0);
    let m = fs::metadata(env.path("dst/plain")).unwrap();
    assert_eq!((m.uid(), m.gid()), (1234, 5678));
    let l = fs::symlink_metadata(env.path("dst/link")).unwrap();
    assert_eq!((l.uid(), l.gid()), (4321, 8765));
}

#[test]
fn dry_run_output_to_a_closed_pipe_is_an_unfinished_plan_status_2() {
    let env = Env::new();
    for i in 0..3000 {
        env.write(format!("src/{i:05}-some-name"), "");
    }
    let (first, status, stderr) =
        common::close_stdout_after(env.tool("mcopy").args(["-n", "src", "dst"]), 11);
    assert_eq!((status, stderr, first), (Some(2), common::unfinished("mcopy"), b"would copy ".to_vec()));
}

#[test]
fn sigkill_mid_file_leaves_no_final_name_and_a_rerun_completes() {
    let env = Env::new();
    env.write("src/a-small", "small");
    env.write("src/huge", bytes(4, 400 << 20));
    let mut child = env.tool("mcopy").args(["-j1", "src", "dst"]).stderr(Stdio::null()).spawn().unwrap();
    wait_for_temporary(&env.path("dst"), "huge");
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!env.path("dst/huge").exists(), "no file under its final name");
    let rerun = mcopy(&env, &["src", "dst"]);
    assert_eq!(rerun.status, 0, "{}", rerun.stderr);
    assert_eq!(
        rerun.stderr,
        "mcopy: removed 1 temporary file(s) left by an interrupted run\nmcopy: 1 copied (400.00 MiB), 1 up to date, 0 failed\n"
    );
    assert_same_tree(&env.path("src"), &env.path("dst"), true);
}

#[test]
fn sigterm_and_sigint_remove_temporaries_and_exit_143_and_130() {
    for (signal, code) in [(libc::SIGTERM, 143), (libc::SIGINT, 130)] {
        let env = Env::new();
        env.write("src/huge", bytes(4, 400 << 20));
        let mut child =
            env.tool("mcopy").args(["--hash-out", "H", "src", "dst"]).stderr(Stdio::piped()).spawn().unwrap();
        wait_for_temporary(&env.path("dst"), "huge");
        // SAFETY: signalling our own child.
        unsafe { libc::kill(child.id() as i32, signal) };
        let status = child.wait().unwrap();
        let mut stderr = String::new();
        child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        assert_eq!(status.code(), Some(code), "{stderr}");
        assert!(stderr.contains("removed 2 temporary file(s)"), "{stderr}");
        assert_eq!(fs::read_dir(env.path("dst")).unwrap().count(), 0, "nothing left in DST");
        let mut left: Vec<_> = fs::read_dir(env.root()).unwrap().map(|e| e.unwrap().file_name()).collect();
        left.sort();
        assert_eq!(left, ["dst", "src"], "no --hash-out, not even its temporary");
    }
}

#[test]
fn a_full_disk_names_the_file_leaves_nothing_partial_and_copies_the_rest() {
    if !can_mount() {
        return;
    }
    let env = Env::new();
    env.write("src/a-fits", bytes(1, 300_000));
    env.write("src/b-too-big", bytes(2, 3 << 20));
    env.write("src/c-fits", bytes(3, 300_000));
    let mount = Mount::tmpfs(env.path("dst"), "2m");
    // One job: with two, the big file could fill the disk while a small one is written.
    let out = mcopy(&env, &["-j1", "src", "dst"]);
    assert_eq!(out.status, 2);
    assert_eq!(
        out.stderr,
        format!(
            "mcopy: {}/b-too-big: No space left on device\nmcopy: 2 copied (585.94 KiB), 0 up to date, 1 failed\n",
            "dst"
        )
    );
    let mut names: Vec<_> = fs::read_dir(&mount.dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    names.sort();
    assert_eq!(names, ["a-fits", "c-fits"]);
    assert_eq!(fs::read(mount.dir.join("c-fits")).unwrap(), bytes(3, 300_000));
}

#[test]
fn a_read_only_directory_in_dst_is_an_error_for_its_files_only() {
    if !can_mount() {
        return;
    }
    let env = Env::new();
    env.write("src/ro/x", "x");
    env.write("src/rw/y", "y");
    let _ro = Mount::read_only(env.path("dst/ro"));
    let out = mcopy(&env, &["src", "dst"]);
    assert_eq!(out.status, 2);
    assert!(out.stderr.contains("dst/ro/x: Read-only file system"), "{}", out.stderr);
    assert_eq!(fs::read(env.path("dst/rw/y")).unwrap(), b"y");
}

#[test]
fn a_read_only_destination_fails_every_file_clearly() {
    if !can_mount() {
        return;
    }
    let env = tree();
    let _ro = Mount::read_only(env.path("dst"));
    let out = mcopy(&env, &["src", "dst"]);
    assert_eq!(out.status, 2);
    assert!(out.stderr.contains("mcopy: dst/plain: Read-only file system\n"), "{}", out.stderr);
}

/// A truncated gzip manifest for --expect is reported once, and the files it no longer names
/// are refused: it once made the lookup spin forever.
#[test]
fn a_truncated_gzip_expect_manifest_is_reported_and_nothing_unverified_is_installed() {
    let env = Env::new();
    for i in 0..400u64 {
        env.write(format!("src/f{i:03}"), bytes(i, 100));
    }
    let list = run(env.tool("mtree-list").args(["-0", "src"]), "");
    fs::write(env.path("M"), run(env.tool("mhash").arg("-0"), &list.stdout).stdout).unwrap();
    assert!(Command::new("gzip").arg(env.path("M")).status().unwrap().success());
    let gz = fs::read(env.path("M.gz")).unwrap();
    fs::write(env.path("cut.gz"), &gz[..gz.len() / 2]).unwrap();
    let out = mcopy(&env, &["--expect", "cut.gz", "src", "dst"]);
    assert_eq!(out.status, 2);
    assert_eq!(out.stderr.matches("cut.gz:").count(), 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("mcopy: src/./f399: not named in the manifest, not installed\n"),
        "{}",
        out.stderr
    );
    assert!(!env.path("dst/f399").exists());
}

/// `mcopy --hash-out - SRC DST | head -1` once copied a few files and exited 0.
#[test]
fn a_broken_pipe_stops_mcopy_with_status_2() {
    let env = Env::new();
    let long = "n".repeat(200);
    for i in 0..2000 {
        env.write(format!("src/{i:04}-{long}"), "x");
    }
    let (_, status, stderr) =
        common::close_stdout_after(env.tool("mcopy").args(["--hash-out", "-", "src", "dst"]), 64);
    assert_eq!((status, stderr), (Some(2), common::unfinished("mcopy")));
}

/// `mcopy D/src D` once overwrote the source file `D/src/z` with `D/src/src/z` and exited 0.
#[test]
fn src_inside_dst_is_refused_before_anything_is_written() {
    let env = Env::new();
    env.write("D/src/z", "precious");
    env.write("D/src/src/z", "inner");
    env.symlink("D/src", "via-link");
    env.symlink("D", "dst-link");
    let before = || {
        let mut names: Vec<_> = walk(&env.path("D"));
        names.sort();
        names
    };
    let listing = before();
    for (src, dst) in
        [("D/src", "D"), ("via-link", "D"), ("D/src", "dst-link"), ("D/src/src", "D"), ("D", "D/src/src")]
    {
        let out = mcopy(&env, &[src, dst]);
        assert_eq!(out.status, 2, "{src} {dst}: {}", out.stderr);
        assert!(
            out.stderr.starts_with("mcopy: ") && out.stderr.contains(src) && out.stderr.contains(dst),
            "{}",
            out.stderr
        );
        assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    }
    // The stdin form: the records' root lies inside DST.
    let list = run(env.tool("mtree-list").args(["-0", "D/src"]), "");
    let out = run(env.tool("mcopy").args(["-0", "D"]), &list.stdout);
    assert_eq!(out.status, 2);
    assert_eq!(
        out.stderr,
        "mcopy: SRC D/src is inside DST D: copying would overwrite the source; refusing\n"
    );
    // run-mirror asks mcopy before it writes even its manifest.
    let out = run(env.tool("run-mirror").args(["D/src", "D"]), "");
    assert_eq!(out.status, 2);
    assert!(
        out.stderr.ends_with(
            "run-mirror: SRC D/src is inside DST D: copying would overwrite the source; refusing\n"
        ),
        "{}",
        out.stderr
    );
    assert_eq!(before(), listing, "nothing was written");
    assert_eq!(fs::read(env.path("D/src/z")).unwrap(), b"precious");
}

/// A bind mount hides the overlap from the paths' spelling; the directories' identities do not.
#[test]
fn an_overlap_through_a_bind_mount_is_refused() {
    if !can_mount() {
        return;
    }
    let env = Env::new();
    env.write("D/src/z", "precious");
    env.write("D/src/src/z", "inner");
    let bind = env.path("B");
    fs::create_dir_all(&bind).unwrap();
    assert!(Command::new("mount").arg("--bind").arg(env.path("D")).arg(&bind).status().unwrap().success());
    let mount = Mount { dir: bind };
    for (src, dst) in [("B/src", "D"), ("D/src", "B"), ("D", "B/src/new")] {
        let out = mcopy(&env, &[src, dst]);
        assert_eq!(out.status, 2, "{src} {dst}: {}", out.stderr);
        assert!(out.stderr.contains("refusing"), "{}", out.stderr);
    }
    drop(mount);
    assert_eq!(fs::read(env.path("D/src/z")).unwrap(), b"precious");
    assert!(!env.path("D/src/new").exists());
}

/// Every path under `dir`, relative to it, with its contents for files.
fn walk(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let rel = path.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            out.push((rel.clone() + "/", Vec::new()));
            out.extend(walk(&path).into_iter().map(|(r, c)| (format!("{rel}/{r}"), c)));
        } else {
            out.push((rel, fs::read(&path).unwrap()));
        }
    }
    out
}

fn umask_mode(mode: u32) -> u32 {
    let status = fs::read_to_string("/proc/self/status").unwrap();
    let umask = status.lines().find_map(|l| l.strip_prefix("Umask:")).unwrap().trim();
    mode & !u32::from_str_radix(umask, 8).unwrap()
}

/// `--hash-out` once replaced a symlink, `/dev/null`, `/dev/stdout` or a FIFO with a regular
/// file, and installed new manifests with mode 0600.
#[test]
fn hash_out_writes_through_devices_and_fifos_and_installs_beside_a_symlinks_target() {
    let env = tree();
    let expected = run(env.tool("mcopy").args(["--hash-out", "-", "src", "d0"]), "").stdout;
    // A device: written through, never replaced.
    let out = mcopy(&env, &["--hash-out", "/dev/null", "src", "d1"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(fs::metadata("/dev/null").unwrap().file_type().is_char_device());
    let out = mcopy(&env, &["--hash-out", "/dev/stdout", "src", "d2"]);
    assert_eq!((out.status, &out.stdout), (0, &expected));
    // A FIFO: written through to its reader.
    env.mkfifo("fifo");
    let fifo = env.path("fifo");
    let reader = std::thread::spawn(move || fs::read(fifo).unwrap());
    assert_eq!(mcopy(&env, &["--hash-out", "fifo", "src", "d3"]).status, 0);
    assert_eq!(reader.join().unwrap(), expected);
    assert!(fs::symlink_metadata(env.path("fifo")).unwrap().file_type().is_fifo());
    // A symlink: the file it leads to is replaced, beside itself, keeping its mode.
    env.write("real/M.b3", "old");
    fs::set_permissions(env.path("real/M.b3"), fs::Permissions::from_mode(0o640)).unwrap();
    env.symlink("real/M.b3", "M");
    assert_eq!(mcopy(&env, &["--hash-out", "M", "src", "d4"]).status, 0);
    assert!(fs::symlink_metadata(env.path("M")).unwrap().file_type().is_symlink(), "the link stays a link");
    assert_eq!(fs::read(env.path("real/M.b3")).unwrap(), expected);
    assert_eq!(fs::metadata(env.path("real/M.b3")).unwrap().mode() & 0o7777, 0o640);
    // A new file: the mode a shell's `>` gives.
    assert_eq!(mcopy(&env, &["--hash-out", "new.b3", "src", "d5"]).status, 0);
    assert_eq!(fs::metadata(env.path("new.b3")).unwrap().mode() & 0o777, umask_mode(0o666));
    // A directory: refused before anything is copied.
    let out = mcopy(&env, &["--hash-out", "real", "src", "d6"]);
    assert_eq!((out.status, out.stderr.as_str()), (2, "mcopy: --hash-out real: Is a directory\n"));
    assert!(!env.path("d6").exists());
}

/// `mcopy --checksum` once gave the source's mode and mtime to an existing DST inode that was
/// hard-linked to a file outside DST, changing that file too.
#[test]
fn a_hard_link_in_dst_to_a_file_outside_is_never_changed_in_place() {
    let env = tree();
    assert_eq!(mcopy(&env, &["src", "dst"]).status, 0);
    // DST's copy is replaced by a hard link to a file outside DST with the same bytes.
    fs::write(env.path("outside"), fs::read(env.path("src/plain")).unwrap()).unwrap();
    fs::set_permissions(env.path("outside"), fs::Permissions::from_mode(0o600)).unwrap();
    set_mtime(&env.path("outside"), 1_000_000_000, 0);
    fs::remove_file(env.path("dst/plain")).unwrap();
    fs::hard_link(env.path("outside"), env.path("dst/plain")).unwrap();
    for args in [&["--checksum", "src", "dst"][..], &["src", "dst"]] {
        assert_eq!(mcopy(&env, args).status, 0, "{args:?}");
        let outside = fs::metadata(env.path("outside")).unwrap();
        assert_eq!(
            (outside.mode() & 0o7777, outside.mtime(), outside.nlink()),
            (0o600, 1_000_000_000, 1),
            "{args:?}"
        );
        let copy = fs::metadata(env.path("dst/plain")).unwrap();
        assert_eq!((copy.mode() & 0o7777, copy.mtime()), (0o640, 1_600_000_000));
    }
    // Other content under a link: the new file is installed, the outside file keeps its bytes.
    fs::remove_file(env.path("dst/plain")).unwrap();
    fs::write(env.path("outside"), bytes(5, 1000)).unwrap();
    fs::hard_link(env.path("outside"), env.path("dst/plain")).unwrap();
    set_mtime(&env.path("outside"), 1_600_000_000, 123_456_789);
    assert_eq!(mcopy(&env, &["--checksum", "src", "dst"]).status, 0);
    assert_eq!(fs::read(env.path("outside")).unwrap(), bytes(5, 1000));
    assert_eq!(fs::read(env.path("dst/plain")).unwrap(), bytes(1, 1000));
}

/// `mcopy --hash-out src/M src dst` once met its own manifest's temporary in the walk of SRC
/// and refused it as a name of a temporary's shape: status 2, and no manifest.
#[test]
fn a_hash_out_file_inside_src_is_not_copied_as_data_while_it_is_written() {
    let env = tree();
    let out = mcopy(&env, &["--hash-out", "src/M", "src", "dst"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(out.stderr, "mcopy: 8 copied (6.07 MiB), 0 up to date, 0 failed\n");
    assert_eq!(common::temporaries_in(&env.path("dst")), Vec::<String>::new());
    assert_eq!(common::temporaries_in(&env.path("src")), Vec::<String>::new());
    let manifest = fs::read(env.path("src/M")).unwrap();
    assert!(!manifest.windows(11).any(|w| w == b".mcopy.tmp."), "{}", String::from_utf8_lossy(&manifest));
}
