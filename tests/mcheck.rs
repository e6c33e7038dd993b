//! mcheck, run as a user runs it, with manifests written by mhash, b3sum and sha256sum.

mod common;

use common::{Env, Mount, bytes, can_mount, run};
use std::process::Command;

/// Awkward UTF-8 names the peers can write and read back.
const NAMES: &[&str] = &["plain", "with space", "-dash", "café/ü", "empty", "d/e/e/p/x", "back\\slash"];

fn tree() -> Env {
    let env = Env::new();
    for (i, name) in NAMES.iter().enumerate() {
        let len = if *name == "empty" { 0 } else { 3000 * i + 1 };
        env.write(format!("dst/{name}"), bytes(i as u64, len));
    }
    env.write("dst/big", bytes(7, 9 << 20));
    env
}

fn names() -> Vec<&'static str> {
    NAMES.iter().copied().chain(["big"]).collect()
}

fn manifest(env: &Env, args: &[&str]) -> Vec<u8> {
    let list = run(env.tool("mtree-list").args(["-0", "dst"]), "");
    let out = run(env.tool("mhash").arg("-0").args(args), &list.stdout);
    assert_eq!(out.status, 0, "{}", out.stderr);
    out.stdout
}

fn mcheck(env: &Env, args: &[&str], stdin: impl AsRef<[u8]>) -> common::Output {
    run(env.tool("mcheck").args(args), stdin)
}

fn ok_lines() -> String {
    let mut lines: Vec<String> = names()
        .iter()
        .map(|n| {
            if n.contains('\\') {
                format!("\\{}: OK\n", n.replace('\\', "\\\\"))
            } else {
                format!("{n}: OK\n")
            }
        })
        .collect();
    lines.sort();
    lines.concat()
}

fn sorted_stdout(out: &common::Output) -> String {
    let mut lines: Vec<&str> = out.stdout_str().split_inclusive('\n').collect();
    lines.sort();
    lines.concat()
}

#[test]
fn accepts_what_mhash_writes() {
    let env = tree();
    let out = mcheck(&env, &["dst"], manifest(&env, &[]));
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(sorted_stdout(&out), ok_lines());
    assert_eq!(out.stderr, "mcheck: 8 checked: 8 OK, 0 FAILED, 0 MISSING, 0 unreadable\n");
}

#[test]
fn accepts_what_b3sum_and_sha256sum_write_in_every_form() {
    let env = tree();
    let forms: &[(&str, &[&str], &[&str])] = &[
        ("b3sum", &[], &[]),
        ("sha256sum", &[], &["--algo", "sha256"]),
        ("sha256sum", &["-b"], &["--algo", "sha256"]),
        ("sha256sum", &["--tag"], &[]),
    ];
    for (peer, peer_args, our_args) in forms {
        let Some(mut cmd) = env.peer(peer, "dst") else { continue };
        let written = run(cmd.args(*peer_args).arg("--").args(names()), "");
        assert_eq!(written.status, 0, "{}", written.stderr);
        let out = mcheck(&env, &[&["dst"][..], our_args].concat(), &written.stdout);
        assert_eq!(
            (out.status, out.stderr.as_str()),
            (0, "mcheck: 8 checked: 8 OK, 0 FAILED, 0 MISSING, 0 unreadable\n"),
            "{peer} {peer_args:?}"
        );
        assert_eq!(sorted_stdout(&out), ok_lines(), "{peer} {peer_args:?}");
    }
}

#[test]
fn tagged_blake3_lines_crlf_comments_and_blank_lines() {
    let env = tree();
    let hex =
        |n: &str| blake3::hash(&std::fs::read(env.path(format!("dst/{n}"))).unwrap()).to_hex().to_string();
    let sha = |n: &str| {
        let out = Command::new("sha256sum").arg(env.path(format!("dst/{n}"))).output().unwrap();
        String::from_utf8(out.stdout).unwrap()[..64].to_string()
    };
    let text = format!(
        "# written by hand\r\n\r\nBLAKE3 (plain) = {}\r\n{}  with space\r\nSHA256 (-dash) = {}\n",
        hex("plain"),
        hex("with space"),
        sha("-dash")
    );
    let out = mcheck(&env, &["dst"], text);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(out.stdout_str(), "plain: OK\nwith space: OK\n-dash: OK\n");
}

