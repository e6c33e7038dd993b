//! mhash: hash files in parallel into a b3sum-compatible manifest.

use std::ffi::OsStr;
use std::io::{self, BufWriter};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use mirror_tools::cleanup::handle_signals;
use mirror_tools::cli::HashingArgs;
use mirror_tools::error::{display_bytes, io_reason};
use mirror_tools::hash::{Algo, Fetch};
use mirror_tools::make_manifest::MakeManifest;
use mirror_tools::name::fingerprint;
use mirror_tools::output_file::OutputFile;
use mirror_tools::progress::Progress;
use mirror_tools::record::{Digesting, Record, RecordWriter, record_path};
use mirror_tools::records::{note_if_terminal, path_records};
use mirror_tools::status::{OnBrokenPipe, Status, finish};

/// Hash files in parallel into a manifest that b3sum --check and sha256sum -c accept.
///
/// Reads the paths to hash from the operands, or one record per line (NUL with -0) from stdin.
/// Writes `<hex>  <name>` lines in input order. A record `SRC/./rel/path` (as mtree-list writes
/// it) is named `rel/path`; any other path names itself, as b3sum would.
#[derive(Parser, Debug)]
#[command(name = "mhash", version, after_long_help = EXAMPLES)]
struct Cli {
    /// Files to hash [default: path records from stdin]
    #[arg(value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Read NUL-terminated path records from stdin
    #[arg(short = '0', long = "null")]
    null: bool,
    /// Write NUL-terminated manifest records, unescaped (as sha256sum -z)
    #[arg(short = 'z', long = "zero")]
    zero: bool,
    /// Write the manifest to FILE, installed whole and only when every file was hashed (a
    /// device or FIFO is written through; a symlink is followed) [default: stdout]
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
    /// Hash nothing: copy a manifest made elsewhere (by b3sum, say) from stdin to --output,
    /// installed the same way
    #[arg(long = "relay", requires = "output", conflicts_with = "files")]
    relay: bool,
    /// Remake --output from its record (FILE.record): a file whose size and mtime match its
    /// entry keeps the entry without being read; an entry whose file changed without a new
    /// size or mtime is kept, and named (status 1). Writes the record beside FILE
    #[arg(long = "update", requires = "output", conflicts_with_all = ["relay", "zero"])]
    update: bool,
    /// With --update: read every file, and compare each with its entry
    #[arg(long = "full", requires = "update")]
    full: bool,
    #[command(flatten)]
    hashing: HashingArgs,
}

const EXAMPLES: &str = "\
Examples:
  mtree-list -0 src | mhash -0 -j4 > BLAKE3SUMS
  find . -type f -print0 | mhash -0 --algo sha256 > SHA256SUMS
  mhash big.bam --blake3-threads 0
  mtree-list -0 src | mhash -0 -o src/BLAKE3SUMS";

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("mhash: {message}");
    ExitCode::from(Status::Trouble.code() as u8)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Only an --output file leaves a temporary to remove; without one, a signal ends mhash as
    // it ends any filter.
    if cli.output.as_ref().is_some_and(|p| p.as_os_str() != "-") {
        handle_signals("mhash", "; the manifest was not written");
    }
    let mut output = match cli.output.as_deref().filter(|p| p.as_os_str() != "-") {
        Some(path) => match OutputFile::create(path) {
            Ok(f) => Some(f),
            Err(e) => {
                return fail(format!("{}: {}", display_bytes(path.as_os_str().as_bytes()), io_reason(&e)));
            }
        },
        None => None,
    };
    if cli.update && output.is_none() {
        return fail("--update needs --output FILE (a regular file)");
    }
    if cli.relay {
        let Some(mut file) = output else { return fail("--relay needs --output FILE") };
        let copied = io::copy(&mut io::stdin().lock(), &mut file).map(|_| Status::Ok);
        return finish_output(file, copied);
    }
    let threads = match cli.hashing.threads.threads() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("mhash: {e}");
            return ExitCode::from(2);
        }
    };
    let progress = Progress::new("mhash", cli.hashing.progress.mode());
    // Not locked once: the worker that completes the oldest file writes it, from any thread.
    let mut out = BufWriter::with_capacity(64 * 1024, io::stdout());
    let mut err = io::stderr();
    let inputs: Box<dyn Iterator<Item = io::Result<Vec<u8>>> + Send> = if cli.files.is_empty() {
        note_if_terminal("mhash");
        Box::new(path_records(io::stdin(), cli.null))
    } else {
        Box::new(cli.files.into_iter().map(|p| Ok(p.into_os_string().into_vec())))
    };
    // The first path tells the device, and so the default number of readers.
    let mut inputs = inputs.peekable();
    let first = inputs.peek().and_then(|r| r.as_ref().ok()).map(|r| PathBuf::from(OsStr::from_bytes(r)));
    // On a hard disk (unless --jobs overrides the detection), read each file front to back.
    let readers = match cli.hashing.jobs.readers(first.as_deref()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("mhash: {e}");
            return ExitCode::from(2);
        }
    };
    let algo = cli.hashing.algo.algo.unwrap_or(Algo::Blake3);
    let mut job = MakeManifest {
        algo,
        jobs: readers.jobs,
        threads,
        fetch: if readers.hdd { Fetch::Sequential } else { Fetch::Mapped },
        zero: cli.zero,
        progress: &progress,
        previous: None,
        full: cli.full,
    };
    if cli.update
        && let (Some(file), Some(path)) = (output.take(), cli.output.as_deref())
    {
        let previous = match Record::load(path, algo) {
            Ok(r) => r,
            Err(e) => {
                return fail(format!(
                    "{}: {}",
                    display_bytes(record_path(path).as_os_str().as_bytes()),
                    io_reason(&e)
                ));
            }
        };
        if previous.as_ref().is_some_and(|p| !p.has_record()) {
            eprintln!(
                "mhash: {}: no record beside it: every file is read and compared with its entry",
                display_bytes(path.as_os_str().as_bytes())
            );
        }
        job.previous = previous.as_ref();
        return update(&job, inputs, file, path, &mut err);
    }
    let result = match &mut output {
        Some(file) => job.run(inputs, file, None::<&mut RecordWriter<io::Sink>>, &mut err),
        None => job.run(inputs, &mut out, None::<&mut RecordWriter<io::Sink>>, &mut err),
    };
    progress.finish();
    let result = result.map(|(status, _)| status);
    match output {
        Some(file) => finish_output(file, result),
        None => ExitCode::from(finish("mhash", result, OnBrokenPipe::Quiet) as u8),
    }
}

