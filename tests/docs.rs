//! The man pages, the install, and what they promise.

mod common;

use common::{Env, run, tool_path};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

const TOOLS: &[&str] = &["mtree-list", "mhash", "mcopy", "mcheck", "run-mirror"];

fn long_options(help: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for word in help.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')) {
        if let Some(name) =
            word.strip_prefix("--").filter(|n| n.chars().next().is_some_and(|c| c.is_ascii_alphabetic()))
        {
            found.insert(format!("--{name}"));
        }
    }
    found
}

fn page(tool: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("man").join(format!("{tool}.1"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).replace("\\-", "-")
}

#[test]
fn every_long_option_of_help_is_in_the_man_page() {
    for tool in TOOLS {
        let out = run(Command::new(tool_path(tool)).arg("--help"), "");
        assert_eq!(out.status, 0, "{tool} --help");
        let options = long_options(out.stdout_str());
        assert!(options.len() >= 3, "{tool}: {options:?}");
        let page = page(tool);
        for option in options {
            assert!(page.contains(&option), "{tool}.1 does not mention {option}");
        }
    }
}

#[test]
fn man_pages_have_the_sections_and_lint_clean() {
    for tool in TOOLS {
        let page = page(tool);
        for section in [
            "NAME",
            "SYNOPSIS",
            "DESCRIPTION",
            "OPTIONS",
            "EXIT STATUS",
            "ENVIRONMENT",
            "EXAMPLES",
            "SEE ALSO",
        ] {
            assert!(page.contains(&format!(".SH {section}")), "{tool}.1 lacks {section}");
        }
        let Some(mandoc) = common::peer("mandoc") else { continue };
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("man").join(format!("{tool}.1"));
        let lint = Command::new(mandoc).args(["-T", "lint", "-W", "warning"]).arg(&path).output().unwrap();
        assert!(lint.status.success(), "{tool}.1: {}", String::from_utf8_lossy(&lint.stdout));
    }
}

#[test]
fn make_install_then_the_installed_run_mirror_works_end_to_end() {
    let env = Env::new();
    let destdir = env.path("root");
    // CARGO=true: the release build is the one these tests run, already made.
    let install = Command::new("make")
        .args(["--no-print-directory", "install", "PREFIX=/usr", "CARGO=true"])
        .arg(format!("DESTDIR={}", destdir.display()))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(install.status.success(), "{}", String::from_utf8_lossy(&install.stderr));
    for tool in TOOLS {
        assert!(destdir.join("usr/bin").join(tool).is_file(), "{tool} installed");
        assert!(destdir.join("usr/share/man/man1").join(format!("{tool}.1")).is_file(), "{tool}.1 installed");
    }
    env.write("src/a/b", common::bytes(1, 100_000));
    env.write("src/c", "c");
    let out = run(
        Command::new(destdir.join("usr/bin/run-mirror")).args(["src", "dst"]).current_dir(env.root()),
        "",
    );
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(!out.stderr.contains("building"), "the installed script uses the installed tools");
    assert_eq!(std::fs::read(env.path("dst/a/b")).unwrap(), common::bytes(1, 100_000));
    let uninstall = Command::new("make")
        .args(["--no-print-directory", "uninstall", "PREFIX=/usr"])
        .arg(format!("DESTDIR={}", destdir.display()))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(uninstall.status.success());
    let left = Command::new("find").arg(&destdir).args(["-type", "f"]).output().unwrap();
    assert!(left.stdout.is_empty(), "{}", String::from_utf8_lossy(&left.stdout));
}

#[test]
fn every_tool_has_a_version() {
    for tool in TOOLS {
        let out = run(Command::new(tool_path(tool)).arg("--version"), "");
        assert_eq!(out.status, 0);
        assert!(out.stdout_str().starts_with(&format!("{tool} 0.1.0")), "{}", out.stdout_str());
    }
}
