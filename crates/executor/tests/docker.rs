//! End-to-end tests of Docker tasks through `keel_executor::run` and the machine's Docker
//! Engine: output in the sandbox, exit codes, a bridge port mapping reachable from the
//! host, kill with grace, and a missing image failing fast with nothing left behind.

mod support;

use keel_api::executor::ExecutorConfig;
use keel_model::{
    CommandSpec, ContainerKind, ContainerSpec, DockerNetwork, DockerSpec, PortMapping,
    PortProtocol, Reason, TaskState,
};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};
use support::busybox::{busybox_image, container_exists, inspect};
use support::*;

use TaskState::{Failed, Finished, Killed, Killing, Running, Starting};

/// A config running `command` in `image` with `network` and `mappings`.
fn docker_config(
    command: CommandSpec,
    image: &str,
    network: DockerNetwork,
    mappings: Vec<PortMapping>,
) -> ExecutorConfig {
    let mut config = config(command);
    config
        .env
        .insert("MESOS_SANDBOX".into(), "/host/sandbox".into());
    config.task.container = Some(ContainerSpec {
        kind: ContainerKind::Docker,
        docker: Some(DockerSpec {
            image: image.into(),
            network,
            port_mappings: mappings,
            parameters: vec![("label".into(), "keel.test=1".into())],
            privileged: false,
            force_pull: false,
        }),
        volumes: Vec::new(),
    });
    config
}

fn busybox(script: &str) -> ExecutorConfig {
    docker_config(
        sh(script),
        busybox_image(),
        DockerNetwork::Bridge,
        Vec::new(),
    )
}

fn container_name(config: &ExecutorConfig) -> String {
    format!("keel-{}", config.container_id)
}

