//! mhash, run as a user runs it, and against the real b3sum and sha256sum.

mod common;

use common::{Env, bytes, records, run};

/// Names every tool must survive; all valid UTF-8, so b3sum writes them as we do.
const UTF8_NAMES: &[&str] =
    &["plain", "with space", "-leading-dash", "café/crème brûlée", "empty", "deep/a/b/c/d/e/f"];

fn tree() -> Env {
    let env = Env::new();
    for (i, name) in UTF8_NAMES.iter().enumerate() {
        let len = if *name == "empty" { 0 } else { 1000 * i + 7 };
        env.write(format!("src/{name}"), bytes(i as u64, len));
    }
    env.write("src/big", bytes(99, 5 << 20));
    env
}

fn mhash_of_tree(env: &Env, args: &[&str]) -> common::Output {
    let list = run(env.tool("mtree-list").args(["-0", "src"]), "");
    assert_eq!(list.status, 0, "{}", list.stderr);
    run(env.tool("mhash").arg("-0").args(args), &list.stdout)
}

#[test]
fn output_is_byte_identical_to_b3sum_and_sha256sum() {
    let env = tree();
    let list = run(env.tool("mtree-list").arg("src"), "");
    let names: Vec<String> =
        list.stdout_str().lines().map(|l| l.strip_prefix("src/./").unwrap().to_string()).collect();
    for (peer, args) in [("b3sum", &[][..]), ("sha256sum", &["--algo", "sha256"][..])] {
        let ours = mhash_of_tree(&env, args);
        assert_eq!((ours.status, ours.stderr.as_str()), (0, ""));
        let Some(mut cmd) = env.peer(peer, "src") else { continue };
        let theirs = run(cmd.arg("--").args(&names), "");
        assert_eq!(theirs.status, 0, "{}", theirs.stderr);
        assert_eq!(ours.stdout_str(), theirs.stdout_str(), "{peer}");
    }
}

#[test]
fn peers_accept_our_manifest() {
    let env = tree();
    for (peer, check, args) in [("b3sum", "--check", &[][..]), ("sha256sum", "-c", &["--algo", "sha256"][..])]
    {
        let ours = mhash_of_tree(&env, args);
        assert_eq!(ours.status, 0);
        std::fs::write(env.path("MANIFEST"), &ours.stdout).unwrap();
        let Some(mut cmd) = env.peer(peer, "src") else { continue };
        let checked = run(cmd.args([check, "../MANIFEST"]), "");
        assert_eq!(
            checked.status,
            0,
            "{peer}: {}{}",
            checked.stderr,
            String::from_utf8_lossy(&checked.stdout)
        );
        assert_eq!(checked.stdout_str().matches(": OK\n").count(), UTF8_NAMES.len() + 1);
    }
}

#[test]
fn escaped_names_match_sha256sum_and_b3sum_checks_them() {
    let env = Env::new();
    env.write("src/back\\slash", "a");
    env.write("src/new\nline", "b");
    env.write("src/car\riage", "c");
    env.write(b"src/bad\xff", "d");
    let ours = mhash_of_tree(&env, &["--algo", "sha256"]);
    assert_eq!(ours.status, 0, "{}", ours.stderr);
    if let Some(mut cmd) = env.peer("sha256sum", "src") {
        let names: [&[u8]; 4] = [b"back\\slash", b"bad\xff", b"car\riage", b"new\nline"];
        let theirs = run(cmd.arg("--").args(names.iter().map(|n| common::os(n))), "");
        assert_eq!(ours.stdout, theirs.stdout);
        std::fs::write(env.path("SHA256SUMS"), &ours.stdout).unwrap();
        let checked = run(env.peer("sha256sum", "src").unwrap().args(["-c", "../SHA256SUMS"]), "");
        assert_eq!(checked.status, 0, "{}", checked.stderr);
    }
    // b3sum before 1.5.5 does not know the \r escape: check the others with it.
    env.write("b3src/back\\slash", "a");
    env.write("b3src/new\nline", "b");
    let list = run(env.tool("mtree-list").args(["-0", "b3src"]), "");
    let ours = run(env.tool("mhash").arg("-0"), &list.stdout);
    assert_eq!(ours.stdout_str().lines().filter(|l| l.starts_with('\\')).count(), 2);
    std::fs::write(env.path("BLAKE3SUMS"), &ours.stdout).unwrap();
    if let Some(mut cmd) = env.peer("b3sum", "b3src") {
        let checked = run(cmd.args(["--check", "../BLAKE3SUMS"]), "");
        assert_eq!(checked.status, 0, "{}", checked.stderr);
    }
}

#[test]
fn zero_output_is_unescaped_and_nul_terminated() {
    let env = Env::new();
    env.write("src/new\nline", "b");
    let out = mhash_of_tree(&env, &["-z"]);
    let expected = format!("{}  new\nline", blake3::hash(b"b").to_hex());
    assert_eq!(records(&out.stdout, 0), [expected.as_bytes()]);
}

