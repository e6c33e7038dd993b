//! Exit status shared by every tool, and the quiet end on a broken pipe.

use std::io;

/// The exit status of a run; the worst outcome wins (`Trouble` over `Failed` over `Ok`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Status {
    /// Everything succeeded.
    #[default]
    Ok = 0,
    /// Verification failed: a mismatch, a missing or unreadable file at the destination.
    Failed = 1,
    /// Usage error, I/O error at the source, malformed or unsafe input.
    Trouble = 2,
}

impl Status {
    /// Records `other`, keeping whichever outcome is worse.
    pub fn raise(&mut self, other: Status) {
        *self = (*self).max(other);
    }

    pub fn code(self) -> i32 {
        self as i32
    }
}

/// True when an output error means the reader went away (`mtree-list | head`): not an error.
pub fn is_broken_pipe(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::BrokenPipe
}

/// Turns the result of writing the tool's output into an exit code: a broken pipe ends quietly
/// with 0, any other write error is reported and gives 2.
pub fn finish(tool: &str, result: io::Result<Status>) -> i32 {
    match result {
        Ok(status) => status.code(),
        Err(err) if is_broken_pipe(&err) => 0,
        Err(err) => {
            eprintln!("{tool}: write error: {}", crate::error::io_reason(&err));
            Status::Trouble.code()
        }
    }
}
