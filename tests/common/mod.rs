//! Test fixture: a fresh temporary directory per test, trees built from bytes, and the real
//! binaries run with their stdout, stderr and status captured.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub struct Env {
    pub dir: tempfile::TempDir,
}

pub struct Output {
    pub status: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Output {
    pub fn stdout_str(&self) -> &str {
        std::str::from_utf8(&self.stdout).expect("stdout is UTF-8")
    }
}

pub fn os(bytes: &[u8]) -> &OsStr {
    OsStr::from_bytes(bytes)
}

impl Env {
    pub fn new() -> Env {
        let dir = tempfile::Builder::new().prefix("mirror-test.").tempdir().expect("tempdir");
        Env { dir }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// The path of `rel` (bytes, may be invalid UTF-8) inside the test directory.
    pub fn path(&self, rel: impl AsRef<[u8]>) -> PathBuf {
        self.root().join(os(rel.as_ref()))
    }

    /// Writes a file, creating its parent directories.
    pub fn write(&self, rel: impl AsRef<[u8]>, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, contents).unwrap();
        path
    }

    pub fn mkdir(&self, rel: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(rel);
        fs::create_dir_all(&path).unwrap();
        path
    }

    pub fn symlink(&self, target: &str, rel: impl AsRef<[u8]>) {
        std::os::unix::fs::symlink(target, self.path(rel)).unwrap();
    }

    pub fn mkfifo(&self, rel: impl AsRef<[u8]>) {
        let path = self.path(rel);
        let status = Command::new("mkfifo").arg(&path).status().unwrap();
        assert!(status.success());
    }

    /// A command for one of our tools, run in the test directory.
    pub fn tool(&self, name: &str) -> Command {
        let mut cmd = Command::new(tool_path(name));
        cmd.current_dir(self.root());
        cmd.env_remove("MIRROR_JOBS").env_remove("MIRROR_B3THREADS");
        cmd
    }

    /// A command for a peer (b3sum, sha256sum, ...), run in `dir` inside the test directory.
    pub fn peer(&self, name: &str, dir: &str) -> Option<Command> {
        let path = peer(name)?;
        let mut cmd = Command::new(path);
        cmd.current_dir(self.path(dir));
        Some(cmd)
    }
}

/// The checkout's run-mirror script, which finds the tools in target/release.
pub fn run_mirror_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("bin/run-mirror")
}

pub fn tool_path(name: &str) -> PathBuf {
    match name {
        "mtree-list" => PathBuf::from(env!("CARGO_BIN_EXE_mtree-list")),
        "mhash" => PathBuf::from(env!("CARGO_BIN_EXE_mhash")),
        "mcheck" => PathBuf::from(env!("CARGO_BIN_EXE_mcheck")),
        "mcopy" => PathBuf::from(env!("CARGO_BIN_EXE_mcopy")),
        "run-mirror" => run_mirror_path(),
        other => panic!("unknown tool {other}"),
    }
}

/// The path of a peer program; fails (not skips) when CI is set and it is missing.
pub fn peer(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|d| d.join(name)).find(|p| p.is_file()));
    if found.is_none() {
        assert!(std::env::var_os("CI").is_none(), "{name} is required in CI (see .ci/run)");
        eprintln!("skipping: {name} not installed");
    }
    found
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Runs `cmd` with `stdin`, failing the test if it does not finish within a minute
/// (a tool that opens a FIFO would hang).
pub fn run(cmd: &mut Command, stdin: impl AsRef<[u8]>) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let input = stdin.as_ref().to_vec();
    let mut child_stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = child_stdin.write_all(&input);
    });
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        stdout.read_to_end(&mut buf).unwrap();
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        stderr.read_to_end(&mut buf).unwrap();
        buf
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{cmd:?} did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    writer.join().unwrap();
    Output {
        status: status
            .code()
            .unwrap_or(128 + std::os::unix::process::ExitStatusExt::signal(&status).unwrap_or(0)),
        stdout: out_reader.join().unwrap(),
        stderr: String::from_utf8_lossy(&err_reader.join().unwrap()).into_owned(),
    }
}

