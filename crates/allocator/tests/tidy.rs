//! Tidy checks for this crate's sources: every `.rs` file starts with a `//!` module doc,
//! library code has no `unwrap()`, and the allocator can move between threads.

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
    let files = sources(&["src", "tests", "examples"]);
    assert!(files.len() > 10);
    for (path, text) in files {
        assert!(
            text.starts_with("//!"),
            "{} does not start with a //! doc",
            path.display()
        );
    }
}

#[test]
fn no_unwrap_outside_tests() {
    for (path, text) in sources(&["src"]) {
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        assert!(
            !code.contains(".unwrap()"),
            "{} calls unwrap() outside tests",
            path.display()
        );
    }
}

#[test]
fn allocator_is_send_and_sync() {
    fn check<T: Send + Sync + Clone + Default>() {}
    check::<keel_allocator::Allocator>();
}
