//! mirror-tools: list, hash, copy and verify trees of files, with proof that every byte arrived.
//!
//! The binaries in `src/bin/` only parse flags; every piece of logic lives in one of these
//! modules, one concept each.

pub mod at;
pub mod cleanup;
pub mod cli;
pub mod copy;
pub mod dest;
pub mod dest_lock;
pub mod device;
pub mod disk_read;
pub mod error;
pub mod exclude;
pub mod expect;
pub mod hash;
pub mod link;
pub mod list_tree;
pub mod make_manifest;
pub mod manifest;
pub mod mapped;
pub mod mirror;
pub mod name;
pub mod ordered;
pub mod output_file;
pub mod page_cache;
pub mod physical;
pub mod progress;
pub mod record;
pub mod records;
pub mod source;
pub mod status;
pub mod temporary;
pub mod verified;
pub mod verify;
pub mod walk;
