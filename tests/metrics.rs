//! End-to-end: dcos-metrics v0 and Prometheus against `keel dev`. A task burns some cpu and
//! sends StatsD to the address in its environment; the agent's container endpoints (through
//! the master) show its cpu time and its app metric, malformed packets are counted, and
//! Debian's real `prometheus` scrapes the entry and the agent and answers PromQL queries
//! for the container's cpu series and the app metric.

mod support;

#[path = "../crates/executor/tests/support/busybox.rs"]
mod busybox;

use serde_json::Value;
use std::process::{Child, Command, Stdio};
use support::*;

/// Burns cpu in short bursts and counts each burst over StatsD.
const TASK: &str = "exec bash -c 'while true; do i=0; while [ $i -lt 3000 ]; do i=$((i+1)); done; \
     echo \"keel.test.bursts:1|c\" > /dev/udp/$STATSD_UDP_HOST/$STATSD_UDP_PORT; sleep 0.1; done'";

struct Running {
    url: String,
    task: String,
    agent: String,
    container: String,
}

fn start(dir: &TempDir) -> (Proc, Running) {
    let keel = Dev::new(dir).start();
    let url = keel.url.clone();
    let task = run_task(&url, &["--name", "burner", "--cpus", "0.5"], TASK);
    let t = wait_state(&url, &task, "TASK_RUNNING", 30);
    let agent = t["slave_id"].as_str().unwrap_or_default().to_string();
    let container = t["statuses"]
        .as_array()
        .and_then(|s| s.last())
        .map(|s| s["container_status"]["container_id"]["value"].clone())
        .and_then(|v| v.as_str().map(String::from))
        .expect("a container id in the task's statuses");
    let r = Running {
        url,
        task,
        agent,
        container,
    };
    (keel, r)
}

fn value(msg: &Value, name: &str) -> Option<f64> {
    msg["datapoints"]
        .as_array()?
        .iter()
        .find(|d| d["name"] == name)
        .and_then(|d| d["value"].as_f64())
}

fn status(url: &str) -> u16 {
    client().get(url).send().expect("GET").status().as_u16()
}