/// A port nothing listens on right now.
fn free_port() -> u16 {
    let listener = TcpListener::bind("0.0.0.0:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// `GET /` on `127.0.0.1:port`, retried until it answers or `PATIENCE` passes.
fn http_get(port: u16) -> String {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let attempt = TcpStream::connect(("127.0.0.1", port)).and_then(|mut s| {
            s.set_read_timeout(Some(Duration::from_secs(5)))?;
            s.write_all(b"GET /index.html HTTP/1.0\r\n\r\n")?;
            let mut body = String::new();
            s.read_to_string(&mut body)?;
            Ok(body)
        });
        match attempt {
            Ok(body) if body.contains("200") => return body,
            _ if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            other => panic!("no HTTP answer on port {port}: {other:?}"),
        }
    }
}

#[test]
fn a_docker_task_runs_and_its_output_lands_in_the_sandbox() {
    let mut executor = Executor::start(busybox("echo hello; echo oops >&2; echo $MESOS_SANDBOX"));
    let name = container_name(&executor.config);
    let mut agent = executor.connect();
    let statuses = agent.hello_then_until(Finished);
    assert_eq!(
        states(&statuses),
        [(1, Starting), (2, Running), (3, Finished)],
        "{statuses:?}"
    );
    agent.ack(3);
    let (stdout, stderr) = (
        executor.read_sandbox("stdout"),
        executor.read_sandbox("stderr"),
    );
    executor.join();
    assert_eq!(stdout, "hello\n/mnt/mesos/sandbox\n");
    assert_eq!(stderr, "oops\n");
    assert!(!container_exists(&name), "container {name} not removed");
}

#[test]
fn a_non_zero_exit_fails_with_its_exit_code() {
    let mut executor = Executor::start(busybox("exit 3"));
    let mut agent = executor.connect();
    let statuses = agent.hello_then_until(Failed);
    let last = statuses.last().expect("a status");
    assert_eq!((last.state, last.exit_code), (Failed, Some(3)), "{last:?}");
    agent.ack(last.seq);
    executor.join();
}

#[test]
fn a_bridge_port_mapping_is_reachable_on_the_assigned_host_port() {
    let host_port = free_port();
    let config = docker_config(
        sh("echo served > /tmp/index.html; exec httpd -f -p 8080 -h /tmp"),
        busybox_image(),
        DockerNetwork::Bridge,
        vec![PortMapping {
            container_port: 8080,
            host_port_index: Some(0),
            protocol: PortProtocol::Tcp,
        }],
    );
    let mut executor = Executor::start(with_ports(config, &[host_port]));
    let name = container_name(&executor.config);
    let mut agent = executor.connect();
    let running = agent.hello_then_until(Running);
    assert!(http_get(host_port).contains("served"));
    // TASK_RUNNING carries the container's bridge address, as docker inspect has it.
    let ips = &running.last().expect("TASK_RUNNING").container_ips;
    assert_eq!(
        ips.iter().map(ToString::to_string).collect::<Vec<_>>(),
        [inspect(&name, "{{.NetworkSettings.IPAddress}}")],
        "{running:?}"
    );
    assert_eq!(
        inspect(&name, "{{index .Config.Labels \"keel.task_id\"}}"),
        executor.config.task.id.as_str()
    );
    assert_eq!(
        inspect(&name, "{{index .Config.Labels \"keel.agent_id\"}}"),
        "m1-S1"
    );
    assert_eq!(
        inspect(&name, "{{index .Config.Labels \"keel.test\"}}"),
        "1"
    );
    assert_eq!(
        inspect(&name, "{{.HostConfig.Memory}}"),
        (64u64 << 20).to_string()
    );
    agent.kill(1.0);
    let statuses = agent.until(Killed);
    let last = statuses.last().expect("a status");
    assert_eq!(last.state, Killed, "{statuses:?}");
    agent.ack(last.seq);
    executor.join();
    assert!(!container_exists(&name), "container {name} not removed");
}

#[test]
fn kill_sends_sigterm_first() {
    let script = "trap 'echo got-term; exit 0' TERM; echo ready; while true; do sleep 0.1; done";
    let mut executor = Executor::start(busybox(script));
    let mut agent = executor.connect();
    agent.hello_then_until(Running);
    executor.wait_for_file("stdout");
    let started = Instant::now();
    agent.kill(30.0);
    let statuses = agent.until(Killed);
    assert_eq!(
        statuses.iter().map(|s| s.state).collect::<Vec<_>>(),
        [Killing, Killed]
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    agent.ack(statuses[1].seq);
    let stdout = executor.read_sandbox("stdout");
    executor.join();
    assert_eq!(stdout, "ready\ngot-term\n");
}

#[test]
fn a_task_ignoring_sigterm_is_killed_after_the_grace_period() {
    let script = "trap '' TERM; echo ready; while true; do sleep 0.1; done";
    let mut executor = Executor::start(busybox(script));
    let mut agent = executor.connect();
    agent.hello_then_until(Running);
    executor.wait_for_file("stdout");
    let started = Instant::now();
    agent.kill(1.0);
    let statuses = agent.until(Killed);
    let elapsed = started.elapsed();
    let last = statuses.last().expect("a status");
    assert_eq!(last.state, Killed, "{statuses:?}");
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(20),
        "killed after {elapsed:?}"
    );
    agent.ack(last.seq);
    executor.join();
}

#[test]
fn a_missing_image_fails_the_launch_quickly_and_leaves_nothing_behind() {
    let config = docker_config(
        sh("true"),
        "keel-test/no-such-image:1",
        DockerNetwork::Bridge,
        Vec::new(),
    );
    let started = Instant::now();
    let mut executor = Executor::start(config);
    let name = container_name(&executor.config);
    let mut agent = executor.connect();
    let statuses = agent.hello_then_until(Failed);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
    let last = statuses.last().expect("a status");
    assert_eq!(
        (last.state, last.reason),
        (Failed, Some(Reason::ReasonContainerLaunchFailed)),
        "{last:?}"
    );
    let message = last.message.clone().unwrap_or_default();
    assert!(
        message.contains("keel-test/no-such-image:1") && message.contains("pull"),
        "{message}"
    );
    agent.ack(last.seq);
    executor.join();
    assert!(!container_exists(&name));
}