#[test]
fn algorithm_comes_from_the_manifest_name_unless_algo_says() {
    let env = tree();
    std::fs::write(env.path("SHA256SUMS"), manifest(&env, &["--algo", "sha256"])).unwrap();
    std::fs::write(env.path("list.sha256"), manifest(&env, &["--algo", "sha256"])).unwrap();
    assert_eq!(mcheck(&env, &["-q", "dst", "SHA256SUMS"], "").status, 0);
    assert_eq!(mcheck(&env, &["-q", "dst", "list.sha256"], "").status, 0);
    let forced = mcheck(&env, &["-q", "--algo", "blake3", "dst", "SHA256SUMS"], "");
    assert_eq!(forced.status, 1);
    assert!(forced.stderr.contains("8 FAILED"), "{}", forced.stderr);
}

#[test]
fn a_flipped_byte_fails_with_status_1() {
    let env = tree();
    let m = manifest(&env, &[]);
    let mut big = std::fs::read(env.path("dst/big")).unwrap();
    big[5_000_000] ^= 1;
    std::fs::write(env.path("dst/big"), big).unwrap();
    let out = mcheck(&env, &["--quiet", "dst"], m);
    assert_eq!(out.status, 1);
    assert_eq!(out.stdout_str(), "big: FAILED\n");
    assert_eq!(out.stderr, "mcheck: 8 checked: 7 OK, 1 FAILED, 0 MISSING, 0 unreadable\n");
}

#[test]
fn a_deleted_file_is_missing_unless_ignored() {
    let env = tree();
    let m = manifest(&env, &[]);
    std::fs::remove_file(env.path("dst/café/ü")).unwrap();
    std::fs::remove_dir_all(env.path("dst/d")).unwrap();
    let out = mcheck(&env, &["-q", "dst"], &m);
    assert_eq!(out.status, 1);
    assert_eq!(out.stdout_str(), "café/ü: MISSING\nd/e/e/p/x: MISSING\n");
    assert_eq!(out.stderr, "mcheck: 8 checked: 6 OK, 0 FAILED, 2 MISSING, 0 unreadable\n");
    let ignored = mcheck(&env, &["-q", "--ignore-missing", "dst"], &m);
    assert_eq!((ignored.status, ignored.stdout_str()), (0, ""));
    assert_eq!(ignored.stderr, "mcheck: 6 checked: 6 OK, 0 FAILED, 0 MISSING, 0 unreadable\n");
}

#[test]
fn extra_lists_files_the_manifest_does_not_name() {
    let env = tree();
    std::fs::write(env.path("dst/BLAKE3SUMS"), manifest(&env, &[])).unwrap();
    env.write("dst/new/stray", "x");
    let out = mcheck(&env, &["-q", "--extra", "dst", "dst/BLAKE3SUMS"], "");
    assert_eq!(out.status, 1);
    // The manifest itself, inside DST, is not an extra file.
    assert_eq!(out.stdout_str(), "new/stray: EXTRA\n");
    assert!(out.stderr.ends_with("0 unreadable, 1 EXTRA\n"), "{}", out.stderr);
    let without = mcheck(&env, &["-q", "dst", "dst/BLAKE3SUMS"], "");
    assert_eq!(without.status, 0);
}

#[test]
fn quiet_and_status() {
    let env = tree();
    let m = manifest(&env, &[]);
    std::fs::write(env.path("dst/plain"), "changed").unwrap();
    let quiet = mcheck(&env, &["--quiet", "dst"], &m);
    assert_eq!((quiet.status, quiet.stdout_str()), (1, "plain: FAILED\n"));
    let status = mcheck(&env, &["--status", "dst"], &m);
    assert_eq!((status.status, status.stdout_str(), status.stderr.as_str()), (1, "", ""));
}

#[test]
fn malformed_lines_are_reported_with_their_number_and_the_rest_checked() {
    let env = tree();
    let mut m = manifest(&env, &[]);
    m.splice(0..0, b"not a manifest line\n".iter().copied());
    m.extend_from_slice(b"0123  short\n");
    std::fs::write(env.path("M"), &m).unwrap();
    let out = mcheck(&env, &["-q", "dst", "M"], "");
    assert_eq!(out.status, 2);
    assert_eq!(
        out.stderr,
        "mcheck: M:1: no '  ' between checksum and name\n\
         mcheck: M:10: checksum is not 64 hex digits\n\
         mcheck: 8 checked: 8 OK, 0 FAILED, 0 MISSING, 0 unreadable, 2 malformed lines\n"
    );
}