#[test]
fn endpoints_answer_with_the_containers_cpu_and_its_statsd_metrics() {
    let dir = TempDir::new("metrics");
    let (_keel, r) = start(&dir);
    let base = format!("{}/system/v1/agent/{}/metrics/v0", r.url, r.agent);

    let (code, ping) = get(&format!("{base}/ping"));
    assert_eq!((code, ping["ok"].clone()), (200, Value::Bool(true)));
    let (code, node) = get(&format!("{base}/node"));
    assert_eq!(code, 200);
    assert_eq!(node["dimensions"]["mesos_id"], r.agent.as_str());
    assert!(value(&node, "cpu.cores").unwrap_or(0.0) >= 1.0, "{node}");
    assert!(value(&node, "memory.total").unwrap_or(0.0) > 0.0);
    let root_fs = node["datapoints"].as_array().and_then(|d| {
        d.iter()
            .find(|p| p["name"] == "filesystem.capacity.total" && p["tags"]["path"] == "/")
    });
    assert!(
        root_fs.is_some(),
        "no filesystem.capacity.total for /: {node}"
    );
    // The master node's own metrics.
    let (code, master_node) = get(&format!("{}/system/v1/metrics/v0/node", r.url));
    assert_eq!(code, 200);
    assert!(value(&master_node, "load.1min").is_some());

    let (_, list) = get(&format!("{base}/containers"));
    assert!(
        list.as_array()
            .is_some_and(|l| l.iter().any(|c| c == r.container.as_str())),
        "{list}"
    );
    let msg = wait_for(30, "the container's cpu time", || {
        let (code, m) = get(&format!("{base}/containers/{}", r.container));
        (code == 200 && value(&m, "cpus.user.time").unwrap_or(0.0) > 0.0).then_some(m)
    });
    let dims = &msg["dimensions"];
    assert_eq!(dims["container_id"], r.container.as_str());
    assert_eq!(dims["task_id"], r.task.as_str());
    assert_eq!(dims["task_name"], "burner");
    assert_eq!(dims["executor_id"], r.task.as_str());
    assert_eq!(value(&msg, "cpus.limit"), Some(0.5));
    assert!(value(&msg, "mem.total").unwrap_or(0.0) > 0.0, "{msg}");
    assert!(value(&msg, "disk.used").is_some());

    let app = wait_for(30, "the task's StatsD counter", || {
        let (code, m) = get(&format!("{base}/containers/{}/app", r.container));
        (code == 200 && value(&m, "keel.test.bursts").unwrap_or(0.0) >= 2.0).then_some(m)
    });
    assert_eq!(app["dimensions"]["task_name"], "burner");
    let (code, one) = get(&format!(
        "{base}/containers/{}/app/keel.test.bursts",
        r.container
    ));
    assert_eq!(code, 200);
    assert_eq!(one["datapoints"].as_array().map(Vec::len), Some(1));

    // Unknown containers and metrics: 204, as dcos-metrics answers.
    assert_eq!(status(&format!("{base}/containers/nosuch")), 204);
    assert_eq!(status(&format!("{base}/containers/nosuch/app")), 204);
    assert_eq!(
        status(&format!("{base}/containers/{}/app/nosuch", r.container)),
        204
    );

    // Malformed StatsD is counted and dropped; the counter goes on.
    let port = statsd_port(&r.url, &r.agent, &r.container);
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("udp");
    for p in [&b"no colon here"[..], b"x:1|zz\ny:abc|c", &[0xff, 0xfe]] {
        sock.send_to(p, ("127.0.0.1", port)).expect("send");
    }
    wait_for(10, "4 malformed lines counted", || {
        let (_, snap) = get(&format!("{}/agent/{}/metrics/snapshot", r.url, r.agent));
        (snap["statsd/malformed_lines"].as_f64().unwrap_or(0.0) >= 4.0).then_some(())
    });

    // The entry's /metrics: Marathon's JSON by default, Prometheus text when asked.
    let (code, json) = get(&format!("{}/metrics", r.url));
    assert_eq!(code, 200);
    assert!(json["gauges"].is_object(), "{json}");
    let text = client()
        .get(format!("{}/metrics", r.url))
        .header("Accept", "text/plain;version=0.0.4")
        .send()
        .and_then(|r| r.text())
        .expect("text");
    assert!(
        text.contains("# TYPE keel_master_tasks_running gauge"),
        "{text}"
    );
    assert!(text.contains("keel_http_request_duration_seconds_bucket"));
    assert!(text.contains("keel_store_durable_commits_total"));
    // The /service/ proxy's counters move with the requests it sees.
    assert_eq!(status(&format!("{}/service/nosuch/", r.url)), 404);
    let text = client()
        .get(format!("{}/metrics/prometheus", r.url))
        .send()
        .and_then(|r| r.text())
        .expect("text");
    assert!(
        text.lines().any(|l| l
            .starts_with("keel_service_proxy_requests_total{outcome=\"not_found\"}")
            && !l.ends_with(" 0")),
        "{text}"
    );

    // The CLI: node metrics (summary per agent, every datapoint of one) and task top.
    let (ok, out, err) = cli(&r.url, &["node", "metrics"]);
    assert!(
        ok && out.contains(&r.agent) && out.contains("GiB"),
        "{out}{err}"
    );
    let (ok, out, err) = cli(&r.url, &["node", "metrics", &r.agent, "--json"]);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).expect("node metrics json");
    assert!(value(&v, "cpu.total").is_some(), "{v}");
    let (ok, out, err) = cli(&r.url, &["node", "metrics", &r.agent]);
    assert!(
        ok && out.contains("filesystem.capacity.total") && out.contains("path: /"),
        "{out}{err}"
    );
    let (ok, out, err) = cli(
        &r.url,
        &["task", "top", "--interval", "1", "--iterations", "1"],
    );
    assert!(
        ok && out.contains("burner") && out.contains("CPU %"),
        "{out}{err}"
    );
    let (ok, out, err) = cli(&r.url, &["task", "top", "--interval", "1", "--json"]);
    assert!(ok, "{err}");
    let rows: Value = serde_json::from_str(&out).expect("top json");
    let row = rows
        .as_array()
        .and_then(|rows| rows.iter().find(|x| x["id"] == r.task.as_str()))
        .cloned()
        .expect("the task in top");
    assert!(row["cpu_percent"].as_f64().unwrap_or(0.0) > 0.0, "{row}");
    assert!(row["mem_bytes"].as_f64().unwrap_or(0.0) > 0.0, "{row}");
}