#[test]
fn stdin_newline_records_operands_and_names() {
    let env = tree();
    let hex = |rel: &str| blake3::hash(&std::fs::read(env.path(rel)).unwrap()).to_hex().to_string();
    let stdin = run(&mut env.tool("mhash"), "src/./plain\n./src/with space\nsrc/empty\n");
    assert_eq!((stdin.status, stdin.stderr.as_str()), (0, ""));
    assert_eq!(
        stdin.stdout_str(),
        format!(
            "{}  plain\n{}  src/with space\n{}  src/empty\n",
            hex("src/plain"),
            hex("src/with space"),
            hex("src/empty")
        )
    );
    let operands = run(env.tool("mhash").args(["src/./plain", "./src/with space", "src/empty"]), "");
    assert_eq!(operands.stdout, stdin.stdout);
}

#[test]
fn leading_dash_operand_after_double_dash() {
    let env = tree();
    let out = run(env.tool("mhash").current_dir(env.path("src")).args(["--", "-leading-dash"]), "");
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(out.stdout_str().ends_with("  -leading-dash\n"));
}

#[test]
fn unreadable_inputs_are_named_and_the_rest_is_hashed() {
    let env = tree();
    env.mkfifo("src/fifo");
    env.symlink("nowhere", "src/dangling");
    let input = "src/./plain\nsrc/./missing\nsrc/./fifo\nsrc/./dangling\n\nsrc/./\nsrc/./empty\n";
    let out = run(&mut env.tool("mhash"), input);
    assert_eq!(out.status, 2);
    assert_eq!(
        out.stderr,
        "mhash: src/./missing: No such file or directory\n\
         mhash: src/./fifo: not a regular file (fifo), not opened\n\
         mhash: src/./dangling: No such file or directory\n\
         mhash: empty path record\n\
         mhash: src/./: empty name after the root marker\n"
    );
    let names: Vec<&str> = out.stdout_str().lines().map(|l| &l[66..]).collect();
    assert_eq!(names, ["plain", "empty"]);
}

#[test]
fn fifo_and_directory_operands_are_refused_without_hanging() {
    let env = tree();
    env.mkfifo("fifo");
    let out = run(env.tool("mhash").args(["fifo", "src", "src/plain"]), "");
    assert_eq!(out.status, 2);
    assert_eq!(
        out.stderr,
        "mhash: fifo: not a regular file (fifo), not opened\nmhash: src: not a regular file (directory), not opened\n"
    );
    assert_eq!(out.stdout_str().lines().count(), 1);
}

#[test]
fn non_utf8_name_passes_through_intact() {
    let env = Env::new();
    env.write(b"src/bad\xff\xfe", "x");
    let out = mhash_of_tree(&env, &[]);
    let mut expected = blake3::hash(b"x").to_hex().as_bytes().to_vec();
    expected.extend_from_slice(b"  bad\xff\xfe\n");
    assert_eq!(out.stdout, expected);
}

#[test]
fn file_whose_size_says_zero_is_read_to_the_end() {
    // /proc files report size 0: the size from stat must not be trusted.
    let env = Env::new();
    let out = run(env.tool("mhash").arg("/proc/version"), "");
    let content = std::fs::read("/proc/version").unwrap();
    assert!(!content.is_empty());
    assert_eq!(out.stdout_str(), format!("{}  /proc/version\n", blake3::hash(&content).to_hex()));
}

#[test]
fn parallelism_never_changes_the_output() {
    let env = Env::new();
    for i in 0..600u64 {
        let len = (i * 7919 % 300) as usize * if i % 50 == 0 { 20_000 } else { 37 };
        env.write(format!("src/d{}/f{i}", i % 13), bytes(i, len));
    }
    let reference = mhash_of_tree(&env, &["-j1", "--blake3-threads", "1"]);
    assert_eq!(reference.status, 0);
    assert_eq!(reference.stdout_str().lines().count(), 600);
    for args in [&["-j8"][..], &["-j8"], &["-j3", "--blake3-threads", "4"], &["-j2", "--blake3-threads", "0"]]
    {
        assert_eq!(mhash_of_tree(&env, args).stdout, reference.stdout, "{args:?}");
    }
    let list = run(env.tool("mtree-list").args(["-0", "src"]), "");
    let by_env =
        run(env.tool("mhash").arg("-0").env("MIRROR_JOBS", "5").env("MIRROR_B3THREADS", "2"), &list.stdout);
    assert_eq!(by_env.stdout, reference.stdout);
}

#[test]
fn big_file_matches_b3sum_with_every_thread_count() {
    let env = Env::new();
    env.write("big", bytes(5, 9 << 20));
    let expected = format!("{}  big\n", blake3::hash(&std::fs::read(env.path("big")).unwrap()).to_hex());
    for threads in ["0", "1", "3"] {
        let out = run(env.tool("mhash").args(["--blake3-threads", threads, "big"]), "");
        assert_eq!(out.stdout_str(), expected);
    }
}

