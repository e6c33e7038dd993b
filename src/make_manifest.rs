//! mhash's job: hash a stream of paths in parallel into a manifest, in input order; and, with
//! the record of an earlier manifest (`--update`), read only the files that changed since,
//! never silently replacing an entry whose file changed without a new size or mtime.

use std::collections::HashSet;
use std::fs;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::error::{Error, display_bytes};
use crate::hash::{Algo, Blake3Threads, Fetch, hash_path};
use crate::manifest::write_entry;
use crate::name::{fingerprint, name_of};
use crate::ordered::run_in_order;
use crate::progress::Progress;
use crate::record::{Before, Made, Record, RecordWriter};
use crate::status::Status;

pub struct MakeManifest<'a> {
    pub algo: Algo,
    pub jobs: usize,
    pub threads: Blake3Threads,
    pub fetch: Fetch,
    /// NUL-terminated output records (`-z`).
    pub zero: bool,
    pub progress: &'a Progress,
    /// The record of the manifest being remade: a file whose size and mtime match its entry
    /// keeps the entry without being read (unless `full`).
    pub previous: Option<&'a Record>,
    /// Read every file, and compare it with its entry.
    pub full: bool,
}

/// How one entry of a remade manifest came about.
enum Source {
    /// Hashed: a file the previous manifest did not name (or there was none).
    New,
    /// Unchanged size and mtime: the entry is kept and the file not read.
    Kept,
    /// Read again, the same digest.
    Confirmed,
    /// Changed size or mtime: the entry is updated.
    Updated,
    /// The same size and mtime but other bytes: the old entry is kept (this digest is not).
    ChangedInPlace(String),
}

/// One file's entry, and what made it.
struct Hashed {
    record: Vec<u8>,
    hex: String,
    made: Made,
    source: Source,
}

/// What a remade manifest changed, for the summary line.
#[derive(Default, Debug)]
pub struct Changes {
    pub new: u64,
    pub kept: u64,
    pub confirmed: u64,
    pub updated: u64,
    pub changed_in_place: u64,
    /// Names the listing gave (digests), to tell which earlier entries are gone.
    pub seen: HashSet<u128>,
}

fn made_of(meta: &fs::Metadata) -> Made {
    Made { size: meta.len(), mtime: (meta.mtime(), meta.mtime_nsec() as u32) }
}

/// One input: a path record, or an error reading the stream of them.
pub type Input = io::Result<Vec<u8>>;

impl MakeManifest<'_> {
    /// Hashes every path of `inputs`, writing manifest lines to `out`, record lines to
    /// `record` and one message per unreadable or changed file to `err`. An error from `out`
    /// (a broken pipe) ends the run early.
    pub fn run(
        &self,
        inputs: impl Iterator<Item = Input> + Send,
        out: &mut (impl Write + Send),
        mut record: Option<&mut RecordWriter<impl Write + Send>>,
        err: &mut (impl Write + Send),
    ) -> io::Result<(Status, Changes)> {
        let mut status = Status::Ok;
        let mut changes = Changes::default();
        let progress = self.progress;
        let inputs = inputs.inspect(|input| {
            if let Ok(record) = input {
                progress.add_to_total(Path::new(std::ffi::OsStr::from_bytes(record)));
            }
        });
        let work = |input: Input| -> Result<Hashed, Error> {
            let record = input.map_err(|e| Error::io("-", e))?;
            let path = Path::new(std::ffi::OsStr::from_bytes(&record));
            if record.is_empty() {
                return Err(Error::BadName { path: path.into(), reason: "empty path record" });
            }
            let name = name_of(&record);
            if name.is_empty() {
                return Err(Error::BadName { path: path.into(), reason: "empty name after the root marker" });
            }
            let before = self.previous.and_then(|p| p.get(name));
            if let (Some(Before { made: Some(made), hex }), false) = (&before, self.full) {
                // Unchanged since the entry was made: kept, not read.
                let meta = fs::metadata(path).map_err(|e| Error::io(path, e))?;
                if meta.is_file() && made_of(&meta) == *made {
                    return Ok(Hashed { record, hex: hex.to_string(), made: *made, source: Source::Kept });
                }
            }
            progress.start_file(&record);
            let hashed = hash_path(path, self.algo, &self.threads, self.fetch, &|n| progress.add_bytes(n));
            progress.finish_file();
            let (hex, meta) = hashed?;
            let made = made_of(&meta);
            let source = match before {
                None => Source::New,
                Some(Before { hex: old, .. }) if old == hex => Source::Confirmed,
                // Other bytes: a new size or mtime says the file was changed; the same ones (or,
                // without a record, an mtime no later than the manifest's) say it rotted.
                Some(Before { made: Some(was), .. }) if was != made => Source::Updated,
                Some(Before { made: None, .. })
                    if self.previous.is_some_and(|p| p.modified_after_manifest(made.mtime)) =>
                {
                    Source::Updated
                }
                Some(Before { hex: old, .. }) => Source::ChangedInPlace(old.to_string()),
            };
            Ok(Hashed { record, hex, made, source })
        };
        run_in_order(self.jobs, inputs, work, |result| {
            let Hashed { record: path, hex, made, source } = match result {
                Ok(hashed) => hashed,
                Err(e) => {
                    status.raise(Status::Trouble);
                    return writeln!(err, "mhash: {e}");
                }
            };
            let name = name_of(&path);
            if self.previous.is_some() {
                changes.seen.insert(fingerprint(name));
            }
            let hex = match source {
                Source::New => {
                    changes.new += 1;
                    hex
                }
                Source::Kept => {
                    changes.kept += 1;
                    hex
                }
                Source::Confirmed => {
                    changes.confirmed += 1;
                    hex
                }
                Source::Updated => {
                    changes.updated += 1;
                    writeln!(
                        err,
                        "mhash: {}: updated (changed since the manifest was made)",
                        display_bytes(name)
                    )?;
                    hex
                }
                Source::ChangedInPlace(old) => {
                    // The manifest is the record: never rewritten from bytes that changed
                    // behind an unchanged size and mtime.
                    changes.changed_in_place += 1;
                    status.raise(Status::Failed);
                    writeln!(
                        err,
                        "mhash: {}: changed in SRC without a new mtime (bit rot or a faulty drive?); the manifest keeps its entry",
                        display_bytes(name)
                    )?;
                    old
                }
            };
            write_entry(out, &hex, name, self.zero)?;
            match record.as_mut() {
                Some(r) => r.entry(made, &hex, name),
                None => Ok(()),
            }
        })?;
        out.flush()?;
        Ok((status, changes))
    }
}
