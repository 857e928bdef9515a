//! Tidy checks, run by `cargo xtask tidy`, by CI and as a test of `xtask` (`cargo test`):
//! every Rust module starts with a `//!` doc; the pure crates (and `keel-api`) depend on
//! nothing that does I/O, on the resolved dependency graph and on the source text, and
//! never `unwrap()` outside tests; crates without unsafe code forbid it; the clock, the
//! global RNG and random ids are read only in the seams that own them; Marathon, Metronome
//! and the master build no JSON with `json!` outside tests; in the executor and the agent,
//! `libc` and `unsafe` appear only in their `sys` module.

use anyhow::bail;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Crates that must stay pure: no async runtime, no sockets, no files, no clock.
pub const PURE_CRATES: &[&str] = &[
    "keel-api",
    "keel-model",
    "keel-resources",
    "keel-allocator",
    "keel-deploy",
    "keel-jobs",
    "keel-routing",
    "keel-dns-records",
    "keel-metrics",
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
    "Utc::now",
    "thread_rng",
    "rand::rng",
    "Uuid::new_v4",
    "std::env",
];
/// Pure crates whose output order is visible (plans, histories): ordered maps only.
const ORDERED_CRATES: &[&str] = &["keel-deploy", "keel-jobs", "keel-routing"];
/// Calls that read the clock, the global RNG or make random ids. Outside the seams that own
/// them ([`CLOCK_SEAMS`], test code, benches and `xtask`) they are banned.
const CLOCK_CALLS: &[&str] = &[
    "SystemTime::now",
    "Instant::now",
    "Utc::now",
    "Local::now",
    "thread_rng",
    "rand::rng",
    "Uuid::new_v4",
];
/// The seams that own the clock and randomness: `keel-clock` alone (the call sites that
/// predated the rule all moved behind it, issue 12). A new call site fails the check.
const CLOCK_SEAMS: &[&str] = &["crates/clock/src/"];

/// Crates whose system calls go through one module: (sources, the module). Anywhere else in
/// those sources, tests included, `libc::` and `unsafe` are banned.
const SYS_MODULES: &[(&str, &str)] = &[
    ("crates/executor/src/", "crates/executor/src/sys.rs"),
    ("crates/agent/src/", "crates/agent/src/sys.rs"),
];

/// Runs every check and prints what it found.
pub fn run(root: &Path) -> anyhow::Result<()> {
    let problems = check(root)?;
    if !problems.is_empty() {
        for p in &problems {
            eprintln!("tidy: {p}");
        }
        bail!("{} tidy problem(s)", problems.len());
    }
    eprintln!("tidy: ok");
    Ok(())
}

/// Every problem the checks find, one line each.
pub fn check(root: &Path) -> anyhow::Result<Vec<String>> {
    let mut problems = module_docs(root);
    problems.extend(dependency_direction(root)?);
    problems.extend(pure_sources(root));
    problems.extend(unsafe_forbidden(root));
    problems.extend(clock_seams(root));
    problems.extend(wire_json(root));
    problems.extend(syscalls_in_sys(root));
    Ok(problems)
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

/// The `.rs` files under `dir`, sorted, with their text.
fn sources(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    rust_files(dir, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|f| {
            let text = std::fs::read_to_string(&f).unwrap_or_default();
            (f, text)
        })
        .collect()
}

/// The part of a source file before its first `#[cfg(test)]`: the library code.
fn library_part(text: &str) -> &str {
    text.split("#[cfg(test)]").next().unwrap_or_default()
}

/// A file of tests only: under `tests/`, `benches/` or `examples/`, or named for tests.
fn is_test_file(rel: &str) -> bool {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    ["/tests/", "/benches/", "/examples/", "/testing/"]
        .iter()
        .any(|d| rel.contains(d))
        || rel.starts_with("tests/")
        || name == "tests.rs"
        || name.ends_with("_tests.rs")
        || name == "testing.rs"
        || name == "bench.rs"
}

fn crate_dir(root: &Path, krate: &str) -> PathBuf {
    root.join("crates").join(krate.trim_start_matches("keel-"))
}

fn relative(root: &Path, p: &Path) -> String {
    p.strip_prefix(root).unwrap_or(p).display().to_string()
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

/// Pure crates have no forbidden dependency (per `cargo tree`).
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
    }
    Ok(problems)
}

/// Pure crates' sources: nothing that does I/O or reads the clock, and no `unwrap()` in
/// library code.
pub fn pure_sources(root: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    for krate in PURE_CRATES {
        for (f, text) in sources(&crate_dir(root, krate).join("src")) {
            let rel = relative(root, &f);
            for pat in FORBIDDEN_SRC {
                if text.contains(pat) {
                    problems.push(format!("pure crate {krate}: {rel} uses {pat}"));
                }
            }
            if ORDERED_CRATES.contains(krate)
                && ["HashMap", "HashSet"].iter().any(|m| text.contains(m))
            {
                problems.push(format!(
                    "pure crate {krate}: {rel} uses a hash map where order is visible"
                ));
            }
            if !is_test_file(&rel) && library_part(&text).contains(".unwrap()") {
                problems.push(format!(
                    "pure crate {krate}: {rel} calls unwrap() outside tests"
                ));
            }
        }
    }
    problems
}

