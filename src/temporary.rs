//! Temporary names: unique per run and file, and recognisable as stale only when their writer
//! is gone.
//!
//! A temporary beside `BASE` is `.mcopy.tmp.PID-START.SEQ.BASE`: the writer's pid and the time
//! it started (in clock ticks since boot, from /proc), and a count within the process, so two
//! runs, or two workers of one run, never share one. A sweep removes a temporary only when its
//! name has exactly this shape and its writer is gone, that is no process with that pid and
//! that start time runs (a pid reused by another program does not keep a stale temporary
//! alive): never a live one, and never a user's file that merely starts like one
//! (`.mcopy.tmp.mine`).

use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// Every temporary's name starts with this.
pub const TEMP_PREFIX: &[u8] = b".mcopy.tmp.";

static SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// Who writes a temporary: a pid and its start time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Writer {
    pub pid: u32,
    pub start: u64,
}

impl Writer {
    /// This process.
    pub fn me() -> Writer {
        static ME: OnceLock<Writer> = OnceLock::new();
        *ME.get_or_init(|| {
            let pid = std::process::id();
            Writer { pid, start: start_time(pid).unwrap_or(0) }
        })
    }

    /// True while this writer runs.
    pub fn is_running(self) -> bool {
        match start_time(self.pid) {
            Some(start) => start == self.start,
            None => false,
        }
    }
}

/// When process `pid` started (field 22 of /proc/PID/stat), or `None` when none runs. A
/// killed process that nobody has reaped yet (a zombie) runs no more.
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    let after = &stat[stat.iter().rposition(|&b| b == b')')? + 1..];
    let mut fields = after.split(|&b| b == b' ').filter(|f| !f.is_empty());
    if matches!(fields.next()?, b"Z" | b"X" | b"x") {
        return None;
    }
    let field = fields.nth(18)?;
    std::str::from_utf8(field).ok()?.parse().ok()
}

/// A fresh temporary name beside `base`: `.mcopy.tmp.PID-START.SEQ.BASE`, with a digest of
/// BASE in its place when the whole would be longer than a file name may be.
pub fn temp_name(base: &[u8]) -> Vec<u8> {
    let seq = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    let me = Writer::me();
    let mut name = TEMP_PREFIX.to_vec();
    name.extend_from_slice(format!("{}-{}.{seq}.", me.pid, me.start).as_bytes());
    if name.len() + base.len() <= 255 {
        name.extend_from_slice(base);
    } else {
        name.extend_from_slice(blake3::hash(base).to_hex().as_bytes());
    }
    name
}

/// The writer and the base name, when `name` has the exact shape of a temporary.
pub fn parse_temp_name(name: &[u8]) -> Option<(Writer, &[u8])> {
    let rest = name.strip_prefix(TEMP_PREFIX)?;
    let mut parts = rest.splitn(3, |&b| b == b'.');
    let (writer, seq, base) = (parts.next()?, parts.next()?, parts.next()?);
    let number = |s: &[u8]| -> Option<u64> {
        let digits = !s.is_empty() && s.len() <= 20 && s.iter().all(u8::is_ascii_digit);
        if digits { std::str::from_utf8(s).ok()?.parse().ok() } else { None }
    };
    let dash = writer.iter().position(|&b| b == b'-')?;
    let pid = u32::try_from(number(&writer[..dash])?).ok().filter(|&p| p > 0)?;
    let start = number(&writer[dash + 1..])?;
    number(seq)?;
    (!base.is_empty()).then_some((Writer { pid, start }, base))
}

/// True for a temporary whose writer is gone (no process with its pid and start time runs).
pub fn is_stale_temp(name: &[u8]) -> bool {
    parse_temp_name(name).is_some_and(|(writer, _)| !writer.is_running())
}

/// Removes the stale temporaries for `base` in the directory `dir` (an output file's
/// leftovers from runs that were killed); returns how many.
pub fn remove_stale_for(dir: &Path, base: &[u8]) -> io::Result<u64> {
    let mut removed = 0;
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name().into_encoded_bytes();
        if parse_temp_name(&name).is_some_and(|(_, b)| b == base) && is_stale_temp(&name) {
            match std::fs::remove_file(dir.join(std::ffi::OsStr::from_bytes(&name))) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_parse_back() {
        let (a, b) = (temp_name(b"x.fq"), temp_name(b"x.fq"));
        assert_ne!(a, b);
        assert_eq!(parse_temp_name(&a), Some((Writer::me(), &b"x.fq"[..])));
        assert!(temp_name(&[b'n'; 255]).len() <= 255);
    }

    #[test]
    fn only_the_exact_shape_is_a_temporary() {
        for not_ours in [
            &b".mcopy.tmp.mine"[..],
            b".mcopy.tmp.1.2.x",
            b".mcopy.tmp.1-2.x",
            b".mcopy.tmp.-2.3.x",
            b".mcopy.tmp.1-2.3.",
            b".mcopy.tmp.0-2.3.x",
            b"x",
        ] {
            assert_eq!(parse_temp_name(not_ours), None, "{}", String::from_utf8_lossy(not_ours));
        }
        assert_eq!(
            parse_temp_name(b".mcopy.tmp.12-9.3.a.b"),
            Some((Writer { pid: 12, start: 9 }, &b"a.b"[..]))
        );
    }

    #[test]
    fn a_live_writers_temporary_is_not_stale_and_a_reused_pid_does_not_count() {
        let init = Writer { pid: 1, start: start_time(1).unwrap() };
        assert!(!is_stale_temp(format!(".mcopy.tmp.{}-{}.0.x", init.pid, init.start).as_bytes()));
        // pid 1 runs, but not the process that started at another time.
        assert!(is_stale_temp(format!(".mcopy.tmp.1-{}.0.x", init.start + 1).as_bytes()));
        let me = Writer::me();
        assert!(!is_stale_temp(format!(".mcopy.tmp.{}-{}.0.x", me.pid, me.start).as_bytes()));
        assert!(!is_stale_temp(b".mcopy.tmp.mine"));
    }

    /// A writer killed and not yet reaped (its parent died too) once kept its temporaries
    /// alive: /proc still lists a zombie, with its start time.
    #[test]
    fn a_zombie_writer_is_gone() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert_eq!(start_time(pid), None, "exited, not reaped: a zombie");
        child.wait().unwrap();
    }
}
