//! The dependency graph of a root group: cycle detection and, for every run spec, the
//! length of its longest dependency path (Marathon's `runSpecsGroupedByLongestPath`).

use crate::{DeployError, RootGroup};
use std::collections::{BTreeMap, BTreeSet};

/// Edges from each run spec to the run specs it depends on.
pub(crate) struct DependencyGraph<'a> {
    edges: BTreeMap<&'a str, BTreeSet<&'a str>>,
}

enum Mark {
    Open,
    Done(usize),
}

impl<'a> DependencyGraph<'a> {
    pub fn new(root: &'a RootGroup) -> Self {
        let edges = root
            .run_specs
            .values()
            .map(|s| {
                let deps = s
                    .dependencies
                    .iter()
                    .flat_map(|d| root.resolve(d))
                    .collect();
                (s.id.as_str(), deps)
            })
            .collect();
        DependencyGraph { edges }
    }

    /// For every run spec, the number of run specs on its longest dependency path, itself
    /// included: 1 for a run spec without dependencies.
    pub fn levels(&self) -> Result<BTreeMap<&'a str, usize>, DeployError> {
        let mut marks = BTreeMap::new();
        let mut path = Vec::new();
        for &v in self.edges.keys() {
            self.visit(v, &mut marks, &mut path)?;
        }
        Ok(marks
            .into_iter()
            .filter_map(|(k, m)| match m {
                Mark::Done(n) => Some((k, n)),
                Mark::Open => None,
            })
            .collect())
    }

    fn visit(
        &self,
        v: &'a str,
        marks: &mut BTreeMap<&'a str, Mark>,
        path: &mut Vec<&'a str>,
    ) -> Result<usize, DeployError> {
        match marks.get(v) {
            Some(Mark::Done(n)) => return Ok(*n),
            Some(Mark::Open) => return Err(cycle(path, v)),
            None => {}
        }
        marks.insert(v, Mark::Open);
        path.push(v);
        let mut longest = 0;
        for &w in self.edges.get(v).into_iter().flatten() {
            longest = longest.max(self.visit(w, marks, path)?);
        }
        path.pop();
        marks.insert(v, Mark::Done(longest + 1));
        Ok(longest + 1)
    }
}

/// The cycle closed by an edge back to `v`, which is on `path`.
fn cycle(path: &[&str], v: &str) -> DeployError {
    let start = path.iter().position(|p| *p == v).unwrap_or(0);
    let mut cycle: Vec<String> = path[start..].iter().map(|s| s.to_string()).collect();
    cycle.push(v.to_string());
    DeployError::DependencyCycle { cycle }
}
