//! mtree-list: list the files of a tree as a path stream.

use std::io::{self, BufWriter};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use mirror_tools::exclude::Exclude;
use mirror_tools::list_tree::list_trees;
use mirror_tools::status::{OnBrokenPipe, finish};
use mirror_tools::walk::{Order, WalkOptions};

/// List the regular files under each SRC, depth-first in byte order, as `SRC/./rel/path`.
///
/// Symlinks to regular files are listed too. Directories are not records. Special files,
/// dangling symlinks and anything else not listed are named on stderr; an unreadable directory
/// makes the exit status 2. A FIFO or device is never opened.
#[derive(Parser, Debug)]
#[command(name = "mtree-list", version, after_long_help = EXAMPLES)]
struct Cli {
    /// Trees to list
    #[arg(value_name = "SRC", required = true)]
    roots: Vec<PathBuf>,
    /// End records with NUL instead of newline (required for names with a newline)
    #[arg(short = '0', long = "null")]
    null: bool,
    /// Leave out entries matching GLOB (with a `/`: matched against the name; without: each base name)
    #[arg(long = "exclude", value_name = "GLOB")]
    exclude: Vec<String>,
    /// Do not descend into directories on other filesystems
    #[arg(short = 'x', long = "one-file-system")]
    one_file_system: bool,
    /// Order of each directory's entries: by name, or files by where they lie on the disk
    /// first (fewer seeks on a hard disk), or auto: physical on a rotational device
    #[arg(long = "order", value_enum, value_name = "ORDER", default_value = "name")]
    order: Order,
}

const EXAMPLES: &str = "\
Examples:
  mtree-list src | mhash -j4 > BLAKE3SUMS
  mtree-list -0 --exclude '*.tmp' --exclude '/BLAKE3SUMS' /mnt/usb/run42 | mcopy -0 /data/run42";

fn main() -> ExitCode {
    let cli = Cli::parse();
    let exclude = match Exclude::new(&cli.exclude) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("mtree-list: {e}");
            return ExitCode::from(2);
        }
    };
    let options = WalkOptions { exclude, one_file_system: cli.one_file_system, order: cli.order };
    let mut out = BufWriter::with_capacity(64 * 1024, io::stdout().lock());
    let result = list_trees(&cli.roots, &options, cli.null, &mut out, &mut io::stderr());
    ExitCode::from(finish("mtree-list", result, OnBrokenPipe::Quiet) as u8)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
