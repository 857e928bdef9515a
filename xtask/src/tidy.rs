//! Tidy checks that run inside CI: every Rust module starts with a `//!` doc, and the pure
//! crates depend on nothing that does I/O (checked on the resolved dependency graph and on
//! the source text).

use anyhow::bail;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Crates that must stay pure: no async runtime, no sockets, no files, no clock.
pub const PURE_CRATES: &[&str] = &[
    "keel-model",
    "keel-resources",
    "keel-allocator",
    "keel-deploy",
    "keel-jobs",
];
/// Dependencies a pure crate must never pull in, directly or transitively.
const FORBIDDEN_DEPS: &[&str] = &[
    "tokio", "mio", "hyper", "reqwest", "axum", "redb", "socket2", "libc",
];
/// Source patterns a pure crate must not contain.
const FORBIDDEN_SRC: &[&str] = &[
    "std::fs",
    "std::net",
    "std::process",
    "SystemTime::now",
    "Instant::now",
    "thread_rng",
    "std::env",
];

pub fn run(root: &Path) -> anyhow::Result<()> {
    let mut problems = module_docs(root);
    problems.extend(dependency_direction(root)?);
    if !problems.is_empty() {
        for p in &problems {
            eprintln!("tidy: {p}");
        }
        bail!("{} tidy problem(s)", problems.len());
    }
    eprintln!("tidy: ok");
    Ok(())
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n != "target") {
                rust_files(&p, out);
            }
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Every `.rs` file under crates/, xtask/ and tests/ starts with a `//!` line.
pub fn module_docs(root: &Path) -> Vec<String> {
    let mut files = Vec::new();
    for d in ["crates", "xtask", "tests"] {
        rust_files(&root.join(d), &mut files);
    }
    files
        .into_iter()
        .filter(|f| {
            let text = std::fs::read_to_string(f).unwrap_or_default();
            !text.trim_start().starts_with("//!")
        })
        .map(|f| format!("{} does not start with a //! module doc", f.display()))
        .collect()
}

/// Pure crates have no forbidden dependency (per `cargo tree`) and no forbidden source.
pub fn dependency_direction(root: &Path) -> anyhow::Result<Vec<String>> {
    let mut problems = Vec::new();
    for krate in PURE_CRATES {
        let out = Command::new("cargo")
            .args([
                "tree", "-q", "-p", krate, "-e", "normal", "--prefix", "none", "--format", "{p}",
            ])
            .current_dir(root)
            .output()?;
        if !out.status.success() {
            bail!(
                "cargo tree -p {krate} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let tree = String::from_utf8_lossy(&out.stdout);
        for dep in tree.lines().filter_map(|l| l.split_whitespace().next()) {
            if FORBIDDEN_DEPS.contains(&dep) {
                problems.push(format!("pure crate {krate} depends on {dep}"));
            }
        }
        let dir = root
            .join("crates")
            .join(krate.trim_start_matches("keel-"))
            .join("src");
        let mut files = Vec::new();
        rust_files(&dir, &mut files);
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap_or_default();
            for pat in FORBIDDEN_SRC {
                if text.contains(pat) {
                    problems.push(format!("pure crate {krate}: {} uses {pat}", f.display()));
                }
            }
        }
    }
    Ok(problems)
}