/// Deterministic pseudo-random bytes (xorshift), so tests need no RNG crate.
pub fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect()
}

/// Splits NUL- or newline-terminated records.
pub fn records(out: &[u8], sep: u8) -> Vec<&[u8]> {
    let mut v: Vec<&[u8]> = out.split(|&b| b == sep).collect();
    assert_eq!(v.pop(), Some(&b""[..]), "output ends with a terminator");
    v
}

/// True when a test that needs root (mounts) can run; in CI it must.
pub fn can_mount() -> bool {
    if !is_root() {
        assert!(std::env::var_os("CI").is_none(), "CI runs as root");
        eprintln!("skipping: needs root");
        return false;
    }
    true
}

/// A filesystem mounted for one test, unmounted when dropped (even when the test fails).
pub struct Mount {
    pub dir: PathBuf,
}

impl Mount {
    /// A tmpfs of `size` (as `mount -o size=`) at `dir`.
    pub fn tmpfs(dir: PathBuf, size: &str) -> Mount {
        fs::create_dir_all(&dir).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .status();
        assert!(ok.unwrap().success(), "mount tmpfs");
        Mount { dir }
    }

    /// A read-only tmpfs at `dir`.
    pub fn read_only(dir: PathBuf) -> Mount {
        fs::create_dir_all(&dir).unwrap();
        let ok = Command::new("mount").args(["-t", "tmpfs", "-o", "ro,size=1m", "tmpfs"]).arg(&dir).status();
        assert!(ok.unwrap().success(), "mount ro tmpfs");
        Mount { dir }
    }

    /// `src` bind-mounted read-only at `dir` (a write-protected drive).
    pub fn read_only_bind(src: &Path, dir: PathBuf) -> Mount {
        fs::create_dir_all(&dir).unwrap();
        let bind = Command::new("mount").arg("--bind").arg(src).arg(&dir).status();
        assert!(bind.unwrap().success(), "mount --bind");
        let mount = Mount { dir };
        let ro = Command::new("mount").args(["-o", "remount,bind,ro"]).arg(&mount.dir).status();
        assert!(ro.unwrap().success(), "remount ro");
        mount
    }

    /// A fresh ext4 filesystem (4 KiB blocks) in the image file `image` of `mib` MiB,
    /// loop-mounted at `dir`.
    pub fn ext4(image: &Path, mib: u64, dir: PathBuf) -> Mount {
        Mount::ext4_with(image, mib, dir, &[], "loop")
    }

    /// [`Mount::ext4`] with extra `mkfs.ext4` arguments (`-O inline_data`) and mount options
    /// (`loop,data=journal`).
    pub fn ext4_with(image: &Path, mib: u64, dir: PathBuf, mkfs: &[&str], options: &str) -> Mount {
        fs::File::create(image).unwrap().set_len(mib << 20).unwrap();
        let made = Command::new("mkfs.ext4").args(["-q", "-F", "-b", "4096"]).args(mkfs).arg(image).status();
        assert!(made.unwrap().success(), "mkfs.ext4 {mkfs:?}");
        fs::create_dir_all(&dir).unwrap();
        let ok = Command::new("mount").args(["-o", options]).arg(image).arg(&dir).status();
        assert!(ok.unwrap().success(), "mount -o {options}");
        Mount { dir }
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.dir).status();
    }
}

/// The fault-injecting FUSE filesystem of `tests/fuse/faultfs.py`, mounted for one test.
pub struct FaultFs {
    pub dir: PathBuf,
    child: std::process::Child,
}

impl FaultFs {
    /// Serves `root` at `dir` with the faults given (JSON, see faultfs.py), or `None` when
    /// FUSE cannot be used here (never in CI, which installs it).
    pub fn mount(root: &Path, dir: PathBuf, faults: &str) -> Option<FaultFs> {
        FaultFs::mount_with(root, dir, faults, &[])
    }

