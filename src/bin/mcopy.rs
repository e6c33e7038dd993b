//! mcopy: copy files into a destination safely and resumably, hashing what it reads.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use mirror_tools::at::is_root_user;
use mirror_tools::cleanup::handle_signals;
use mirror_tools::cli::HashingArgs;
use mirror_tools::copy::CopyOptions;
use mirror_tools::dest::{Destination, check_no_overlap};
use mirror_tools::dest_lock::DestLock;
use mirror_tools::error::{display_bytes, io_reason};
use mirror_tools::exclude::Exclude;
use mirror_tools::expect::Expect;
use mirror_tools::hash::Algo;
use mirror_tools::link::record_root;
use mirror_tools::manifest::{algo_from_file_name, open_manifest};
use mirror_tools::mirror::{Item, Mirror, items_from_records, items_from_walk, remove_stale_temporaries};
use mirror_tools::name::name_of;
use mirror_tools::output_file::OutputFile;
use mirror_tools::progress::Progress;
use mirror_tools::records::{note_if_terminal, path_records};
use mirror_tools::status::{OnBrokenPipe, Status, finish};
use mirror_tools::walk::{Order, WalkOptions};

/// Copy files into DST safely and resumably, hashing what is read.
///
/// `mcopy DST` copies the path records read from stdin (as mtree-list writes them) to DST/name;
/// `mcopy SRC DST` walks SRC itself and also recreates empty directories. Each file is written
/// to a temporary beside its target, synced, given the source's mode, times (and owner, as
/// root), then renamed into place: never a partial file under a final name. A file whose copy
/// in DST has the same size and mtime is skipped, so a rerun resumes an interrupted copy.
#[derive(Parser, Debug)]
#[command(name = "mcopy", version, after_long_help = EXAMPLES)]
struct Cli {
    /// [SRC] DST: with one operand, the paths to copy come from stdin
    #[arg(value_name = "PATH", num_args = 1..=2, required = true)]
    paths: Vec<PathBuf>,
    /// Read NUL-terminated path records from stdin
    #[arg(short = '0', long = "null")]
    null: bool,
    /// Say what would be copied or skipped; change nothing
    #[arg(short = 'n', long = "dry-run")]
    dry_run: bool,
    /// Decide whether a file is up to date by its content, not its size and mtime
    #[arg(short = 'c', long = "checksum")]
    checksum: bool,
    /// Write the manifest of every listed file, as read, to FILE (- for stdout)
    #[arg(long = "hash-out", value_name = "FILE")]
    hash_out: Option<PathBuf>,
    /// Install only files whose bytes, as read, match MANIFEST (others: named, status 1)
    #[arg(long = "expect", value_name = "MANIFEST")]
    expect: Option<PathBuf>,
    /// With SRC: the order of each directory's entries (name; physical: files by where they
    /// lie on the disk first; auto: physical on a rotational device)
    #[arg(long = "order", value_enum, value_name = "ORDER", default_value = "name")]
    order: Order,
    /// With SRC: leave out entries matching GLOB, as mtree-list --exclude does
    #[arg(long = "exclude", value_name = "GLOB")]
    exclude: Vec<String>,
    /// Only check that SRC and DST do not overlap (either way), then exit: 0 or 2
    #[arg(long = "preflight", requires = "paths")]
    preflight: bool,
    /// No summary line at the end
    #[arg(short = 'q', long = "quiet")]
    quiet: bool,
    /// Do not fdatasync each file before renaming it into place (faster, not crash-safe)
    #[arg(long = "no-fsync")]
    no_fsync: bool,
    #[command(flatten)]
    hashing: HashingArgs,
}

const EXAMPLES: &str = "\
Examples:
  mcopy /mnt/usb/run42 /data/run42
  mtree-list -0 /mnt/usb/run42 | mcopy -0 --hash-out run42.b3 /data/run42
  mcopy --expect /mnt/usb/run42/BLAKE3SUMS /mnt/usb/run42 /data/run42";

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("mcopy: {message}");
    ExitCode::from(Status::Trouble.code() as u8)
}

