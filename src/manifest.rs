//! The manifest format, `<hex>  <name>`, exactly as b3sum and sha256sum write and read it.
//!
//! A name containing `\`, newline or carriage return is escaped (`\\`, `\n`, `\r`) and its line
//! starts with `\` (the coreutils and b3sum rule). With `-z` records end in NUL, unescaped.

use std::io::{self, Write};

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
}
