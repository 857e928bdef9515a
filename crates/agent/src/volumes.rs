//! Volumes the agent sets up before a task's executor starts: the ephemeral volumes of task
//! groups (one directory per group and volume name, shared by every task of the group, as
//! Mesos keeps them in the default executor's sandbox), and, for MESOS containers without
//! an image, the volumes as symbolic links in the sandbox.
//!
//! Layout: the ephemeral volume `<name>` of group `<group>` is
//! `slaves/<agent>/frameworks/<fw>/executors/<group>/runs/<group>/<name>`, shaped like a
//! run directory so that `/files` can browse it and the sandbox GC removes it by the same
//! rule as the group's sandboxes once no live task of the group is left (see
//! [`crate::gc`]).
//!
//! Why links for containers without an image: such a task runs in the agent's mount
//! namespace (no `container-init`), so a bind mount would leak onto the host and outlive
//! the task. A link is what Mesos's `filesystem/posix` isolator does too; it cannot make a
//! volume read-only (`readOnly` holds only for containers with an image, which bind mount
//! every volume in their own mount namespace), and the mount path must be relative to the
//! sandbox.

use crate::error::AgentError;
use keel_model::{AgentId, ContainerKind, FrameworkId, GroupVolume, TaskSpec};
use std::path::{Component, Path, PathBuf};

/// The run directory holding the ephemeral volumes of `group`.
pub fn group_dir(
    work_dir: &Path,
    agent: &AgentId,
    framework: &FrameworkId,
    group: &str,
) -> PathBuf {
    crate::launcher::executor_runs_dir(work_dir, agent, framework, group).join(group)
}

/// The task groups whose ephemeral volumes `task` mounts.
pub fn groups_of(task: &TaskSpec) -> impl Iterator<Item = &str> {
    task.container
        .iter()
        .flat_map(|c| &c.volumes)
        .filter_map(|v| v.group.as_ref().map(GroupVolume::group))
}

/// Creates the task's group volumes and points their `host_path` at them; then, for a
/// MESOS container without an image, links every volume into `sandbox`.
pub fn prepare(
    work_dir: &Path,
    agent: &AgentId,
    task: &mut TaskSpec,
    sandbox: &Path,
) -> Result<(), AgentError> {
    let Some(container) = task.container.as_mut() else {
        return Ok(());
    };
    for v in &mut container.volumes {
        let Some(g) = &v.group else {
            continue;
        };
        let dir = group_dir(work_dir, agent, &task.framework_id, g.group()).join(g.name());
        std::fs::create_dir_all(&dir).map_err(|e| AgentError::io(&dir, e))?;
        v.host_path = dir.display().to_string();
    }
    if container.kind != ContainerKind::Mesos || container.docker.is_some() {
        return Ok(());
    }
    for v in &container.volumes {
        link(sandbox, &v.container_path, &v.host_path).map_err(|reason| AgentError::Launch {
            task: task.id.to_string(),
            reason,
        })?;
    }
    Ok(())
}

