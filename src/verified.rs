//! The record of a verify (`mcheck --record FILE`): which files of DST were last read from the
//! device and matched, and what each was then (size, mtime, ctime, device and inode), so a
//! rerun reads only the files that are new or changed since.
//!
//! ```text
//! # mirror-tools verified 1
//! <size> <mtime s.ns> <ctime s.ns> <dev>:<ino> <digest>  <name>
//! # end
//! ```
//!
//! Names are escaped as in a manifest. A file is taken as still verified only when all five
//! stats match and the manifest still gives the same digest: any write, a chmod, a rename or
//! a new copy changes the ctime or the inode. What no stat shows (a block that rots on the
//! device) is found by a verify that reads every file (`mcheck` without `--record`,
//! `run-mirror --step verify`, `--full`). A record cut short is ignored. Looking entries up
//! costs about 150 bytes per entry in memory.

use std::collections::HashMap;
use std::fs::{File, Metadata};
use std::io::{self, BufReader, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::name::fingerprint;
use crate::record::{parse_annotated, write_annotated};
use crate::records::RecordReader;

const HEADER: &[u8] = b"# mirror-tools verified 1";
const END: &[u8] = b"# end";

/// What a file in DST was when it was verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seen {
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
    id: (u64, u64),
}

impl Seen {
    pub fn of(meta: &Metadata) -> Seen {
        Seen {
            size: meta.len(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
            id: (meta.dev(), meta.ino()),
        }
    }
}

/// The entries of an earlier verify, by the digest of their names.
pub struct Verified {
    entries: HashMap<u128, (Seen, String)>,
}

impl Verified {
    /// The record at `path`; `Ok(None)` when there is none or it is not whole.
    pub fn load(path: &Path) -> io::Result<Option<Verified>> {
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut lines = RecordReader::new(BufReader::new(file), false, crate::manifest::MAX_LINE);
        match lines.next() {
            Some((_, Ok(line))) if line == HEADER => {}
            _ => return Ok(None),
        }
        let mut entries = HashMap::new();
        for (_, line) in lines {
            let Ok(line) = line else { return Ok(None) };
            if line == END {
                return Ok(Some(Verified { entries }));
            }
            let Some((seen, hex, name)) = parse(&line) else { return Ok(None) };
            entries.insert(fingerprint(&name), (seen, hex));
        }
        Ok(None)
    }

    /// True when `name` was verified with digest `hex` and its file is still as it was then.
    pub fn still_holds(&self, name: &[u8], hex: &str, now: &Metadata) -> bool {
        self.entries.get(&fingerprint(name)).is_some_and(|(seen, was)| was == hex && *seen == Seen::of(now))
    }
}

fn pair(field: &[u8], sep: char) -> Option<(i64, i64)> {
    let (a, b) = std::str::from_utf8(field).ok()?.split_once(sep)?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// `size mtime ctime dev:ino hex  name`.
fn parse(line: &[u8]) -> Option<(Seen, String, Vec<u8>)> {
    let (fields, hex, name) = parse_annotated(line, 4)?;
    let size = std::str::from_utf8(fields[0]).ok()?.parse().ok()?;
    let (dev, ino) = pair(fields[3], ':')?;
    let seen = Seen {
        size,
        mtime: pair(fields[1], '.')?,
        ctime: pair(fields[2], '.')?,
        id: (dev as u64, ino as u64),
    };
    Some((seen, hex, name))
}

/// Writes a verify record: the header, a line per file verified, and the end mark.
pub struct VerifiedWriter<W: Write> {
    out: W,
}

impl<W: Write> VerifiedWriter<W> {
    pub fn new(mut out: W) -> io::Result<VerifiedWriter<W>> {
        out.write_all(HEADER)?;
        out.write_all(b"\n")?;
        Ok(VerifiedWriter { out })
    }

    pub fn entry(&mut self, seen: Seen, hex: &str, name: &[u8]) -> io::Result<()> {
        let fields = format!(
            "{} {}.{:09} {}.{:09} {}:{}",
            seen.size, seen.mtime.0, seen.mtime.1, seen.ctime.0, seen.ctime.1, seen.id.0, seen.id.1
        );
        write_annotated(&mut self.out, &fields, hex, name)
    }

    pub fn finish(mut self) -> io::Result<W> {
        self.out.write_all(END)?;
        self.out.write_all(b"\n")?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verified_file_holds_until_it_changes() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "x").unwrap();
        let hex = "cd".repeat(32);
        let meta = std::fs::metadata(&file).unwrap();
        let mut writer = VerifiedWriter::new(Vec::new()).unwrap();
        writer.entry(Seen::of(&meta), &hex, b"a\\b").unwrap();
        let bytes = writer.finish().unwrap();
        let record = dir.path().join("R");
        std::fs::write(&record, &bytes[..bytes.len() - 2]).unwrap();
        assert!(Verified::load(&record).unwrap().is_none(), "cut short");
        std::fs::write(&record, &bytes).unwrap();
        let verified = Verified::load(&record).unwrap().unwrap();
        assert!(verified.still_holds(b"a\\b", &hex, &meta));
        assert!(!verified.still_holds(b"a\\b", &"00".repeat(32), &meta), "another digest");
        std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
        let changed = std::fs::metadata(&file).unwrap();
        assert!(!verified.still_holds(b"a\\b", &hex, &changed), "a chmod changes the ctime");
    }
}