#[test]
fn both_a_failure_and_a_malformed_line_give_2() {
    let env = tree();
    let mut m = manifest(&env, &[]);
    m.extend_from_slice(b"junk\n");
    std::fs::write(env.path("dst/plain"), "changed").unwrap();
    assert_eq!(mcheck(&env, &["-q", "dst"], m).status, 2);
}

#[test]
fn unsafe_names_are_reported_and_never_opened() {
    let env = tree();
    env.write("outside", "secret");
    let hex = blake3::hash(b"secret").to_hex();
    let abs = env.path("outside");
    let text = format!(
        "{hex}  ../outside\n{hex}  {}\n{hex}  d//x\n{hex}  ./plain\n{hex}  d/../../outside\n",
        abs.display()
    );
    let out = mcheck(&env, &["dst"], text);
    assert_eq!(out.status, 2);
    assert_eq!(out.stdout_str(), "");
    assert_eq!(
        out.stderr,
        format!(
            "mcheck: -:1: ../outside: unsafe name: '..' component, not opened\n\
             mcheck: -:2: {}: unsafe name: absolute path, not opened\n\
             mcheck: -:3: d//x: unsafe name: empty path component, not opened\n\
             mcheck: -:4: ./plain: unsafe name: '.' component, not opened\n\
             mcheck: -:5: d/../../outside: unsafe name: '..' component, not opened\n\
             mcheck: 0 checked: 0 OK, 0 FAILED, 0 MISSING, 0 unreadable, 5 unsafe names\n",
            abs.display()
        )
    );
}

#[test]
fn empty_manifest_and_binary_junk_verify_nothing_and_give_2() {
    let env = tree();
    let empty = mcheck(&env, &["dst"], "");
    assert_eq!(empty.status, 2);
    assert!(empty.stderr.contains("-: no checksum lines found: nothing was verified"), "{}", empty.stderr);
    let comments = mcheck(&env, &["dst"], "# nothing\n\n");
    assert_eq!(comments.status, 2);
    let junk = mcheck(&env, &["dst"], bytes(3, 200_000));
    assert_eq!(junk.status, 2);
    assert!(junk.stderr.contains("more malformed lines"), "{}", junk.stderr);
    assert!(junk.stderr.contains("nothing was verified"), "{}", junk.stderr);
    assert!(junk.stderr.lines().count() < 30, "{}", junk.stderr);
}

#[test]
fn gzip_manifest_by_path_and_from_stdin() {
    let env = tree();
    std::fs::write(env.path("M"), manifest(&env, &[])).unwrap();
    assert!(Command::new("gzip").arg(env.path("M")).status().unwrap().success());
    let by_path = mcheck(&env, &["-q", "dst", "M.gz"], "");
    assert_eq!(
        (by_path.status, by_path.stderr.as_str()),
        (0, "mcheck: 8 checked: 8 OK, 0 FAILED, 0 MISSING, 0 unreadable\n")
    );
    let gz = std::fs::read(env.path("M.gz")).unwrap();
    assert_eq!(mcheck(&env, &["-q", "dst", "-"], &gz).status, 0);
    assert_eq!(mcheck(&env, &["-q", "dst"], &gz).status, 0);
}

#[test]
fn zero_terminated_manifest_with_a_newline_name() {
    let env = tree();
    env.write("dst/new\nline", "n");
    let m = manifest(&env, &["-z"]);
    let out = mcheck(&env, &["-z", "dst"], &m);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(out.stdout_str().contains("\\new\\nline: OK\n"), "{}", out.stdout_str());
    let escaped = manifest(&env, &[]);
    assert_eq!(mcheck(&env, &["-q", "dst"], &escaped).status, 0);
}

#[test]
fn non_utf8_name() {
    let env = tree();
    env.write(b"dst/bad\xff", "x");
    let out = mcheck(&env, &["dst"], manifest(&env, &[]));
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(out.stdout.windows(9).any(|w| w == b"bad\xff: OK\n"));
}

#[test]
fn a_fifo_in_dst_is_unreadable_not_a_hang() {
    let env = tree();
    let mut m = manifest(&env, &[]);
    env.mkfifo("dst/fifo");
    m.extend_from_slice(format!("{}  fifo\n", blake3::hash(b"").to_hex()).as_bytes());
    let out = mcheck(&env, &["-q", "dst"], m);
    assert_eq!(out.status, 1);
    assert_eq!(out.stdout_str(), "fifo: FAILED open or read\n");
    assert!(out.stderr.contains("dst/fifo: not a regular file (fifo), not opened"), "{}", out.stderr);
}