/// Links `<sandbox>/<container_path>` to the host path (absolute, or relative to the
/// sandbox).
fn link(sandbox: &Path, container_path: &str, host_path: &str) -> Result<(), String> {
    let rel = Path::new(container_path);
    let plain = rel.components().all(|c| matches!(c, Component::Normal(_)));
    if container_path.is_empty() || !plain {
        return Err(format!(
            "volume path {container_path:?} must be relative to the sandbox (without `..`) for a container without an image"
        ));
    }
    if host_path.is_empty() {
        return Err(format!("volume {container_path:?} has no host path"));
    }
    let at = sandbox.join(rel);
    if let Some(parent) = at.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    let target = match Path::new(host_path).is_absolute() {
        true => PathBuf::from(host_path),
        false => sandbox.join(host_path),
    };
    std::os::unix::fs::symlink(&target, &at).map_err(|e| format!("{}: {e}", at.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use keel_model::{
        CommandSpec, ContainerSpec, DockerNetwork, DockerSpec, TaskId, Volume, VolumeMode,
    };
    use keel_resources::Resources;

    fn task(id: &str, image: Option<&str>, volumes: Vec<Volume>) -> TaskSpec {
        TaskSpec {
            id: TaskId::new(id).expect("id"),
            name: id.into(),
            framework_id: FrameworkId::new("fw").expect("id"),
            role: "*".into(),
            command: CommandSpec {
                shell: true,
                value: "true".into(),
                arguments: Vec::new(),
                env: Default::default(),
                user: None,
            },
            resources: Resources::new(),
            kill_grace_secs: 1.0,
            labels: Default::default(),
            health_checks: Vec::new(),
            fetch: Vec::new(),
            port_names: Vec::new(),
            host_ports: Vec::new(),
            discovery: None,
            placement_scope: None,
            container: Some(ContainerSpec {
                kind: ContainerKind::Mesos,
                docker: image.map(|i| DockerSpec {
                    image: i.into(),
                    network: DockerNetwork::Host,
                    port_mappings: Vec::new(),
                    parameters: Vec::new(),
                    privileged: false,
                    force_pull: false,
                }),
                volumes,
            }),
        }
    }

    fn shared(path: &str, group: &str, name: &str) -> Volume {
        Volume {
            container_path: path.into(),
            host_path: String::new(),
            mode: VolumeMode::ReadWrite,
            image: None,
            group: Some(GroupVolume::new(group, name).expect("valid")),
        }
    }

    fn host(path: &str, host: &str) -> Volume {
        Volume {
            container_path: path.into(),
            host_path: host.into(),
            mode: VolumeMode::ReadOnly,
            image: None,
            group: None,
        }
    }

    struct Dirs {
        root: PathBuf,
    }

    impl Dirs {
        fn new(name: &str) -> Dirs {
            let root = std::env::temp_dir().join(format!(
                "keel-agent-volumes-{name}-{}",
                uuid::Uuid::new_v4()
            ));
            std::fs::create_dir_all(&root).expect("temp dir");
            Dirs { root }
        }

        fn sandbox(&self, task: &str) -> PathBuf {
            let s = self.root.join("sandboxes").join(task);
            std::fs::create_dir_all(&s).expect("sandbox");
            s
        }
    }

    impl Drop for Dirs {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }

    #[test]
    fn tasks_of_a_group_share_one_directory_through_links() {
        let d = Dirs::new("share");
        let agent = AgentId::new("a-S0").expect("id");
        let host_dir = d.root.join("srv");
        std::fs::create_dir_all(&host_dir).expect("host dir");
        let mut a = task(
            "p.instance-1.a.1",
            None,
            vec![
                shared("data", "p.instance-1", "shared"),
                host("etc/conf", &host_dir.display().to_string()),
            ],
        );
        let mut b = task(
            "p.instance-1.b.1",
            None,
            vec![shared("in/data", "p.instance-1", "shared")],
        );
        let (sa, sb) = (d.sandbox("a"), d.sandbox("b"));
        prepare(&d.root, &agent, &mut a, &sa).expect("prepare a");
        prepare(&d.root, &agent, &mut b, &sb).expect("prepare b");
        let dir = group_dir(&d.root, &agent, &a.framework_id, "p.instance-1").join("shared");
        assert!(dir.ends_with(
            "slaves/a-S0/frameworks/fw/executors/p.instance-1/runs/p.instance-1/shared"
        ));
        let vols = |t: &TaskSpec| t.container.as_ref().expect("container").volumes.clone();
        assert_eq!(vols(&a)[0].host_path, dir.display().to_string());
        assert_eq!(vols(&b)[0].host_path, dir.display().to_string());
        std::fs::write(sa.join("data/msg"), "hi").expect("write through a's link");
        assert_eq!(
            std::fs::read_to_string(sb.join("in/data/msg"))
                .ok()
                .as_deref(),
            Some("hi")
        );
        assert_eq!(std::fs::read_link(sa.join("etc/conf")).ok(), Some(host_dir));
        assert_eq!(groups_of(&b).collect::<Vec<_>>(), ["p.instance-1"]);
    }

    #[test]
    fn containers_with_an_image_get_the_directory_but_no_links() {
        let d = Dirs::new("image");
        let agent = AgentId::new("a-S0").expect("id");
        let mut t = task(
            "p.instance-2.a.1",
            Some("busybox"),
            vec![shared("/data", "p.instance-2", "v")],
        );
        let s = d.sandbox("t");
        prepare(&d.root, &agent, &mut t, &s).expect("prepare");
        let dir = group_dir(&d.root, &agent, &t.framework_id, "p.instance-2").join("v");
        assert!(dir.is_dir());
        assert!(std::fs::read_dir(&s).expect("sandbox").next().is_none());
    }

    #[test]
    fn links_stay_inside_the_sandbox() {
        let d = Dirs::new("escape");
        let agent = AgentId::new("a-S0").expect("id");
        for path in ["/abs", "../up", "a/../../b", ""] {
            let mut t = task("t", None, vec![shared(path, "g", "v")]);
            let err = prepare(&d.root, &agent, &mut t, &d.sandbox("t")).err();
            assert!(
                matches!(&err, Some(AgentError::Launch { reason, .. }) if reason.contains("relative")),
                "{path}: {err:?}"
            );
        }
    }
}
