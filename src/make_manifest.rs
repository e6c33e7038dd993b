//! mhash's job: hash a stream of paths in parallel into a manifest, in input order.

use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::error::Error;
use crate::hash::{Algo, Blake3Threads, Fetch, hash_path};
use crate::manifest::write_entry;
use crate::name::name_of;
use crate::ordered::run_in_order;
use crate::progress::Progress;
use crate::status::Status;

pub struct MakeManifest<'a> {
    pub algo: Algo,
    pub jobs: usize,
    pub threads: Blake3Threads,
    pub fetch: Fetch,
    /// NUL-terminated output records (`-z`).
    pub zero: bool,
    pub progress: &'a Progress,
}

/// One input: a path record, or an error reading the stream of them.
pub type Input = io::Result<Vec<u8>>;

impl MakeManifest<'_> {
    /// Hashes every path of `inputs`, writing manifest lines to `out` and one message per
    /// unreadable file to `err`. An error from `out` (a broken pipe) ends the run early.
    pub fn run(
        &self,
        inputs: impl Iterator<Item = Input> + Send,
        out: &mut (impl Write + Send),
        err: &mut (impl Write + Send),
    ) -> io::Result<Status> {
        let mut status = Status::Ok;
        let progress = self.progress;
        let inputs = inputs.inspect(|input| {
            if let Ok(record) = input {
                progress.add_to_total(Path::new(std::ffi::OsStr::from_bytes(record)));
            }
        });
        let work = |input: Input| -> Result<(Vec<u8>, String), Error> {
            let record = input.map_err(|e| Error::io("-", e))?;
            let path = Path::new(std::ffi::OsStr::from_bytes(&record));
            if record.is_empty() {
                return Err(Error::BadName { path: path.into(), reason: "empty path record" });
            }
            if name_of(&record).is_empty() {
                return Err(Error::BadName { path: path.into(), reason: "empty name after the root marker" });
            }
            progress.start_file(&record);
            let hex = hash_path(path, self.algo, &self.threads, self.fetch, &|n| progress.add_bytes(n));
            progress.finish_file();
            Ok((record, hex?))
        };
        run_in_order(self.jobs, inputs, work, |result| match result {
            Ok((record, hex)) => write_entry(out, &hex, name_of(&record), self.zero),
            Err(e) => {
                status.raise(Status::Trouble);
                writeln!(err, "mhash: {e}")
            }
        })?;
        out.flush()?;
        Ok(status)
    }
}