/// The container's StatsD port, from its executor config's environment.
fn statsd_port(url: &str, agent: &str, container: &str) -> u16 {
    let (_, state) = get(&format!("{url}/agent/{agent}/state"));
    let work = state["flags"]["work_dir"].as_str().unwrap_or_default();
    let cfg = std::fs::read_to_string(format!("{work}/meta/runs/{container}/executor.json"))
        .expect("executor config");
    let v: Value = serde_json::from_str(&cfg).expect("json");
    v["env"]["STATSD_UDP_PORT"]
        .as_str()
        .and_then(|p| p.parse().ok())
        .expect("STATSD_UDP_PORT in the task's environment")
}

/// A `prometheus` server, killed when dropped.
struct Prometheus {
    child: Child,
    url: String,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn prometheus(dir: &TempDir, entry: &str, agent: &str) -> Prometheus {
    let strip = |u: &str| u.trim_start_matches("http://").to_string();
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n\
         \x20 - job_name: keel-entry\n    metrics_path: /metrics\n    static_configs:\n      - targets: ['{}']\n\
         \x20 - job_name: keel-agent\n    metrics_path: /metrics/prometheus\n    static_configs:\n      - targets: ['{}']\n",
        strip(entry),
        strip(agent)
    );
    let path = dir.path().join("prometheus.yml");
    std::fs::write(&path, config).expect("write prometheus.yml");
    let listen = format!("127.0.0.1:{}", free_port());
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", path.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("tsdb").display()
        ))
        .arg(format!("--web.listen-address={listen}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn prometheus (Debian package `prometheus`)");
    Prometheus {
        child,
        url: format!("http://{listen}"),
    }
}

/// The series a PromQL instant query returns.
fn query(prom: &Prometheus, q: &str) -> Vec<Value> {
    let encoded: String = q
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'-' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let r = client()
        .get(format!("{}/api/v1/query?query={encoded}", prom.url))
        .send()
        .ok();
    let v: Value = r.and_then(|r| r.json().ok()).unwrap_or(Value::Null);
    v["data"]["result"].as_array().cloned().unwrap_or_default()
}

#[test]
fn prometheus_scrapes_container_cpu_and_statsd_app_metrics() {
    let dir = TempDir::new("metrics-prom");
    let (_keel, r) = start(&dir);
    let (_, state) = get(&format!("{}/agent/{}/state", r.url, r.agent));
    let agent_addr = state["pid"]
        .as_str()
        .and_then(|p| p.split_once('@'))
        .map(|(_, a)| a.to_string())
        .expect("agent pid");
    let prom = prometheus(&dir, &r.url, &agent_addr);
    let cpu = format!(
        "cpus_user_time{{task_name=\"burner\",container_id=\"{}\"}}",
        r.container
    );
    let series = wait_for(60, "a container cpu series in Prometheus", || {
        let s = query(&prom, &cpu);
        (!s.is_empty()).then_some(s)
    });
    assert_eq!(series[0]["metric"]["mesos_id"], r.agent.as_str());
    assert_eq!(series[0]["metric"]["job"], "keel-agent");
    let app = format!("keel_test_bursts{{task_id=\"{}\"}}", r.task);
    let series = wait_for(60, "the StatsD app metric in Prometheus", || {
        let s = query(&prom, &app);
        (!s.is_empty()).then_some(s)
    });
    let n: f64 = series[0]["value"][1]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    assert!(n >= 1.0, "{series:?}");
    // The entry's /metrics, scraped with Prometheus's own Accept header, is text.
    let up = wait_for(30, "the entry's master metrics in Prometheus", || {
        let s = query(&prom, "keel_master_tasks_running{job=\"keel-entry\"}");
        (!s.is_empty()).then_some(s)
    });
    assert_eq!(up[0]["value"][1], "1");
}

/// Removes the Docker containers of a task when dropped.
struct DockerCleanup(String);

