//! run-mirror end to end: each step, the whole workflow, and the exit codes scripts test.

mod common;

use common::{Env, Mount, bytes, can_mount, run};
use std::fs;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

fn tree() -> Env {
    let env = Env::new();
    env.write("src/run42/lane1.fastq.gz", bytes(1, 300_000));
    env.write("src/run42/lane2.fastq.gz", bytes(2, 2 << 20));
    env.write("src/with space/é", "accent");
    env.write("src/empty", "");
    env.mkdir("src/empty-dir");
    env.symlink("empty", "src/link");
    env
}

fn mirror(env: &Env, args: &[&str]) -> common::Output {
    run(env.tool("run-mirror").args(args), "")
}

/// The lines of mhash's manifest of `dir`, sorted: run-mirror lists a source on a rotational
/// disk (as many virtual disks say they are) in physical order, so only the set is fixed.
fn mhash_manifest(env: &Env, dir: &str, args: &[&str]) -> Vec<String> {
    let list = run(
        env.tool("mtree-list").args(["-0", "--exclude", "/*SUMS", "--exclude", "/*SUMS.record", dir]),
        "",
    );
    sorted_lines(&run(env.tool("mhash").arg("-0").args(args), &list.stdout).stdout)
}

fn sorted_lines(manifest: &[u8]) -> Vec<String> {
    let mut lines: Vec<String> =
        String::from_utf8(manifest.to_vec()).unwrap().lines().map(String::from).collect();
    lines.sort();
    lines
}

fn manifest_at(env: &Env, rel: &str) -> Vec<String> {
    sorted_lines(&fs::read(env.path(rel)).unwrap())
}

