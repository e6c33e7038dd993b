//! Flags shared by several tools, defined once and flattened into each tool's parser.

use std::path::Path;

use clap::Args;

use crate::device::default_jobs;
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
    /// Files processed at once [default: 1 on a rotational disk, else the CPU count; 0 = default]
    #[arg(short = 'j', long = "jobs", value_name = "N", env = "MIRROR_JOBS")]
    pub jobs: Option<usize>,
}

impl JobsArgs {
    /// True when `--jobs` (or `MIRROR_JOBS`) names a number: then it wins over what is
    /// detected about the device, and so do the other defaults chosen for a hard disk.
    pub fn given(&self) -> bool {
        self.jobs.is_some_and(|n| n > 0)
    }

    /// The number given, else the default for the device `reads_from` lives on.
    pub fn count(&self, reads_from: Option<&Path>) -> usize {
        match self.jobs {
            Some(n) if n > 0 => n,
            _ => default_jobs(reads_from),
        }
    }
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
    /// Threads BLAKE3 uses inside one large file (0 = one per CPU)
    #[arg(long = "blake3-threads", value_name = "N", env = "MIRROR_B3THREADS", default_value_t = 0)]
    pub blake3_threads: usize,
}

impl Blake3ThreadsArgs {
    pub fn threads(&self) -> std::io::Result<Blake3Threads> {
        Blake3Threads::new(self.blake3_threads)
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
