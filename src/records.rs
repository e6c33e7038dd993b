//! Path streams: one record per path, newline- or NUL-terminated (`find -print0`, `xargs -0`).

use std::io::{self, BufRead, BufReader, Read, Write};

/// Large reads: a path stream can carry millions of records.
const READ_BUFFER: usize = 256 * 1024;

/// Longest path record kept: a path is at most PATH_MAX (4096) bytes on Linux.
pub const MAX_PATH_RECORD: usize = 16 * 1024;

/// Why a record could not be read.
#[derive(Debug)]
pub enum RecordError {
    /// Longer than the reader's limit: consumed, not kept.
    TooLong,
    /// The stream failed; the reader ends after reporting it.
    Io(io::Error),
}

/// Says on stderr that path records are awaited when stdin is a terminal, so a user who
/// forgot the pipe is not left facing a silent wait.
pub fn note_if_terminal(tool: &str) {
    use std::io::IsTerminal;
    if io::stdin().is_terminal() {
        eprintln!("{tool}: reading path records from standard input (end with Ctrl-D)");
    }
}

/// Reads records terminated by NUL or newline (the last one may lack it), numbered from 1,
/// in bounded memory: a record over `max` bytes is reported and skipped without being
/// buffered. After an I/O error it ends, so a failing stream (a truncated gzip) cannot
/// repeat its error forever. Path streams and manifests both read through it.
pub struct RecordReader<R> {
    inner: R,
    terminator: u8,
    max: usize,
    number: u64,
    failed: bool,
}

impl<R: BufRead> RecordReader<R> {
    pub fn new(inner: R, null: bool, max: usize) -> Self {
        RecordReader { inner, terminator: if null { b'\0' } else { b'\n' }, max, number: 0, failed: false }
    }
}

impl<R: BufRead> Iterator for RecordReader<R> {
    type Item = (u64, Result<Vec<u8>, RecordError>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let mut record = Vec::new();
        let mut too_long = false;
        let mut any = false;
        loop {
            let buf = match self.inner.fill_buf() {
                Ok(buf) => buf,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.failed = true;
                    self.number += 1;
                    return Some((self.number, Err(RecordError::Io(e))));
                }
            };
            if buf.is_empty() {
                if !any {
                    return None;
                }
                break;
            }
            any = true;
            let (take, done) = match memchr::memchr(self.terminator, buf) {
                Some(i) => (i, true),
                None => (buf.len(), false),
            };
            if !too_long {
                if record.len() + take > self.max {
                    too_long = true;
                    record = Vec::new();
                } else {
                    record.extend_from_slice(&buf[..take]);
                }
            }
            self.inner.consume(if done { take + 1 } else { take });
            if done {
                break;
            }
        }
        self.number += 1;
        Some((self.number, if too_long { Err(RecordError::TooLong) } else { Ok(record) }))
    }
}

/// The path records of a stream (stdin, say), with a record too long to be a path reported
/// as an error naming its number.
pub fn path_records(reader: impl Read, null: bool) -> impl Iterator<Item = io::Result<Vec<u8>>> {
    let records = RecordReader::new(BufReader::with_capacity(READ_BUFFER, reader), null, MAX_PATH_RECORD);
    records.map(|(number, record)| match record {
        Ok(bytes) => Ok(bytes),
        Err(RecordError::TooLong) => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("path record {number} is longer than {MAX_PATH_RECORD} bytes: not a path"),
        )),
        Err(RecordError::Io(e)) => Err(e),
    })
}

/// Writes one record. In newline mode a name containing a newline cannot be written
/// unambiguously: the caller must check [`fits_newline_mode`] first.
pub fn write_record(out: &mut impl Write, bytes: &[u8], null: bool) -> io::Result<()> {
    out.write_all(bytes)?;
    out.write_all(if null { b"\0" } else { b"\n" })
}

/// False for a path that a newline-terminated stream cannot carry.
pub fn fits_newline_mode(bytes: &[u8]) -> bool {
    memchr::memchr(b'\n', bytes).is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(input: &[u8], null: bool) -> Vec<Vec<u8>> {
        path_records(input, null).map(Result::unwrap).collect()
    }

    #[test]
    fn newline_records_keep_carriage_returns_and_spaces() {
        assert_eq!(read_all(b"a b\nc\r\n d", false), vec![b"a b".to_vec(), b"c\r".to_vec(), b" d".to_vec()]);
    }

    #[test]
    fn null_records_carry_newlines() {
        assert_eq!(read_all(b"a\nb\0c\0", true), vec![b"a\nb".to_vec(), b"c".to_vec()]);
    }

    #[test]
    fn empty_record_is_kept_for_the_caller_to_report() {
        assert_eq!(read_all(b"a\n\nb\n", false), vec![b"a".to_vec(), b"".to_vec(), b"b".to_vec()]);
    }

    #[test]
    fn an_over_long_record_is_skipped_in_bounded_memory_and_counted() {
        let mut input = b"a\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 10 * MAX_PATH_RECORD));
        input.extend_from_slice(b"\nb\r\nc");
        let records: Vec<_> = RecordReader::new(&input[..], false, MAX_PATH_RECORD).collect();
        assert_eq!(records.len(), 4);
        assert!(matches!(&records[0], (1, Ok(r)) if r == b"a"));
        assert!(matches!(&records[1], (2, Err(RecordError::TooLong))));
        assert!(matches!(&records[2], (3, Ok(r)) if r == b"b\r"));
        assert!(matches!(&records[3], (4, Ok(r)) if r == b"c"));
        let paths: Vec<_> = path_records(&input[..], false).collect();
        let err = paths[1].as_ref().unwrap_err();
        assert_eq!(err.to_string(), "path record 2 is longer than 16384 bytes: not a path");
    }

    /// A reader that fails on every read after its data, as a truncated gzip stream does.
    struct FailsForever(&'static [u8]);

    impl Read for FailsForever {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "corrupt deflate stream"));
            }
            let n = self.0.len().min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn a_stream_that_keeps_failing_is_reported_once_then_ends() {
        let records: Vec<_> = RecordReader::new(BufReader::new(FailsForever(b"a\nb")), false, 100).collect();
        assert_eq!(records.len(), 2, "{records:?}");
        assert!(matches!(&records[0], (1, Ok(r)) if r == b"a"));
        assert!(matches!(&records[1], (2, Err(RecordError::Io(_)))));
    }
}
