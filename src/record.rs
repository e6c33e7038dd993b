//! The record beside a manifest (`MANIFEST.record`): what each entry was made from, so that a
//! rerun reads only what changed and a manifest is never silently rewritten.
//!
//! The manifest itself stays exactly what b3sum and sha256sum read. Its record is a text
//! file, one line per entry:
//!
//! ```text
//! # mirror-tools record 1 blake3
//! <size> <mtime seconds>.<nanoseconds> <digest>  <name>
//! # manifest <BLAKE3 of the manifest file's bytes>
//! ```
//!
//! Names are escaped as in the manifest (a line starting with `\`). The last line ties the
//! record to the manifest's exact bytes: a manifest changed by anything else (an editor, an
//! older tool, a crash between the two renames) or a record cut short makes the record void,
//! and everything is read again. Looking entries up costs about 100 bytes per entry in memory (a digest of the name,
//! the stat and the digest), paid only by `mhash --update`.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::hash::{Algo, Hasher};
use crate::manifest::{parse_line, write_entry};
use crate::name::fingerprint;
use crate::records::RecordReader;

const MAGIC: &str = "# mirror-tools record 1";

/// What a file was when its entry was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Made {
    pub size: u64,
    pub mtime: (i64, u32),
}

/// The entries of a manifest being remade, by the digest of their names: from its record,
/// or, where it has none (made by b3sum, by `mcopy --hash-out`, by an older mirror-tools),
/// from the manifest alone, with its own mtime for when the entries were made.
pub struct Record {
    entries: HashMap<u128, (Option<Made>, String)>,
    /// `None` when read from a record; else the manifest's mtime.
    manifest_mtime: Option<(i64, i64)>,
}

/// What an earlier manifest says of a name: what its file was then (when a record says so)
/// and its digest.
pub struct Before<'r> {
    pub made: Option<Made>,
    pub hex: &'r str,
}

/// The record's path for a manifest: `MANIFEST.record`.
pub fn record_path(manifest: &Path) -> PathBuf {
    let mut path = manifest.as_os_str().to_owned();
    path.push(".record");
    PathBuf::from(path)
}

/// The first line: the format and the algorithm.
fn header(algo: Algo) -> String {
    format!("{MAGIC} {}\n", algo_name(algo))
}

const TRAILER: &[u8] = b"# manifest ";

fn algo_name(algo: Algo) -> &'static str {
    match algo {
        Algo::Blake3 => "blake3",
        Algo::Sha256 => "sha256",
    }
}

/// BLAKE3 of a file's bytes (a manifest: small, read once).
fn file_digest(path: &Path) -> io::Result<String> {
    let mut hasher = Hasher::new(Algo::Blake3);
    let mut file = File::open(path)?;
    crate::hash::hash_reader(&mut file, &mut hasher, &crate::hash::Blake3Threads::One, &|_| {})?;
    Ok(hasher.finalize_hex())
}

impl Record {
    /// The entries of `manifest` as it is now: from its record when one exists, is whole and
    /// belongs to it (same bytes, same algorithm), else from the manifest itself; `Ok(None)`
    /// when there is no manifest.
    pub fn load(manifest: &Path, algo: Algo) -> io::Result<Option<Record>> {
        match Record::from_record(manifest, algo)? {
            Some(record) => Ok(Some(record)),
            None => Record::from_manifest(manifest, algo),
        }
    }