    /// [`FaultFs::mount`] with extra arguments for faultfs.py (`--cached`).
    pub fn mount_with(root: &Path, dir: PathBuf, faults: &str, extra: &[&str]) -> Option<FaultFs> {
        let usable = is_root()
            && Path::new("/dev/fuse").exists()
            && Command::new("/usr/bin/python3")
                .args(["-c", "import fusepy"])
                .output()
                .is_ok_and(|o| o.status.success());
        if !usable {
            assert!(std::env::var_os("CI").is_none(), "CI installs python3-fusepy (see .ci/run)");
            eprintln!("skipping: FUSE or python3-fusepy not available");
            return None;
        }
        fs::create_dir_all(&dir).unwrap();
        let faults_file = dir.with_extension("faults.json");
        fs::write(&faults_file, faults).unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuse/faultfs.py");
        let child = Command::new("/usr/bin/python3")
            .arg(script)
            .arg(root)
            .arg(&dir)
            .arg(&faults_file)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mounted = FaultFs { dir, child };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let mounts = fs::read_to_string("/proc/mounts").unwrap();
            if mounts.lines().any(|l| l.split(' ').nth(1) == Some(&*mounted.dir.to_string_lossy())) {
                return Some(mounted);
            }
            assert!(Instant::now() < deadline, "faultfs did not mount");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for FaultFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.dir).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `cmd` with stdin from `input` (a file) and returns its exit code and peak resident
/// memory in KiB, as the kernel counted it (wait4).
#[allow(clippy::zombie_processes)] // wait4 below reaps the child: std's wait cannot report memory
pub fn run_measured(cmd: &mut Command, input: &Path) -> (i32, u64) {
    let child = cmd
        .stdin(fs::File::open(input).unwrap())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 reaps our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32);
    (libc::WEXITSTATUS(status), usage.ru_maxrss as u64)
}

/// Waits (up to a minute) until mcopy's temporary for `base` appears in `dir`: the copy of
/// that file is under way.
pub fn wait_for_temporary(dir: &Path, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let suffix = format!(".{base}");
    let is_temporary = |name: &str| name.starts_with(".mcopy.tmp.") && name.ends_with(&suffix);
    while !fs::read_dir(dir)
        .map(|d| d.flatten().any(|e| is_temporary(&e.file_name().to_string_lossy())))
        .unwrap_or(false)
    {
        assert!(Instant::now() < deadline, "no temporary appeared for {base}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The names in `dir` that have the shape of mcopy's temporaries.
pub fn temporaries_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.retain(|n| n.starts_with(".mcopy.tmp."));
    names
}

/// The name of a temporary beside `base` whose writer was killed (a pid that ran and is gone).
pub fn stale_temp_name(base: &str) -> String {
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    format!(".mcopy.tmp.{pid}-1.3.{base}")
}

/// The name of a temporary beside `base` whose writer (this test) still runs.
pub fn live_temp_name(base: &str) -> String {
    let stat = fs::read_to_string("/proc/self/stat").unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 1..];
    let start = after.split_whitespace().nth(19).unwrap();
    format!(".mcopy.tmp.{}-{start}.0.{base}", std::process::id())
}

/// Runs `cmd`, reads the first `n` bytes of its stdout, then closes the pipe, as `| head -c N`
/// does; returns those bytes, the exit status and stderr.
pub fn close_stdout_after(cmd: &mut Command, n: usize) -> (Vec<u8>, Option<i32>, String) {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut first = vec![0u8; n];
    child.stdout.as_mut().unwrap().read_exact(&mut first).unwrap();
    drop(child.stdout.take());
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    (first, child.wait().unwrap().code(), stderr)
}

/// What mcheck and mcopy say when a closed stdout stops them.
pub fn unfinished(tool: &str) -> String {
    format!("{tool}: standard output was closed (broken pipe): stopped before the end, not finished\n")
}

/// Writes `data` over the file at `path` and gives it back its modification time: a change
/// that size and mtime do not show (bit rot, a faulty drive).
pub fn rewrite_keeping_mtime(path: &Path, data: impl AsRef<[u8]>) {
    let mtime = fs::metadata(path).unwrap().modified().unwrap();
    fs::write(path, data).unwrap();
    fs::File::options().write(true).open(path).unwrap().set_modified(mtime).unwrap();
}
