//! Flags shared by several tools, defined once and flattened into each tool's parser.

use std::num::NonZeroUsize;
use std::path::Path;

use clap::Args;

use crate::device::is_rotational;
use crate::hash::{Algo, Blake3Threads};
use crate::progress::Mode;

/// The flags of every tool that reads and hashes files, flattened into each one.
#[derive(Args, Clone, Debug)]
pub struct HashingArgs {
    #[command(flatten)]
    pub jobs: JobsArgs,
    #[command(flatten)]
    pub threads: Blake3ThreadsArgs,
    #[command(flatten)]
    pub algo: AlgoArgs,
    #[command(flatten)]
    pub progress: ProgressArgs,
}

/// `--jobs`: how many files at once.
#[derive(Args, Clone, Debug)]
pub struct JobsArgs {
    /// Files processed at once [default: 1 on a rotational disk, else the CPU count; 0 = default;
    /// env: MIRROR_JOBS]
    #[arg(short = 'j', long = "jobs", value_name = "N")]
    pub jobs: Option<usize>,
}

/// A whole number from the environment variable `name`, when it is set and not empty; an
/// error names the variable, not a flag the user never typed.
fn env_number(name: &str) -> Result<Option<usize>, String> {
    match std::env::var_os(name) {
        None => Ok(None),
        Some(v) if v.is_empty() => Ok(None),
        Some(v) => match v.to_str().and_then(|s| s.trim().parse().ok()) {
            Some(n) => Ok(Some(n)),
            None => Err(format!("{name}={}: not a whole number", v.to_string_lossy())),
        },
    }
}

impl JobsArgs {
    /// How to read files that live where `reads_from` does: the number given by `--jobs` (or
    /// `MIRROR_JOBS`), which also takes the device as fast; else one reader on a rotational
    /// device (several make a disk head jump between files) and one per CPU elsewhere.
    pub fn readers(&self, reads_from: Option<&Path>) -> Result<Readers, String> {
        let jobs = match self.jobs {
            Some(n) => Some(n),
            None => env_number("MIRROR_JOBS")?,
        };
        Ok(match jobs {
            Some(n) if n > 0 => Readers { jobs: n, hdd: false },
            _ if reads_from.and_then(is_rotational) == Some(true) => Readers { jobs: 1, hdd: true },
            _ => Readers {
                jobs: std::thread::available_parallelism().map_or(1, NonZeroUsize::get),
                hdd: false,
            },
        })
    }
}

/// How a tool reads its files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Readers {
    /// Files at once.
    pub jobs: usize,
    /// The hard-disk defaults apply (detected, not overridden by `--jobs`).
    pub hdd: bool,
}

/// `--algo`.
#[derive(Args, Clone, Debug)]
pub struct AlgoArgs {
    /// Checksum algorithm
    #[arg(long = "algo", value_enum, value_name = "ALGO")]
    pub algo: Option<Algo>,
}

/// `--blake3-threads`.
#[derive(Args, Clone, Debug)]
pub struct Blake3ThreadsArgs {
    /// Threads BLAKE3 uses inside one large file (0 = one per CPU) [default: 0; env:
    /// MIRROR_B3THREADS]
    #[arg(long = "blake3-threads", value_name = "N")]
    pub blake3_threads: Option<usize>,
}

impl Blake3ThreadsArgs {
    pub fn threads(&self) -> Result<Blake3Threads, String> {
        let count = match self.blake3_threads {
            Some(n) => n,
            None => env_number("MIRROR_B3THREADS")?.unwrap_or(0),
        };
        Blake3Threads::new(count).map_err(|e| format!("cannot start threads: {e}"))
    }
}

/// `--progress` / `--no-progress`.
#[derive(Args, Clone, Debug)]
pub struct ProgressArgs {
    /// Show progress on stderr even when it is not a terminal (then a line every 10 s)
    #[arg(long = "progress", overrides_with = "no_progress")]
    pub progress: bool,
    /// Never show progress
    #[arg(long = "no-progress", overrides_with = "progress")]
    pub no_progress: bool,
}

impl ProgressArgs {
    pub fn mode(&self) -> Mode {
        let flag = match (self.progress, self.no_progress) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        };
        Mode::choose(flag)
    }
}
