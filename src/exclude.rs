//! `--exclude GLOB`, matched as rsync does: a pattern with a `/` against the name (the path
//! after the root marker; a leading `/` anchors it at the root, otherwise it may match the
//! last components), one without against each base name; a trailing `/` matches directories only.

use std::ffi::OsStr;
use std::path::Path;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

#[derive(Clone, Debug)]
pub struct Exclude {
    base: [GlobSet; 2],
    name: [GlobSet; 2],
}

impl Default for Exclude {
    fn default() -> Self {
        Exclude { base: [GlobSet::empty(), GlobSet::empty()], name: [GlobSet::empty(), GlobSet::empty()] }
    }
}

impl Exclude {
    /// Compiles the patterns; an invalid one is an error naming it.
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<Exclude, String> {
        // Index 0: any entry; index 1: directories only.
        let mut base = [GlobSetBuilder::new(), GlobSetBuilder::new()];
        let mut name = [GlobSetBuilder::new(), GlobSetBuilder::new()];
        for pattern in patterns {
            let pattern = pattern.as_ref();
            let (body, dirs_only) = match pattern.strip_suffix('/') {
                Some(body) if !body.is_empty() => (body, 1),
                _ => (pattern, 0),
            };
            let (glob, builder) = if let Some(anchored) = body.strip_prefix('/') {
                (anchored.to_string(), &mut name[dirs_only])
            } else if body.contains('/') {
                (format!("{{{body},**/{body}}}"), &mut name[dirs_only])
            } else {
                (body.to_string(), &mut base[dirs_only])
            };
            let compiled = GlobBuilder::new(&glob)
                .literal_separator(true)
                .backslash_escape(true)
                .build()
                .map_err(|e| format!("invalid --exclude pattern '{pattern}': {}", e.kind()))?;
            builder.add(compiled);
        }
        let build = |b: GlobSetBuilder| b.build().map_err(|e| e.to_string());
        let [b0, b1] = base;
        let [n0, n1] = name;
        Ok(Exclude { base: [build(b0)?, build(b1)?], name: [build(n0)?, build(n1)?] })
    }

    pub fn is_empty(&self) -> bool {
        self.base.iter().chain(&self.name).all(GlobSet::is_empty)
    }

    /// True when the entry `name` (relative to the root), whose last component is `base`,
    /// is excluded.
    pub fn matches(&self, name: &Path, base: &OsStr, is_dir: bool) -> bool {
        let hit = |i: usize| self.base[i].is_match(base) || self.name[i].is_match(name);
        hit(0) || (is_dir && hit(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn excluded(patterns: &[&str], name: &str, is_dir: bool) -> bool {
        let ex = Exclude::new(patterns).unwrap();
        let path = Path::new(name);
        ex.matches(path, path.file_name().unwrap(), is_dir)
    }

    #[test]
    fn pattern_without_slash_matches_any_base_name() {
        assert!(excluded(&["*.tmp"], "a/b/c.tmp", false));
        assert!(excluded(&["BLAKE3SUMS"], "BLAKE3SUMS", false));
        assert!(!excluded(&["BLAKE3SUMS"], "x/BLAKE3SUMS.old", false));
    }

    #[test]
    fn pattern_with_slash_matches_trailing_components_unless_anchored() {
        assert!(excluded(&["sub/*.fq"], "sub/x.fq", false));
        assert!(excluded(&["sub/*.fq"], "run/sub/x.fq", false));
        assert!(!excluded(&["sub/*.fq"], "sub/deeper/x.fq", false));
        assert!(excluded(&["/BLAKE3SUMS"], "BLAKE3SUMS", false));
        assert!(!excluded(&["/BLAKE3SUMS"], "sub/BLAKE3SUMS", false));
    }

    #[test]
    fn trailing_slash_matches_directories_only() {
        assert!(excluded(&["tmp/"], "a/tmp", true));
        assert!(!excluded(&["tmp/"], "a/tmp", false));
    }

    #[test]
    fn invalid_pattern_is_named() {
        let err = Exclude::new(&["a[b"]).unwrap_err();
        assert!(err.contains("a[b"), "{err}");
    }
}