    fn from_record(manifest: &Path, algo: Algo) -> io::Result<Option<Record>> {
        let file = match File::open(record_path(manifest)) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let digest = match file_digest(manifest) {
            Ok(d) => d,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut lines = RecordReader::new(BufReader::new(file), false, crate::manifest::MAX_LINE);
        match lines.next() {
            Some((_, Ok(line))) if line == header(algo).trim_end().as_bytes() => {}
            _ => return Ok(None),
        }
        let mut entries = HashMap::new();
        for (_, line) in lines {
            let Ok(line) = line else { return Ok(None) };
            if let Some(tied_to) = line.strip_prefix(TRAILER) {
                let valid = tied_to == digest.as_bytes();
                return Ok(valid.then_some(Record { entries, manifest_mtime: None }));
            }
            let Some((made, hex, name)) = parse_record_line(&line) else { return Ok(None) };
            entries.insert(fingerprint(&name), (Some(made), hex));
        }
        Ok(None) // cut short: no trailer
    }

    /// The entries of a manifest without a record (lines it cannot read are left out).
    fn from_manifest(manifest: &Path, algo: Algo) -> io::Result<Option<Record>> {
        let mtime = match std::fs::metadata(manifest) {
            Ok(m) => (m.mtime(), m.mtime_nsec()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut entries = HashMap::new();
        for entry in manifest_entries(manifest)? {
            if entry.tag.is_none_or(|tag| tag == algo) {
                entries.insert(fingerprint(&entry.name), (None, entry.hex));
            }
        }
        Ok(Some(Record { entries, manifest_mtime: Some(mtime) }))
    }

    /// What the earlier manifest says of `name`.
    pub fn get(&self, name: &[u8]) -> Option<Before<'_>> {
        self.entries.get(&fingerprint(name)).map(|(made, hex)| Before { made: *made, hex })
    }

    /// True when the entries come from a record (else from the manifest alone).
    pub fn has_record(&self) -> bool {
        self.manifest_mtime.is_none()
    }

    /// Whether a file last modified at `mtime` changed after a record-less manifest was made.
    pub fn modified_after_manifest(&self, mtime: (i64, u32)) -> bool {
        self.manifest_mtime.is_some_and(|made| (mtime.0, i64::from(mtime.1)) > made)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The names of the earlier entries, read again from the record or the manifest (not kept
    /// in memory).
    pub fn names(&self, manifest: &Path) -> io::Result<Box<dyn Iterator<Item = Vec<u8>>>> {
        if !self.has_record() {
            return Ok(Box::new(manifest_entries(manifest)?.map(|e| e.name)));
        }
        let file = BufReader::new(File::open(record_path(manifest))?);
        Ok(Box::new(
            RecordReader::new(file, false, crate::manifest::MAX_LINE)
                .skip(1)
                .map_while(|(_, line)| line.ok().filter(|l| !l.starts_with(TRAILER)))
                .filter_map(|line| parse_record_line(&line).map(|(_, _, name)| name)),
        ))
    }
}

/// The entries of a manifest file, as a stream (lines that cannot be read are skipped).
fn manifest_entries(manifest: &Path) -> io::Result<impl Iterator<Item = crate::manifest::Entry> + use<>> {
    let lines = crate::manifest::manifest_lines(crate::manifest::open_manifest(Some(manifest))?, false);
    Ok(lines.filter_map(|(_, line)| parse_line(&line.ok()?, false).ok().flatten()))
}

/// `size sec.nsec hex  name` (escaped as a manifest line is).
fn parse_record_line(line: &[u8]) -> Option<(Made, String, Vec<u8>)> {
    let (fields, hex, name) = parse_annotated(line, 2)?;
    let size = std::str::from_utf8(fields[0]).ok()?.parse().ok()?;
    let (sec, nsec) = std::str::from_utf8(fields[1]).ok()?.split_once('.')?;
    Some((Made { size, mtime: (sec.parse().ok()?, nsec.parse().ok()?) }, hex, name))
}

/// A manifest line with fields before it: the fields, the digest and the name.
pub(crate) type Annotated<'l> = (Vec<&'l [u8]>, String, Vec<u8>);

/// Parses a manifest line with `count` space-separated fields before it (`\` first when the
/// name is escaped, as in the manifest).
pub(crate) fn parse_annotated(line: &[u8], count: usize) -> Option<Annotated<'_>> {
    let (escaped, rest) = match line.strip_prefix(b"\\") {
        Some(rest) => (true, rest),
        None => (false, line),
    };
    let mut parts = rest.splitn(count + 1, |&b| b == b' ');
    let fields: Vec<&[u8]> = parts.by_ref().take(count).collect();
    let entry_part = parts.next()?;
    if fields.len() != count {
        return None;
    }
    let mut entry_line = Vec::with_capacity(entry_part.len() + 1);
    if escaped {
        entry_line.push(b'\\');
    }
    entry_line.extend_from_slice(entry_part);
    let entry = parse_line(&entry_line, false).ok()??;
    Some((fields, entry.hex, entry.name))
}

/// Writes a manifest line with `fields` before it, escaped as the manifest escapes it.
pub(crate) fn write_annotated(out: &mut impl Write, fields: &str, hex: &str, name: &[u8]) -> io::Result<()> {
    let mut line = Vec::new();
    write_entry(&mut line, hex, name, false)?;
    let rest = match line.strip_prefix(b"\\") {
        Some(rest) => {
            out.write_all(b"\\")?;
            rest
        }
        None => &line[..],
    };
    out.write_all(fields.as_bytes())?;
    out.write_all(b" ")?;
    out.write_all(rest)
}

/// Writes a record as its manifest is written: the header, one line per entry, and at the
/// end the digest of the manifest's bytes.
pub struct RecordWriter<W: Write> {
    out: W,
}

impl<W: Write> RecordWriter<W> {
    pub fn new(mut out: W, algo: Algo) -> io::Result<RecordWriter<W>> {
        out.write_all(header(algo).as_bytes())?;
        Ok(RecordWriter { out })
    }

    pub fn entry(&mut self, made: Made, hex: &str, name: &[u8]) -> io::Result<()> {
        let fields = format!("{} {}.{:09}", made.size, made.mtime.0, made.mtime.1);
        write_annotated(&mut self.out, &fields, hex, name)
    }

    /// Ends the record with the digest of the finished manifest's bytes.
    pub fn finish(mut self, manifest_digest: &str) -> io::Result<W> {
        self.out.write_all(TRAILER)?;
        writeln!(self.out, "{manifest_digest}")?;
        Ok(self.out)
    }
}

/// A writer that passes bytes on and hashes them (BLAKE3), to tie a record to its manifest.
pub struct Digesting<W: Write> {
    inner: W,
    hasher: blake3::Hasher,
}

impl<W: Write> Digesting<W> {
    pub fn new(inner: W) -> Digesting<W> {
        Digesting { inner, hasher: blake3::Hasher::new() }
    }

    /// The writer and the digest of everything written through it.
    pub fn finish(self) -> (W, String) {
        (self.inner, self.hasher.finalize().to_hex().to_string())
    }
}

impl<W: Write> Write for Digesting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_back_and_belongs_to_its_manifest_only() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = dir.path().join("M");
        std::fs::write(&manifest, "manifest bytes\n").unwrap();
        let made = Made { size: 5, mtime: (1_700_000_000, 7) };
        let hex = "ab".repeat(32);
        let mut record = RecordWriter::new(Vec::new(), Algo::Blake3).unwrap();
        record.entry(made, &hex, b"plain").unwrap();
        record.entry(made, &hex, b"new\nline").unwrap();
        let digest = file_digest(&manifest).unwrap();
        let out = record.finish(&digest).unwrap();
        std::fs::write(record_path(&manifest), &out[..out.len() - 3]).unwrap();
        let cut = Record::load(&manifest, Algo::Blake3).unwrap().unwrap();
        assert!(!cut.has_record(), "a record cut short is void: the manifest is read alone");
        std::fs::write(record_path(&manifest), &out).unwrap();
        let record = Record::load(&manifest, Algo::Blake3).unwrap().expect("valid");
        assert!(record.has_record());
        assert_eq!(
            record.get(b"plain").map(|b| (b.made, b.hex.to_string())),
            Some((Some(made), hex.clone()))
        );
        assert_eq!(record.get(b"new\nline").map(|b| b.made), Some(Some(made)));
        assert_eq!(record.len(), 2);
        let names: Vec<_> = record.names(&manifest).unwrap().collect();
        assert_eq!(names, vec![b"plain".to_vec(), b"new\nline".to_vec()]);
        // Another algorithm, or a manifest changed since: the record is void, and the manifest
        // alone is read.
        let alone = Record::load(&manifest, Algo::Sha256).unwrap().unwrap();
        assert!(!alone.has_record() && alone.is_empty(), "the manifest has no entry line");
        std::fs::write(&manifest, format!("{hex}  plain\n")).unwrap();
        let alone = Record::load(&manifest, Algo::Blake3).unwrap().unwrap();
        assert!(!alone.has_record());
        assert_eq!(alone.get(b"plain").map(|b| (b.made, b.hex.to_string())), Some((None, hex.clone())));
    }
}