/// `--update`: remakes the manifest at `path` and its record together, naming what changed.
fn update(
    job: &MakeManifest,
    inputs: impl Iterator<Item = io::Result<Vec<u8>>> + Send,
    mut file: OutputFile,
    path: &Path,
    err: &mut io::Stderr,
) -> ExitCode {
    let shown = display_bytes(path.as_os_str().as_bytes());
    if !file.installs() {
        return fail(format!("{shown}: --update needs a regular file, not a device or FIFO"));
    }
    let record_file = match OutputFile::create(&record_path(path)) {
        Ok(f) => f,
        Err(e) => return fail(format!("{shown}.record: {}", io_reason(&e))),
    };
    let mut record = match RecordWriter::new(record_file, job.algo) {
        Ok(r) => r,
        Err(e) => return fail(format!("{shown}.record: {}", io_reason(&e))),
    };
    let mut manifest = Digesting::new(&mut file);
    let result = job.run(inputs, &mut manifest, Some(&mut record), err);
    job.progress.finish();
    let (_, digest) = manifest.finish();
    let (mut status, changes) = match result {
        Ok(done) => done,
        Err(e) => return fail(format!("{shown}: {}", io_reason(&e))),
    };
    if status == Status::Trouble {
        eprintln!("mhash: {shown}: not written, as not every file was hashed");
        return ExitCode::from(status.code() as u8);
    }
    // Entries of files no longer listed, named from the old record before it is replaced.
    let mut removed = 0u64;
    if let Some(previous) = job.previous
        && let Ok(names) = previous.names(path)
    {
        for name in names.filter(|n| !changes.seen.contains(&fingerprint(n))) {
            removed += 1;
            eprintln!("mhash: {}: removed (no longer listed)", display_bytes(&name));
        }
    }
    let installed = record
        .finish(&digest)
        .and_then(|record_file| file.commit(true).and_then(|()| record_file.commit(true)));
    if let Err(e) = installed {
        status.raise(Status::Trouble);
        eprintln!("mhash: {shown}: {}", io_reason(&e));
    }
    eprintln!(
        "mhash: {shown}: {} new, {} unchanged (not read), {} read again, {} updated, {} removed{}",
        changes.new,
        changes.kept,
        changes.confirmed,
        changes.updated,
        removed,
        match changes.changed_in_place {
            0 => String::new(),
            n => format!(", {n} changed without a new mtime (entries kept)"),
        }
    );
    ExitCode::from(status.code() as u8)
}

/// Installs `--output` when every file made it into it; otherwise says it was not written.
fn finish_output(file: OutputFile, result: io::Result<Status>) -> ExitCode {
    let shown = display_bytes(file.name().as_os_str().as_bytes());
    match result {
        Ok(Status::Ok) => match file.commit(true) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(format!("{shown}: {}", io_reason(&e))),
        },
        Ok(status) => {
            eprintln!("mhash: {shown}: not written, as not every file was hashed");
            ExitCode::from(status.code() as u8)
        }
        Err(e) => fail(format!("{shown}: {}", io_reason(&e))),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
