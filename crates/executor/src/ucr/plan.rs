//! What a container of Keel's own runtime is made of, decided before anything runs: the
//! root filesystem's layers, the mounts, and the command, environment, working directory
//! and user, combined from the task and the image config the way Mesos does it.
//!
//! The plan is written to `<meta_dir>/container.json` and carried out by `container-init`.

use keel_api::executor::ExecutorConfig;
use keel_model::{CommandSpec, VolumeMode};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where the sandbox appears inside the container (as Mesos mounts it).
pub const CONTAINER_SANDBOX: &str = "/mnt/mesos/sandbox";

/// The parts of an image's config a container uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageDefaults {
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    /// `KEY=VALUE` entries.
    pub env: Vec<String>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
}

/// Where a mount's content comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MountSource {
    /// A host file or directory, bind-mounted.
    Bind(PathBuf),
    /// An image's layers (bottom to top) under a private writable layer.
    Overlay {
        layers: Vec<PathBuf>,
        upper: PathBuf,
        work: PathBuf,
    },
}

/// One mount inside the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    pub source: MountSource,
    /// Absolute path inside the container.
    pub target: String,
    pub readonly: bool,
}

/// Everything `container-init` needs to build the container and start the task in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerPlan {
    /// The host directory the root filesystem is mounted on (or, for the copy backend,
    /// the prepared root filesystem itself).
    pub rootfs_dir: PathBuf,
    /// The root filesystem: an overlay of the image's layers, or `None` when `rootfs_dir`
    /// already holds a copy.
    pub rootfs: Option<MountSource>,
    /// Bind mounts and volumes, in order, after `/proc`, `/dev` and `/sys`.
    pub mounts: Vec<Mount>,
    /// The program and its argv; the program is looked up on the container's `PATH`.
    pub program: String,
    pub argv: Vec<String>,
    /// `KEY=VALUE` entries.
    pub env: Vec<String>,
    pub cwd: String,
    /// A user name or `uid[:gid]`, resolved in the container's `/etc/passwd`.
    pub user: Option<String>,
}

/// Why no plan could be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("the task has no command and the image {image} has neither entrypoint nor cmd")]
    NoCommand { image: String },
    #[error("volume container path {path:?} is not a normal path")]
    BadVolumePath { path: String },
}

/// The files the container's layers and writable layer live in, under the meta directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dirs {
    pub rootfs: PathBuf,
    pub upper: PathBuf,
    pub work: PathBuf,
    /// Per image volume `i`: `<volumes>/<i>/{upper,work}`.
    pub volumes: PathBuf,
    /// The generated resolv.conf of a task with task DNS (`--task-dns`).
    pub resolv_conf: PathBuf,
}

impl Dirs {
    pub fn under(meta_dir: &Path) -> Self {
        let c = meta_dir.join("container");
        Self {
            rootfs: c.join("rootfs"),
            upper: c.join("upper"),
            work: c.join("work"),
            volumes: c.join("volumes"),
            resolv_conf: c.join("resolv.conf"),
        }
    }
}

/// The root filesystem and an image volume's layers, resolved by the caller.
pub struct Layers<'a> {
    /// `None`: the copy backend prepared `Dirs::rootfs`.
    pub rootfs: Option<&'a [PathBuf]>,
    /// Per volume index that names an image.
    pub volumes: BTreeMap<usize, Vec<PathBuf>>,
}

/// Combines the task, the image's defaults and the resolved layers into a plan.
pub fn plan(
    config: &ExecutorConfig,
    image_ref: &str,
    image: &ImageDefaults,
    layers: &Layers<'_>,
    dirs: &Dirs,
) -> Result<ContainerPlan, PlanError> {
    let (program, argv) = command(&config.task.command, image, image_ref)?;
    let cwd = match &image.working_dir {
        Some(dir) if !dir.is_empty() => dir.clone(),
        _ => CONTAINER_SANDBOX.to_string(),
    };
    let user = config
        .task
        .command
        .user
        .clone()
        .or_else(|| image.user.clone().filter(|u| !u.is_empty()));
    Ok(ContainerPlan {
        rootfs_dir: dirs.rootfs.clone(),
        rootfs: layers.rootfs.map(|l| MountSource::Overlay {
            layers: l.to_vec(),
            upper: dirs.upper.clone(),
            work: dirs.work.clone(),
        }),
        mounts: mounts(config, layers, dirs)?,
        program,
        argv,
        env: env(config, image),
        cwd,
        user,
    })
}

