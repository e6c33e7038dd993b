//! The manifest format, `<hex>  <name>`, exactly as b3sum and sha256sum write and read it.
//!
//! A name containing `\`, newline or carriage return is escaped (`\\`, `\n`, `\r`) and its line
//! starts with `\` (the coreutils and b3sum rule). With `-z` records end in NUL, unescaped.
//!
//! The reader also takes what the peers write: the `*` binary marker, tagged lines
//! (`BLAKE3 (name) = hex`), CRLF endings, blank lines and `#` comments, gzip compression.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::Path;

use crate::hash::Algo;
use crate::records::RecordReader;

/// Writes one manifest entry.
pub fn write_entry(out: &mut impl Write, hex: &str, name: &[u8], zero: bool) -> io::Result<()> {
    if zero {
        out.write_all(hex.as_bytes())?;
        out.write_all(b"  ")?;
        out.write_all(name)?;
        return out.write_all(b"\0");
    }
    if needs_escape(name) {
        out.write_all(b"\\")?;
        out.write_all(hex.as_bytes())?;
        out.write_all(b"  ")?;
        write_escaped(out, name)?;
    } else {
        out.write_all(hex.as_bytes())?;
        out.write_all(b"  ")?;
        out.write_all(name)?;
    }
    out.write_all(b"\n")
}

/// Writes `name: STATUS` as `sha256sum -c` does: a name that needs escaping is escaped and the
/// line starts with `\`.
pub fn write_status(out: &mut impl Write, name: &[u8], status: &str) -> io::Result<()> {
    if needs_escape(name) {
        out.write_all(b"\\")?;
        write_escaped(out, name)?;
    } else {
        out.write_all(name)?;
    }
    out.write_all(b": ")?;
    out.write_all(status.as_bytes())?;
    out.write_all(b"\n")
}

fn needs_escape(name: &[u8]) -> bool {
    memchr::memchr3(b'\\', b'\n', b'\r', name).is_some()
}

fn write_escaped(out: &mut impl Write, name: &[u8]) -> io::Result<()> {
    let mut rest = name;
    while let Some(i) = memchr::memchr3(b'\\', b'\n', b'\r', rest) {
        out.write_all(&rest[..i])?;
        out.write_all(match rest[i] {
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            _ => b"\\r",
        })?;
        rest = &rest[i + 1..];
    }
    out.write_all(rest)
}

/// Lowercase hex of a digest.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        hex.push(DIGITS[usize::from(b >> 4)] as char);
        hex.push(DIGITS[usize::from(b & 15)] as char);
    }
    hex
}

/// One manifest entry as read.
#[derive(Debug, PartialEq, Eq)]
pub struct Entry {
    /// Lowercase hex digest.
    pub hex: String,
    /// The name, unescaped: raw path bytes relative to the destination.
    pub name: Vec<u8>,
    /// The algorithm a tagged line names for itself.
    pub tag: Option<Algo>,
}

/// Parses one line (without its terminator): `Ok(None)` for a blank line or a `#` comment,
/// `Err(reason)` for a malformed one. With `zero`, records are NUL-terminated and unescaped.
pub fn parse_line(line: &[u8], zero: bool) -> Result<Option<Entry>, &'static str> {
    let line = if zero { line } else { line.strip_suffix(b"\r").unwrap_or(line) };
    if line.iter().all(u8::is_ascii_whitespace) || line.starts_with(b"#") {
        return Ok(None);
    }
    let (escaped, line) = match line.strip_prefix(b"\\") {
        Some(rest) if !zero => (true, rest),
        _ => (false, line),
    };
    let Fields { hex, name: raw_name, tag } = match split_tagged(line)? {
        Some(tagged) => tagged,
        None => split_plain(line)?,
    };
    let name = if escaped { unescape(raw_name)? } else { raw_name.to_vec() };
    if name.is_empty() {
        return Err("empty file name");
    }
    if memchr::memchr(0, &name).is_some() {
        return Err("NUL byte in file name");
    }
    Ok(Some(Entry { hex: parse_hex(hex)?, name, tag }))
}

/// A line's fields before the name is unescaped and the digest checked.
struct Fields<'a> {
    hex: &'a [u8],
    name: &'a [u8],
    tag: Option<Algo>,
}

/// `BLAKE3 (name) = hex` or `SHA256 (name) = hex`, as `b3sum --tag` and `sha256sum --tag` write.
fn split_tagged(line: &[u8]) -> Result<Option<Fields<'_>>, &'static str> {
    let (algo, rest) = if let Some(rest) = line.strip_prefix(b"BLAKE3 (") {
        (Algo::Blake3, rest)
    } else if let Some(rest) = line.strip_prefix(b"SHA256 (") {
        (Algo::Sha256, rest)
    } else {
        return Ok(None);
    };
    // The name may itself contain ") = ": the digest follows the last one.
    let split = memchr::memmem::rfind(rest, b") = ").ok_or("tagged line without ') = '")?;
    Ok(Some(Fields { hex: &rest[split + 4..], name: &rest[..split], tag: Some(algo) }))
}

