//! mcopy's job: copy a stream of paths (or a whole tree) into DST, in parallel, writing the
//! manifest of what was read in input order.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::fs;
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use indicatif::HumanBytes;

use crate::at;
use crate::copy::{CopyOptions, Done, Failure, copy_record};
use crate::dest::{Destination, refuse_link};
use crate::error::{Error, display_bytes, io_reason};
use crate::manifest::write_entry;
use crate::name::{fingerprint, name_of};
use crate::ordered::run_in_order;
use crate::status::Status;
use crate::temporary::{Writer, is_stale_temp, parse_temp_name};
use crate::walk::{Event, Walk, WalkOptions};

/// One unit of work, from a path record or from walking SRC.
pub enum Item {
    File(Vec<u8>),
    /// A directory of SRC (walked form): created even when empty.
    DirStart(Vec<u8>),
    /// A directory all of whose entries are done: its mode and times are set now.
    DirEnd(Vec<u8>),
    /// Something the walker did not list, or could not read (then `true`: status 2).
    Note(String, bool),
    /// A path stream that could not be read.
    InputError(io::Error),
}

/// Path records as items. A name that an earlier record already named is reported (status
/// 2) and not copied again: two records for one DST file would race, or the second would
/// silently replace the first. Remembering the names costs 16 bytes each (a digest of the
/// name), the price `mcheck --extra` pays too.
pub fn items_from_records(records: impl Iterator<Item = io::Result<Vec<u8>>>) -> impl Iterator<Item = Item> {
    let mut seen = HashSet::new();
    records.map(move |r| match r {
        Ok(record) if !seen.insert(fingerprint(name_of(&record))) => Item::Note(
            format!(
                "{}: {} is named twice in the path stream: copied once, this record ignored",
                display_bytes(&record),
                display_bytes(name_of(&record))
            ),
            true,
        ),
        Ok(record) => Item::File(record),
        Err(e) => Item::InputError(e),
    })
}

/// The walk of SRC as items (`mcopy SRC DST`).
/// This run's own temporaries (a `--hash-out` file being written inside SRC) are not data.
pub fn items_from_walk(src: &Path, options: WalkOptions) -> impl Iterator<Item = Item> + use<> {
    let bytes = |p: PathBuf| p.into_os_string().into_encoded_bytes();
    let own = |p: &Path| {
        p.file_name().and_then(|b| parse_temp_name(b.as_bytes())).is_some_and(|(w, _)| w == Writer::me())
    };
    Walk::new(src, options).filter_map(move |event| {
        Some(match event {
            Event::File(p) if own(&p) => return None,
            Event::File(p) | Event::Symlink(p) => Item::File(bytes(p)),
            Event::DirStart(p) => Item::DirStart(bytes(p)),
            Event::DirEnd(p) => Item::DirEnd(bytes(p)),
            Event::Skipped(p, why) => Item::Note(format!("{}: {why}", display_bytes(&bytes(p))), false),
            Event::Error(p, e) => {
                Item::Note(format!("{}: {}", display_bytes(&bytes(p)), io_reason(&e)), true)
            }
        })
    })
}

enum Outcome {
    File(Vec<u8>, Result<crate::copy::Copied, Failure>),
    Dir(Result<(), Error>),
    DirEnd(Vec<u8>),
    Note(String, bool),
    InputError(io::Error),
}

#[derive(Default)]
pub struct Totals {
    pub copied: u64,
    pub copied_bytes: u64,
    pub skipped: u64,
    /// Files not installed: an error, or refused by `--expect`.
    pub failed: u64,
}

pub struct Mirror<'a> {
    pub dest: &'a Destination,
    pub jobs: usize,
    pub copy: CopyOptions<'a>,
}

