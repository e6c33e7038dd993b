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

/// What a closed stdout (a broken pipe) means for a tool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnBrokenPipe {
    /// A listing tool (`mtree-list | head`): the reader has what it wanted; end quietly, 0.
    Quiet,
    /// A verifier or a copier: its job is unfinished, which is never a success; 2.
    Unfinished,
}

/// Turns the result of writing the tool's output into an exit code. Any write error other
/// than a broken pipe is reported and gives 2; a broken pipe follows `on_broken_pipe`.
pub fn finish(tool: &str, result: io::Result<Status>, on_broken_pipe: OnBrokenPipe) -> i32 {
    match result {
        Ok(status) => status.code(),
        Err(err) if is_broken_pipe(&err) && on_broken_pipe == OnBrokenPipe::Quiet => 0,
        Err(err) if is_broken_pipe(&err) => {
            eprintln!(
                "{tool}: standard output was closed (broken pipe): stopped before the end, not finished"
            );
            Status::Trouble.code()
        }
        Err(err) => {
            eprintln!("{tool}: write error: {}", crate::error::io_reason(&err));
            Status::Trouble.code()
        }
    }
}
