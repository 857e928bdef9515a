//! The scheduler's pod half: a pod instance's tasks seen as one (so deployment decisions
//! treat pods like apps), launching instances as task groups (those no agent takes wait in
//! the launch queue, as apps do), and knowing when every task of an instance has ended.

use crate::Marathon;
use crate::error::MarathonError;
use crate::instance::InstanceRecord;
use crate::pod::combined_view;
use crate::scheduler::PassViews;
use crate::state::{State, Unplaced, Writes};
use crate::task_views::Views;
use keel_api::marathon::PathId;
use keel_deploy::Goal;
use keel_master::{MasterError, TaskView};
use keel_model::TaskId;
use std::collections::BTreeMap;

/// The combined view (see [`combined_view`]) of each pod instance, under the id of its
/// first task, so code that reads the view of `instance.task_id` sees the pod instance as
/// a whole.
pub fn pod_views(st: &State, tasks: &Views) -> BTreeMap<TaskId, TaskView> {
    let mut out = BTreeMap::new();
    for rec in st.instances.values().filter(|r| !r.tasks.is_empty()) {
        let checked = st
            .pods
            .get(&rec.run_spec)
            .map(|p| {
                p.pod
                    .containers
                    .iter()
                    .filter(|c| c.health_check.is_some())
                    .count()
            })
            .unwrap_or(0);
        let views: Vec<&TaskView> = rec.tasks.iter().filter_map(|t| tasks.get(t)).collect();
        if let Some(v) = combined_view(&views, checked) {
            out.insert(rec.task_id.clone(), v);
        }
    }
    out
}

/// True when no task of `rec` is still alive (each task of a pod instance on its own,
/// not the combined view).
pub fn all_ended(rec: &InstanceRecord, tasks: &PassViews<'_>) -> bool {
    rec.all_tasks()
        .iter()
        .all(|t| tasks.all.get(t).is_none_or(|v| v.state.is_terminal()))
}

impl Marathon {
    /// Launches the wanted instances of pods, each as one task group on one agent, and
    /// returns the instances no agent could take.
    pub(crate) fn launch_pods(
        &self,
        st: &mut State,
        wanted: &BTreeMap<PathId, u32>,
        now: f64,
        w: &mut Writes,
    ) -> Result<Unplaced, MarathonError> {
        let mut unplaced = Unplaced::default();
        let mut groups = Vec::new();
        let mut owners = Vec::new();
        for (id, n) in wanted {
            let Some(pod) = st.pods.get(id) else {
                continue;
            };
            if *n > crate::launch::LAUNCHES_PER_PASS {
                self.inner.wake.notify_one();
            }
            for _ in 0..(*n).min(crate::launch::LAUNCHES_PER_PASS) {
                let (instance, launches) = pod.new_instance(&*self.inner.ids);
                if launches.is_empty() {
                    continue;
                }
                owners.push((id.clone(), instance));
                groups.push(launches);
            }
        }
        if groups.is_empty() {
            return Ok(unplaced);
        }
        let results = self.inner.cluster.launch_groups(groups);
        for ((pod_id, instance), r) in owners.into_iter().zip(results) {
            match r {
                Ok(launched) => {
                    let Some(pod) = st.pods.get(&pod_id) else {
                        continue;
                    };
                    let Some(first) = launched.first() else {
                        continue;
                    };
                    let ids: Vec<TaskId> = launched.iter().map(|l| l.task_id.clone()).collect();
                    let mine: Vec<TaskView> = self
                        .inner
                        .cluster
                        .task_views(&ids)
                        .into_iter()
                        .flatten()
                        .collect();
                    let ports = mine.iter().flat_map(|v| v.ports.clone()).collect();
                    let hostname = mine.first().map(|v| v.hostname.clone());
                    let rec = InstanceRecord {
                        id: instance,
                        run_spec: pod_id.clone(),
                        version: pod.version().to_string(),
                        config_version: pod.config_version.to_string(),
                        incarnation: 1,
                        task_id: first.task_id.clone(),
                        goal: Goal::Running,
                        agent_id: first.agent_id.to_string(),
                        hostname: hostname.unwrap_or_default(),
                        ports,
                        staged_at: now,
                        unreachable_since: None,
                        inactive: false,
                        tasks: launched.into_iter().map(|l| l.task_id).collect(),
                    };
                    w.instance(&rec)?;
                    st.instances.insert(rec.id.clone(), rec);
                }
                Err(MasterError::Unplaceable { rejections }) => unplaced.add(pod_id, rejections),
                Err(e) => tracing::warn!(pod = %pod_id, "launch failed: {e}"),
            }
        }
        Ok(unplaced)
    }
}