#[test]
fn output_follows_manifest_order_whatever_the_jobs() {
    let env = Env::new();
    for i in 0..300u64 {
        env.write(format!("dst/f{i:03}"), bytes(i, (i as usize % 17) * 5000));
    }
    let m = manifest(&env, &[]);
    let one = mcheck(&env, &["-j1", "dst"], &m);
    let many = mcheck(&env, &["-j7", "dst"], &m);
    assert_eq!(one.stdout, many.stdout);
    let expected: String = (0..300).map(|i| format!("f{i:03}: OK\n")).collect();
    assert_eq!(one.stdout_str(), expected);
}

#[test]
fn missing_destination_is_an_error() {
    let env = tree();
    let out = mcheck(&env, &["nope"], manifest(&env, &[]));
    assert_eq!(out.status, 2);
    assert_eq!(out.stderr, "mcheck: nope: No such file or directory\n");
}

#[test]
fn unreadable_manifest_is_an_error() {
    let env = tree();
    let out = mcheck(&env, &["dst", "no-such-manifest"], "");
    assert_eq!(out.status, 2);
    assert_eq!(out.stderr, "mcheck: no-such-manifest: No such file or directory\n");
}

/// The reason mcheck exists: right after a copy, the page cache still holds what was written,
/// so a block that changed on the device is invisible to a reader of the cache.
#[test]
fn a_block_corrupted_on_the_device_is_caught_where_b3sum_sees_the_cache() {
    if !can_mount() {
        return;
    }
    let env = Env::new();
    let image = env.path("disk.img");
    let mount = Mount::ext4(&image, 32, env.path("mnt"));
    // A recognisable 4 KiB block in the middle of a 1 MiB file.
    let marker = b"mirror-tools corruption marker: block 128 of data.fq";
    let mut data = bytes(1, 1 << 20);
    data[128 * 4096..128 * 4096 + marker.len()].copy_from_slice(marker);
    std::fs::write(mount.dir.join("data.fq"), &data).unwrap();
    std::fs::write(mount.dir.join("other.fq"), bytes(2, 70_000)).unwrap();
    let m = {
        let out = run(env.tool("mhash").current_dir(&mount.dir).args(["data.fq", "other.fq"]), "");
        out.stdout
    };
    assert!(Command::new("sync").status().unwrap().success());
    // Change the block in the image file, behind the mounted filesystem's back.
    let mut img = std::fs::read(&image).unwrap();
    let at = img.windows(marker.len()).position(|w| w == marker).expect("marker is on the disk");
    img[at + 40] ^= 0xff;
    std::fs::write(&image, &img).unwrap();
    if let Some(mut b3sum) = env.peer("b3sum", "mnt") {
        let cached = run(b3sum.args(["--check", "-"]), &m);
        assert_eq!(cached.stdout_str(), "data.fq: OK\nother.fq: OK\n", "b3sum reads the page cache");
    }
    let out = run(env.tool("mcheck").arg(&mount.dir), &m);
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert_eq!(out.stdout_str(), "data.fq: FAILED\nother.fq: OK\n");
}

/// A truncated gzip stream fails on every read: it once made the manifest reader spin forever.
#[test]
fn a_truncated_gzip_manifest_is_an_error_not_a_hang() {
    let env = Env::new();
    for i in 0..400u64 {
        env.write(format!("dst/f{i:03}"), bytes(i, 100));
    }
    std::fs::write(env.path("M"), manifest(&env, &[])).unwrap();
    assert!(Command::new("gzip").arg(env.path("M")).status().unwrap().success());
    let gz = std::fs::read(env.path("M.gz")).unwrap();
    std::fs::write(env.path("cut.gz"), &gz[..gz.len() / 2]).unwrap();
    let out = mcheck(&env, &["-q", "dst", "cut.gz"], "");
    assert_eq!(out.status, 2);
    assert!(out.stderr.ends_with("mcheck: cut.gz: incomplete deflate stream\n"), "{}", out.stderr);
}

/// An empty or mistyped DST once passed `--ignore-missing` with status 0.
#[test]
fn ignore_missing_with_nothing_verified_is_status_1() {
    let env = tree();
    let m = manifest(&env, &[]);
    env.mkdir("empty");
    let out = mcheck(&env, &["--ignore-missing", "empty"], &m);
    assert_eq!((out.status, out.stdout_str()), (1, ""));
    assert_eq!(
        out.stderr,
        "mcheck: -: no file was verified\nmcheck: 0 checked: 0 OK, 0 FAILED, 0 MISSING, 0 unreadable\n"
    );
}

