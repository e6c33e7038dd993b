//! The name of a path record: what the manifest says and where the file goes under DST.
//!
//! Records carry a root marker as rsync `--relative` does: `SRC/./rel/path` names `rel/path`.

use memchr::memmem;

/// The part of a record that names the file: after the first `/./`; else the record without a
/// leading `./`; else the whole record (`mhash a/b` names `a/b`, as b3sum would).
pub fn name_of(record: &[u8]) -> &[u8] {
    if let Some(i) = memmem::find(record, b"/./") {
        &record[i + 3..]
    } else if record.ends_with(b"/.") || record == b"." {
        // The marked root itself (`SRC/.`, as the walker names it): the empty name.
        &[]
    } else if let Some(rest) = record.strip_prefix(b"./") {
        rest
    } else {
        record
    }
}

/// Why a name may not be used under a destination directory, or `None` when it is safe:
/// no name may be absolute or have an empty, `.` or `..` component, so none can climb out.
pub fn unsafe_reason(name: &[u8]) -> Option<&'static str> {
    if name.is_empty() {
        return Some("empty name");
    }
    if name[0] == b'/' {
        return Some("unsafe name: absolute path");
    }
    for component in name.split(|&b| b == b'/') {
        match component {
            b"" => return Some("unsafe name: empty path component"),
            b"." => return Some("unsafe name: '.' component"),
            b".." => return Some("unsafe name: '..' component"),
            _ => {}
        }
    }
    None
}

/// 128 bits of a name's BLAKE3: a set of names seen costs 16 bytes per name, not the names.
pub fn fingerprint(name: &[u8]) -> u128 {
    let hash = blake3::hash(name);
    u128::from_le_bytes(hash.as_bytes()[..16].try_into().expect("16 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_names_the_rest() {
        assert_eq!(name_of(b"src/./a/b"), b"a/b");
        assert_eq!(name_of(b"./src/./x"), b"x");
        assert_eq!(name_of(b"/mnt/usb/./run/./x"), b"run/./x");
        assert_eq!(name_of(b"/./x"), b"x");
        assert_eq!(name_of(b"src/."), b"");
        assert_eq!(name_of(b"/."), b"");
    }

    #[test]
    fn leading_dot_slash_is_dropped() {
        assert_eq!(name_of(b"./x"), b"x");
        assert_eq!(name_of(b"./a/b"), b"a/b");
    }

    #[test]
    fn unmarked_record_names_itself() {
        assert_eq!(name_of(b"a/b"), b"a/b");
        assert_eq!(name_of(b"/abs/path"), b"/abs/path");
        assert_eq!(name_of(b"..a"), b"..a");
    }

    #[test]
    fn unsafe_names_are_caught() {
        for bad in [&b"/etc/passwd"[..], b"../x", b"a/../b", b"a//b", b"a/./b", b".", b"a/", b""] {
            assert!(unsafe_reason(bad).is_some(), "{:?}", bstr::BStr::new(bad));
        }
        for good in [&b"a"[..], b"a/b", b"..a", b"a..", b".hidden/x", b"a b/\xff\n"] {
            assert_eq!(unsafe_reason(good), None, "{:?}", bstr::BStr::new(good));
        }
    }
}
