//! mcheck's job: verify the files under a destination against a manifest, from the disk.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::io::{self, BufRead, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::disk_read::{Method, hash_from_disk};
use crate::error::{Error, display_bytes};
use crate::hash::{Algo, Blake3Threads};
use crate::manifest::{Entry, manifest_lines, parse_line, write_status};
use crate::name::{fingerprint, name_of, unsafe_reason};
use crate::ordered::run_in_order;
use crate::progress::Progress;
use crate::records::RecordError;
use crate::status::Status;
use crate::temporary::{Writer, parse_temp_name};
use crate::verified::{Seen, Verified, VerifiedWriter};
use crate::walk::{Event, Walk, WalkOptions};

/// Malformed lines reported one by one; past this, only counted (binary junk has millions).
const MALFORMED_REPORTED: u64 = 20;

pub struct Verify<'a> {
    pub dst: PathBuf,
    /// The manifest as named in messages (`-` for stdin).
    pub label: String,
    /// For lines without a tag.
    pub algo: Algo,
    pub zero: bool,
    pub jobs: usize,
    pub threads: Blake3Threads,
    /// No `OK` lines.
    pub quiet: bool,
    /// No output at all: the exit status says it.
    pub status_only: bool,
    pub ignore_missing: bool,
    /// Also list the files under DST that the manifest does not name.
    pub extra: bool,
    /// The manifest file itself, when it lies under DST: not an extra file.
    pub manifest_file: Option<PathBuf>,
    pub progress: &'a Progress,
    /// An earlier verify's record: a file unchanged since it matched is not read again.
    pub previous: Option<&'a Verified>,
    /// The verify record being written, when it lies under DST: not an extra file.
    pub record_file: Option<PathBuf>,
}

/// Where the names of the files that failed go (`--list-failed`), NUL-terminated.
pub type FailedList<'w> = Option<&'w mut (dyn Write + Send)>;