/// `mcheck DST M | head -1` once exited 0 without checking the rest: an unfinished
/// verification is never a success.
#[test]
fn a_broken_pipe_stops_mcheck_with_status_2() {
    let env = Env::new();
    let long = "n".repeat(200);
    for i in 0..2000 {
        env.write(format!("dst/{i:04}-{long}"), "x");
    }
    let m = manifest(&env, &[]);
    std::fs::write(env.path("M"), &m).unwrap();
    let (first, status, stderr) = common::close_stdout_after(env.tool("mcheck").args(["dst", "M"]), 4);
    assert_eq!((first, status, stderr), (b"0000".to_vec(), Some(2), common::unfinished("mcheck")));
}

/// Tape and block-sized writers pad a gzip file with zeros; zcat accepts them, and so does
/// mcheck. Anything else after the data is an error, not a silent end.
#[test]
fn a_gzip_manifest_with_zero_padding_is_read_and_trailing_garbage_is_an_error() {
    let env = tree();
    std::fs::write(env.path("M"), manifest(&env, &[])).unwrap();
    assert!(Command::new("gzip").arg(env.path("M")).status().unwrap().success());
    let gz = std::fs::read(env.path("M.gz")).unwrap();
    let padded = [gz.clone(), vec![0; 10_000]].concat();
    std::fs::write(env.path("padded.gz"), &padded).unwrap();
    let zcat = Command::new("zcat").arg(env.path("padded.gz")).output().unwrap();
    assert!(zcat.status.success(), "zcat accepts the padding");
    let out = mcheck(&env, &["dst", "padded.gz"], "");
    assert_eq!(sorted_stdout(&out), ok_lines());
    assert_eq!(out.status, 0, "{}", out.stderr);
    std::fs::write(env.path("garbage.gz"), [gz, vec![0, 0, b'x']].concat()).unwrap();
    let out = mcheck(&env, &["-q", "dst", "garbage.gz"], "");
    assert_eq!(out.status, 2);
    assert!(
        out.stderr.contains("mcheck: garbage.gz: trailing garbage after the gzip data\n"),
        "{}",
        out.stderr
    );
}

/// A name whose bytes lie outside DST (a symlink out of it) is never reported as a plain OK.
#[test]
fn a_symlink_in_dst_leading_outside_is_never_ok() {
    let env = Env::new();
    env.write("src/a", "the same bytes");
    env.write("src/b", "the same bytes");
    env.write("elsewhere/a", "the same bytes");
    let m = run(env.tool("mhash").current_dir(env.path("src")).args(["a", "b"]), "").stdout;
    env.mkdir("dst/sub");
    env.symlink("../elsewhere/a", "dst/a");
    env.symlink(env.path("src/b").to_str().unwrap(), "dst/b");
    let out = mcheck(&env, &["dst"], &m);
    assert_eq!(out.status, 1);
    assert_eq!(out.stdout_str(), "a: FAILED open or read\nb: FAILED open or read\n");
    let elsewhere = std::fs::canonicalize(env.path("elsewhere/a")).unwrap();
    let src_b = std::fs::canonicalize(env.path("src/b")).unwrap();
    assert_eq!(
        out.stderr,
        format!(
            "mcheck: dst/a: symlink leads outside DST (to {}), not read\n\
             mcheck: dst/b: symlink leads outside DST (to {}), not read\n\
             mcheck: 2 checked: 0 OK, 0 FAILED, 0 MISSING, 2 unreadable\n",
            elsewhere.display(),
            src_b.display()
        )
    );
    // A link that stays inside DST is followed, as b3sum follows it.
    std::fs::remove_file(env.path("dst/a")).unwrap();
    env.write("dst/sub/real", "the same bytes");
    env.symlink("sub/real", "dst/a");
    let out = mcheck(&env, &["-q", "dst"], &m);
    assert_eq!(out.stdout_str(), "b: FAILED open or read\n");
}

