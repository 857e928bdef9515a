//! Keel's own ceilings on counts taken from requests (Marathon has none and queues what does
//! not fit): instances per app or pod and labels per app or pod. A write past one answers
//! 422 in Marathon's format before anything is planned or stored, so no request makes the
//! API, the store or the scheduler do work proportional to a requested count.

use crate::pod::PodRecord;
use crate::state::State;
use keel_api::marathon::{AppDefinition, PathId, Validation, Violations};

/// The ceilings. `Default` is what `keel master` and `keel dev` use unless told otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The most instances one app or pod may ask for (`--max-instances-per-app`).
    pub max_instances: u32,
    /// The most labels one app or pod may carry.
    pub max_labels: usize,
    /// The most task ids one `POST /v2/tasks/delete` may name.
    pub max_task_ids: usize,
}

impl Limits {
    pub const DEFAULT_MAX_INSTANCES: u32 = 10_000;
    pub const DEFAULT_MAX_LABELS: usize = 1_000;
    pub const DEFAULT_MAX_TASK_IDS: usize = 100_000;
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_instances: Limits::DEFAULT_MAX_INSTANCES,
            max_labels: Limits::DEFAULT_MAX_LABELS,
            max_task_ids: Limits::DEFAULT_MAX_TASK_IDS,
        }
    }
}

/// The 422 for the apps and pods a write adds or changes past a ceiling; definitions that
/// did not change are not judged again (a lowered ceiling does not block other writes).
pub(crate) fn check<'a>(
    limits: &Limits,
    st: &State,
    apps: impl Iterator<Item = (&'a PathId, &'a AppDefinition)>,
    pods: impl Iterator<Item = (&'a PathId, &'a PodRecord)>,
) -> Result<(), Validation> {
    let mut v = Violations::default();
    for (id, a) in apps {
        if st.apps.get(id) != Some(a) {
            judge(limits, id, a.instances, a.labels.len(), &mut v);
        }
    }
    for (id, p) in pods {
        if st.pods.get(id) != Some(p) {
            let want = u32::try_from(p.pod.scaling.instances.max(0)).unwrap_or(u32::MAX);
            judge(limits, id, want, p.pod.labels.len(), &mut v);
        }
    }
    v.finish(())
}

fn judge(limits: &Limits, id: &PathId, instances: u32, labels: usize, v: &mut Violations) {
    if instances > limits.max_instances {
        v.add(
            "/instances",
            format!(
                "{id}: {instances} instances is more than Keel's limit of {} per app or pod \
                 (--max-instances-per-app)",
                limits.max_instances
            ),
        );
    }
    if labels > limits.max_labels {
        v.add(
            "/labels",
            format!(
                "{id}: {labels} labels is more than Keel's limit of {}",
                limits.max_labels
            ),
        );
    }
}

/// A count in a query or body checked against a ceiling: 422 `{message, details}`.
pub(crate) fn too_many(path: &str, what: &str, n: usize, max: usize) -> Validation {
    let mut v = Violations::default();
    v.add(
        path,
        format!("{n} {what} is more than Keel's limit of {max}"),
    );
    Validation::new(v.into_vec())
}