#[test]
fn bad_environment_value_is_a_usage_error_naming_the_variable() {
    let env = tree();
    let out = run(env.tool("mhash").env("MIRROR_JOBS", "many").arg("src/plain"), "");
    assert_eq!((out.status, out.stderr.as_str()), (2, "mhash: MIRROR_JOBS=many: not a whole number\n"));
    let out = run(env.tool("mhash").env("MIRROR_B3THREADS", "-1").arg("src/plain"), "");
    assert_eq!((out.status, out.stderr.as_str()), (2, "mhash: MIRROR_B3THREADS=-1: not a whole number\n"));
    // The flag wins over the variable, as it always did.
    let out = run(env.tool("mhash").env("MIRROR_JOBS", "many").args(["-j2", "src/plain"]), "");
    assert_eq!(out.status, 0, "{}", out.stderr);
}

/// Someone who forgot the pipe is told what mhash waits for, not left facing silence.
#[test]
fn a_terminal_on_stdin_is_told_that_path_records_are_awaited() {
    let Some(script) = common::peer("script") else { return };
    let command = format!("{} --no-progress", common::tool_path("mhash").display());
    let out = run(
        std::process::Command::new("timeout").args(["2"]).arg(script).args(["-qec", &command, "/dev/null"]),
        "",
    );
    assert_eq!(out.status, 124, "mhash waits for records on the terminal");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("mhash: reading path records from standard input"), "{said}");
}

#[test]
fn progress_is_silent_when_piped_and_plain_when_forced() {
    let env = tree();
    let quiet = run(env.tool("mhash").arg("src/big"), "");
    assert_eq!(quiet.stderr, "");
    let forced = run(env.tool("mhash").args(["--progress", "src/big"]), "");
    assert_eq!(forced.status, 0);
    assert!(forced.stderr.starts_with("mhash: 1 files, 5.00 MiB, "), "{}", forced.stderr);
    let off = run(env.tool("mhash").args(["--progress", "--no-progress", "src/big"]), "");
    assert_eq!(off.stderr, "");
}

#[test]
fn broken_pipe_ends_quietly_with_status_0() {
    let env = Env::new();
    let mut list = Vec::new();
    for i in 0..3000 {
        let rel = format!("src/{i:05}");
        env.write(&rel, "");
        list.extend_from_slice(rel.as_bytes());
        list.push(b'\n');
    }
    std::fs::write(env.path("list"), &list).unwrap();
    let stdin = std::fs::File::open(env.path("list")).unwrap();
    let (_, status, stderr) = common::close_stdout_after(env.tool("mhash").stdin(stdin), 64);
    assert_eq!((status, stderr.as_str()), (Some(0), ""));
}

#[test]
fn two_runs_give_identical_output() {
    let env = tree();
    assert_eq!(mhash_of_tree(&env, &[]).stdout, mhash_of_tree(&env, &[]).stdout);
}

#[test]
fn a_full_disk_under_the_manifest_is_a_write_error() {
    if !common::can_mount() {
        return;
    }
    let env = Env::new();
    for i in 0..200 {
        env.write(format!("src/file-with-a-longish-name-{i:04}"), "x");
    }
    let full = common::Mount::tmpfs(env.path("full"), "8k");
    let list = run(env.tool("mtree-list").args(["-0", "src"]), "");
    let script = format!("{} -0 > {}/BLAKE3SUMS", common::tool_path("mhash").display(), full.dir.display());
    let out =
        run(std::process::Command::new("sh").args(["-c", &script]).current_dir(env.root()), &list.stdout);
    assert_eq!(out.status, 2);
    assert_eq!(out.stderr, "mhash: write error: No space left on device\n");
}

/// `--output` installs a whole manifest or none, and never replaces a device or a link.
#[test]
fn output_is_installed_only_when_every_file_was_hashed() {
    let env = tree();
    let expected = run(env.tool("mhash").args(["src/plain", "src/empty"]), "").stdout;
    let out = run(env.tool("mhash").args(["-o", "M", "src/plain", "src/empty"]), "");
    assert_eq!((out.status, out.stdout.as_slice(), out.stderr.as_str()), (0, &b""[..], ""));
    assert_eq!(std::fs::read(env.path("M")).unwrap(), expected);
    let out = run(env.tool("mhash").args(["-o", "M", "src/plain", "src/gone"]), "");
    assert_eq!(out.status, 2);
    assert_eq!(
        out.stderr,
        "mhash: src/gone: No such file or directory\nmhash: M: not written, as not every file was hashed\n"
    );
    assert_eq!(std::fs::read(env.path("M")).unwrap(), expected, "the old manifest stays");
    let out = run(env.tool("mhash").args(["-o", "/dev/null", "src/plain"]), "");
    assert_eq!(out.status, 0);
    assert!(std::os::unix::fs::FileTypeExt::is_char_device(
        &std::fs::metadata("/dev/null").unwrap().file_type()
    ));
    // --relay installs a manifest made elsewhere the same way.
    let out = run(env.tool("mhash").args(["--relay", "-o", "R"]), &expected);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(std::fs::read(env.path("R")).unwrap(), expected);
    let leftovers: Vec<_> = std::fs::read_dir(env.root())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".mcopy.tmp."))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