/// Writes `marked` files on `mount`, hashes them, and changes every copy of each marker in the
/// image behind the mounted filesystem's back (the home block and any journal copy).
fn corrupt_behind_the_cache(
    env: &Env,
    mount: &Mount,
    image: &std::path::Path,
    files: &[(&str, Vec<u8>)],
) -> Vec<u8> {
    for (name, data) in files {
        std::fs::write(mount.dir.join(name), data).unwrap();
    }
    let names: Vec<&str> = files.iter().map(|(n, _)| *n).collect();
    let m = run(env.tool("mhash").current_dir(&mount.dir).args(&names), "").stdout;
    assert!(Command::new("sync").status().unwrap().success());
    let mut img = std::fs::read(image).unwrap();
    for (name, _) in files {
        let marker = format!("marker of {name}");
        let mut found = 0;
        let mut at = 0;
        while let Some(i) = img[at..].windows(marker.len()).position(|w| w == marker.as_bytes()) {
            img[at + i + 3] ^= 0xff;
            at += i + marker.len();
            found += 1;
        }
        assert!(found > 0, "{marker} is on the disk");
    }
    std::fs::write(image, &img).unwrap();
    m
}

fn marked(name: &str, len: usize) -> Vec<u8> {
    let mut data = bytes(len as u64, len);
    let marker = format!("marker of {name}");
    data[len / 2..len / 2 + marker.len()].copy_from_slice(marker.as_bytes());
    data
}

/// On ext4 mounted `data=journal`, `O_DIRECT` is accepted and served from the page cache: a
/// block corrupted on the device right after the copy was once reported OK.
#[test]
fn data_journal_where_o_direct_is_served_from_the_cache_still_reads_the_device() {
    if !can_mount() {
        return;
    }
    let env = Env::new();
    let image = env.path("disk.img");
    let mount = Mount::ext4_with(&image, 32, env.path("mnt"), &[], "loop,data=journal");
    let m = corrupt_behind_the_cache(
        &env,
        &mount,
        &image,
        &[("data.fq", marked("data.fq", 1 << 20)), ("small.fq", marked("small.fq", 9000))],
    );
    if let Some(mut b3sum) = env.peer("b3sum", "mnt") {
        let cached = run(b3sum.args(["--check", "-"]), &m);
        assert_eq!(cached.stdout_str(), "data.fq: OK\nsmall.fq: OK\n", "the cache still holds the old bytes");
    }
    let out = run(env.tool("mcheck").arg(&mount.dir), &m);
    assert_eq!(out.stdout_str(), "data.fq: FAILED\nsmall.fq: FAILED\n", "{}", out.stderr);
    assert_eq!(out.status, 1);
}

/// A small file stored inline in its ext4 inode lives in the filesystem's memory, where no
/// read reaches the device: it was once reported OK; it is now named UNVERIFIED.
#[test]
fn inline_data_that_no_read_can_reach_on_the_device_is_unverified_never_ok() {
    if !can_mount() {
        return;
    }
    let env = Env::new();
    let image = env.path("disk.img");
    let mount = Mount::ext4_with(&image, 32, env.path("mnt"), &["-O", "inline_data"], "loop");
    let tiny = b"marker of tiny.txt: a sample sheet line".to_vec();
    let m = corrupt_behind_the_cache(
        &env,
        &mount,
        &image,
        &[("tiny.txt", tiny), ("data.fq", marked("data.fq", 200_000))],
    );
    let out = run(env.tool("mcheck").arg(&mount.dir), &m);
    assert_eq!(out.status, 1);
    assert_eq!(out.stdout_str(), "tiny.txt: UNVERIFIED\ndata.fq: FAILED\n");
    assert_eq!(
        out.stderr,
        format!(
            "mcheck: {}/tiny.txt: read from the page cache, not the device (inline data, kept in the inode by the filesystem)\n\
             mcheck: 2 checked: 0 OK, 1 FAILED, 0 MISSING, 0 unreadable, 1 UNVERIFIED (read from the page cache, not the device)\n",
            mount.dir.display()
        )
    );
}

/// Where no device lies behind DST (tmpfs), the summary says the bytes came from memory.
#[test]
fn on_tmpfs_the_summary_says_no_device_was_read() {
    if !can_mount() {
        return;
    }
    let env = Env::new();
    let mount = Mount::tmpfs(env.path("mem"), "8m");
    std::fs::write(mount.dir.join("a"), "a").unwrap();
    let m = run(env.tool("mhash").current_dir(&mount.dir).arg("a"), "").stdout;
    let out = run(env.tool("mcheck").arg(&mount.dir), &m);
    assert_eq!((out.status, out.stdout_str()), (0, "a: OK\n"));
    assert_eq!(
        out.stderr,
        "mcheck: 1 checked: 1 OK, 0 FAILED, 0 MISSING, 0 unreadable; 1 read from memory: no device lies behind them (tmpfs)\n"
    );
}
