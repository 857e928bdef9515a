//! End-to-end tests of containers under a real `keel master` + `keel agent`.
//!
//! Docker: a Marathon app in a bridged busybox container serving HTTP on its mapped host
//! port, which survives an agent crash and restart and whose container goes away with the
//! app; the agent's garbage collection of an orphan container carrying its id.
//!
//! Keel's own runtime (UCR): busybox pulled from a real registry on loopback (Debian's
//! `docker-registry`) and from an archive directory; the task sees only its own
//! processes, is held to its memory limit and reads a read-only host volume; a Docker and
//! a UCR task both survive a kill -9 of the agent; a missing image, a registry that is down
//! and an invalid reference each end as TASK_FAILED with a clear message.

mod support;

#[path = "../crates/executor/tests/support/busybox.rs"]
mod busybox;

use serde_json::{Value, json};
use std::process::Command;
use std::time::Duration;
use support::*;

/// Master + agent arguments for one test; the agent keeps its listen address and work
/// directory across restarts.
struct Cluster {
    data: String,
    work: String,
    mlisten: String,
    alisten: String,
    resources: String,
}

impl Cluster {
    fn new(dir: &TempDir) -> Self {
        let path = |p: &str| dir.path().join(p).to_str().unwrap_or_default().to_string();
        Cluster {
            data: path("master"),
            work: path("agent"),
            mlisten: format!("127.0.0.1:{}", free_port()),
            alisten: format!("127.0.0.1:{}", free_port()),
            // Two free host ports of our own: the default range (31000-32000) is shared
            // with anything else running on the machine.
            resources: {
                let a = free_port();
                let b = std::iter::repeat_with(free_port)
                    .find(|b| *b != a)
                    .unwrap_or_default();
                format!("cpus:4;mem:4096;ports:[{a}-{a},{b}-{b}]")
            },
        }
    }

    fn master(&self) -> Proc {
        Proc::start(&[
            "master",
            "--data-dir",
            &self.data,
            "--listen",
            &self.mlisten,
            "--heartbeat-interval",
            "0.5",
            "--agent-timeout",
            "30",
        ])
    }

    fn agent(&self, master: &str) -> Proc {
        self.agent_with(master, &[])
    }

    fn agent_with(&self, master: &str, extra: &[&str]) -> Proc {
        let mut args = vec![
            "agent",
            "--master",
            master,
            "--work-dir",
            &self.work,
            "--listen",
            &self.alisten,
            "--resources",
            &self.resources,
        ];
        args.extend_from_slice(extra);
        let agent = Proc::start(&args);
        // Tasks launched before the agent registered would find no agent.
        let endpoint = agent.url.clone();
        wait_for(30, "the agent to register", || {
            let (_, v) = get(&format!("{master}/master/slaves"));
            let slaves = v["slaves"].as_array()?.clone();
            let port = endpoint.rsplit(':').next()?.to_string();
            slaves
                .iter()
                .any(|a| {
                    a["active"] == true && a["pid"].as_str().is_some_and(|p| p.ends_with(&port))
                })
                .then_some(())
        });
        agent
    }
}

/// Removes every container carrying `label` when dropped, so a failed test leaves
/// nothing running.
struct Containers(String);

impl Drop for Containers {
    fn drop(&mut self) {
        for id in docker_ps(&self.0) {
            let _ = Command::new("docker").args(["rm", "-f", &id]).output();
        }
    }
}

