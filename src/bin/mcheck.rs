//! mcheck: verify a destination against a b3sum or sha256sum manifest, from the disk.

use std::io::{self, BufWriter};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use mirror_tools::cleanup::handle_signals;
use mirror_tools::cli::HashingArgs;
use mirror_tools::hash::Algo;
use mirror_tools::manifest::{algo_from_file_name, open_manifest};
use mirror_tools::output_file::OutputFile;
use mirror_tools::progress::{Mode, Progress};
use mirror_tools::status::{OnBrokenPipe, finish};
use mirror_tools::verified::{Verified, VerifiedWriter};
use mirror_tools::verify::Verify;

/// Verify the files under DST against a manifest, reading the disk, not the page cache.
///
/// Reads MANIFEST (or stdin when it is absent or `-`; gzip-compressed is fine): lines as mhash,
/// b3sum and sha256sum write them, plain, `*`-marked or tagged. Prints `name: OK`, `FAILED`,
/// `FAILED open or read` or `MISSING` for each, then a summary on stderr. Names are opened
/// under DST only; an absolute name or one with a `..` component is reported, never opened.
#[derive(Parser, Debug)]
#[command(name = "mcheck", version, after_long_help = EXAMPLES)]
struct Cli {
    /// The directory to verify
    #[arg(value_name = "DST")]
    dst: PathBuf,
    /// The manifest [default: stdin]
    #[arg(value_name = "MANIFEST")]
    manifest: Option<PathBuf>,
    /// Do not print OK lines
    #[arg(short = 'q', long = "quiet")]
    quiet: bool,
    /// Print nothing: the exit status tells
    #[arg(long = "status")]
    status: bool,
    /// Do not fail or report for files the manifest names that DST lacks
    #[arg(long = "ignore-missing")]
    ignore_missing: bool,
    /// Also list files under DST that the manifest does not name (any makes the status 1)
    #[arg(long = "extra")]
    extra: bool,
    /// Write FILE: a record of every file verified, and what it was then (size, times, inode),
    /// installed when the run ends
    #[arg(long = "record", value_name = "FILE")]
    record: Option<PathBuf>,
    /// With --record: a file unchanged since FILE recorded it verified, with the same digest,
    /// is not read again (a rerun reads only new or changed files)
    #[arg(long = "incremental", requires = "record")]
    incremental: bool,
    /// Write the names of the files that FAILED, are MISSING or unreadable to FILE,
    /// NUL-terminated (what `run-mirror --repair` copies again)
    #[arg(long = "list-failed", value_name = "FILE")]
    list_failed: Option<PathBuf>,
    /// Manifest records are NUL-terminated and unescaped (as written by mhash -z)
    #[arg(short = 'z', long = "zero")]
    zero: bool,
    #[command(flatten)]
    hashing: HashingArgs,
}

const EXAMPLES: &str = "\
Examples:
  mcheck /data/run42 /mnt/usb/run42/BLAKE3SUMS
  zcat manifest.gz | mcheck /data/run42
  mcheck --quiet --extra /data/run42 SHA256SUMS";

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.record.is_some() || cli.list_failed.is_some() {
        handle_signals("mcheck", "; the record was not written");
    }
    let manifest_path = cli.manifest.filter(|p| p.as_os_str() != "-");
    let label = manifest_path.as_ref().map_or("-".to_string(), |p| p.display().to_string());
    let algo = cli
        .hashing
        .algo
        .algo
        .or_else(|| manifest_path.as_deref().and_then(algo_from_file_name))
        .unwrap_or(Algo::Blake3);
    let manifest = match open_manifest(manifest_path.as_deref()) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("mcheck: {label}: {}", mirror_tools::error::io_reason(&e));
            return ExitCode::from(2);
        }
    };
    let threads = match cli.hashing.threads.threads() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("mcheck: {e}");
            return ExitCode::from(2);
        }
    };
    let mode = if cli.status { Mode::Off } else { cli.hashing.progress.mode() };
    let progress = Progress::new("mcheck", mode);
    // The default number of readers follows the kind of device DST is on.
    let jobs = match cli.hashing.jobs.readers(Some(&cli.dst)) {
        Ok(r) => r.jobs,
        Err(e) => {
            eprintln!("mcheck: {e}");
            return ExitCode::from(2);
        }
    };
    let previous = match (&cli.record, cli.incremental) {
        (Some(path), true) => match Verified::load(path) {
            Ok(v) => v,
            Err(e) => {
                eprintln!("mcheck: {}: {}", path.display(), mirror_tools::error::io_reason(&e));
                return ExitCode::from(2);
            }
        },
        _ => None,
    };
    // Where DST is missing the run reports that; no record is started for it.
    let mut record = match cli.record.as_ref().filter(|_| cli.dst.is_dir()) {
        Some(path) => match OutputFile::create(path).and_then(VerifiedWriter::new) {
            Ok(w) => Some(w),
            Err(e) => {
                eprintln!("mcheck: {}: {}", path.display(), mirror_tools::error::io_reason(&e));
                return ExitCode::from(2);
            }
        },
        None => None,
    };
    let mut failed = match &cli.list_failed {
        Some(path) => match OutputFile::create(path) {
            Ok(f) => Some(f),
            Err(e) => {
                eprintln!("mcheck: {}: {}", path.display(), mirror_tools::error::io_reason(&e));
                return ExitCode::from(2);
            }
        },
        None => None,
    };
    let job = Verify {
        dst: cli.dst,
        label,
        algo,
        zero: cli.zero,
        jobs,
        threads,
        quiet: cli.quiet,
        status_only: cli.status,
        ignore_missing: cli.ignore_missing,
        extra: cli.extra,
        manifest_file: manifest_path,
        progress: &progress,
        previous: previous.as_ref(),
        record_file: cli.record.clone(),
    };
    let mut out = BufWriter::with_capacity(64 * 1024, io::stdout());
    let failed_list = failed.as_mut().map(|f| f as &mut (dyn std::io::Write + Send));
    let result = job.run(manifest, &mut out, record.as_mut(), failed_list, &mut io::stderr());
    progress.finish();
    // The record holds only what matched: it is installed whatever the verdict, unless the
    // run stopped early.
    if let (Some(writer), Ok(_)) = (record, &result)
        && let Err(e) = writer.finish().and_then(|file| file.commit(true))
    {
        eprintln!("mcheck: --record: {}", mirror_tools::error::io_reason(&e));
        return ExitCode::from(2);
    }
    if let (Some(list), Ok(_)) = (failed, &result)
        && let Err(e) = list.commit(false)
    {
        eprintln!("mcheck: --list-failed: {}", mirror_tools::error::io_reason(&e));
        return ExitCode::from(2);
    }
    ExitCode::from(finish("mcheck", result, OnBrokenPipe::Unfinished) as u8)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
