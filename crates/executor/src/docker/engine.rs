//! A blocking client of the Docker Engine: a bollard client driven by its own
//! current-thread tokio runtime, so the executor's threads can call the engine without an
//! async runtime of their own. Each thread that talks to the engine owns one `Engine`.

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::models::{ContainerCreateBody, ContainerState};
use bollard::query_parameters::{
    CreateContainerOptions, CreateImageOptions, KillContainerOptions, LogsOptions,
    RemoveContainerOptions, StopContainerOptions, WaitContainerOptions,
};
use futures_util::StreamExt;
use std::future::Future;
use std::time::Duration;

/// How long one ordinary engine call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// How long connecting and negotiating the API version may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Streams (logs, wait) last as long as the container: no request timeout for them.
const STREAM_TIMEOUT: Duration = Duration::from_secs(365 * 24 * 3600);

/// A failure talking to the Docker Engine.
#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error("cannot start a runtime for docker calls: {0}")]
    Runtime(std::io::Error),
    #[error("cannot {op}: {source}")]
    Engine {
        op: String,
        source: bollard::errors::Error,
    },
    #[error("cannot {op}: timed out after {secs} s")]
    Timeout { op: String, secs: u64 },
}

/// What became of an exited container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Exit {
    pub code: i64,
    pub oom_killed: bool,
}

pub(crate) struct Engine {
    rt: tokio::runtime::Runtime,
    docker: Docker,
}

impl Engine {
    /// Connects to the local engine (`DOCKER_HOST` or `/var/run/docker.sock`) and
    /// negotiates the API version (bollard speaks a newer one than older engines).
    pub fn connect() -> Result<Self, DockerError> {
        Self::connect_with(CALL_TIMEOUT)
    }