fn same_files(env: &Env, a: &str, b: &str) {
    // DST's record of its last verify is DST's own.
    let out = Command::new("diff")
        .arg("-r")
        .arg("--no-dereference")
        .arg("--exclude=.*.verified")
        .arg(env.path(a))
        .arg(env.path(b))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn all_makes_the_manifest_copies_and_verifies() {
    let env = tree();
    let out = mirror(&env, &["--step", "all", "--jobs", "4", "--blake3-threads", "1", "src", "dst"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(
        out.stderr,
        "run-mirror: make-manifest: hashing src (blake3) into src/BLAKE3SUMS\n\
         mhash: src/BLAKE3SUMS: 5 new, 0 unchanged (not read), 0 read again, 0 updated, 0 removed\n\
         run-mirror: copy: src -> dst, checking every file against src/BLAKE3SUMS\n\
         mcopy: 5 copied (2.29 MiB), 0 up to date, 0 failed\n\
         run-mirror: verify: dst against src/BLAKE3SUMS, from the disk\n\
         mcheck: 5 checked: 5 OK, 0 FAILED, 0 MISSING, 0 unreadable\n"
    );
    assert_eq!(manifest_at(&env, "src/BLAKE3SUMS"), mhash_manifest(&env, "src", &[]));
    same_files(&env, "src", "dst");
    assert!(env.path("dst/empty-dir").is_dir());
    // The manifest came along, and b3sum accepts it in DST.
    if let Some(mut b3sum) = env.peer("b3sum", "dst") {
        assert_eq!(run(b3sum.args(["--check", "--quiet", "BLAKE3SUMS"]), "").status, 0);
    }
}

#[test]
fn each_step_alone() {
    let env = tree();
    let made = mirror(&env, &["--step", "make-manifest", "src"]);
    assert_eq!((made.status, made.stdout.len()), (0, 0), "{}", made.stderr);
    assert!(env.path("src/BLAKE3SUMS").is_file());
    let copied = mirror(&env, &["--step", "copy", "src", "dst"]);
    assert_eq!(copied.status, 0, "{}", copied.stderr);
    same_files(&env, "src", "dst");
    let verified = mirror(&env, &["--step", "verify", "src", "dst"]);
    assert_eq!(verified.status, 0, "{}", verified.stderr);
    assert!(verified.stderr.starts_with("run-mirror: verify: dst against dst/BLAKE3SUMS, from the disk\n"));
}

#[test]
fn manifest_streams_out_gzipped_and_back_in() {
    let env = tree();
    let script = format!(
        "{rm} --step make-manifest --manifest - src | gzip > m.gz && {rm} --step copy src dst 2>/dev/null; \
         zcat m.gz | {rm} --step verify --manifest - src dst",
        rm = common::run_mirror_path().display()
    );
    // The copy step needs a manifest in SRC; make one the usual way for it.
    assert_eq!(mirror(&env, &["--step", "make-manifest", "src"]).status, 0);
    let out = run(Command::new("bash").arg("-c").arg(&script).current_dir(env.root()), "");
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(out.stderr.contains("verify: dst against stdin"), "{}", out.stderr);
    let gz = Command::new("zcat").arg(env.path("m.gz")).output().unwrap().stdout;
    // Streamed to stdout, the manifest names the data, never the earlier BLAKE3SUMS: once it
    // did, and the README's verify-from-gz example reported `BLAKE3SUMS: FAILED`.
    let list = run(env.tool("mtree-list").args(["-0", "--exclude", "/BLAKE3SUMS*", "src"]), "");
    assert_eq!(sorted_lines(&gz), sorted_lines(&run(env.tool("mhash").arg("-0"), &list.stdout).stdout));
    assert!(!String::from_utf8_lossy(&gz).contains("BLAKE3SUMS"));
}

#[test]
fn all_with_manifest_to_stdout_keeps_a_private_copy() {
    let env = tree();
    let out = mirror(&env, &["--manifest", "-", "src", "dst"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(sorted_lines(&out.stdout), mhash_manifest(&env, "src", &[]));
    assert!(!env.path("src/BLAKE3SUMS").exists() && !env.path("dst/BLAKE3SUMS").exists());
    same_files(&env, "src", "dst");
}

#[test]
fn flags_win_over_the_environment() {
    let env = tree();
    let mut cmd = env.tool("run-mirror");
    cmd.env("MIRROR_JOBS", "not-a-number").args(["src", "dst"]);
    let from_env = run(&mut cmd, "");
    assert_eq!(from_env.status, 2, "the tools read MIRROR_JOBS");
    assert!(from_env.stderr.contains("not-a-number"), "{}", from_env.stderr);
    let mut cmd = env.tool("run-mirror");
    cmd.env("MIRROR_JOBS", "not-a-number").env("MIRROR_B3THREADS", "x").args([
        "--jobs",
        "2",
        "--blake3-threads",
        "2",
        "src",
        "dst",
    ]);
    assert_eq!(run(&mut cmd, "").status, 0, "the flags win");
    let mut cmd = env.tool("run-mirror");
    cmd.env("MIRROR_JOBS", "1").env("MIRROR_B3THREADS", "1").args(["src", "dst2"]);
    assert_eq!(run(&mut cmd, "").status, 0);
}

#[test]
fn dry_run_writes_nothing_to_dst() {
    let env = tree();
    let out = mirror(&env, &["--dry-run", "src", "dst"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(!env.path("dst").exists());
    assert!(out.stdout_str().contains("would copy run42/lane2.fastq.gz (2.00 MiB)"), "{}", out.stdout_str());
    assert!(out.stderr.contains("verify: skipped (dry run: nothing was copied)"), "{}", out.stderr);
    assert!(env.path("src/BLAKE3SUMS").is_file(), "the manifest is made");
}

#[test]
fn a_corrupted_copy_gives_1() {
    let env = tree();
    assert_eq!(mirror(&env, &["src", "dst"]).status, 0);
    let mut data = fs::read(env.path("dst/run42/lane2.fastq.gz")).unwrap();
    data[1000] ^= 0x40;
    fs::write(env.path("dst/run42/lane2.fastq.gz"), data).unwrap();
    let out = mirror(&env, &["--step", "verify", "src", "dst"]);
    assert_eq!(out.status, 1);
    assert_eq!(out.stdout_str(), "run42/lane2.fastq.gz: FAILED\n");
}

#[test]
fn a_source_changed_after_the_manifest_is_not_installed() {
    let env = tree();
    assert_eq!(mirror(&env, &["--step", "make-manifest", "src"]).status, 0);
    fs::write(env.path("src/run42/lane1.fastq.gz"), bytes(9, 300_000)).unwrap();
    let out = mirror(&env, &["--step", "copy", "src", "dst"]);
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert!(out.stderr.contains("lane1.fastq.gz: the source does not match the manifest"), "{}", out.stderr);
    assert!(!env.path("dst/run42/lane1.fastq.gz").exists());
}

#[test]
fn usage_errors_give_2_with_one_line() {
    let env = tree();
    env.write("file", "f");
    for args in [
        &["--bogus", "src", "dst"][..],
        &[],
        &["src"],
        &["--step", "sideways", "src", "dst"],
        &["--algo", "md5", "src", "dst"],
        &["--jobs", "many", "src", "dst"],
        &["src", "src/inside"],
        &["nope", "dst"],
        &["file", "dst"],
        &["src", "dst", "extra"],
    ] {
        let out = mirror(&env, args);
        assert_eq!(out.status, 2, "{args:?}: {}", out.stderr);
        assert_eq!(out.stderr.lines().count(), 1, "{args:?}: {}", out.stderr);
        assert!(out.stderr.starts_with("run-mirror: "), "{}", out.stderr);
    }
    assert!(!env.path("src/inside").exists() && !env.path("dst").exists());
    assert_eq!(mirror(&env, &["--help"]).status, 0);
    assert!(mirror(&env, &["--version"]).stdout_str().starts_with("run-mirror "));
}

#[test]
fn sha256_manifest_is_what_sha256sum_checks() {
    let env = tree();
    let out = mirror(&env, &["--algo", "sha256", "src", "dst"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(manifest_at(&env, "src/SHA256SUMS"), mhash_manifest(&env, "src", &["--algo", "sha256"]));
    if let Some(mut sha) = env.peer("sha256sum", "dst") {
        assert_eq!(run(sha.args(["-c", "--quiet", "SHA256SUMS"]), "").status, 0);
    }
    // Verify alone finds SHA256SUMS and knows its algorithm by its name.
    assert_eq!(mirror(&env, &["--step", "verify", "src", "dst"]).status, 0);
}

#[test]
fn prefer_external_b3_gives_the_same_manifest() {
    let env = tree();
    if common::peer("b3sum").is_none() {
        return;
    }
    let out = mirror(&env, &["--step", "make-manifest", "--prefer-external-b3", "src"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(manifest_at(&env, "src/BLAKE3SUMS"), mhash_manifest(&env, "src", &[]));
    // Once made, the manifest is the record: a rerun remakes it with mhash, never rewriting
    // an entry from bytes that changed behind an unchanged mtime.
    let lane = env.path("src/run42/lane1.fastq.gz");
    let mut data = fs::read(&lane).unwrap();
    data[0] ^= 1;
    common::rewrite_keeping_mtime(&lane, &data);
    let before = manifest_at(&env, "src/BLAKE3SUMS");
    let out = mirror(&env, &["--step", "make-manifest", "--prefer-external-b3", "src"]);
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("run42/lane1.fastq.gz: changed in SRC without a new mtime"),
        "{}",
        out.stderr
    );
    assert_eq!(manifest_at(&env, "src/BLAKE3SUMS"), before);
}

#[test]
fn one_pass_reads_the_source_once_and_verifies() {
    let env = tree();
    let out = mirror(&env, &["--one-pass", "src", "dst"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(out.stderr.starts_with("run-mirror: copy (one pass): src -> dst, hashing into src/BLAKE3SUMS\n"));
    assert_eq!(manifest_at(&env, "src/BLAKE3SUMS"), mhash_manifest(&env, "src", &[]));
    assert_eq!(fs::read(env.path("dst/BLAKE3SUMS")).unwrap(), fs::read(env.path("src/BLAKE3SUMS")).unwrap());
}

#[test]
fn a_read_only_source_puts_the_manifest_in_dst() {
    if !can_mount() {
        return;
    }
    let env = tree();
    let ro = Mount::read_only_bind(&env.path("src"), env.path("ro"));
    let out = mirror(&env, &["ro", "dst"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("run-mirror: ro is read-only: the manifest goes to dst/BLAKE3SUMS\n"),
        "{}",
        out.stderr
    );
    assert!(!ro.dir.join("BLAKE3SUMS").exists());
    assert_eq!(manifest_at(&env, "dst/BLAKE3SUMS"), mhash_manifest(&env, "src", &[]));
    let again = mirror(&env, &["--step", "verify", "ro", "dst"]);
    assert_eq!(again.status, 0, "{}", again.stderr);
}

#[test]
fn rerunning_all_after_an_interruption_finishes_the_job() {
    let env = tree();
    env.write("src/run42/huge.bam", bytes(5, 300 << 20));
    let mut child = env
        .tool("run-mirror")
        .args(["--jobs", "1", "src", "dst"])
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    common::wait_for_temporary(&env.path("dst/run42"), "huge.bam");
    // SAFETY: killing the child's own process group.
    unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
    child.wait().unwrap();
    assert!(!env.path("dst/run42/huge.bam").exists());
    let out = mirror(&env, &["src", "dst"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    same_files(&env, "src", "dst");
    assert!(out.stderr.contains("mcheck: 6 checked: 6 OK,"), "{}", out.stderr);
}

#[test]
fn sigterm_and_sigint_to_run_mirror_stop_the_copy_and_remove_temporaries() {
    for (signal, code) in [(libc::SIGTERM, 143), (libc::SIGINT, 130)] {
        let env = tree();
        env.write("src/run42/huge.bam", bytes(5, 400 << 20));
        let mut child = env
            .tool("run-mirror")
            .args(["--jobs", "1", "src", "dst"])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        common::wait_for_temporary(&env.path("dst/run42"), "huge.bam");
        // Only run-mirror is signalled, as `kill PID` or a service manager's stop would.
        // SAFETY: signalling our own child.
        unsafe { libc::kill(child.id() as i32, signal) };
        let status = child.wait().unwrap();
        let mut stderr = String::new();
        child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        assert_eq!(status.code(), Some(code), "{stderr}");
        assert!(stderr.contains("run-mirror: interrupted; a rerun continues"), "{stderr}");
        assert!(stderr.contains("mcopy: terminated; removed 1 temporary file(s)"), "{stderr}");
        assert_eq!(common::temporaries_in(&env.path("dst/run42")), Vec::<String>::new());
        assert!(!env.path("dst/run42/huge.bam").exists() && !env.path("dst/.mcopy.lock").exists());
    }
}

/// A link in SRC to a file outside SRC was recreated as a link pointing back into the source
/// drive (verify then read the source and said OK) or dangling (MISSING forever).
#[test]
fn a_symlink_leading_out_of_src_is_copied_as_the_file_and_named() {
    let env = Env::new();
    env.write("outside", "outside bytes");
    env.write("src/f", "inside bytes");
    env.mkdir("src/d");
    env.symlink("../outside", "src/rel-out");
    env.symlink(env.path("outside").to_str().unwrap(), "src/abs-out");
    env.symlink("../f", "src/d/rel-in");
    let out = mirror(&env, &["src", "dst"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    for (name, target) in
        [("abs-out", env.path("outside").display().to_string()), ("rel-out", "../outside".into())]
    {
        let said = format!(
            "mtree-list: src/./{name}: symlink leads out of the tree (to {target}): copied as the file it points to\n"
        );
        assert!(out.stderr.contains(&said), "{}", out.stderr);
        let meta = std::fs::symlink_metadata(env.path(format!("dst/{name}"))).unwrap();
        assert!(meta.is_file(), "{name} is a file in DST");
        assert_eq!(std::fs::read(env.path(format!("dst/{name}"))).unwrap(), b"outside bytes");
    }
    assert_eq!(
        std::fs::read_link(env.path("dst/d/rel-in")).unwrap(),
        std::path::Path::new("../f"),
        "a link inside stays a link"
    );
    // The source drive goes away: DST still verifies on its own.
    std::fs::remove_file(env.path("outside")).unwrap();
    let out = mirror(&env, &["--step", "verify", "src", "dst"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
}

/// SIGTERM during make-manifest once waited until all hashing was done (hours on terabytes):
/// the pipeline ran in the script's foreground, and bash runs a trap only after it.
#[test]
fn sigterm_during_make_manifest_stops_within_2_seconds_and_leaves_no_temporary() {
    let env = Env::new();
    env.write("real/a", "a");
    env.write("real/slow.bam", bytes(3, 4 << 20));
    let faults = r#"{"slow.bam": {"stall": 1}}"#;
    let Some(src) = common::FaultFs::mount(&env.path("real"), env.path("src"), faults) else { return };
    let mut child = env
        .tool("run-mirror")
        .args(["--manifest", "M", "src", "dst"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    common::wait_for_temporary(env.root(), "M");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let asked = std::time::Instant::now();
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    let took = asked.elapsed();
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert_eq!(status.code(), Some(143), "{stderr}");
    assert!(took < std::time::Duration::from_secs(2), "took {took:?}");
    assert!(stderr.contains("mhash: terminated; removed 2 temporary file(s)"), "{stderr}");
    assert!(stderr.contains("run-mirror: interrupted; a rerun continues"), "{stderr}");
    assert_eq!(common::temporaries_in(env.root()), Vec::<String>::new());
    assert!(!env.path("M").exists() && !env.path("dst").exists());
    drop(src);
}

/// The seed's own `run-mirror --step copy --dry-run SRC DST` once failed without a manifest.
#[test]
fn copy_works_without_a_manifest_and_its_dry_run_lists_only_what_would_change() {
    let env = tree();
    let out = mirror(&env, &["--step", "copy", "--dry-run", "src", "dst"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(out.stderr.contains("no manifest: a plain copy"), "{}", out.stderr);
    assert!(!env.path("dst").exists());
    assert_eq!(mirror(&env, &["--step", "copy", "src", "dst"]).status, 0);
    same_files(&env, "src", "dst");
    env.write("src/new", "new");
    let out = mirror(&env, &["--step", "copy", "--dry-run", "src", "dst"]);
    assert_eq!(
        out.stdout_str(),
        "would copy new (3 B)\ndry run: would copy 1 file(s) (3 B), skip 5 up to date; nothing was changed\n"
    );
}

/// After a BLAKE3 run and a SHA-256 run each manifest once listed the other, and a copy
/// after a completed run exited 1 ("BLAKE3SUMS: not named in the manifest").
#[test]
fn own_manifests_of_every_algorithm_are_never_data() {
    let env = tree();
    assert_eq!(mirror(&env, &["src", "dst"]).status, 0);
    let out = mirror(&env, &["--algo", "sha256", "src", "dst"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    for m in ["src/BLAKE3SUMS", "src/SHA256SUMS", "dst/BLAKE3SUMS", "dst/SHA256SUMS"] {
        let text = fs::read_to_string(env.path(m)).unwrap();
        assert!(!text.contains("SUMS"), "{m} lists a manifest: {text}");
    }
    assert_eq!(manifest_at(&env, "src/BLAKE3SUMS"), mhash_manifest(&env, "src", &[]));
    assert_eq!(manifest_at(&env, "src/SHA256SUMS"), mhash_manifest(&env, "src", &["--algo", "sha256"]));
    let out = mirror(&env, &["--step", "copy", "src", "dst"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    if let Some(mut sha256sum) = env.peer("sha256sum", "dst") {
        assert!(sha256sum.args(["-c", "--quiet", "SHA256SUMS"]).status().unwrap().success());
    }
}

/// Step by step after SRC changed, copy and verify once used DST's stale manifest: verify
/// exited 0 with DST still old and a new file missing.
#[test]
fn a_stale_manifest_never_hides_a_newer_one() {
    let env = tree();
    assert_eq!(mirror(&env, &["src", "dst"]).status, 0);
    env.write("src/run42/lane3.fastq.gz", bytes(3, 1000));
    fs::write(env.path("src/with space/é"), "changed").unwrap();
    assert_eq!(mirror(&env, &["--step", "make-manifest", "src"]).status, 0);
    // Verify before the copy: DST is old, and SRC's newer manifest says so.
    let out = mirror(&env, &["--step", "verify", "src", "dst"]);
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert!(out.stderr.contains("verify: dst against src/BLAKE3SUMS"), "{}", out.stderr);
    assert_eq!(mirror(&env, &["--step", "copy", "src", "dst"]).status, 0);
    let out = mirror(&env, &["--step", "verify", "src", "dst"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(out.stderr.contains("mcheck: 6 checked: 6 OK"), "{}", out.stderr);
    same_files(&env, "src", "dst");
}

/// Verify once needed SRC although the manifest is in DST (the drive is gone by then).
#[test]
fn verify_needs_only_dst() {
    let env = tree();
    assert_eq!(mirror(&env, &["src", "dst"]).status, 0);
    fs::rename(env.path("src"), env.path("gone")).unwrap();
    let out = mirror(&env, &["--step", "verify", "dst"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(out.stderr.contains("verify: dst against dst/BLAKE3SUMS"), "{}", out.stderr);
    let m = fs::read(env.path("dst/BLAKE3SUMS")).unwrap();
    let out = run(env.tool("run-mirror").args(["--step", "verify", "--manifest", "-", "dst"]), &m);
    assert_eq!(out.status, 0, "{}", out.stderr);
    fs::remove_file(env.path("dst/BLAKE3SUMS")).unwrap();
    let out = mirror(&env, &["--step", "verify", "dst"]);
    assert_eq!(out.status, 2);
    assert!(out.stderr.contains("no manifest in dst"), "{}", out.stderr);
}

/// `--exclude`, `--checksum`, `--extra`, `--quiet`, `--progress` and `-V` were refused.
#[test]
fn pass_through_flags_reach_the_tools() {
    let env = tree();
    env.write("src/scratch.tmp", "scratch");
    let out = mirror(&env, &["--exclude", "*.tmp", "-q", "--no-progress", "src", "dst"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(!out.stderr.contains("run-mirror:"), "--quiet: {}", out.stderr);
    assert!(!env.path("dst/scratch.tmp").exists());
    assert!(!fs::read_to_string(env.path("src/BLAKE3SUMS")).unwrap().contains("scratch"));
    // Same size and mtime, other bytes: only --checksum repairs it.
    let lane = env.path("dst/run42/lane1.fastq.gz");
    common::rewrite_keeping_mtime(&lane, bytes(9, 300_000));
    assert_eq!(mirror(&env, &["--step", "copy", "--exclude", "*.tmp", "src", "dst"]).status, 0);
    assert_eq!(mirror(&env, &["--step", "verify", "src", "dst"]).status, 1);
    assert_eq!(mirror(&env, &["--step", "copy", "--checksum", "--exclude", "*.tmp", "src", "dst"]).status, 0);
    assert_eq!(mirror(&env, &["--step", "verify", "src", "dst"]).status, 0);
    env.write("dst/stray", "not in the manifest");
    let out = mirror(&env, &["--step", "verify", "--extra", "--progress", "src", "dst"]);
    assert_eq!((out.status, out.stdout_str()), (1, "stray: EXTRA\n"), "{}", out.stderr);
    for flag in ["-V", "--version"] {
        assert_eq!(mirror(&env, &[flag]).stdout_str(), "run-mirror 0.1.0\n");
    }
    let help = mirror(&env, &["--help"]).stdout_str().to_string();
    for flag in ["-j, --jobs", "-n, --dry-run", "--exclude", "--checksum", "--extra", "--quiet", "--progress"]
    {
        assert!(help.contains(flag), "{flag} not in --help");
    }
}

/// SRC starting with `-`, written `src/.` or with `/./` inside, and `--manifest` in a
/// subdirectory of SRC once failed ("unsafe name", or a manifest that listed its own
/// temporary); a read-only `--manifest` gave a raw shell error and status 1.
#[test]
fn awkward_paths_work_and_a_read_only_manifest_is_a_clear_error() {
    for src in ["-src", "src/.", "./top/./src", "src/"] {
        let env = Env::new();
        let dir = src
            .trim_start_matches("./")
            .replace("/./", "/")
            .trim_end_matches("/.")
            .trim_end_matches('/')
            .to_string();
        env.write(format!("{dir}/a/f"), "f");
        env.write(format!("{dir}/g"), "g");
        let out = run(env.tool("run-mirror").args(["--", src, "dst"]), "");
        assert_eq!(out.status, 0, "{src}: {}", out.stderr);
        assert_eq!(fs::read(env.path("dst/a/f")).unwrap(), b"f", "{src}");
        let m = fs::read_to_string(env.path("dst/BLAKE3SUMS")).unwrap();
        assert_eq!(m.lines().count(), 2, "{src}: {m}");
    }
    let env = tree();
    env.mkdir("src/meta");
    let out = mirror(&env, &["--manifest", "src/meta/run.b3", "src", "dst"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    let m = fs::read_to_string(env.path("src/meta/run.b3")).unwrap();
    assert!(!m.contains("run.b3") && !m.contains(".mcopy.tmp."), "{m}");
    assert_eq!(fs::read_to_string(env.path("dst/meta/run.b3")).unwrap(), m, "the manifest comes along");
    if can_mount() {
        let _ro = common::Mount::read_only(env.path("ro"));
        let out = mirror(&env, &["--manifest", "ro/M", "src", "dst2"]);
        assert_eq!(out.status, 2, "{}", out.stderr);
        assert!(out.stderr.contains("mhash: ro/M: Read-only file system"), "{}", out.stderr);
        assert!(!env.path("dst2").exists(), "nothing copied without a manifest");
    }
}

/// A SRC byte that rotted (size and mtime unchanged) once made a rerun rebuild the manifest
/// from the bad bytes, overwrite DST's copy of it, and blame DST, whose bytes were the good
/// ones: the only proof was destroyed.
#[test]
fn a_source_byte_that_rots_never_rewrites_the_manifest() {
    let env = tree();
    assert_eq!(mirror(&env, &["src", "dst"]).status, 0);
    // Its entries (on a rotational disk the listing, and so the line order, follows where
    // the files lie).
    let manifest = manifest_at(&env, "src/BLAKE3SUMS");
    let lane = env.path("src/run42/lane2.fastq.gz");
    let mut data = fs::read(&lane).unwrap();
    data[1_000_000] ^= 0x01;
    common::rewrite_keeping_mtime(&lane, &data);
    // A rerun reads only what changed by size and mtime: nothing; DST still verifies.
    let out = mirror(&env, &["src", "dst"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(out.stderr.contains("mhash: src/BLAKE3SUMS: 0 new, 5 unchanged (not read)"), "{}", out.stderr);
    // --full reads it: the entry is kept, the file named, the status 1; DST keeps the good
    // bytes and its manifest, and still verifies.
    let out = mirror(&env, &["--full", "src", "dst"]);
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("mhash: run42/lane2.fastq.gz: changed in SRC without a new mtime (bit rot or a faulty drive?); the manifest keeps its entry\n"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("mcheck: 5 checked: 5 OK"), "{}", out.stderr);
    assert_eq!(manifest_at(&env, "src/BLAKE3SUMS"), manifest, "never rewritten");
    assert_eq!(manifest_at(&env, "dst/BLAKE3SUMS"), manifest);
    assert_ne!(fs::read(env.path("dst/run42/lane2.fastq.gz")).unwrap(), data, "DST keeps the good bytes");
    // A b3sum user still reads the manifest as it always did.
    if let Some(mut b3sum) = env.peer("b3sum", "dst") {
        assert!(b3sum.args(["--check", "--quiet", "BLAKE3SUMS"]).status().unwrap().success());
    }
}

/// A file changed with a new mtime gets its entry updated, and is named.
#[test]
fn a_rerun_reads_only_new_or_changed_files_and_names_them() {
    let env = tree();
    assert_eq!(mirror(&env, &["src", "dst"]).status, 0);
    env.write("src/run42/lane3.fastq.gz", "new lane");
    fs::write(env.path("src/with space/é"), "changed").unwrap();
    fs::remove_file(env.path("src/run42/lane1.fastq.gz")).unwrap();
    let out = mirror(&env, &["src", "dst"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("mhash: with space/é: updated (changed since the manifest was made)\n"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("mhash: run42/lane1.fastq.gz: removed (no longer listed)\n"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(
            "mhash: src/BLAKE3SUMS: 1 new, 3 unchanged (not read), 0 read again, 1 updated, 1 removed\n"
        ),
        "{}",
        out.stderr
    );
    assert_eq!(manifest_at(&env, "src/BLAKE3SUMS"), mhash_manifest(&env, "src", &[]));
}

/// A rerun with nothing to do once re-read all of SRC and all of DST.
#[test]
fn a_rerun_verifies_only_what_changed_and_step_verify_reads_everything() {
    let env = tree();
    assert_eq!(mirror(&env, &["src", "dst"]).status, 0);
    let out = mirror(&env, &["src", "dst"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(out.stderr.contains("0 new, 5 unchanged (not read)"), "{}", out.stderr);
    assert!(
        out.stderr.contains("mcheck: 5 checked: 5 OK, 0 FAILED, 0 MISSING, 0 unreadable (5 of them unchanged since their last verify, not read)\n"),
        "{}",
        out.stderr
    );
    // A write in DST changes the file's ctime: the rerun reads it again and finds it.
    let lane = env.path("dst/run42/lane1.fastq.gz");
    common::rewrite_keeping_mtime(&lane, bytes(8, 300_000));
    let out = mirror(&env, &["src", "dst"]);
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert!(out.stderr.contains("(4 of them unchanged since their last verify, not read)"), "{}", out.stderr);
    assert_eq!(out.stdout_str(), "run42/lane1.fastq.gz: FAILED\n");
    // --step verify and --full read every file.
    for args in [&["--step", "verify", "src", "dst"][..], &["--full", "src", "dst"]] {
        let out = mirror(&env, args);
        assert_eq!(out.status, 1, "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.contains("mcheck: 5 checked: 4 OK, 1 FAILED, 0 MISSING, 0 unreadable\n"),
            "{args:?}: {}",
            out.stderr
        );
    }
}

/// A file that failed verify could not be repaired through run-mirror: the rerun skipped it
/// by size and mtime, and nothing said how.
#[test]
fn repair_copies_again_what_failed_and_a_failed_verify_says_how() {
    let env = tree();
    assert_eq!(mirror(&env, &["src", "dst"]).status, 0);
    let lane = env.path("dst/run42/lane2.fastq.gz");
    common::rewrite_keeping_mtime(&lane, bytes(7, 2 << 20));
    let out = mirror(&env, &["--step", "verify", "src", "dst"]);
    assert_eq!((out.status, out.stdout_str()), (1, "run42/lane2.fastq.gz: FAILED\n"));
    let command = format!("{} --repair -- src dst", common::run_mirror_path().display());
    assert!(
        out.stderr.ends_with(&format!("to copy them again and check them:\n {command}\n")),
        "{}",
        out.stderr
    );
    // A rerun alone does not help: the copy skips the file by its size and mtime.
    assert_eq!(mirror(&env, &["src", "dst"]).status, 1);
    let out = mirror(&env, &["--repair", "src", "dst"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(out.stderr.contains("run-mirror: repair: copying 1 file(s) again from src\n"), "{}", out.stderr);
    assert!(out.stderr.ends_with("mcheck: 5 checked: 5 OK, 0 FAILED, 0 MISSING, 0 unreadable (4 of them unchanged since their last verify, not read)\n"), "{}", out.stderr);
    same_files(&env, "src", "dst");
    let out = mirror(&env, &["--repair", "src", "dst"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(out.stderr.contains("repair: nothing to repair"), "{}", out.stderr);
    // A source that no longer matches its manifest is not installed by a repair either.
    fs::remove_file(env.path("dst/run42/lane1.fastq.gz")).unwrap();
    fs::write(env.path("src/run42/lane1.fastq.gz"), "other bytes").unwrap();
    let out = mirror(&env, &["--repair", "--manifest", "dst/BLAKE3SUMS", "src", "dst"]);
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert!(out.stderr.contains("the source does not match the manifest"), "{}", out.stderr);
    assert!(!env.path("dst/run42/lane1.fastq.gz").exists());
}

/// A manifest without a record (made by `--one-pass`, by b3sum, by an older mirror-tools) was
/// once rebuilt from whatever the source read on the next run.
#[test]
fn a_manifest_without_a_record_is_still_never_silently_rewritten() {
    let env = tree();
    assert_eq!(mirror(&env, &["--one-pass", "src", "dst"]).status, 0);
    assert!(!env.path("src/BLAKE3SUMS.record").exists());
    let manifest = manifest_at(&env, "src/BLAKE3SUMS");
    // Rot behind an unchanged mtime (older than the manifest), and a real change after it.
    let lane = env.path("src/run42/lane2.fastq.gz");
    let mut data = fs::read(&lane).unwrap();
    data[7] ^= 0x80;
    common::rewrite_keeping_mtime(&lane, &data);
    std::thread::sleep(std::time::Duration::from_millis(20));
    fs::write(env.path("src/with space/é"), "changed later").unwrap();
    let out = mirror(&env, &["--one-pass", "src", "dst"]);
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert!(out.stderr.contains("this rerun keeps it as the record"), "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "mhash: src/BLAKE3SUMS: no record beside it: every file is read and compared with its entry\n"
        ),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("mhash: run42/lane2.fastq.gz: changed in SRC without a new mtime"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("mhash: with space/é: updated"), "{}", out.stderr);
    let now = manifest_at(&env, "src/BLAKE3SUMS");
    let lane2 = |m: &[String]| m.iter().find(|l| l.ends_with("lane2.fastq.gz")).cloned();
    assert_eq!(lane2(&now), lane2(&manifest), "the rotted file keeps its entry");
    assert!(env.path("src/BLAKE3SUMS.record").exists(), "and now it has a record");
}

/// With SRC's manifest gone, a rerun once made a new one from whatever SRC read (a rotted byte
/// included) and copied it over DST's, the only proof left.
#[test]
fn a_manifest_missing_from_src_starts_from_dsts_copy() {
    let env = tree();
    assert_eq!(mirror(&env, &["src", "dst"]).status, 0);
    let manifest = manifest_at(&env, "dst/BLAKE3SUMS");
    fs::remove_file(env.path("src/BLAKE3SUMS")).unwrap();
    fs::remove_file(env.path("src/BLAKE3SUMS.record")).unwrap();
    let lane = env.path("src/run42/lane2.fastq.gz");
    let mut data = fs::read(&lane).unwrap();
    data[3] ^= 1;
    common::rewrite_keeping_mtime(&lane, &data);
    let out = mirror(&env, &["--full", "src", "dst"]);
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("src/BLAKE3SUMS is missing: starting from DST's copy, dst/BLAKE3SUMS"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("run42/lane2.fastq.gz: changed in SRC without a new mtime"),
        "{}",
        out.stderr
    );
    assert_eq!(manifest_at(&env, "dst/BLAKE3SUMS"), manifest, "DST's manifest is never replaced");
    assert!(out.stderr.contains("mcheck: 5 checked: 5 OK"), "{}", out.stderr);
}