impl Drop for DockerCleanup {
    fn drop(&mut self) {
        let out = Command::new("docker")
            .args([
                "ps",
                "-aq",
                "--filter",
                &format!("label=keel.task_id={}", self.0),
            ])
            .output();
        if let Ok(o) = out {
            for id in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                let _ = Command::new("docker").args(["rm", "-f", id]).output();
            }
        }
    }
}

#[test]
fn a_docker_tasks_container_metrics_come_from_the_engines_stats() {
    busybox::busybox_image();
    let dir = TempDir::new("metrics-docker");
    let keel = Dev::new(&dir).start();
    let url = keel.url.clone();
    let app = serde_json::json!({
        "id": "/busy", "cpus": 0.2, "mem": 32, "instances": 1,
        "cmd": "while true; do i=0; while [ $i -lt 2000 ]; do i=$((i+1)); done; sleep 0.1; done",
        "container": {"type": "DOCKER", "docker": {"image": busybox::BUSYBOX_IMAGE, "network": "HOST"}}
    });
    let (code, v) = post(&format!("{url}/v2/apps"), &app.to_string());
    assert_eq!(code, 201, "{v}");
    let t = wait_for(60, "the docker task to run", || {
        let (_, v) = get(&format!("{url}/v2/apps/busy/tasks"));
        v["tasks"]
            .as_array()?
            .first()
            .cloned()
            .filter(|t| t["state"] == "TASK_RUNNING")
    });
    let id = t["id"].as_str().unwrap_or_default().to_string();
    let _cleanup = DockerCleanup(id.clone());
    let mt = wait_state(&url, &id, "TASK_RUNNING", 30);
    let agent = mt["slave_id"].as_str().unwrap_or_default().to_string();
    let container = mt["statuses"]
        .as_array()
        .and_then(|s| s.last())
        .and_then(|s| {
            s["container_status"]["container_id"]["value"]
                .as_str()
                .map(String::from)
        })
        .expect("container id");
    let base = format!("{url}/system/v1/agent/{agent}/metrics/v0/containers/{container}");
    let msg = wait_for(60, "the docker container's cpu time", || {
        let (code, m) = get(&base);
        (code == 200 && value(&m, "cpus.user.time").unwrap_or(0.0) > 0.0).then_some(m)
    });
    assert!(value(&msg, "mem.total").unwrap_or(0.0) > 0.0, "{msg}");
    assert_eq!(
        value(&msg, "mem.limit"),
        Some((32u64 << 20) as f64),
        "{msg}"
    );
    assert_eq!(msg["dimensions"]["task_id"], id.as_str());
    let _ = client()
        .delete(format!("{url}/v2/apps/busy?force=true"))
        .send();
}

#[test]
fn a_tasks_statsd_socket_is_bound_again_after_a_restart() {
    let dir = TempDir::new("metrics-restart");
    let resources = resources_with_own_ports("cpus:4;mem:4096");
    let keel = Dev::new(&dir).exact_resources(&resources).start();
    let url = keel.url.clone();
    let task = run_task(&url, &["--name", "sender"], TASK);
    let t = wait_state(&url, &task, "TASK_RUNNING", 30);
    let agent = t["slave_id"].as_str().unwrap_or_default().to_string();
    let container = t["statuses"]
        .as_array()
        .and_then(|s| s.last())
        .and_then(|s| {
            s["container_status"]["container_id"]["value"]
                .as_str()
                .map(String::from)
        })
        .expect("container id");
    let app = |url: &str| {
        let (code, m) = get(&format!(
            "{url}/system/v1/agent/{agent}/metrics/v0/containers/{container}/app/keel.test.bursts"
        ));
        (code == 200)
            .then(|| value(&m, "keel.test.bursts"))
            .flatten()
    };
    wait_for(30, "the counter before the restart", || app(&url));
    assert!(keel.stop(), "keel dev did not stop cleanly");
    let keel = Dev::new(&dir).exact_resources(&resources).start();
    let url = keel.url.clone();
    wait_state(&url, &task, "TASK_RUNNING", 30);
    // The same task keeps sending to the port in its environment.
    wait_for(30, "the counter after the restart", || app(&url));
}
