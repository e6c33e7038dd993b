//! `mcopy --expect MANIFEST`: the digest a manifest promises for each name, looked up while
//! the manifest is read as a stream.
//!
//! The manifest is read only as far as the lookups need; entries read past are kept until
//! asked for. When the manifest and the copy follow the same order (both made from one
//! listing of SRC, as run-mirror does) almost nothing is kept: memory stays bounded.

use std::collections::HashMap;
use std::io::BufRead;
use std::sync::Mutex;

use crate::hash::Algo;
use crate::manifest::{manifest_lines, parse_line};
use crate::records::{RecordError, RecordReader};

pub enum Lookup {
    /// The manifest's digest for the name, and the algorithm it is in.
    Found(String, Algo),
    NotNamed,
}

struct State {
    lines: RecordReader<Box<dyn BufRead + Send>>,
    pending: HashMap<Vec<u8>, (String, Algo)>,
    /// Problems met in the manifest, for the caller to report.
    messages: Vec<String>,
    finished: bool,
}

pub struct Expect {
    label: String,
    algo: Algo,
    zero: bool,
    state: Mutex<State>,
}

impl Expect {
    /// `algo` is for lines without a tag.
    pub fn new(manifest: Box<dyn BufRead + Send>, label: String, algo: Algo, zero: bool) -> Expect {
        let state = State {
            lines: manifest_lines(manifest, zero),
            pending: HashMap::new(),
            messages: Vec::new(),
            finished: false,
        };
        Expect { label, algo, zero, state: Mutex::new(state) }
    }

    /// The digest the manifest gives for `name` (each name answers once: a copy asks once).
    pub fn lookup(&self, name: &[u8]) -> Lookup {
        let mut state = self.state.lock().expect("not poisoned");
        if let Some((hex, algo)) = state.pending.remove(name) {
            return Lookup::Found(hex, algo);
        }
        while !state.finished {
            let Some((number, line)) = state.lines.next() else {
                state.finished = true;
                break;
            };
            let entry = match line.map_err(|e| match e {
                RecordError::TooLong => "line too long".to_string(),
                RecordError::Io(e) => crate::error::io_reason(&e),
            }) {
                Ok(line) => parse_line(&line, self.zero).map_err(str::to_string),
                Err(e) => Err(e),
            };
            match entry {
                Ok(None) => {}
                Ok(Some(entry)) => {
                    let algo = entry.tag.unwrap_or(self.algo);
                    if entry.name == name {
                        return Lookup::Found(entry.hex, algo);
                    }
                    // The first line for a name wins, as a checker reading top-down would see it.
                    state.pending.entry(entry.name).or_insert((entry.hex, algo));
                }
                Err(reason) => {
                    let message = format!("{}:{number}: {reason}", self.label);
                    state.messages.push(message);
                }
            }
        }
        Lookup::NotNamed
    }

    /// Problems found in the manifest since the last call.
    pub fn take_messages(&self) -> Vec<String> {
        std::mem::take(&mut self.state.lock().expect("not poisoned").messages)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    fn expect(text: &str) -> Expect {
        Expect::new(Box::new(io::Cursor::new(text.as_bytes().to_vec())), "M".into(), Algo::Blake3, false)
    }

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    fn found(e: &Expect, name: &str) -> Option<String> {
        match e.lookup(name.as_bytes()) {
            Lookup::Found(hex, _) => Some(hex),
            Lookup::NotNamed => None,
        }
    }

    #[test]
    fn finds_names_in_any_order_and_each_once() {
        let e = expect(&format!("{A}  x\n{B}  y\nSHA256 (z) = {A}\n"));
        assert_eq!(found(&e, "y"), Some(B.into()));
        assert_eq!(found(&e, "x"), Some(A.into()));
        assert!(matches!(e.lookup(b"z"), Lookup::Found(_, Algo::Sha256)));
        assert_eq!(found(&e, "x"), None);
        assert_eq!(found(&e, "nope"), None);
    }

    #[test]
    fn malformed_lines_are_kept_for_the_caller() {
        let e = expect(&format!("junk\n{A}  x\n"));
        assert_eq!(found(&e, "x"), Some(A.into()));
        assert_eq!(e.take_messages(), ["M:1: no '  ' between checksum and name"]);
    }

    #[test]
    fn the_first_line_for_a_name_wins() {
        let e = expect(&format!("{A}  y\n{B}  y\n{A}  x\n"));
        assert_eq!(found(&e, "x"), Some(A.into()));
        assert_eq!(found(&e, "y"), Some(A.into()));
    }
}
