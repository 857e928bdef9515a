//! cargo xtask: CI, checks and benchmarks.
fn main() {}