    fn connect_with(timeout: Duration) -> Result<Self, DockerError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(DockerError::Runtime)?;
        let op = "connect to the docker engine";
        let docker = rt.block_on(async {
            let docker = Docker::connect_with_local_defaults()
                .map_err(|source| engine_err(op, source))?
                .with_timeout(timeout);
            bounded(op, CONNECT_TIMEOUT, docker.negotiate_version()).await
        })?;
        Ok(Self { rt, docker })
    }

    fn call<T>(
        &self,
        op: impl Into<String>,
        fut: impl Future<Output = Result<T, bollard::errors::Error>>,
    ) -> Result<T, DockerError> {
        self.rt.block_on(bounded(op, CALL_TIMEOUT, fut))
    }

    /// Whether the engine has `image` locally.
    pub fn has_image(&self, image: &str) -> bool {
        self.call("inspect image", self.docker.inspect_image(image))
            .is_ok()
    }

    /// Pulls `image` (`name[:tag]`, `latest` when untagged), giving up after `timeout`.
    pub fn pull(&self, image: &str, timeout: Duration) -> Result<(), DockerError> {
        let (from_image, tag) = split_tag(image);
        let options = CreateImageOptions {
            from_image: Some(from_image.to_string()),
            tag: (!tag.is_empty()).then(|| tag.to_string()),
            ..Default::default()
        };
        let op = format!("pull image {image:?}");
        let stream = self.docker.create_image(Some(options), None, None);
        self.rt.block_on(bounded(op, timeout, async move {
            let mut stream = std::pin::pin!(stream);
            while let Some(item) = stream.next().await {
                item?;
            }
            Ok(())
        }))
    }

    /// Creates container `name`; returns its id.
    pub fn create(&self, name: &str, body: ContainerCreateBody) -> Result<String, DockerError> {
        let options = CreateContainerOptions {
            name: Some(name.to_string()),
            ..Default::default()
        };
        let created = self.call(
            format!("create container {name}"),
            self.docker.create_container(Some(options), body),
        )?;
        for warning in &created.warnings {
            tracing::warn!(container = name, %warning, "docker warning");
        }
        Ok(created.id)
    }

    pub fn start(&self, name: &str) -> Result<(), DockerError> {
        self.call(
            format!("start container {name}"),
            self.docker.start_container(name, None),
        )
    }

    /// `docker stop -t <grace>`: SIGTERM, then SIGKILL after `grace`.
    pub fn stop(&self, name: &str, grace: Duration) -> Result<(), DockerError> {
        let options = StopContainerOptions {
            t: Some(i32::try_from(grace.as_secs_f64().ceil() as u64).unwrap_or(i32::MAX)),
            ..Default::default()
        };
        let op = format!("stop container {name}");
        let fut = self.docker.stop_container(name, Some(options));
        self.rt.block_on(bounded(op, grace + CALL_TIMEOUT, fut))
    }

    /// SIGKILL.
    pub fn kill(&self, name: &str) -> Result<(), DockerError> {
        let options = KillContainerOptions {
            signal: "KILL".into(),
        };
        self.call(
            format!("kill container {name}"),
            self.docker.kill_container(name, Some(options)),
        )
    }

    /// The container's state (running, exit code, OOM kill).
    pub fn state(&self, name: &str) -> Result<ContainerState, DockerError> {
        let inspected = self.call(
            format!("inspect container {name}"),
            self.docker.inspect_container(name, None),
        )?;
        Ok(inspected.state.unwrap_or_default())
    }

    /// The container's own addresses: `NetworkSettings.Networks[*]` IPv4 and global IPv6
    /// addresses (none for host networking, whose network has no address of its own).
    pub fn ips(&self, name: &str) -> Result<Vec<std::net::IpAddr>, DockerError> {
        let inspected = self.call(
            format!("inspect container {name}"),
            self.docker.inspect_container(name, None),
        )?;
        let networks = inspected
            .network_settings
            .and_then(|n| n.networks)
            .unwrap_or_default();
        let mut names: Vec<&String> = networks.keys().collect();
        names.sort();
        let mut ips = Vec::new();
        for n in names {
            let e = &networks[n];
            for a in [&e.ip_address, &e.global_ipv6_address]
                .into_iter()
                .flatten()
            {
                if let Ok(ip) = a.parse::<std::net::IpAddr>()
                    && !ips.contains(&ip)
                {
                    ips.push(ip);
                }
            }
        }
        Ok(ips)
    }

    /// The exit of a container that is not running, `None` while it runs.
    pub fn exit(&self, name: &str) -> Result<Option<Exit>, DockerError> {
        let state = self.state(name)?;
        if state.running == Some(true) {
            return Ok(None);
        }
        Ok(Some(Exit {
            code: state.exit_code.unwrap_or(-1),
            oom_killed: state.oom_killed == Some(true),
        }))
    }

    /// Removes the container (and its anonymous volumes) whatever its state.
    pub fn remove(&self, name: &str) -> Result<(), DockerError> {
        let options = RemoveContainerOptions {
            force: true,
            v: true,
            ..Default::default()
        };
        self.call(
            format!("remove container {name}"),
            self.docker.remove_container(name, Some(options)),
        )
    }

    /// Blocks until the container is not running (or the engine connection breaks).
    pub fn wait(&self, name: &str) {
        let options = WaitContainerOptions {
            condition: "not-running".into(),
        };
        let stream = self.docker.wait_container(name, Some(options));
        self.rt.block_on(async move {
            let mut stream = std::pin::pin!(stream);
            while stream.next().await.is_some() {}
        });
    }

    /// Follows the container's output from its start until it ends, handing each chunk to
    /// `sink` (`true` for stderr).
    pub fn follow_logs(
        &self,
        name: &str,
        mut sink: impl FnMut(bool, &[u8]),
    ) -> Result<(), DockerError> {
        let options = LogsOptions {
            follow: true,
            stdout: true,
            stderr: true,
            ..Default::default()
        };
        let stream = self.docker.logs(name, Some(options));
        self.rt.block_on(async move {
            let mut stream = std::pin::pin!(stream);
            while let Some(item) = stream.next().await {
                match item.map_err(|source| engine_err(format!("follow logs of {name}"), source))? {
                    LogOutput::StdErr { message } => sink(true, &message),
                    LogOutput::StdOut { message } | LogOutput::Console { message } => {
                        sink(false, &message)
                    }
                    LogOutput::StdIn { .. } => {}
                }
            }
            Ok(())
        })
    }

    /// A client for long streams (logs, wait): no per-request timeout.
    pub fn connect_for_streams() -> Result<Self, DockerError> {
        Self::connect_with(STREAM_TIMEOUT)
    }
}

fn engine_err(op: impl Into<String>, source: bollard::errors::Error) -> DockerError {
    DockerError::Engine {
        op: op.into(),
        source,
    }
}

async fn bounded<T>(
    op: impl Into<String>,
    limit: Duration,
    fut: impl Future<Output = Result<T, bollard::errors::Error>>,
) -> Result<T, DockerError> {
    let op = op.into();
    match tokio::time::timeout(limit, fut).await {
        Ok(result) => result.map_err(|source| engine_err(op, source)),
        Err(_) => Err(DockerError::Timeout {
            op,
            secs: limit.as_secs(),
        }),
    }
}

/// `name[:tag]` → `(name, tag)`; a `:` inside a registry host (`host:5000/x`) is no tag,
/// and a digest reference (`name@sha256:..`) is pulled whole.
fn split_tag(image: &str) -> (&str, &str) {
    if image.contains('@') {
        return (image, "");
    }
    match image.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name, tag),
        _ => (image, "latest"),
    }
}

#[cfg(test)]
mod tests {
    use super::split_tag;

    #[test]
    fn tags() {
        assert_eq!(split_tag("busybox"), ("busybox", "latest"));
        assert_eq!(split_tag("busybox:1.36"), ("busybox", "1.36"));
        assert_eq!(
            split_tag("127.0.0.1:5000/keel/busybox"),
            ("127.0.0.1:5000/keel/busybox", "latest")
        );
        assert_eq!(
            split_tag("127.0.0.1:5000/keel/busybox:1"),
            ("127.0.0.1:5000/keel/busybox", "1")
        );
    }
}