/// A manifest line as parsed: blank, an entry, malformed (line number and why), or a read error.
type Parsed = Result<Option<Entry>, io::Result<(u64, &'static str)>>;

/// What became of one manifest line.
enum Outcome {
    Skip,
    /// A file was looked for under DST (and, when it matched, what it was: for the record).
    Checked(Vec<u8>, Verdict, Option<(Seen, String)>),
    IgnoredMissing,
    Malformed(u64, &'static str),
    Unsafe(u64, Vec<u8>, &'static str),
    ManifestError(io::Error),
}

enum Verdict {
    /// The bytes, read from the device (or from memory, where no device lies behind DST:
    /// `in_memory`), match.
    Ok {
        in_memory: bool,
        /// Not read: unchanged since an earlier verify read it and it matched.
        carried: bool,
    },
    /// The bytes match, but came from the page cache: nothing reached the device (why).
    Unverified(&'static str),
    Failed,
    Missing,
    Unreadable(Error),
}

#[derive(Default, Debug, PartialEq, Eq)]
pub struct Summary {
    pub checked: u64,
    pub ok: u64,
    pub failed: u64,
    pub missing: u64,
    pub unreadable: u64,
    pub malformed: u64,
    pub unsafe_names: u64,
    pub extra: u64,
    /// Missing files not counted, with `--ignore-missing`.
    pub ignored: u64,
    /// Matched, but read from the page cache: not vouched for.
    pub unverified: u64,
    /// OK, read from memory where no device lies behind DST (tmpfs).
    pub in_memory: u64,
    /// OK without being read: unchanged since the earlier verify (`--incremental`).
    pub carried: u64,
}

impl Summary {
    pub fn status(&self) -> Status {
        let mut status = Status::Ok;
        if self.failed + self.missing + self.unreadable + self.extra + self.unverified > 0 {
            status.raise(Status::Failed);
        }
        if self.malformed + self.unsafe_names > 0 {
            status.raise(Status::Trouble);
        }
        status
    }
}

impl Verify<'_> {
    /// Checks every entry of `manifest` (in parallel, reported in manifest order) and writes
    /// the `name: STATUS` lines to `out`, messages and the summary to `err`.
    pub fn run(
        &self,
        manifest: impl BufRead + Send,
        out: &mut (impl Write + Send),
        mut record: Option<&mut VerifiedWriter<impl Write + Send>>,
        mut failed: FailedList,
        err: &mut (impl Write + Send),
    ) -> io::Result<Status> {
        let dst_meta = std::fs::metadata(&self.dst);
        if !dst_meta.as_ref().is_ok_and(|m| m.is_dir()) {
            let why = match dst_meta {
                Err(e) => crate::error::io_reason(&e),
                Ok(_) => "not a directory".into(),
            };
            writeln!(err, "mcheck: {}: {why}", display_bytes(self.dst.as_os_str().as_bytes()))?;
            return Ok(Status::Trouble);
        }
        let mut summary = Summary::default();
        let mut seen = self.extra.then(HashSet::<u128>::new);
        let mut fatal = None;
        let lines = manifest_lines(manifest, self.zero).map(|(number, line)| {
            let parsed = match line {
                Ok(line) => parse_line(&line, self.zero).map_err(|reason| (number, reason)).map_err(Ok),
                Err(RecordError::TooLong) => Err(Ok((number, "line too long"))),
                Err(RecordError::Io(e)) => Err(Err(e)),
            };
            if let Ok(Some(entry)) = &parsed {
                self.progress.add_to_total(&self.dst.join(OsStr::from_bytes(&entry.name)));
            }
            (number, parsed)
        });
        let beneath = match Beneath::open(&self.dst) {
            Ok(b) => b,
            Err(e) => {
                writeln!(
                    err,
                    "mcheck: {}: {}",
                    display_bytes(self.dst.as_os_str().as_bytes()),
                    crate::error::io_reason(&e)
                )?;
                return Ok(Status::Trouble);
            }
        };
        let recording = record.is_some();
        let work = |(number, parsed)| self.check(number, parsed, &beneath, recording);
        run_in_order(self.jobs, lines, work, |outcome| -> io::Result<()> {
            let print = !self.status_only;
            match outcome {
                Outcome::Skip => {}
                Outcome::Checked(name, verdict, matched) => {
                    summary.checked += 1;
                    if let (Some(r), Some((seen, hex))) = (record.as_mut(), &matched) {
                        r.entry(*seen, hex, &name)?;
                    }
                    // What a repair would copy again: bytes that are wrong, gone or unreadable.
                    if let (Some(list), Verdict::Failed | Verdict::Missing | Verdict::Unreadable(_)) =
                        (failed.as_mut(), &verdict)
                    {
                        list.write_all(&name)?;
                        list.write_all(b"\0")?;
                    }
                    if let Some(seen) = &mut seen {
                        seen.insert(fingerprint(&name));
                    }
                    let word = match verdict {
                        Verdict::Ok { in_memory, carried } => {
                            summary.ok += 1;
                            summary.in_memory += u64::from(in_memory);
                            summary.carried += u64::from(carried);
                            (!self.quiet).then_some("OK")
                        }
                        Verdict::Unverified(why) => {
                            summary.unverified += 1;
                            if print {
                                writeln!(
                                    err,
                                    "mcheck: {}: read from the page cache, not the device ({why})",
                                    display_bytes(
                                        self.dst.join(OsStr::from_bytes(&name)).as_os_str().as_bytes()
                                    )
                                )?;
                            }
                            Some("UNVERIFIED")
                        }
                        Verdict::Failed => {
                            summary.failed += 1;
                            Some("FAILED")
                        }
                        Verdict::Missing => {
                            summary.missing += 1;
                            Some("MISSING")
                        }
                        Verdict::Unreadable(e) => {
                            summary.unreadable += 1;
                            if print {
                                writeln!(err, "mcheck: {e}")?;
                            }
                            Some("FAILED open or read")
                        }
                    };
                    if let (true, Some(word)) = (print, word) {
                        write_status(out, &name, word)?;
                    }
                }
                Outcome::IgnoredMissing => summary.ignored += 1,
                Outcome::Malformed(number, reason) => {
                    summary.malformed += 1;
                    if print && summary.malformed <= MALFORMED_REPORTED {
                        writeln!(err, "mcheck: {}:{number}: {reason}", self.label)?;
                    }
                }
                Outcome::Unsafe(number, name, reason) => {
                    summary.unsafe_names += 1;
                    if print {
                        writeln!(
                            err,
                            "mcheck: {}:{number}: {}: {reason}, not opened",
                            self.label,
                            display_bytes(&name)
                        )?;
                    }
                }
                Outcome::ManifestError(e) => fatal = Some(e),
            }
            Ok(())
        })?;
        if let Some(e) = fatal {
            writeln!(err, "mcheck: {}: {}", self.label, crate::error::io_reason(&e))?;
            return Ok(Status::Trouble);
        }
        if let Some(seen) = &seen {
            summary.extra = self.list_extra(seen, out, err)?;
        }
        out.flush()?;
        // The last progress line, then the summary: the summary is the last word.
        self.progress.finish();
        let mut status = summary.status();
        if summary.checked + summary.unsafe_names + summary.ignored == 0 {
            // Nothing at all was verified: that is never a success.
            writeln!(err, "mcheck: {}: no checksum lines found: nothing was verified", self.label)?;
            status.raise(Status::Trouble);
        } else if summary.checked == 0 && summary.ignored > 0 {
            // Every named file was missing and ignored: an empty or mistyped DST proves nothing
            // (as sha256sum -c --ignore-missing).
            writeln!(err, "mcheck: {}: no file was verified", self.label)?;
            status.raise(Status::Failed);
        }
        if !self.status_only {
            if summary.malformed > MALFORMED_REPORTED {
                writeln!(
                    err,
                    "mcheck: {}: {} more malformed lines",
                    self.label,
                    summary.malformed - MALFORMED_REPORTED
                )?;
            }
            writeln!(err, "mcheck: {}", summary_line(&summary))?;
        }
        Ok(status)
    }

    fn check(&self, number: u64, parsed: Parsed, dst: &Beneath, recording: bool) -> Outcome {
        let entry = match parsed {
            Ok(None) => return Outcome::Skip,
            Ok(Some(entry)) => entry,
            Err(Ok((number, reason))) => return Outcome::Malformed(number, reason),
            Err(Err(e)) => return Outcome::ManifestError(e),
        };
        if let Some(reason) = unsafe_reason(&entry.name) {
            return Outcome::Unsafe(number, entry.name, reason);
        }
        let path = self.dst.join(OsStr::from_bytes(&entry.name));
        if let Some(target) = leads_outside(dst, &path, &entry.name) {
            // Its bytes are not DST's: never an OK for them.
            let why = format!(
                "symlink leads outside DST (to {}), not read",
                display_bytes(target.as_os_str().as_bytes())
            );
            return Outcome::Checked(
                entry.name,
                Verdict::Unreadable(Error::io(path, io::Error::other(why))),
                None,
            );
        }
        if let Some(previous) = self.previous
            && let Ok(meta) = std::fs::metadata(&path)
            && previous.still_holds(&entry.name, &entry.hex, &meta)
        {
            let matched = Some((Seen::of(&meta), entry.hex));
            return Outcome::Checked(entry.name, Verdict::Ok { in_memory: false, carried: true }, matched);
        }
        self.progress.start_file(&entry.name);
        let result = hash_from_disk(&path, entry.tag.unwrap_or(self.algo), &self.threads, &|n| {
            self.progress.add_bytes(n)
        });
        self.progress.finish_file();
        // The stat taken when the file was opened, before any byte was read: a change after
        // it makes the next incremental run read the file again.
        let mut opened = None;
        let verdict = match result {
            Ok((hex, method, meta)) if hex == entry.hex => {
                opened = recording.then_some(meta);
                match method {
                    Method::Cached(why) => Verdict::Unverified(why),
                    Method::Memory => Verdict::Ok { in_memory: true, carried: false },
                    Method::Direct | Method::Dropped => Verdict::Ok { in_memory: false, carried: false },
                }
            }
            Ok(_) => Verdict::Failed,
            Err(Error::Io { source, .. })
                if matches!(source.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory) =>
            {
                if self.ignore_missing {
                    return Outcome::IgnoredMissing;
                }
                Verdict::Missing
            }
            Err(e) => Verdict::Unreadable(e),
        };
        let matched = match (&verdict, opened) {
            (Verdict::Ok { .. }, Some(meta)) => Some((Seen::of(&meta), entry.hex)),
            _ => None,
        };
        Outcome::Checked(entry.name, verdict, matched)
    }

    /// Walks DST and lists the files the manifest does not name, as `name: EXTRA`.
    fn list_extra(
        &self,
        seen: &HashSet<u128>,
        out: &mut impl Write,
        err: &mut impl Write,
    ) -> io::Result<u64> {
        // The manifest and its record, where they lie under DST, are not extra files.
        let own: Vec<_> = self
            .manifest_file
            .iter()
            .flat_map(|m| [file_id(m), file_id(&crate::record::record_path(m))])
            .chain(self.record_file.iter().map(|r| file_id(r)))
            .flatten()
            .collect();
        let mut extra = 0;
        for event in Walk::new(&self.dst, WalkOptions::default()) {
            let path = match event {
                Event::File(path) | Event::Symlink(path) => path,
                Event::Error(path, e) => {
                    writeln!(err, "mcheck: {}: {}", display_bytes(path.as_os_str().as_bytes()), e)?;
                    continue;
                }
                _ => continue,
            };
            let name = name_of(path.as_os_str().as_bytes());
            // This run's own temporary (the record being written) is not an extra file.
            let base = name.rsplit(|&b| b == b'/').next().unwrap_or(name);
            if parse_temp_name(base).is_some_and(|(writer, _)| writer == Writer::me()) {
                continue;
            }
            if seen.contains(&fingerprint(name))
                || (!own.is_empty() && file_id(&path).is_some_and(|id| own.contains(&id)))
            {
                continue;
            }
            extra += 1;
            if !self.status_only {
                write_status(out, name, "EXTRA")?;
            }
        }
        Ok(extra)
    }
}

/// DST, open, to ask whether a name's path stays beneath it.
struct Beneath {
    dir: std::os::fd::OwnedFd,
    canonical: PathBuf,
}

impl Beneath {
    fn open(dst: &Path) -> io::Result<Beneath> {
        Ok(Beneath { dir: crate::at::open_dir(dst)?, canonical: std::fs::canonicalize(dst)? })
    }
}

/// Where a name's path leads when a symlink on the way takes it outside DST (what the link
/// points to, for the message); `None` when it stays beneath DST, or does not exist (then the
/// read says MISSING). An absolute link that ends inside DST is inside.
fn leads_outside(dst: &Beneath, path: &Path, name: &[u8]) -> Option<PathBuf> {
    use std::os::fd::AsRawFd;
    match crate::at::resolves_beneath(dst.dir.as_raw_fd(), name) {
        Ok(true) => return None,
        Ok(false) => {}
        Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {}
        Err(_) => return None,
    }
    match std::fs::canonicalize(path) {
        Ok(end) if end.starts_with(&dst.canonical) => None,
        Ok(end) => Some(end),
        Err(_) => None,
    }
}

fn file_id(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

pub fn summary_line(s: &Summary) -> String {
    let mut line = format!(
        "{} checked: {} OK, {} FAILED, {} MISSING, {} unreadable",
        s.checked, s.ok, s.failed, s.missing, s.unreadable
    );
    if s.malformed > 0 {
        line += &format!(", {} malformed lines", s.malformed);
    }
    if s.unsafe_names > 0 {
        line += &format!(", {} unsafe names", s.unsafe_names);
    }
    if s.extra > 0 {
        line += &format!(", {} EXTRA", s.extra);
    }
    if s.unverified > 0 {
        line += &format!(", {} UNVERIFIED (read from the page cache, not the device)", s.unverified);
    }
    if s.carried > 0 {
        line += &format!(" ({} of them unchanged since their last verify, not read)", s.carried);
    }
    if s.in_memory > 0 {
        line += &format!("; {} read from memory: no device lies behind them (tmpfs)", s.in_memory);
    }
    line
}