/// `hex  name` (text mode) or `hex *name` (binary marker).
fn split_plain(line: &[u8]) -> Result<Fields<'_>, &'static str> {
    let space = memchr::memchr(b' ', line).ok_or("no '  ' between checksum and name")?;
    let name = match line.get(space + 1) {
        Some(b' ') | Some(b'*') => &line[space + 2..],
        _ => return Err("no '  ' between checksum and name"),
    };
    Ok(Fields { hex: &line[..space], name, tag: None })
}

fn parse_hex(hex: &[u8]) -> Result<String, &'static str> {
    if hex.len() != 64 {
        return Err("checksum is not 64 hex digits");
    }
    if !hex.iter().all(u8::is_ascii_hexdigit) {
        return Err("checksum has a non-hex character");
    }
    Ok(hex.to_ascii_lowercase().into_iter().map(char::from).collect())
}

fn unescape(name: &[u8]) -> Result<Vec<u8>, &'static str> {
    let mut out = Vec::with_capacity(name.len());
    let mut bytes = name.iter();
    while let Some(&b) = bytes.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        out.push(match bytes.next() {
            Some(b'\\') => b'\\',
            Some(b'n') => b'\n',
            Some(b'r') => b'\r',
            _ => return Err("invalid backslash escape in file name"),
        });
    }
    Ok(out)
}

/// The algorithm a manifest's file name implies: `SHA256SUMS` and `*.sha256` (also gzipped)
/// mean SHA-256, anything else BLAKE3.
pub fn algo_from_file_name(path: &Path) -> Option<Algo> {
    let name = path.file_name()?.as_encoded_bytes();
    let name = name.strip_suffix(b".gz").unwrap_or(name);
    (name == b"SHA256SUMS" || name.ends_with(b".sha256")).then_some(Algo::Sha256)
}

/// Opens a manifest (`None` or `-`: stdin), decompressing it when it starts with the gzip magic.
pub fn open_manifest(path: Option<&Path>) -> io::Result<Box<dyn BufRead + Send>> {
    let raw: Box<dyn Read + Send> = match path {
        None => Box::new(io::stdin()),
        Some(p) if p.as_os_str() == "-" => Box::new(io::stdin()),
        Some(p) => Box::new(File::open(p)?),
    };
    let mut reader = BufReader::with_capacity(256 * 1024, raw);
    if reader.fill_buf()?.starts_with(&GZIP_MAGIC) {
        let decoder = GzipMembers::Member(flate2::bufread::GzDecoder::new(reader));
        return Ok(Box::new(BufReader::with_capacity(256 * 1024, decoder)));
    }
    Ok(Box::new(reader))
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// A gzip stream read as `zcat` reads it: member after member, then the zero padding that
/// tapes and block-sized writers leave at the end is ignored; anything else after the last
/// member is an error, not a silent end.
enum GzipMembers<R: BufRead> {
    Member(flate2::bufread::GzDecoder<R>),
    /// After a member: another member, padding or the end.
    Between(R),
    /// Inside the zero padding, which must run to the end.
    Padding(R),
    Done,
}

fn trailing_garbage() -> io::Error {
    io::Error::other("trailing garbage after the gzip data")
}

impl<R: BufRead> GzipMembers<R> {
    /// Moves on to the next state, taking the reader along.
    fn advance(&mut self, next: fn(R) -> GzipMembers<R>) {
        *self = match std::mem::replace(self, GzipMembers::Done) {
            GzipMembers::Member(decoder) => next(decoder.into_inner()),
            GzipMembers::Between(inner) | GzipMembers::Padding(inner) => next(inner),
            GzipMembers::Done => GzipMembers::Done,
        };
    }
}

impl<R: BufRead> Read for GzipMembers<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self {
                GzipMembers::Member(decoder) => {
                    let n = decoder.read(buf)?;
                    if n > 0 || buf.is_empty() {
                        return Ok(n);
                    }
                    self.advance(GzipMembers::Between);
                }
                GzipMembers::Between(inner) => match inner.fill_buf()? {
                    [] => self.advance(|_| GzipMembers::Done),
                    [0, ..] => self.advance(GzipMembers::Padding),
                    ahead if ahead.starts_with(&GZIP_MAGIC[..ahead.len().min(2)]) => {
                        self.advance(|inner| GzipMembers::Member(flate2::bufread::GzDecoder::new(inner)))
                    }
                    _ => return Err(trailing_garbage()),
                },
                GzipMembers::Padding(inner) => match inner.fill_buf()? {
                    [] => self.advance(|_| GzipMembers::Done),
                    ahead if ahead.iter().all(|&b| b == 0) => {
                        let n = ahead.len();
                        inner.consume(n);
                    }
                    _ => return Err(trailing_garbage()),
                },
                GzipMembers::Done => return Ok(0),
            }
        }
    }
}

/// Longest manifest line kept: a name is at most PATH_MAX (4096) bytes, doubled by escaping,
/// plus a tag and a digest. A longer line is reported, and skipped without being buffered.
pub const MAX_LINE: usize = 16 * 1024;