/// Mesos's rules: a shell command runs under `/bin/sh -c`; a command value runs with its
/// arguments and ignores the image; otherwise the image's entrypoint runs with the task's
/// arguments, or with the image's cmd when the task has none.
fn command(
    command: &CommandSpec,
    image: &ImageDefaults,
    image_ref: &str,
) -> Result<(String, Vec<String>), PlanError> {
    if !command.value.is_empty() {
        if command.shell {
            let argv = vec!["sh".into(), "-c".into(), command.value.clone()];
            return Ok(("/bin/sh".into(), argv));
        }
        let argv = match command.arguments.is_empty() {
            true => vec![command.value.clone()],
            false => command.arguments.clone(),
        };
        return Ok((command.value.clone(), argv));
    }
    let tail = match command.arguments.is_empty() {
        true => &image.cmd,
        false => &command.arguments,
    };
    let argv: Vec<String> = image.entrypoint.iter().chain(tail).cloned().collect();
    match argv.first() {
        Some(program) => Ok((program.clone(), argv)),
        None => Err(PlanError::NoCommand {
            image: image_ref.to_string(),
        }),
    }
}

/// The image's environment under the task's (the task wins), with the sandbox variables
/// pointing at the sandbox as the container sees it.
fn env(config: &ExecutorConfig, image: &ImageDefaults) -> Vec<String> {
    let mut env: BTreeMap<String, String> = image
        .env
        .iter()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    env.extend(config.env.clone());
    for key in ["MESOS_SANDBOX", "MESOS_DIRECTORY"] {
        env.insert(key.into(), CONTAINER_SANDBOX.into());
    }
    env.entry("PATH".into())
        .or_insert_with(|| crate::DEFAULT_PATH.to_string());
    env.iter().map(|(k, v)| format!("{k}={v}")).collect()
}

/// The sandbox, the host's name-resolution files (host networking; the generated
/// resolv.conf instead with task DNS) and the volumes.
fn mounts(
    config: &ExecutorConfig,
    layers: &Layers<'_>,
    dirs: &Dirs,
) -> Result<Vec<Mount>, PlanError> {
    let bind = |source: PathBuf, target: &str, readonly| Mount {
        source: MountSource::Bind(source),
        target: target.to_string(),
        readonly,
    };
    let mut mounts = vec![bind(config.sandbox.clone(), CONTAINER_SANDBOX, false)];
    for file in ["/etc/hosts", "/etc/resolv.conf", "/etc/hostname"] {
        if file == "/etc/resolv.conf" && config.dns.is_some() {
            // The agent's task DNS: the resolv.conf `prepare` generated.
            mounts.push(bind(dirs.resolv_conf.clone(), file, true));
        } else if Path::new(file).exists() {
            mounts.push(bind(file.into(), file, true));
        }
    }
    let volumes = config.task.container.iter().flat_map(|c| &c.volumes);
    for (i, v) in volumes.enumerate() {
        let target = container_path(&v.container_path)?;
        let readonly = v.mode == VolumeMode::ReadOnly;
        let source = match (&v.image, layers.volumes.get(&i)) {
            (Some(_), Some(l)) => MountSource::Overlay {
                layers: l.clone(),
                upper: dirs.volumes.join(i.to_string()).join("upper"),
                work: dirs.volumes.join(i.to_string()).join("work"),
            },
            _ => MountSource::Bind(host_path(&config.sandbox, &v.host_path)),
        };
        mounts.push(Mount {
            source,
            target,
            readonly,
        });
    }
    Ok(mounts)
}