fn main() -> ExitCode {
    handle_signals("mcopy", "; a rerun continues the copy");
    let cli = Cli::parse();
    let (src, dst) = match cli.paths.as_slice() {
        [dst] => (None, dst.clone()),
        [src, dst] => (Some(src.clone()), dst.clone()),
        _ => unreachable!("clap takes one or two"),
    };

    let exclude = match Exclude::new(&cli.exclude) {
        Ok(e) => e,
        Err(e) => return fail(e),
    };
    if src.is_none() && (!cli.exclude.is_empty() || cli.order != Order::Name) {
        return fail("--exclude and --order need SRC (mcopy SRC DST): a path stream is already chosen");
    }

    if cli.preflight {
        let Some(src) = &src else { return fail("--preflight needs SRC and DST") };
        return match check_no_overlap(src, &dst) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(e),
        };
    }
    // Before anything is written: SRC and DST must not overlap, either way.
    let mut stdin_items = None;
    let mut reads_from = src.clone();
    if let Some(src) = &src {
        if let Err(e) = check_no_overlap(src, &dst) {
            return fail(e);
        }
    } else {
        note_if_terminal("mcopy");
        let mut records = path_records(io::stdin(), cli.null).peekable();
        if let Some(Ok(first)) = records.peek().filter(|r| r.as_ref().is_ok_and(|r| is_safe(r))) {
            let root = record_root(first);
            reads_from = Some(root.clone());
            if let Err(e) = check_no_overlap(&root, &dst) {
                return fail(e);
            }
        }
        stdin_items = Some(guard_roots(records, dst.clone()));
    }

    // A dry run changes nothing, --hash-out included. A file is written beside its final
    // name and installed only when every listed file was hashed.
    let mut hash_out = match &cli.hash_out {
        Some(_) if cli.dry_run => None,
        Some(p) => match OutputFile::create(p) {
            Ok(f) => Some(f),
            Err(e) => {
                return fail(format!(
                    "--hash-out {}: {}",
                    display_bytes(p.as_os_str().as_bytes()),
                    io_reason(&e)
                ));
            }
        },
        None => None,
    };
    let lock;
    let dest = if cli.dry_run {
        lock = None;
        match Destination::open(&dst) {
            Ok(d) => d,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Destination::missing(&dst),
            Err(e) => return fail(format!("{}: {}", dst.display(), io_reason(&e))),
        }
    } else {
        if let Err(e) = std::fs::create_dir_all(&dst) {
            return fail(format!("{}: {}", dst.display(), io_reason(&e)));
        }
        // One writer per DST, for the whole run: then every temporary found in it whose
        // writer is gone is stale.
        lock = match DestLock::acquire(&dst) {
            Ok(l) => l,
            Err(e) => return fail(e),
        };
        match remove_stale_temporaries(&dst, &mut io::stderr()) {
            Ok(n) if n > 0 => eprintln!("mcopy: removed {n} temporary file(s) left by an interrupted run"),
            _ => {}
        }
        match Destination::open(&dst) {
            Ok(d) => d,
            Err(e) => return fail(format!("{}: {}", dst.display(), io_reason(&e))),
        }
    };

    let algo_hint = cli.expect.as_deref().and_then(algo_from_file_name);
    let algo = cli.hashing.algo.algo.or(algo_hint).unwrap_or(Algo::Blake3);
    let expect = match &cli.expect {
        Some(path) => match open_manifest(Some(path)) {
            Ok(m) => Some(Expect::new(m, path.display().to_string(), algo, false)),
            Err(e) => return fail(format!("{}: {}", path.display(), io_reason(&e))),
        },
        None => None,
    };
    let threads = match cli.hashing.threads.threads() {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    let jobs = match cli.hashing.jobs.readers(reads_from.as_deref()) {
        Ok(r) => r.jobs,
        Err(e) => return fail(e),
    };
    let progress = Progress::new("mcopy", cli.hashing.progress.mode());
    let job = Mirror {
        dest: &dest,
        jobs,
        copy: CopyOptions {
            hash: (cli.hash_out.is_some() || expect.is_some()).then_some(algo),
            hash_skipped: cli.hash_out.is_some(),
            threads,
            checksum: cli.checksum,
            dry_run: cli.dry_run,
            fsync: !cli.no_fsync,
            owner: is_root_user(),
            expect: expect.as_ref(),
            progress: &progress,
        },
    };
    let mut out = BufWriter::new(io::stdout());
    let hash_writer = hash_out.as_mut().map(|w| w as &mut (dyn Write + Send));
    let result = match (src, stdin_items) {
        (Some(src), _) => job.run(
            items_from_walk(&src, WalkOptions { exclude, one_file_system: false, order: cli.order }),
            hash_writer,
            &mut out,
            &mut io::stderr(),
        ),
        (None, Some(items)) => job.run(items, hash_writer, &mut out, &mut io::stderr()),
        (None, None) => unreachable!("stdin items exist without SRC"),
    };
    progress.finish();
    // The progress line, then the summary: the summary is the last word of a run.
    if let (Ok((_, totals)), false, false) = (&result, cli.dry_run, cli.quiet) {
        eprintln!("mcopy: {}", totals.summary());
    }
    let result = result.map(|(status, _)| status);
    if let (Some(file), Ok(status)) = (hash_out, &result) {
        let name = display_bytes(file.name().as_os_str().as_bytes());
        if *status != Status::Ok {
            // Some listed file has no line: a partial manifest is never installed.
            if file.installs() {
                eprintln!("mcopy: --hash-out {name}: not written, as not every file was copied");
            }
        } else if let Err(e) = file.commit(!cli.no_fsync) {
            return fail(format!("--hash-out {name}: {}", io_reason(&e)));
        }
    }
    drop(lock);
    ExitCode::from(finish("mcopy", result, OnBrokenPipe::Unfinished) as u8)
}

use std::os::unix::ffi::OsStrExt;

fn is_safe(record: &[u8]) -> bool {
    mirror_tools::name::unsafe_reason(name_of(record)).is_none()
}

/// Items for the records of stdin, refusing any record whose root overlaps DST.
fn guard_roots(
    records: impl Iterator<Item = io::Result<Vec<u8>>>,
    dst: PathBuf,
) -> impl Iterator<Item = Item> {
    let mut last: Option<(PathBuf, Result<(), String>)> = None;
    items_from_records(records).map(move |item| {
        let Item::File(record) = &item else { return item };
        if !is_safe(record) {
            return item; // refused, with its reason, when it is copied
        }
        let root = record_root(record);
        if last.as_ref().is_none_or(|(r, _)| *r != root) {
            let verdict = check_no_overlap(&root, &dst);
            last = Some((root, verdict));
        }
        match &last {
            Some((_, Err(e))) => Item::Note(e.clone(), true),
            _ => item,
        }
    })
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
