//! Tidy checks for this crate's sources: every `.rs` file starts with a `//!` module doc,
//! library code has no `unwrap()` and nothing that does I/O or reads the clock, and the
//! public types can move between threads.

#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::{Path, PathBuf};

fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rs_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn sources(dirs: &[&str]) -> Vec<(PathBuf, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in dirs {
        rs_files(&root.join(dir), &mut files);
    }
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p, text)
        })
        .collect()
}

#[test]
fn every_file_starts_with_a_module_doc() {
    let files = sources(&["src", "tests"]);
    assert!(files.len() > 15);
    for (path, text) in files {
        assert!(
            text.starts_with("//!"),
            "{} does not start with a //! doc",
            path.display()
        );
    }
}

#[test]
fn library_code_is_pure_and_never_unwraps() {
    let forbidden = [
        ".unwrap()",
        "std::fs",
        "std::net",
        "std::process",
        "std::env",
        "SystemTime",
        "Instant",
        "thread_rng",
        "HashMap",
        "HashSet",
    ];
    for (path, text) in sources(&["src"]) {
        for pattern in forbidden {
            assert!(!text.contains(pattern), "{} uses {pattern}", path.display());
        }
    }
}

#[test]
fn public_types_are_send_and_sync() {
    fn check<T: Send + Sync + Clone>() {}
    check::<keel_deploy::DeploymentPlan>();
    check::<keel_deploy::Instance>();
    check::<keel_deploy::Progress>();
    check::<keel_deploy::Reconcile>();
    check::<keel_deploy::BackoffState>();
    check::<keel_deploy::DeployError>();
}
