//! `--order physical`: files in the order their data lies on the disk, checked against
//! `filefrag -v` on a loop-mounted ext4 image.

mod common;

use common::{Env, Mount, bytes, can_mount, run};
use std::io::Write;
use std::process::Command;

/// The first physical block of a file, as `filefrag -v` reports it.
fn filefrag_first_block(path: &std::path::Path) -> u64 {
    let out = Command::new("filefrag").arg("-v").arg(path).output().expect("filefrag (e2fsprogs)");
    let text = String::from_utf8(out.stdout).unwrap();
    let line = text.lines().find(|l| l.trim_start().starts_with("0:")).unwrap_or_else(|| panic!("{text}"));
    let physical = line.split(':').nth(2).unwrap().trim();
    physical.split("..").next().unwrap().trim().parse().unwrap()
}

#[test]
fn physical_order_follows_the_blocks_as_filefrag_reports_them() {
    if !can_mount() {
        return;
    }
    let env = Env::new();
    let mount = Mount::ext4(&env.path("disk.img"), 64, env.path("mnt"));
    let dir = mount.dir.join("run");
    std::fs::create_dir(&dir).unwrap();
    // Created (and synced, so allocated) in an order unrelated to their names.
    let names: Vec<String> = (0..30).map(|i| format!("r{:02}.fq", (i * 17) % 30)).collect();
    for (i, name) in names.iter().enumerate() {
        let mut f = std::fs::File::create(dir.join(name)).unwrap();
        f.write_all(&bytes(i as u64, 20_000)).unwrap();
        f.sync_all().unwrap();
    }
    std::fs::create_dir(dir.join("sub")).unwrap();
    std::fs::write(dir.join("sub/inner"), "x").unwrap();

    let out = run(env.tool("mtree-list").args(["--order", "physical", "mnt/run"]), "");
    assert_eq!(out.status, 0, "{}", out.stderr);
    let listed: Vec<&str> = out.stdout_str().lines().map(|l| l.strip_prefix("mnt/run/./").unwrap()).collect();
    let mut by_block: Vec<(u64, String)> =
        names.iter().map(|n| (filefrag_first_block(&dir.join(n)), n.clone())).collect();
    by_block.sort();
    let mut expected: Vec<&str> = by_block.iter().map(|(_, n)| n.as_str()).collect();
    expected.push("sub/inner");
    assert_eq!(listed, expected, "files by first block, then subdirectories");
    let mut by_name = names.clone();
    by_name.sort();
    assert_ne!(
        listed[..30],
        by_name.iter().map(String::as_str).collect::<Vec<_>>()[..],
        "the test means something"
    );

    // --order auto follows the device's rotational flag in sysfs.
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap();
    let loop_dev = mounts
        .lines()
        .find(|l| l.split(' ').nth(1) == Some(&*mount.dir.to_string_lossy()))
        .and_then(|l| l.split(' ').next()?.strip_prefix("/dev/"))
        .expect("the loop device of the mount")
        .to_string();
    let flag = format!("/sys/block/{loop_dev}/queue/rotational");
    let by_name = run(env.tool("mtree-list").arg("mnt/run"), "");
    for (rotational, wanted) in [("1", &out.stdout), ("0", &by_name.stdout)] {
        std::fs::write(&flag, rotational).unwrap();
        let auto = run(env.tool("mtree-list").args(["--order", "auto", "mnt/run"]), "");
        assert_eq!(&auto.stdout, wanted, "rotational = {rotational}");
    }

    // mcopy's walk takes the same order, and the copy is the same.
    let copy = run(env.tool("mcopy").args(["--order", "physical", "--hash-out", "H", "mnt/run", "dst"]), "");
    assert_eq!(copy.status, 0, "{}", copy.stderr);
    let hashed: Vec<String> =
        std::fs::read_to_string(env.path("H")).unwrap().lines().map(|l| l[66..].to_string()).collect();
    assert_eq!(hashed, expected);
    let check = run(env.tool("mcheck").args(["-q", "dst", "H"]), "");
    assert_eq!(check.status, 0, "{}", check.stderr);
}

#[test]
fn physical_order_on_a_filesystem_without_fiemap_falls_back_to_inodes() {
    if !can_mount() {
        return;
    }
    let env = Env::new();
    let mount = Mount::tmpfs(env.path("mnt"), "4m");
    for name in ["c", "a", "b"] {
        std::fs::write(mount.dir.join(name), name).unwrap();
    }
    let out = run(env.tool("mtree-list").args(["--order", "physical", "mnt"]), "");
    assert_eq!((out.status, out.stdout_str()), (0, "mnt/./c\nmnt/./a\nmnt/./b\n"), "{}", out.stderr);
}
