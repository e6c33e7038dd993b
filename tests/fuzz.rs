//! A mutation fuzzer for the parsers that read untrusted input (manifests and path streams),
//! on the stable toolchain. It starts from the seed corpus in `fuzz/corpus/`, mutates, and
//! checks that nothing panics and that what parses keeps its invariants.
//!
//! `make test` runs each target for FUZZ_SECONDS (default 2); `make fuzz` for longer.

use std::io::Cursor;
use std::path::Path;
use std::time::{Duration, Instant};

use mirror_tools::expect::{Expect, Lookup};
use mirror_tools::hash::Algo;
use mirror_tools::manifest::{MAX_LINE, manifest_lines, parse_line, write_entry};
use mirror_tools::name::{name_of, unsafe_reason};
use mirror_tools::records::{RecordError, path_records};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const TOKENS: &[&[u8]] = &[
    b"\\",
    b"\n",
    b"\r",
    b"\0",
    b"  ",
    b" *",
    b"BLAKE3 (",
    b"SHA256 (",
    b") = ",
    b"/./",
    b"..",
    b"/",
    b".",
    b"#",
    b"\xff",
    b"\xef\xbf\xbd",
    b"\\n",
    b"\\r",
    b"\\\\",
];

fn seeds(kind: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(kind);
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    seeds.sort();
    assert!(!seeds.is_empty());
    seeds
}

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut data = seeds[rng.below(seeds.len())].clone();
    for _ in 0..1 + rng.below(8) {
        let at = rng.below(data.len() + 1);
        match rng.below(7) {
            0 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] ^= 1 << rng.below(8);
            }
            1 => data.insert(at, rng.next() as u8),
            2 => {
                let token = TOKENS[rng.below(TOKENS.len())];
                data.splice(at..at, token.iter().copied());
            }
            3 if !data.is_empty() => {
                let end = (at + rng.below(16)).min(data.len());
                data.drain(at.min(end)..end);
            }
            4 => {
                let other = &seeds[rng.below(seeds.len())];
                let from = rng.below(other.len());
                data.splice(at..at, other[from..].iter().copied());
            }
            5 => data.truncate(at),
            _ => {
                let end = (at + rng.below(32)).min(data.len());
                let copy = data[at.min(end)..end].to_vec();
                data.splice(at..at, copy);
            }
        }
    }
    data
}

fn budget() -> Duration {
    let secs = std::env::var("FUZZ_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(2.0);
    Duration::from_secs_f64(secs)
}

fn fuzz(kind: &str, seed: u64, check: impl Fn(&[u8])) {
    let seeds = seeds(kind);
    for s in &seeds {
        check(s);
    }
    let mut rng = Rng(seed);
    let deadline = Instant::now() + budget();
    let mut runs = 0u64;
    while Instant::now() < deadline {
        check(&mutate(&mut rng, &seeds));
        runs += 1;
    }
    eprintln!("fuzz {kind}: {runs} inputs");
}

/// What parses must read back the same after writing; digests are lowercase hex.
fn check_manifest(input: &[u8]) {
    for zero in [false, true] {
        for (_, line) in manifest_lines(Cursor::new(input), zero) {
            let line = match line {
                Ok(line) => line,
                Err(RecordError::TooLong) => continue,
                Err(RecordError::Io(e)) => panic!("{e}"),
            };
            assert!(line.len() <= MAX_LINE);
            let Ok(Some(entry)) = parse_line(&line, zero) else { continue };
            assert_eq!(entry.hex.len(), 64);
            assert!(entry.hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
            assert!(!entry.name.is_empty() && !entry.name.contains(&0));
            let mut written = Vec::new();
            write_entry(&mut written, &entry.hex, &entry.name, zero).unwrap();
            written.pop();
            let again = parse_line(&written, zero).unwrap().unwrap();
            assert_eq!(
                (again.hex, again.name),
                (entry.hex, entry.name.clone()),
                "round trip of {:?}",
                bstr(&line)
            );
            if unsafe_reason(&entry.name).is_none() {
                assert_safe(&entry.name);
            }
        }
    }
    let expect = Expect::new(Box::new(Cursor::new(input.to_vec())), "fuzz".into(), Algo::Blake3, false);
    if let Lookup::Found(hex, _) = expect.lookup(b"a") {
        assert_eq!(hex.len(), 64);
    }
    let _ = expect.take_messages();
}

/// A name called safe cannot climb out of the directory it is joined to.
fn assert_safe(name: &[u8]) {
    assert!(!name.starts_with(b"/"));
    for component in name.split(|&b| b == b'/') {
        assert!(component != b".." && component != b"." && !component.is_empty(), "{:?}", bstr(name));
    }
}

fn check_paths(input: &[u8]) {
    for null in [false, true] {
        for record in path_records(input, null) {
            let record = match record {
                Ok(record) => record,
                // The only error a slice can give: a record too long to be a path.
                Err(e) => {
                    assert_eq!(e.kind(), std::io::ErrorKind::InvalidData, "{e}");
                    continue;
                }
            };
            let name = name_of(&record);
            assert!(record.ends_with(name), "the name is the record's tail");
            if unsafe_reason(name).is_none() {
                assert_safe(name);
            }
        }
    }
}

fn bstr(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn fuzz_manifest_parser() {
    fuzz("manifest", 0x9E37_79B9_7F4A_7C15, check_manifest);
}

#[test]
fn fuzz_path_stream_parser() {
    fuzz("paths", 0xD1B5_4A32_D192_ED03, check_paths);
}