/// Ids of the containers (any state) with `label` (`key=value`).
fn docker_ps(label: &str) -> Vec<String> {
    let out = Command::new("docker")
        .args([
            "ps",
            "-aq",
            "--no-trunc",
            "--filter",
            &format!("label={label}"),
        ])
        .output()
        .expect("docker ps");
    assert!(
        out.status.success(),
        "docker ps: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

fn send(method: &str, url: &str, body: Option<Value>) -> (u16, Value) {
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::GET);
    let mut r = client()
        .request(m, url)
        .header("content-type", "application/json");
    if let Some(b) = body {
        r = r.body(b.to_string());
    }
    let r = r.send().expect("request");
    let code = r.status().as_u16();
    let text = r.text().unwrap_or_default();
    (
        code,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn app_tasks(url: &str, app: &str) -> Vec<Value> {
    let (_, v) = get(&format!("{url}/v2/apps{app}/tasks"));
    v["tasks"].as_array().cloned().unwrap_or_default()
}

/// The body served at `http://127.0.0.1:<port>/`, if anything answers.
fn http_body(port: u64) -> Option<String> {
    let c = reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(2))
        .build()
        .ok()?;
    let r = c.get(format!("http://127.0.0.1:{port}/")).send().ok()?;
    r.status().is_success().then(|| r.text().ok()).flatten()
}

/// The agent's id, once it has registered.
fn agent_id(agent_url: &str) -> String {
    wait_for(20, "the agent to register", || {
        let (_, s) = get(&format!("{agent_url}/state"));
        s["id"]
            .as_str()
            .filter(|id| !id.is_empty())
            .map(String::from)
    })
}

/// Whether the agent itself reports `task` as TASK_RUNNING (it re-adopted its executor).
fn agent_runs(agent_url: &str, task: &str) -> bool {
    let (_, s) = get(&format!("{agent_url}/state"));
    s["frameworks"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|f| f["executors"].as_array().cloned().unwrap_or_default())
        .flat_map(|e| e["tasks"].as_array().cloned().unwrap_or_default())
        .any(|t| t["id"] == task && t["state"] == "TASK_RUNNING")
}

#[test]
fn a_bridged_docker_app_serves_its_host_port_survives_an_agent_restart_and_is_removed() {
    busybox::busybox_image();
    let dir = TempDir::new("ctr-app");
    let cluster = Cluster::new(&dir);
    let master = cluster.master();
    let url = master.url.clone();
    let agent = cluster.agent(&url);
    let aid = agent_id(&agent.url);
    let _cleanup = Containers(format!("keel.agent_id={aid}"));
    // The agent's second port, asked for as a fixed host port before a dynamic one.
    let fixed: u64 = cluster
        .resources
        .rsplit(',')
        .next()
        .and_then(|r| r.split('-').next())
        .and_then(|p| p.parse().ok())
        .expect("the agent's second port");

    let app = json!({
        "id": "/web",
        "cmd": "mkdir -p /www && echo hello-keel > /www/index.html && httpd -p 8081 -h /www && exec httpd -f -p 8080 -h /www",
        "cpus": 0.1, "mem": 32, "instances": 1,
        "container": {"type": "DOCKER",
            "docker": {"image": busybox::BUSYBOX_IMAGE, "network": "BRIDGE"},
            "portMappings": [{"containerPort": 8081, "hostPort": fixed}, {"containerPort": 8080, "hostPort": 0}]}
    });
    let (code, v) = send("POST", &format!("{url}/v2/apps"), Some(app));
    assert_eq!(code, 201, "{v}");
    let t = wait_for(60, "the app's task to run", || {
        app_tasks(&url, "/web")
            .into_iter()
            .find(|t| t["state"] == "TASK_RUNNING")
    });
    let id = t["id"].as_str().unwrap_or_default().to_string();
    assert_eq!(t["ports"][0].as_u64(), Some(fixed), "{t}");
    let port = t["ports"][1].as_u64().unwrap_or_default();
    assert!(port > 0 && port != fixed, "no dynamic host port: {t}");
    wait_state(&url, &id, "TASK_RUNNING", 10);
    let body = wait_for(30, "httpd on the host port", || http_body(port));
    assert_eq!(body.trim(), "hello-keel");
    let body = wait_for(30, "httpd on the fixed host port", || http_body(fixed));
    assert_eq!(body.trim(), "hello-keel");
    let containers = docker_ps(&format!("keel.task_id={id}"));
    assert_eq!(containers.len(), 1, "{containers:?}");
    // The master shows the container and statuses as Mesos does, in both of its views.
    let (_, state) = get(&format!("{url}/master/state"));
    let in_state = state["frameworks"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|f| f["tasks"].as_array().cloned().unwrap_or_default())
        .find(|t| t["id"] == id.as_str())
        .expect("the task in /master/state");
    for t in [
        task(&url, &id).expect("the task in /master/tasks"),
        in_state,
    ] {
        let docker = &t["container"]["docker"];
        assert_eq!(t["container"]["type"], "DOCKER", "{t}");
        assert_eq!(docker["image"], busybox::BUSYBOX_IMAGE, "{t}");
        assert_eq!(docker["network"], "BRIDGE", "{t}");
        assert_eq!(
            docker["port_mappings"][0]["host_port"].as_u64(),
            Some(fixed),
            "{t}"
        );
        assert_eq!(docker["port_mappings"][0]["container_port"], 8081, "{t}");
        assert_eq!(
            docker["port_mappings"][1]["host_port"].as_u64(),
            Some(port),
            "{t}"
        );
        assert_ne!(t["statuses"][0]["state"], "TASK_STAGING", "{t}");
        assert!(
            t["statuses"][0]["container_status"]["container_id"]["value"].is_string(),
            "dcos task metrics reads statuses[0].container_status: {t}"
        );
    }

    // Crash the agent and restart it on the same work directory: it re-adopts the task.
    agent.kill9();
    assert_eq!(
        http_body(port).as_deref().map(str::trim),
        Some("hello-keel"),
        "the container should keep serving while the agent is down"
    );
    let agent = cluster.agent(&url);
    assert_eq!(agent_id(&agent.url), aid, "the agent id changed");
    wait_for(30, "the restarted agent to re-adopt the task", || {
        agent_runs(&agent.url, &id).then_some(())
    });
    // A few heartbeats later nothing has been replaced.
    std::thread::sleep(Duration::from_secs(2));
    let tasks = app_tasks(&url, "/web");
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    assert_eq!(tasks[0]["id"], id.as_str(), "{tasks:?}");
    assert_eq!(tasks[0]["state"], "TASK_RUNNING", "{tasks:?}");
    assert_eq!(task_state(&url, &id), "TASK_RUNNING");
    assert_eq!(
        http_body(port).as_deref().map(str::trim),
        Some("hello-keel")
    );
    assert_eq!(docker_ps(&format!("keel.task_id={id}")), containers);

    // Deleting the app kills the task and removes its container.
    let (code, v) = send("DELETE", &format!("{url}/v2/apps/web"), None);
    assert_eq!(code, 200, "{v}");
    wait_for(30, "the app to be gone", || {
        let (code, _) = get(&format!("{url}/v2/apps/web"));
        (code == 404).then_some(())
    });
    wait_for(30, "the task to be killed", || {
        (task_state(&url, &id) == "TASK_KILLED").then_some(())
    });
    wait_for(30, "the container to be removed", || {
        docker_ps(&format!("keel.task_id={id}"))
            .is_empty()
            .then_some(())
    });
    wait_for(10, "the host port to close", || {
        http_body(port).is_none().then_some(())
    });
}

#[test]
fn the_agent_removes_an_orphan_container_carrying_its_id_when_it_starts() {
    busybox::busybox_image();
    let dir = TempDir::new("ctr-orphan");
    let cluster = Cluster::new(&dir);
    let master = cluster.master();
    let url = master.url.clone();
    let agent = cluster.agent(&url);
    let aid = agent_id(&agent.url);
    let label = format!("keel.agent_id={aid}");
    let _cleanup = Containers(label.clone());

    // A container no task of this agent owns, e.g. left behind by a crash, and one of
    // another agent.
    let other_label = format!("keel.agent_id=other-{aid}");
    let _cleanup_other = Containers(other_label.clone());
    let orphan = docker_run(&label);
    let other = docker_run(&other_label);
    assert_eq!(docker_ps(&label), vec![orphan]);

    // Running containers are only taken for orphans on the first pass after a start (later
    // passes could race a launch), so restart the agent on its work directory.
    agent.kill9();
    let agent = cluster.agent(&url);
    assert_eq!(agent_id(&agent.url), aid, "the agent id changed");
    wait_for(30, "the orphan container to be removed", || {
        docker_ps(&label).is_empty().then_some(())
    });
    let (_, m) = get(&format!("{}/metrics/snapshot", agent.url));
    assert!(
        m["gc/docker_containers_removed"]
            .as_f64()
            .unwrap_or_default()
            >= 1.0,
        "{m}"
    );
    assert_eq!(
        docker_ps(&other_label),
        vec![other],
        "another agent's container"
    );
}

/// `docker run -d` of a sleeping busybox labelled `label` and `keel.container_id=bogus`;
/// returns the container id.
fn docker_run(label: &str) -> String {
    let out = Command::new("docker")
        .args([
            "run",
            "-d",
            "--label",
            label,
            "--label",
            "keel.container_id=bogus",
            busybox::BUSYBOX_IMAGE,
            "sleep",
            "1000",
        ])
        .output()
        .expect("docker run");
    assert!(
        out.status.success(),
        "docker run: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A loopback registry holding busybox as `busybox:latest`.
fn registry_with_busybox(dir: &TempDir) -> keel_image::testing::Registry {
    let archive = keel_image::testing::busybox_archive(&dir.path().join("archive"));
    let registry = keel_image::testing::Registry::start(
        &dir.path().join("registry"),
        keel_image::testing::RegistryOptions::default(),
    );
    registry.push_archive(&archive, "busybox:latest");
    registry
}

/// `keel task run` with `args`; returns the task id.
fn launch(url: &str, args: &[&str]) -> String {
    let mut all = vec!["task", "run"];
    all.extend_from_slice(args);
    let (ok, out, err) = cli(url, &all);
    assert!(ok, "keel task run {args:?} failed: {err}");
    out.trim().to_string()
}

/// The task's stdout, once it contains `marker`.
fn stdout_with(url: &str, id: &str, marker: &str) -> String {
    wait_for(30, &format!("{marker:?} in the stdout of {id}"), || {
        let t = task(url, id)?;
        let out = read_sandbox(url, &t, "stdout");
        out.contains(marker).then_some(out)
    })
}

/// Containers of the agent whose writable layer is still on disk.
fn container_dirs(work: &str) -> Vec<std::path::PathBuf> {
    let runs = std::path::Path::new(work).join("meta").join("runs");
    std::fs::read_dir(runs)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("container"))
        .filter(|p| p.exists())
        .collect()
}

#[test]
fn a_ucr_task_from_the_loopback_registry_is_isolated_limited_and_reads_a_readonly_volume() {
    let dir = TempDir::new("ucr-registry");
    let registry = registry_with_busybox(&dir);
    let cluster = Cluster::new(&dir);
    let master = cluster.master();
    let url = master.url.clone();
    let reg = format!("http://{}", registry.addr);
    let _agent = cluster.agent_with(&url, &["--docker-registry", &reg]);
    let host = dir.path().join("host-data");
    std::fs::create_dir_all(&host).expect("mkdir");
    std::fs::write(host.join("hello"), "from-the-host\n").expect("write");
    let volume = format!("{}:/data:ro", host.display());

    let script = "echo procs:; ps -o pid,comm; echo :procs; cat /data/hello; \
        (touch /data/x 2>/dev/null && echo volume-writable) || echo volume-read-only; \
        echo sandbox=$MESOS_SANDBOX; test -d /mnt/mesos/sandbox && echo sandbox-mounted; \
        echo kept > /cache/note; echo done; exec sleep 600";
    let id = launch(
        &url,
        &[
            "--image",
            "busybox",
            "--volume",
            &volume,
            "--volume",
            "cache:/cache:rw",
            "--shell",
            "--",
            script,
        ],
    );
    wait_state(&url, &id, "TASK_RUNNING", 60);
    let out = stdout_with(&url, &id, "done");
    let procs: Vec<&str> = out
        .split("procs:")
        .nth(1)
        .and_then(|s| s.split(":procs").next())
        .unwrap_or_default()
        .lines()
        .skip(2) // the rest of the marker line and ps's header
        .filter(|l| !l.trim().is_empty())
        .collect();
    // The container's init, the shell and ps: none of the host's processes.
    assert!(procs.len() <= 3, "the task sees other processes: {procs:?}");
    assert!(
        procs.iter().any(|l| l.trim().starts_with("1 ")),
        "no pid 1 in the container: {procs:?}"
    );
    assert!(out.contains("from-the-host"), "{out}");
    assert!(out.contains("volume-read-only"), "{out}");
    assert!(!host.join("x").exists());
    assert!(out.contains("sandbox=/mnt/mesos/sandbox"), "{out}");
    assert!(out.contains("sandbox-mounted"), "{out}");
    // A sandbox-relative volume: written in the container, found in the sandbox.
    let t = task(&url, &id).expect("task");
    assert_eq!(read_sandbox(&url, &t, "cache/note").trim(), "kept");
    assert_eq!(container_dirs(&cluster.work).len(), 1);

    // Held to its memory limit: 200 MB through `tail` (which keeps a line-less input).
    let hog = launch(
        &url,
        &[
            "--image",
            "busybox",
            "--mem",
            "24",
            "--shell",
            "--",
            "head -c 200m /dev/zero | tail",
        ],
    );
    let t = wait_state(&url, &hog, "TASK_FAILED", 60);
    assert_eq!(t["reason"], "REASON_CONTAINER_LIMITATION_MEMORY", "{t}");

    let (ok, _, err) = cli(&url, &["task", "kill", &id]);
    assert!(ok, "{err}");
    wait_state(&url, &id, "TASK_KILLED", 30);
    wait_for(10, "the containers' writable layers to be removed", || {
        container_dirs(&cluster.work).is_empty().then_some(())
    });
}

#[test]
fn a_ucr_task_runs_from_an_image_archive_directory_with_the_image_defaults() {
    let dir = TempDir::new("ucr-archive");
    let archives = dir.path().join("archives");
    let archive = keel_image::testing::busybox_archive(&dir.path().join("build"));
    std::fs::create_dir_all(&archives).expect("mkdir");
    std::fs::copy(&archive, archives.join("busybox:latest.tar")).expect("copy archive");
    let cluster = Cluster::new(&dir);
    let master = cluster.master();
    let url = master.url.clone();
    let local = archives.display().to_string();
    // The copy backend (the overlay one is what the registry tests use).
    let flags = [
        "--docker-registry",
        &local,
        "--image-provisioner-backend",
        "copy",
    ];
    let _agent = cluster.agent_with(&url, &flags);

    let script = "echo archive-ok image=$KEEL_IMAGE; pwd";
    let id = launch(&url, &["--image", "busybox", "--", "sh", "-c", script]);
    wait_state(&url, &id, "TASK_FINISHED", 60);
    let out = stdout_with(&url, &id, "archive-ok");
    assert!(
        out.contains("image=busybox"),
        "the image's environment is not set: {out}"
    );
    assert!(
        out.contains("/mnt/mesos/sandbox"),
        "not started in the sandbox: {out}"
    );
    // No command: the image's own cmd (`sh`, which ends at once on an empty stdin).
    let id = launch(&url, &["--image", "busybox"]);
    wait_state(&url, &id, "TASK_FINISHED", 60);

    // An image volume: another image's root filesystem, read-only, at /tools.
    let req = json!({"name": "tools", "cmd": "/tools/bin/busybox echo tool-ok; touch /tools/x || echo tools-read-only",
        "cpus": 0.1, "mem": 32,
        "container": {"kind": "MESOS",
            "docker": {"image": "busybox", "network": "HOST"},
            "volumes": [{"container_path": "/tools", "mode": "RO", "image": "busybox"}]}});
    let (code, v) = send("POST", &format!("{url}/internal/v1/tasks"), Some(req));
    assert_eq!(code, 201, "{v}");
    let id = v["task_id"].as_str().unwrap_or_default().to_string();
    wait_state(&url, &id, "TASK_FINISHED", 60);
    let out = stdout_with(&url, &id, "tool-ok");
    assert!(out.contains("tools-read-only"), "{out}");

    // A Marathon pod whose container names an image runs in Keel's runtime; it sees the
    // instance's ephemeral volume (bind mounted read-only at /shared) that its container
    // without an image fills (a link at `data` in that one's sandbox).
    let main = "echo pod-in-image=$KEEL_IMAGE; while [ ! -s /shared/msg ]; do sleep 0.1; done; \
        echo got=$(cat /shared/msg); touch /shared/x || echo shared-read-only; exec sleep 600";
    let pod = json!({"id": "/pod-ucr", "scaling": {"kind": "fixed", "instances": 1},
        "networks": [{"mode": "host"}],
        "volumes": [{"name": "shared"}],
        "containers": [{"name": "main", "resources": {"cpus": 0.1, "mem": 32},
            "image": {"kind": "DOCKER", "id": "busybox"},
            "volumeMounts": [{"name": "shared", "mountPath": "/shared", "readOnly": true}],
            "exec": {"command": {"shell": main}}},
            {"name": "side", "resources": {"cpus": 0.1, "mem": 32},
            "volumeMounts": [{"name": "shared", "mountPath": "data"}],
            "exec": {"command": {"shell": "echo from-side > data/msg; exec sleep 600"}}}]});
    let (code, v) = send("POST", &format!("{url}/v2/pods"), Some(pod));
    assert_eq!(code, 201, "{v}");
    let t = wait_for(60, "the pod's container to run", || {
        let (_, v) = get(&format!("{url}/master/tasks?limit=-1"));
        v["tasks"]
            .as_array()?
            .iter()
            .find(|t| t["name"] == "main" && t["state"] == "TASK_RUNNING")
            .cloned()
    });
    let id = t["id"].as_str().unwrap_or_default().to_string();
    stdout_with(&url, &id, "pod-in-image=busybox");
    let out = stdout_with(&url, &id, "got=from-side");
    assert!(out.contains("shared-read-only"), "{out}");
    let (code, v) = send("DELETE", &format!("{url}/v2/pods/pod-ucr"), None);
    assert_eq!(code, 202, "{v}");
    wait_state(&url, &id, "TASK_KILLED", 30);
}

#[test]
fn a_missing_image_a_registry_that_is_down_and_a_bad_reference_fail_the_task_cleanly() {
    let dir = TempDir::new("ucr-bad");
    let registry = registry_with_busybox(&dir);
    let cluster = Cluster::new(&dir);
    let master = cluster.master();
    let url = master.url.clone();
    let reg = format!("http://{}", registry.addr);
    let _agent = cluster.agent_with(&url, &["--docker-registry", &reg]);
    let down = format!("127.0.0.1:{}/busybox:latest", free_port());
    for (image, expect) in [
        ("no-such-image:1", "not found"),
        (down.as_str(), "unreachable"),
        ("Not//A Valid:Ref", "invalid"),
    ] {
        let id = launch(&url, &["--image", image, "--", "true"]);
        let t = wait_state(&url, &id, "TASK_FAILED", 60);
        assert_eq!(
            t["reason"], "REASON_CONTAINER_LAUNCH_FAILED",
            "{image}: {t}"
        );
        let message = t["message"].as_str().unwrap_or_default().to_lowercase();
        assert!(message.contains(expect), "{image}: {message}");
    }
    assert!(container_dirs(&cluster.work).is_empty());
}

#[test]
fn docker_and_ucr_tasks_both_survive_a_kill_9_of_the_agent() {
    busybox::busybox_image();
    let dir = TempDir::new("ucr-restart");
    let registry = registry_with_busybox(&dir);
    let cluster = Cluster::new(&dir);
    let master = cluster.master();
    let url = master.url.clone();
    let reg = format!("http://{}", registry.addr);
    let agent = cluster.agent_with(&url, &["--docker-registry", &reg]);
    let aid = agent_id(&agent.url);
    let _cleanup = Containers(format!("keel.agent_id={aid}"));

    // A Marathon app in Keel's runtime, with a command health check that only passes
    // inside the container, and a Docker task.
    let app = json!({
        "id": "/ucr", "cmd": "touch /keel-inside-marker; exec sleep 600",
        "cpus": 0.1, "mem": 32, "instances": 1,
        "container": {"type": "MESOS", "docker": {"image": "busybox"}},
        "healthChecks": [{"protocol": "COMMAND", "command": {"value": "test -f /keel-inside-marker"},
            "gracePeriodSeconds": 30, "intervalSeconds": 1, "maxConsecutiveFailures": 3}]
    });
    assert!(!std::path::Path::new("/keel-inside-marker").exists());
    let (code, v) = send("POST", &format!("{url}/v2/apps"), Some(app));
    assert_eq!(code, 201, "{v}");
    let docker = launch(
        &url,
        &[
            "--image",
            busybox::BUSYBOX_IMAGE,
            "--docker",
            "--",
            "sleep",
            "600",
        ],
    );
    let ucr = wait_for(60, "the app's task to run", || {
        app_tasks(&url, "/ucr")
            .into_iter()
            .find(|t| t["state"] == "TASK_RUNNING")
    });
    let ucr = ucr["id"].as_str().unwrap_or_default().to_string();
    wait_state(&url, &docker, "TASK_RUNNING", 60);
    wait_for(
        30,
        "the command health check inside the container to pass",
        || {
            app_tasks(&url, "/ucr")
                .first()
                .filter(|t| t["healthCheckResults"][0]["alive"] == true)
                .cloned()
        },
    );

    agent.kill9();
    let agent = cluster.agent_with(&url, &["--docker-registry", &reg]);
    assert_eq!(agent_id(&agent.url), aid, "the agent id changed");
    for id in [&ucr, &docker] {
        wait_for(30, "the restarted agent to re-adopt the task", || {
            agent_runs(&agent.url, id).then_some(())
        });
    }
    std::thread::sleep(Duration::from_secs(2));
    for id in [&ucr, &docker] {
        assert_eq!(task_state(&url, id), "TASK_RUNNING", "{id}");
    }
    let tasks = app_tasks(&url, "/ucr");
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    assert_eq!(
        tasks[0]["id"],
        ucr.as_str(),
        "the UCR task was replaced: {tasks:?}"
    );
    assert_eq!(docker_ps(&format!("keel.task_id={docker}")).len(), 1);
}

/// Layer directories in the agent's image cache.
fn cached_layers(work: &str) -> usize {
    let dir = std::path::Path::new(work).join("store/docker/layers/sha256");
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

#[test]
fn the_image_cache_gc_keeps_layers_a_container_uses_and_removes_them_after() {
    let dir = TempDir::new("ucr-gc");
    let archives = dir.path().join("archives");
    keel_image::testing::busybox_archive(&archives);
    let cluster = Cluster::new(&dir);
    let master = cluster.master();
    let url = master.url.clone();
    let local = archives.display().to_string();
    let gc = [
        "--docker-registry",
        &local,
        "--image-gc-max-age",
        "0secs",
        "--disk-watch-interval",
        "200ms",
        "--no-docker-gc",
    ];
    let agent = cluster.agent_with(&url, &gc);
    let id = launch(&url, &["--image", "busybox", "--", "sleep", "600"]);
    wait_state(&url, &id, "TASK_RUNNING", 60);
    assert_eq!(cached_layers(&cluster.work), 1);
    // Many collection passes later, the layer a running container uses is still there.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(cached_layers(&cluster.work), 1);
    assert_eq!(task_state(&url, &id), "TASK_RUNNING");
    let (ok, _, err) = cli(&url, &["task", "kill", &id]);
    assert!(ok, "{err}");
    wait_state(&url, &id, "TASK_KILLED", 30);
    wait_for(30, "the unused image to be collected", || {
        (cached_layers(&cluster.work) == 0).then_some(())
    });
    let (_, m) = get(&format!("{}/metrics/snapshot", agent.url));
    assert!(m["gc/images_removed"].as_u64() >= Some(1), "{m}");
}

#[test]
fn a_ucr_task_pulls_over_https_with_basic_auth_from_the_agents_docker_config() {
    let dir = TempDir::new("ucr-auth");
    let archive = keel_image::testing::busybox_archive(&dir.path().join("archive"));
    let options = keel_image::testing::RegistryOptions {
        basic_auth: Some(("keel".into(), "s3cret".into())),
        tls: true,
    };
    let registry = keel_image::testing::Registry::start(&dir.path().join("registry"), options);
    registry.push_archive(&archive, "team/busybox:1");
    let ca = registry.ca_cert.clone().expect("a CA for the TLS registry");
    let config = dir.path().join("docker-config.json");
    // "keel:s3cret" in base64, as `docker login` writes it.
    let auths = json!({"auths": {registry.addr.clone(): {"auth": "a2VlbDpzM2NyZXQ="}}});
    std::fs::write(&config, auths.to_string()).expect("write config");
    let cluster = Cluster::new(&dir);
    let master = cluster.master();
    let url = master.url.clone();
    let reg = format!("https://{}", registry.addr);
    let (ca, config) = (ca.display().to_string(), config.display().to_string());
    let flags = [
        "--docker-registry",
        &reg,
        "--registry-ca",
        &ca,
        "--docker-config",
        &config,
    ];
    let _agent = cluster.agent_with(&url, &flags);
    let id = launch(
        &url,
        &[
            "--image",
            "team/busybox:1",
            "--",
            "echo",
            "pulled-with-auth",
        ],
    );
    wait_state(&url, &id, "TASK_FINISHED", 60);
    stdout_with(&url, &id, "pulled-with-auth");
    // Without the credentials the registry refuses.
    let other = TempDir::new("ucr-noauth");
    let cluster = Cluster::new(&other);
    let master = cluster.master();
    let url = master.url.clone();
    let _agent = cluster.agent_with(&url, &["--docker-registry", &reg, "--registry-ca", &ca]);
    let id = launch(&url, &["--image", "team/busybox:1", "--", "true"]);
    let t = wait_state(&url, &id, "TASK_FAILED", 60);
    let message = t["message"].as_str().unwrap_or_default();
    assert!(message.contains("unauthorized"), "{message}");
}

#[test]
fn keel_image_load_makes_an_archive_usable_by_a_running_keel_dev() {
    let dir = TempDir::new("ucr-load");
    let data = dir.path().join("data").display().to_string();
    let keel = Proc::start(&[
        "dev",
        "--data-dir",
        &data,
        "--listen",
        "127.0.0.1:0",
        "--resources",
        "cpus:4;mem:4096",
    ]);
    let url = keel.url.clone();
    wait_for(10, "an active agent", || {
        let (_, v) = get(&format!("{url}/master/slaves"));
        v["slaves"]
            .as_array()
            .and_then(|s| s.iter().find(|a| a["active"] == true).cloned())
    });
    let archive = keel_image::testing::busybox_archive(&dir.path().join("build"));
    let file = archive.display().to_string();

    let (ok, out, err) = cli(&url, &["image", "load", &file]);
    assert!(ok, "keel image load: {err}");
    assert!(
        out.starts_with("Loaded docker.io/library/busybox:latest (sha256:"),
        "{out}"
    );
    let id = launch(
        &url,
        &[
            "--image",
            "busybox",
            "--",
            "sh",
            "-c",
            "echo loaded-ok image=$KEEL_IMAGE",
        ],
    );
    wait_state(&url, &id, "TASK_FINISHED", 60);
    let out = stdout_with(&url, &id, "loaded-ok");
    assert!(out.contains("image=busybox"), "{out}");

    // Under a name of our choosing: no registry answers at that address, the cache does.
    let name = format!("127.0.0.1:{}/team/tool:v1", free_port());
    let (ok, out, err) = cli(&url, &["image", "load", "--tag", &name, &file]);
    assert!(
        ok && out.contains(&name),
        "keel image load --tag: {out} {err}"
    );
    let id = launch(&url, &["--image", &name, "--", "echo", "tagged-ok"]);
    wait_state(&url, &id, "TASK_FINISHED", 60);
    stdout_with(&url, &id, "tagged-ok");

    // Not an archive: a clear error, and nothing loaded.
    let junk = dir.path().join("junk.tar");
    std::fs::write(&junk, b"not a tar at all").expect("write");
    let (ok, _, err) = cli(&url, &["image", "load", &junk.display().to_string()]);
    assert!(!ok, "a junk archive was accepted");
    assert!(err.contains("image archive"), "{err}");
    assert!(keel.stop(), "keel dev did not stop cleanly");
}

/// How many launches the back-off schedule allows in `secs`: the first at once, then each
/// after a delay of `seconds * factor^k` (k = 0, 1, ...), plus one for a launch in flight.
fn launches_allowed(seconds: f64, factor: f64, secs: f64) -> usize {
    let (mut at, mut delay, mut n) = (0.0, seconds, 1);
    while at + delay <= secs {
        at += delay;
        delay *= factor;
        n += 1;
    }
    n + 1
}

/// Marathon's tasks of `app` the master knows (every launch, any state).
fn launches_of(url: &str, app: &str) -> usize {
    let (_, v) = get(&format!("{url}/master/tasks?limit=-1"));
    v["tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["name"] == app && t["framework_id"].is_string())
        .count()
}

/// Posts `body` (an app or pod, at `kind`: `apps` or `pods`) whose image cannot be pulled
/// and whose tasks are called `name`, watches it for `WATCH` s and checks its launches stay
/// within what backoff 1 s, factor 2 allow.
fn launches_back_off(url: &str, kind: &str, name: &str, body: Value) {
    const WATCH: u64 = 30;
    let id = body["id"].as_str().unwrap_or_default().to_string();
    let (code, v) = send("POST", &format!("{url}/v2/{kind}"), Some(body));
    assert_eq!(code, 201, "{v}");
    let failed = wait_for(60, "the first launch to fail", || {
        let (_, v) = get(&format!("{url}/master/tasks?limit=-1"));
        v["tasks"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t["name"] == name && t["state"] == "TASK_FAILED")
            .cloned()
    });
    assert_eq!(
        failed["reason"], "REASON_CONTAINER_LAUNCH_FAILED",
        "{failed}"
    );
    // As Mesos's agent reports a container it could not launch; no STAGING entry.
    let statuses = failed["statuses"].as_array().cloned().unwrap_or_default();
    let last = statuses.last().cloned().unwrap_or_default();
    assert_eq!(last["source"], "SOURCE_AGENT", "{failed}");
    assert_eq!(last["reason"], "REASON_CONTAINER_LAUNCH_FAILED", "{failed}");
    assert!(
        statuses.iter().all(|s| s["state"] != "TASK_STAGING"),
        "{failed}"
    );
    let first = launches_of(url, name);
    std::thread::sleep(Duration::from_secs(WATCH));
    let launched = launches_of(url, name) - first;
    let allowed = launches_allowed(1.0, 2.0, WATCH as f64);
    assert!(
        launched <= allowed,
        "{id}: {launched} launches in {WATCH} s; backoff allows {allowed}"
    );
    let (_, q) = get(&format!("{url}/v2/queue?embed=pods"));
    let queued = q["queue"].as_array().into_iter().flatten().any(|i| {
        (i["app"]["id"] == id.as_str() || i["pod"]["id"] == id.as_str())
            && i["delay"]["timeLeftSeconds"].as_f64().is_some()
    });
    assert!(queued, "{id} waits out its backoff in the queue: {q}");
    let (code, v) = send("DELETE", &format!("{url}/v2/{kind}{id}?force=true"), None);
    assert!(code == 200 || code == 202, "{v}");
}

fn unpullable_app(id: &str, container: Value) -> Value {
    json!({
        "id": id, "cmd": "true", "cpus": 0.1, "mem": 32, "instances": 1,
        "backoffSeconds": 1, "backoffFactor": 2, "maxLaunchDelaySeconds": 300,
        "container": container,
    })
}

#[test]
fn apps_and_pods_whose_image_cannot_be_pulled_back_off_between_launches() {
    assert!(launches_allowed(1.0, 2.0, 30.0) <= 7);
    let dir = TempDir::new("pull-backoff");
    let empty = dir.path().join("no-images");
    std::fs::create_dir_all(&empty).expect("registry dir");
    let cluster = Cluster::new(&dir);
    let master = cluster.master();
    let url = master.url.clone();
    let _agent = cluster.agent_with(&url, &["--docker-registry", empty.to_str().unwrap_or("")]);
    // Keel's own runtime: the archive directory lacks the image.
    let ucr = json!({"type": "MESOS", "docker": {"image": "busybox:absent"}});
    launches_back_off(&url, "apps", "pull-ucr", unpullable_app("/pull-ucr", ucr));
    // Docker: a loopback registry port with nothing listening.
    let down = format!("127.0.0.1:{}/busybox:latest", free_port());
    let docker = json!({"type": "DOCKER", "docker": {"image": down, "network": "HOST"}});
    launches_back_off(
        &url,
        "apps",
        "pull-docker",
        unpullable_app("/pull-docker", docker),
    );
    // A pod instance (a task group) of Keel's own runtime.
    let pod = json!({
        "id": "/pull-pod",
        "containers": [{
            "name": "pull-pod-c", "resources": {"cpus": 0.1, "mem": 32},
            "image": {"kind": "DOCKER", "id": "busybox:absent"},
            "exec": {"command": {"shell": "true"}},
        }],
        "scaling": {"kind": "fixed", "instances": 1},
        "scheduling": {"backoff": {"backoff": 1, "backoffFactor": 2, "maxLaunchDelay": 300}},
    });
    launches_back_off(&url, "pods", "pull-pod-c", pod);
}