/// A crate whose sources have no `unsafe` says `#![forbid(unsafe_code)]` at its root.
pub fn unsafe_forbidden(root: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root.join("crates"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("src").is_dir())
        .collect();
    dirs.push(root.join("xtask"));
    dirs.sort();
    for dir in dirs {
        let srcs = sources(&dir.join("src"));
        let uses_unsafe = srcs.iter().any(|(_, t)| t.contains("unsafe "));
        let Some((top, text)) = ["lib.rs", "main.rs"].iter().find_map(|n| {
            let p = dir.join("src").join(n);
            std::fs::read_to_string(&p).ok().map(|t| (p, t))
        }) else {
            continue;
        };
        let forbids = text.contains("#![forbid(unsafe_code)]");
        if !uses_unsafe && !forbids {
            problems.push(format!(
                "{} has no unsafe code but does not say #![forbid(unsafe_code)]",
                relative(root, &top)
            ));
        }
    }
    problems
}

/// Clock reads, global RNG and random ids only in [`CLOCK_SEAMS`], tests and tooling.
pub fn clock_seams(root: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    for (f, text) in sources(&root.join("crates")) {
        let rel = relative(root, &f);
        if is_test_file(&rel) || CLOCK_SEAMS.iter().any(|s| rel.starts_with(s)) {
            continue;
        }
        let code = library_part(&text);
        for pat in CLOCK_CALLS {
            if code.contains(pat) {
                problems.push(format!(
                    "{rel} calls {pat} outside the seams that own the clock and randomness"
                ));
            }
        }
    }
    problems
}

/// Crates whose wire JSON lives in `keel-api` as typed structs: no `json!` in their
/// library code.
const WIRE_JSON_CRATES: &[&str] = &["keel-marathon", "keel-master", "keel-metronome"];

/// `json!` only in tests of [`WIRE_JSON_CRATES`]: their responses and events are built from
/// the typed structs of `keel-api`, the one home of the wire field names.
pub fn wire_json(root: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    for krate in WIRE_JSON_CRATES {
        for (f, text) in sources(&crate_dir(root, krate).join("src")) {
            problems.extend(json_macro_use(&relative(root, &f), &text));
        }
    }
    problems
}

/// The problem of the file `rel` if its library code builds JSON with `json!`.
fn json_macro_use(rel: &str, text: &str) -> Option<String> {
    (!is_test_file(rel) && library_part(text).contains("json!")).then(|| {
        format!("{rel} builds JSON with json! outside tests (wire shapes are keel-api structs)")
    })
}

/// In the crates of [`SYS_MODULES`], `libc::` and `unsafe` only in their `sys` module.
pub fn syscalls_in_sys(root: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    for (dir, module) in SYS_MODULES {
        for (f, text) in sources(&root.join(dir)) {
            let rel = relative(root, &f);
            if rel == *module {
                continue;
            }
            for pat in ["libc::", "unsafe"] {
                if text.contains(pat) {
                    problems.push(format!("{rel} uses {pat} outside {module}"));
                }
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole tree passes tidy: `cargo test` fails on what `cargo xtask tidy` reports.
    #[test]
    fn the_tree_is_tidy() {
        let root = crate::project_root();
        let problems = check(&root).unwrap_or_else(|e| vec![e.to_string()]);
        assert!(
            problems.is_empty(),
            "tidy problems:\n{}",
            problems.join("\n")
        );
    }

    #[test]
    fn test_files_are_told_from_library_files() {
        for rel in [
            "crates/deploy/tests/tidy.rs",
            "tests/fuzz.rs",
            "crates/agent/src/tests.rs",
            "crates/api/src/marathon/pod_group_tests.rs",
            "crates/image/src/testing/token.rs",
        ] {
            assert!(is_test_file(rel), "{rel}");
        }
        for rel in [
            "crates/deploy/src/plan.rs",
            "crates/master/src/testing_feed.rs",
        ] {
            assert!(!is_test_file(rel), "{rel}");
        }
    }

    #[test]
    fn json_macros_are_banned_from_library_code_only() {
        let lib = "fn a() -> Value { serde_json::json!({\"a\": 1}) }";
        let in_tests = "fn a() {}\n#[cfg(test)]\nmod tests { fn b() { json!(1); } }";
        let rel = "crates/marathon/src/views.rs";
        assert!(json_macro_use(rel, lib).is_some_and(|p| p.contains(rel)));
        assert_eq!(json_macro_use(rel, in_tests), None);
        assert_eq!(json_macro_use("crates/master/src/tests.rs", lib), None);
        assert_eq!(
            json_macro_use("crates/marathon/src/wire_tests.rs", lib),
            None
        );
        assert_eq!(json_macro_use(rel, "fn typed() {}"), None);
    }

    #[test]
    fn library_code_ends_at_the_test_module() {
        let text = "fn a() {}\n#[cfg(test)]\nmod tests { fn b() { x.unwrap(); } }";
        assert!(!library_part(text).contains("unwrap"));
    }
}