/// The lines of a manifest (NUL-terminated records with `zero`), numbered, in bounded memory.
pub fn manifest_lines<R: BufRead>(manifest: R, zero: bool) -> RecordReader<R> {
    RecordReader::new(manifest, zero, MAX_LINE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &[u8], zero: bool) -> Vec<u8> {
        let mut out = Vec::new();
        write_entry(&mut out, "ab01", name, zero).unwrap();
        out
    }

    #[test]
    fn plain_name_is_written_raw() {
        assert_eq!(entry(b"dir/a b\xff", false), b"ab01  dir/a b\xff\n");
    }

    #[test]
    fn backslash_newline_and_cr_are_escaped_with_a_leading_backslash() {
        assert_eq!(entry(b"a\\b\nc\rd", false), b"\\ab01  a\\\\b\\nc\\rd\n");
    }

    #[test]
    fn zero_mode_writes_raw_and_nul_terminated() {
        assert_eq!(entry(b"a\\b\nc", true), b"ab01  a\\b\nc\0");
    }

    #[test]
    fn hex_is_lowercase() {
        assert_eq!(to_hex(&[0x00, 0xAB, 0xff]), "00abff");
    }

    const H: &str = "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85";

    fn parsed(line: &str) -> Result<Option<Entry>, &'static str> {
        parse_line(line.as_bytes(), false)
    }

    fn ok(line: &str) -> (String, Vec<u8>, Option<Algo>) {
        let e = parsed(line).unwrap().unwrap();
        (e.hex, e.name, e.tag)
    }

    #[test]
    fn reads_every_form_the_peers_write() {
        let want = (H.to_string(), b"dir/a b".to_vec(), None);
        assert_eq!(ok(&format!("{H}  dir/a b")), want);
        assert_eq!(ok(&format!("{H} *dir/a b")), want);
        assert_eq!(ok(&format!("{H}  dir/a b\r")), want);
        assert_eq!(ok(&format!("{}  dir/a b", H.to_uppercase())), want);
        assert_eq!(
            ok(&format!("BLAKE3 (dir/a b) = {H}")),
            (H.into(), b"dir/a b".to_vec(), Some(Algo::Blake3))
        );
        assert_eq!(ok(&format!("SHA256 (x) = y) = {H}")), (H.into(), b"x) = y".to_vec(), Some(Algo::Sha256)));
        assert_eq!(ok(&format!("\\{H}  a\\\\b\\nc\\rd")), (H.into(), b"a\\b\nc\rd".to_vec(), None));
        assert_eq!(ok(&format!("\\SHA256 (a\\nb) = {H}")), (H.into(), b"a\nb".to_vec(), Some(Algo::Sha256)));
    }

    #[test]
    fn blank_and_comment_lines_are_skipped() {
        assert_eq!(parsed(""), Ok(None));
        assert_eq!(parsed("  \r"), Ok(None));
        assert_eq!(parsed("# made by mhash"), Ok(None));
    }

    #[test]
    fn zero_records_are_not_unescaped() {
        let e = parse_line(format!("{H}  a\\nb\r").as_bytes(), true).unwrap().unwrap();
        assert_eq!(e.name, b"a\\nb\r");
    }

    #[test]
    fn malformed_lines_say_why() {
        assert_eq!(parsed("abc  name"), Err("checksum is not 64 hex digits"));
        assert_eq!(parsed(&format!("{}  name", "g".repeat(64))), Err("checksum has a non-hex character"));
        assert_eq!(parsed(&format!("{H} name")), Err("no '  ' between checksum and name"));
        assert_eq!(parsed(H), Err("no '  ' between checksum and name"));
        assert_eq!(parsed(&format!("{H}  ")), Err("empty file name"));
        assert_eq!(parsed(&format!("\\{H}  a\\tb")), Err("invalid backslash escape in file name"));
        assert_eq!(parsed(&format!("BLAKE3 (a = {H}")), Err("tagged line without ') = '"));
        assert_eq!(parse_line(format!("{H}  a\0b").as_bytes(), false), Err("NUL byte in file name"));
    }

    #[test]
    fn writer_and_reader_round_trip() {
        for name in [&b"plain"[..], b"a\\b", b"new\nline", b"cr\rx", b"\xff\xfe"] {
            for zero in [false, true] {
                let mut out = Vec::new();
                write_entry(&mut out, H, name, zero).unwrap();
                out.pop();
                assert_eq!(parse_line(&out, zero).unwrap().unwrap().name, name);
            }
        }
    }

    #[test]
    fn algo_follows_the_file_name() {
        assert_eq!(algo_from_file_name(Path::new("/x/SHA256SUMS")), Some(Algo::Sha256));
        assert_eq!(algo_from_file_name(Path::new("run.sha256.gz")), Some(Algo::Sha256));
        assert_eq!(algo_from_file_name(Path::new("BLAKE3SUMS")), None);
    }
}
