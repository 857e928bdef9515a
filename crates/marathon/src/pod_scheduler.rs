//! The scheduler's pod half: a pod instance's tasks seen as one (so deployment decisions
//! treat pods like apps), launching instances as task groups, and knowing when every task
//! of an instance has ended.

use crate::Marathon;
use crate::error::MarathonError;
use crate::instance::InstanceRecord;
use crate::pod::combined_view;
use crate::state::{State, Writes};
use keel_api::marathon::PathId;
use keel_deploy::Goal;
use keel_master::{MasterError, TaskView};
use keel_model::TaskId;
use std::collections::BTreeMap;

/// Replaces the view of each pod instance's first task by the instance's combined view
/// (see [`combined_view`]), so code that reads `tasks[instance.task_id]` sees the pod
/// instance as a whole.
pub fn overlay_pod_views(st: &State, tasks: &mut BTreeMap<TaskId, TaskView>) {
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
            tasks.insert(rec.task_id.clone(), v);
        }
    }
}

impl Marathon {
    /// True when no task of `rec` is still alive (pod tasks are asked of the master, since
    /// `tasks` holds the combined view).
    pub(crate) fn all_ended(
        &self,
        rec: &InstanceRecord,
        tasks: &BTreeMap<TaskId, TaskView>,
    ) -> bool {
        if rec.tasks.is_empty() {
            return tasks
                .get(&rec.task_id)
                .is_none_or(|t| t.state.is_terminal());
        }
        rec.tasks.iter().all(|t| {
            self.inner
                .master
                .task_view(t)
                .is_none_or(|v| v.state.is_terminal())
        })
    }

    /// Launches the wanted instances of pods, each as one task group on one agent.
    pub(crate) fn launch_pods(
        &self,
        st: &mut State,
        wanted: &BTreeMap<PathId, u32>,
        now: f64,
        w: &mut Writes,
    ) -> Result<(), MarathonError> {
        let mut groups = Vec::new();
        let mut owners = Vec::new();
        for (id, n) in wanted {
            let Some(pod) = st.pods.get(id) else {
                continue;
            };
            for _ in 0..*n {
                let (instance, launches) = pod.new_instance();
                if launches.is_empty() {
                    continue;
                }
                owners.push((id.clone(), instance));
                groups.push(launches);
            }
        }
        if groups.is_empty() {
            return Ok(());
        }
        let results = self.inner.master.launch_groups(groups);
        for ((pod_id, instance), r) in owners.into_iter().zip(results) {
            match r {
                Ok(launched) => {
                    let Some(pod) = st.pods.get(&pod_id) else {
                        continue;
                    };
                    let Some(first) = launched.first() else {
                        continue;
                    };
                    let ports = launched
                        .iter()
                        .filter_map(|l| self.inner.master.task_view(&l.task_id))
                        .flat_map(|v| v.ports.clone())
                        .collect();
                    let view = self.inner.master.task_view(&first.task_id);
                    let rec = InstanceRecord {
                        id: instance,
                        run_spec: pod_id.clone(),
                        version: pod.version().to_string(),
                        config_version: pod.config_version.to_string(),
                        incarnation: 1,
                        task_id: first.task_id.clone(),
                        goal: Goal::Running,
                        agent_id: first.agent_id.to_string(),
                        hostname: view.map(|v| v.hostname).unwrap_or_default(),
                        ports,
                        staged_at: now,
                        unreachable_since: None,
                        inactive: false,
                        tasks: launched.into_iter().map(|l| l.task_id).collect(),
                    };
                    w.instance(&rec)?;
                    st.instances.insert(rec.id.clone(), rec);
                }
                Err(MasterError::Unplaceable { rejections }) => {
                    tracing::debug!(pod = %pod_id, ?rejections, "pod instance not placed");
                }
                Err(e) => tracing::warn!(pod = %pod_id, "launch failed: {e}"),
            }
        }
        Ok(())
    }
}
