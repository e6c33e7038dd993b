//! Path streams: one record per path, newline- or NUL-terminated (`find -print0`, `xargs -0`).

use std::io::{self, BufRead, BufReader, Read, Write};

/// Large reads: a path stream can carry millions of records.
const READ_BUFFER: usize = 256 * 1024;

/// Reads records terminated by `terminator`; the last one may lack it.
pub struct RecordReader<R> {
    inner: BufReader<R>,
    terminator: u8,
    number: u64,
}

impl<R: Read> RecordReader<R> {
    pub fn new(reader: R, null: bool) -> Self {
        RecordReader {
            inner: BufReader::with_capacity(READ_BUFFER, reader),
            terminator: if null { b'\0' } else { b'\n' },
            number: 0,
        }
    }
}

/// One record with its 1-based position in the stream, for error messages.
#[derive(Debug, PartialEq, Eq)]
pub struct Record {
    pub number: u64,
    pub bytes: Vec<u8>,
}

impl<R: Read> Iterator for RecordReader<R> {
    type Item = io::Result<Record>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut bytes = Vec::new();
        match self.inner.read_until(self.terminator, &mut bytes) {
            Ok(0) => None,
            Ok(_) => {
                if bytes.last() == Some(&self.terminator) {
                    bytes.pop();
                }
                self.number += 1;
                Some(Ok(Record { number: self.number, bytes }))
            }
            Err(err) => Some(Err(err)),
        }
    }
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
        RecordReader::new(input, null).map(|r| r.unwrap().bytes).collect()
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
        assert_eq!(RecordReader::new(&b"a\n\nb"[..], false).nth(2).unwrap().unwrap().number, 3);
    }
}
