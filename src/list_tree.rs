//! mtree-list's job: write the path stream of one or more trees.

use std::io::{self, Write};
use std::path::PathBuf;

use crate::error::{display_bytes, io_reason};
use crate::link::leads_out;
use crate::records::{fits_newline_mode, write_record};
use crate::status::Status;
use crate::walk::{Event, Walk, WalkOptions};

/// Lists the files (and symlinks to files) under each root to `out`, one record each, and
/// names everything it does not list on `err`.
pub fn list_trees(
    roots: &[PathBuf],
    options: &WalkOptions,
    null: bool,
    out: &mut impl Write,
    err: &mut impl Write,
) -> io::Result<Status> {
    let mut status = Status::Ok;
    let mut newline_names = 0u64;
    for root in roots {
        for event in Walk::new(root, options.clone()) {
            let is_link = matches!(event, Event::Symlink(_));
            match event {
                Event::File(path) | Event::Symlink(path) => {
                    let bytes = path.as_os_str().as_encoded_bytes();
                    if is_link && let Ok(Some(target)) = leads_out(bytes) {
                        writeln!(
                            err,
                            "mtree-list: {}: symlink leads out of the tree (to {}): copied as the file it points to",
                            display_bytes(bytes),
                            display_bytes(target.as_os_str().as_encoded_bytes())
                        )?;
                    }
                    if null || fits_newline_mode(bytes) {
                        write_record(out, bytes, null)?;
                    } else {
                        newline_names += 1;
                        writeln!(
                            err,
                            "mtree-list: {}: not listed: name contains a newline",
                            display_bytes(bytes)
                        )?;
                    }
                }
                Event::DirStart(_) | Event::DirEnd(_) => {}
                Event::Skipped(path, why) => {
                    writeln!(
                        err,
                        "mtree-list: {}: {why}",
                        display_bytes(path.as_os_str().as_encoded_bytes())
                    )?;
                }
                Event::Error(path, e) => {
                    status.raise(Status::Trouble);
                    writeln!(
                        err,
                        "mtree-list: {}: {}",
                        display_bytes(path.as_os_str().as_encoded_bytes()),
                        io_reason(&e)
                    )?;
                }
            }
        }
    }
    if newline_names > 0 {
        status.raise(Status::Trouble);
        writeln!(
            err,
            "mtree-list: {newline_names} name(s) with a newline not listed; use -0 to list every name"
        )?;
    }
    out.flush()?;
    Ok(status)
}