impl Mirror<'_> {
    /// Copies every item; writes `--hash-out` lines to `hash_out`, the `--dry-run` plan to
    /// `out`, and problems to `err`.
    pub fn run(
        &self,
        items: impl Iterator<Item = Item> + Send,
        mut hash_out: Option<&mut (dyn Write + Send)>,
        out: &mut (impl Write + Send),
        err: &mut (impl Write + Send),
    ) -> io::Result<(Status, Totals)> {
        let mut status = Status::Ok;
        let mut totals = Totals::default();
        let work = |item: Item| match item {
            Item::File(record) => {
                self.copy.progress.start_file(name_of(&record));
                let result = copy_record(self.dest, &record, &self.copy);
                self.copy.progress.finish_file();
                Outcome::File(record, result)
            }
            Item::DirStart(record) => {
                let result = self.make_dir(&record);
                Outcome::Dir(result)
            }
            Item::DirEnd(record) => Outcome::DirEnd(record),
            Item::Note(text, bad) => Outcome::Note(text, bad),
            Item::InputError(e) => Outcome::InputError(e),
        };
        let items = items.inspect(|item| {
            if let Item::File(record) = item {
                self.copy.progress.add_to_total(Path::new(OsStr::from_bytes(record)));
            }
        });
        run_in_order(self.jobs, items, work, |outcome| -> io::Result<()> {
            if let Some(expect) = self.copy.expect {
                for message in expect.take_messages() {
                    status.raise(Status::Trouble);
                    writeln!(err, "mcopy: {message}")?;
                }
            }
            match outcome {
                Outcome::File(record, Ok(copied)) => {
                    let name = name_of(&record);
                    if let (Some(w), Some(hex)) = (hash_out.as_mut(), &copied.hex) {
                        write_entry(w, hex, name, false)?;
                    }
                    match copied.done {
                        Done::Copied { bytes } => {
                            totals.copied += 1;
                            totals.copied_bytes += bytes;
                        }
                        Done::Skipped => totals.skipped += 1,
                        Done::WouldCopy { bytes } => {
                            totals.copied += 1;
                            totals.copied_bytes += bytes;
                            writeln!(out, "would copy {} ({})", display_bytes(name), HumanBytes(bytes))?;
                        }
                        // A plan lists what would change; the summary counts the rest.
                        Done::WouldSkip => totals.skipped += 1,
                    }
                }
                Outcome::File(_, Err(Failure::Error(e))) => {
                    totals.failed += 1;
                    status.raise(Status::Trouble);
                    writeln!(err, "mcopy: {e}")?;
                }
                Outcome::File(record, Err(Failure::Refused(why))) => {
                    totals.failed += 1;
                    status.raise(Status::Failed);
                    writeln!(err, "mcopy: {}: {why}", display_bytes(&record))?;
                }
                Outcome::Dir(Ok(())) => {}
                Outcome::Dir(Err(e)) => {
                    status.raise(Status::Trouble);
                    writeln!(err, "mcopy: {e}")?;
                }
                Outcome::DirEnd(record) => {
                    if let Err(e) = self.finish_dir(&record) {
                        status.raise(Status::Trouble);
                        writeln!(err, "mcopy: {e}")?;
                    }
                }
                Outcome::Note(text, bad) => {
                    if bad {
                        status.raise(Status::Trouble);
                    }
                    writeln!(err, "mcopy: {text}")?;
                }
                Outcome::InputError(e) => {
                    status.raise(Status::Trouble);
                    writeln!(err, "mcopy: reading the path stream: {}", io_reason(&e))?;
                }
            }
            Ok(())
        })?;
        if let Some(w) = hash_out {
            w.flush()?;
        }
        let renamed = totals.copied > 0;
        if let (false, true, true, Some(root)) =
            (self.copy.dry_run, self.copy.fsync, renamed, self.dest.root_fd())
        {
            // Every rename of the run, and every directory entry, durable in one call (a rerun
            // that installed nothing has nothing to make durable).
            if let Err(e) = at::syncfs(root) {
                status.raise(Status::Trouble);
                writeln!(err, "mcopy: {}: sync: {}", self.dest.path().display(), io_reason(&e))?;
            }
        }
        if self.copy.dry_run {
            writeln!(
                out,
                "dry run: would copy {} file(s) ({}), skip {} up to date; nothing was changed",
                totals.copied,
                HumanBytes(totals.copied_bytes),
                totals.skipped
            )?;
        }
        out.flush()?;
        Ok((status, totals))
    }

    /// Creates the directory a walked DirStart names (the root is DST itself).
    fn make_dir(&self, record: &[u8]) -> Result<(), Error> {
        let name = name_of(record);
        if name.is_empty() || self.copy.dry_run {
            return Ok(());
        }
        let mode =
            fs::symlink_metadata(Path::new(OsStr::from_bytes(record))).map_or(0o755, |m| m.mode() & 0o7777);
        let err = |e: io::Error| Error::io(self.dest.display(name), e);
        let parent = self.dest.parent(name, true, &|_| 0o755).map_err(err)?.expect("created");
        match at::mkdir(parent.fd(), parent.base, mode | 0o700) {
            Ok(()) => Ok(()),
            // Something is there already: it must be a directory, not a link to one.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                at::open_subdir(parent.fd(), parent.base).map(drop).map_err(|e| err(refuse_link(e, name)))
            }
            Err(e) => Err(err(e)),
        }
    }

    /// Gives a directory its source's mode, owner and times, once its entries are in.
    fn finish_dir(&self, record: &[u8]) -> Result<(), Error> {
        if self.copy.dry_run {
            return Ok(());
        }
        let name = name_of(record);
        let src = Path::new(OsStr::from_bytes(record));
        let st = fs::symlink_metadata(src).map_err(|e| Error::io(src, e))?;
        let err = |e: io::Error| Error::io(self.dest.display(name), e);
        let owner = self.copy.owner.then_some((st.uid(), st.gid()));
        let times = at::times_of(&st);
        let dir = if name.is_empty() {
            // DST itself.
            let Some(root) = self.dest.root_fd() else { return Ok(()) };
            at::open_subdir(root, b".")
        } else {
            let Some(parent) = self.dest.parent(name, false, &|_| 0o755).map_err(err)? else { return Ok(()) };
            at::open_subdir(parent.fd(), parent.base)
        };
        let dir = dir.map_err(|e| err(refuse_link(e, name)))?;
        // Already so (a rerun): left alone, so its ctime says nothing changed.
        let now = at::fstat(dir.as_raw_fd()).map_err(err)?;
        let same_owner = owner.is_none_or(|(uid, gid)| (now.st_uid, now.st_gid) == (uid, gid));
        let same_mtime = (now.st_mtime, now.st_mtime_nsec) == (st.mtime(), st.mtime_nsec());
        if same_owner && same_mtime && now.st_mode & 0o7777 == st.mode() & 0o7777 {
            return Ok(());
        }
        at::set_attributes(&dir, owner, st.mode() & 0o7777, &times).map_err(err)
    }
}

impl Totals {
    /// What a run did, in one line: `mcopy: 1 copied (3 B), 4930 up to date, 0 failed`.
    pub fn summary(&self) -> String {
        format!(
            "{} copied ({}), {} up to date, {} failed",
            self.copied,
            HumanBytes(self.copied_bytes),
            self.skipped,
            self.failed
        )
    }
}

/// Removes the temporaries in DST whose writer is gone (left by interrupted runs); returns
/// how many. Run while holding DST's lock: no other mcopy writes there meanwhile.
pub fn remove_stale_temporaries(dst: &Path, err: &mut impl Write) -> io::Result<u64> {
    let mut removed = 0;
    for event in Walk::new(dst, WalkOptions::default()) {
        let path = match event {
            Event::File(p) | Event::Symlink(p) | Event::Skipped(p, _) => p,
            _ => continue,
        };
        let is_temp = path.file_name().is_some_and(|b| is_stale_temp(b.as_bytes()));
        if is_temp {
            match std::fs::remove_file(&path) {
                Ok(()) => removed += 1,
                Err(e) => writeln!(
                    err,
                    "mcopy: {}: cannot remove stale temporary: {}",
                    path.display(),
                    io_reason(&e)
                )?,
            }
        }
    }
    Ok(removed)
}