/// A relative container path is inside the sandbox; `..` may not climb out.
fn container_path(path: &str) -> Result<String, PlanError> {
    let bad = || PlanError::BadVolumePath {
        path: path.to_string(),
    };
    if path.is_empty() || path.split('/').any(|c| c == "..") {
        return Err(bad());
    }
    Ok(match path.starts_with('/') {
        true => path.to_string(),
        false => format!("{CONTAINER_SANDBOX}/{path}"),
    })
}

/// A relative host path is relative to the sandbox (Mesos's sandbox volumes).
fn host_path(sandbox: &Path, path: &str) -> PathBuf {
    match path.starts_with('/') {
        true => PathBuf::from(path),
        false => sandbox.join(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keel_model::{ContainerKind, ContainerSpec, Volume};

    fn image(entrypoint: &[&str], cmd: &[&str]) -> ImageDefaults {
        ImageDefaults {
            entrypoint: entrypoint.iter().map(|s| s.to_string()).collect(),
            cmd: cmd.iter().map(|s| s.to_string()).collect(),
            ..ImageDefaults::default()
        }
    }

    fn task(shell: bool, value: &str, args: &[&str]) -> CommandSpec {
        crate::testing::command(shell, value, args)
    }

    /// `expect` is the argv, or `Err` when no command can be found.
    fn check(command: CommandSpec, image: ImageDefaults, expect: Result<&[&str], ()>) {
        let got = super::command(&command, &image, "busybox").map(|(program, argv)| {
            let expect_program = match (command.shell, command.value.as_str()) {
                (true, v) if !v.is_empty() => "/bin/sh",
                (false, v) if !v.is_empty() => v,
                _ => argv.first().map_or("", String::as_str),
            };
            assert_eq!(program, expect_program, "{command:?}");
            argv
        });
        let got = got.map_err(|_| ());
        let expect = expect.map(|a| a.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(got, expect, "{command:?} with {image:?}");
    }

    #[test]
    fn commands_follow_the_mesos_table() {
        let none = image(&[], &[]);
        let cmd_only = image(&[], &["sh", "-c", "x"]);
        let entry_only = image(&["/init"], &[]);
        let both = image(&["/init"], &["--flag"]);
        // No value, no arguments: entrypoint + cmd.
        check(task(true, "", &[]), none.clone(), Err(()));
        check(
            task(false, "", &[]),
            cmd_only.clone(),
            Ok(&["sh", "-c", "x"]),
        );
        check(task(false, "", &[]), entry_only.clone(), Ok(&["/init"]));
        check(task(false, "", &[]), both.clone(), Ok(&["/init", "--flag"]));
        // Arguments replace cmd and follow the entrypoint.
        check(task(false, "", &["a", "b"]), none.clone(), Ok(&["a", "b"]));
        check(task(false, "", &["a"]), both.clone(), Ok(&["/init", "a"]));
        // A value ignores the image.
        check(
            task(false, "/bin/echo", &[]),
            both.clone(),
            Ok(&["/bin/echo"]),
        );
        check(
            task(false, "/bin/echo", &["echo", "hi"]),
            both.clone(),
            Ok(&["echo", "hi"]),
        );
        // A shell command too.
        check(
            task(true, "echo hi", &[]),
            both,
            Ok(&["sh", "-c", "echo hi"]),
        );
    }

    fn config(volumes: Vec<Volume>) -> ExecutorConfig {
        let mut command = task(true, "", &[]);
        command.env.insert("A".into(), "task".into());
        let container = ContainerSpec {
            kind: ContainerKind::Mesos,
            docker: None,
            volumes,
        };
        let env = [("A", "task"), ("MESOS_SANDBOX", "/work/sb")];
        crate::testing::config(command, Some(container), &env)
    }

    fn volume(container: &str, host: &str, mode: VolumeMode, image: Option<&str>) -> Volume {
        Volume {
            container_path: container.into(),
            host_path: host.into(),
            mode,
            image: image.map(str::to_string),
            group: None,
        }
    }

    #[test]
    fn env_and_cwd_and_user() {
        let mut img = image(&["/init"], &[]);
        img.env = vec!["A=image".into(), "B=image".into(), "PATH=/bin".into()];
        img.working_dir = Some("/srv".into());
        img.user = Some("nobody".into());
        let dirs = Dirs::under(Path::new("/work/meta"));
        let layers = Layers {
            rootfs: Some(&[]),
            volumes: BTreeMap::new(),
        };
        let p = plan(&config(Vec::new()), "busybox", &img, &layers, &dirs).expect("plan");
        assert_eq!(
            p.env,
            [
                "A=task",
                "B=image",
                "MESOS_DIRECTORY=/mnt/mesos/sandbox",
                "MESOS_SANDBOX=/mnt/mesos/sandbox",
                "PATH=/bin"
            ]
        );
        assert_eq!(
            (p.cwd.as_str(), p.user.as_deref()),
            ("/srv", Some("nobody"))
        );
        img.working_dir = None;
        let p = plan(&config(Vec::new()), "busybox", &img, &layers, &dirs).expect("plan");
        assert_eq!(p.cwd, CONTAINER_SANDBOX);
    }

    #[test]
    fn task_dns_binds_the_generated_resolv_conf() {
        let dirs = Dirs::under(Path::new("/work/meta"));
        let layers = Layers {
            rootfs: None,
            volumes: BTreeMap::new(),
        };
        let mut config = config(Vec::new());
        config.dns = Some(keel_api::executor::TaskDns {
            servers: vec!["127.0.0.1".parse().expect("ip")],
            search: vec!["marathon.mesos".into()],
            host_network: false,
        });
        let p = plan(&config, "busybox", &image(&["/x"], &[]), &layers, &dirs).expect("plan");
        let resolv: Vec<_> = (p.mounts.iter())
            .filter(|m| m.target == "/etc/resolv.conf")
            .map(|m| (m.source.clone(), m.readonly))
            .collect();
        assert_eq!(
            resolv,
            [(
                MountSource::Bind("/work/meta/container/resolv.conf".into()),
                true
            )]
        );
    }

    #[test]
    fn volumes_host_sandbox_relative_and_image() {
        let vols = vec![
            volume("/etc/keel", "/srv/conf", VolumeMode::ReadOnly, None),
            volume("data", "/srv/data", VolumeMode::ReadWrite, None),
            volume("/cache", "cache", VolumeMode::ReadWrite, None),
            volume("/tools", "", VolumeMode::ReadOnly, Some("tools:1")),
        ];
        let dirs = Dirs::under(Path::new("/work/meta"));
        let layers = Layers {
            rootfs: None,
            volumes: [(3, vec![PathBuf::from("/store/l1")])].into(),
        };
        let p = plan(
            &config(vols),
            "busybox",
            &image(&["/x"], &[]),
            &layers,
            &dirs,
        )
        .expect("plan");
        assert_eq!(p.rootfs, None);
        let got: Vec<_> = p
            .mounts
            .iter()
            .filter(|m| !m.target.starts_with("/etc/h") && !m.target.starts_with("/etc/r"))
            .map(|m| (m.target.as_str(), m.readonly, m.source.clone()))
            .collect();
        let bind = |p: &str| MountSource::Bind(p.into());
        assert_eq!(
            got,
            [
                (CONTAINER_SANDBOX, false, bind("/work/sb")),
                ("/etc/keel", true, bind("/srv/conf")),
                ("/mnt/mesos/sandbox/data", false, bind("/srv/data")),
                ("/cache", false, bind("/work/sb/cache")),
                (
                    "/tools",
                    true,
                    MountSource::Overlay {
                        layers: vec!["/store/l1".into()],
                        upper: "/work/meta/container/volumes/3/upper".into(),
                        work: "/work/meta/container/volumes/3/work".into(),
                    }
                ),
            ]
        );
        let bad = vec![volume("../x", "/srv", VolumeMode::ReadOnly, None)];
        let err = plan(
            &config(bad),
            "busybox",
            &image(&["/x"], &[]),
            &layers,
            &dirs,
        );
        assert!(
            matches!(err, Err(PlanError::BadVolumePath { .. })),
            "{err:?}"
        );
    }
}
