//! End-to-end tests of task DNS and container IPs against a real `keel dev` (and a real
//! `keel master` + `keel agent`), with real Docker and Keel's own runtime.
//!
//! - A bridge-network Docker task resolves another app's `<app>.marathon.mesos` through the
//!   agent's relay on docker0 (`--task-dns 172.17.0.1`) with busybox `nslookup` and fetches
//!   its page with `wget`; the other app's container IP shows in `/master/tasks`
//!   (`network_infos`), Marathon's `ipAddresses` and the `containerip` name.
//! - On a user network the test creates, a container-scoped VIP's backend is the
//!   container's address, and a client on the host reaches it through the VIP.
//! - A task of Keel's own runtime sees a generated `/etc/resolv.conf` naming the task DNS
//!   address (a loopback one) and resolves `leader.mesos` through it.
//! - A host-network Docker task gets the task DNS with `--task-dns-host-network`.
//! - `keel agent --write-resolv-conf` writes a resolv.conf (a temporary path, never
//!   /etc/resolv.conf) pointing at its relay, which answers from the master's DNS (also
//!   after random packets), and puts the old file back on SIGTERM.
//!
//! Traffic goes only to 127.0.0.0/8, docker0 and the containers the tests start.

mod support;

#[path = "../crates/executor/tests/support/busybox.rs"]
mod busybox;

use serde_json::{Value, json};
use std::process::Command;
use support::*;

/// docker0's address: the one host address bridge containers reach by default.
const DOCKER0: &str = "172.17.0.1";

/// A loopback address of this test run's own for a relay on port 53 (`n` tells the tests
/// of one run apart, the pid the runs of separate checkouts).
fn loopback_dns(n: u8) -> String {
    format!("127.53.{}.{}", std::process::id() % 250, n + 1)
}

/// Removes every container of the agent `aid` when dropped.
struct Containers(String);

impl Drop for Containers {
    fn drop(&mut self) {
        let label = format!("label=keel.agent_id={}", self.0);
        let out = Command::new("docker")
            .args(["ps", "-aq", "--filter", &label])
            .output();
        if let Ok(out) = out {
            for id in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                let _ = Command::new("docker").args(["rm", "-f", id]).output();
            }
        }
    }
}

/// `dig +short` against `server:port`, sorted lines.
fn dig_short(server: &str, port: u16, args: &[&str]) -> Vec<String> {
    let out = Command::new("dig")
        .arg(format!("@{server}"))
        .args(["-p", &port.to_string(), "+time=2", "+tries=1", "+short"])
        .args(args)
        .output()
        .expect("dig (Debian dnsutils) must be installed");
    let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

fn post_app(url: &str, app: Value) {
    let (code, v) = post(&format!("{url}/v2/apps"), &app.to_string());
    assert_eq!(code, 201, "{v}");
}

/// The app's running Marathon task, once there is one.
fn running_task(url: &str, app: &str) -> Value {
    wait_for(90, &format!("a running task of {app}"), || {
        let (_, v) = get(&format!("{url}/v2/apps{app}/tasks"));
        v["tasks"]
            .as_array()?
            .iter()
            .find(|t| t["state"] == "TASK_RUNNING")
            .cloned()
    })
}

fn agent_id(url: &str) -> String {
    wait_for(30, "an agent", || {
        let (_, v) = get(&format!("{url}/master/slaves"));
        v["slaves"][0]["id"].as_str().map(String::from)
    })
}

/// The body of `http://<addr>/`, if it answers.
fn http_get(addr: &str) -> Option<String> {
    let c = reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(std::time::Duration::from_secs(2))
        .build()
        .ok()?;
    let r = c.get(format!("http://{addr}/")).send().ok()?;
    r.status().is_success().then(|| r.text().ok()).flatten()
}

#[test]
fn a_bridge_docker_task_resolves_another_app_by_name_and_reaches_it() {
    busybox::busybox_image();
    let dir = TempDir::new("taskdns-bridge");
    let dns_port = free_port();
    let keel = Dev::new(&dir)
        .args(&["--dns-listen", &format!("127.0.0.1:{dns_port}")])
        .args(&["--task-dns", DOCKER0])
        .start();
    let url = keel.url.clone();
    let aid = agent_id(&url);
    let _containers = Containers(aid.clone());

    // The server: httpd on 8080, published on a host port.
    post_app(
        &url,
        json!({
            "id": "/web",
            "cmd": "mkdir -p /www && echo hello-task-dns > /www/index.html && exec httpd -f -p 8080 -h /www",
            "cpus": 0.1, "mem": 32, "instances": 1,
            "container": {"type": "DOCKER",
                "docker": {"image": busybox::BUSYBOX_IMAGE, "network": "BRIDGE"},
                "portMappings": [{"containerPort": 8080, "hostPort": 0, "name": "http"}]}
        }),
    );
    let web = running_task(&url, "/web");
    let web_id = web["id"].as_str().unwrap_or_default().to_string();
    let ip = web["ipAddresses"][0]["ipAddress"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        ip.starts_with("172.") && web["ipAddresses"][0]["protocol"] == "IPv4",
        "Marathon's ipAddresses should be the container's: {web}"
    );

    // The master keeps the container's address in the statuses, as Mesos shows it.
    let t = task(&url, &web_id).expect("the web task in /master/tasks");
    let running = (t["statuses"].as_array().into_iter().flatten())
        .find(|s| s["state"] == "TASK_RUNNING")
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        running["container_status"]["network_infos"][0]["ip_addresses"][0]["ip_address"],
        ip.as_str(),
        "{t}"
    );

    // The agent's own /state shows it too.
    let (_, state) = get(&format!("{url}/agent/{aid}/state"));
    let on_agent = (state["frameworks"].as_array().into_iter().flatten())
        .flat_map(|f| f["executors"].as_array().cloned().unwrap_or_default())
        .flat_map(|e| e["tasks"].as_array().cloned().unwrap_or_default())
        .find(|t| t["id"] == web_id.as_str())
        .unwrap_or_else(|| panic!("no {web_id} in the agent's state: {state}"));
    assert_eq!(
        on_agent["statuses"][0]["container_status"]["network_infos"][0]["ip_addresses"][0]["ip_address"],
        ip.as_str(),
        "{on_agent}"
    );

    // DNS: the Mesos-DNS name (netinfo first) and containerip answer the container's IP.
    for name in [
        "web.marathon.mesos",
        "web.marathon.containerip.dcos.thisdcos.directory",
    ] {
        let got = wait_for(10, &format!("{name} to answer"), || {
            let v = dig_short("127.0.0.1", dns_port, &[name]);
            (!v.is_empty()).then_some(v)
        });
        assert_eq!(got, vec![ip.clone()], "{name}");
    }

    // The client: a bridge container that resolves the server by name through the task DNS
    // and fetches its page by that name.
    let script = "cat /etc/resolv.conf; \
        for i in $(seq 1 30); do \
          if nslookup web.marathon.mesos > /tmp/ns 2>&1 && wget -qO /tmp/page http://web.marathon.mesos:8080/; then \
            cat /tmp/ns; echo PAGE=$(cat /tmp/page); break; fi; sleep 1; \
        done; echo CLIENT-DONE; exec sleep 600";
    post_app(
        &url,
        json!({
            "id": "/client", "cmd": script, "cpus": 0.1, "mem": 32, "instances": 1,
            "container": {"type": "DOCKER",
                "docker": {"image": busybox::BUSYBOX_IMAGE, "network": "BRIDGE"}}
        }),
    );
    let client = running_task(&url, "/client");
    let client_id = client["id"].as_str().unwrap_or_default().to_string();
    let out = wait_for(60, "the client to finish its lookups", || {
        let t = task(&url, &client_id)?;
        let out = read_sandbox(&url, &t, "stdout");
        out.contains("CLIENT-DONE").then_some(out)
    });
    assert!(
        out.contains(&format!("nameserver {DOCKER0}")),
        "resolv.conf: {out}"
    );
    assert!(
        out.contains("search marathon.mesos mesos"),
        "resolv.conf: {out}"
    );
    assert!(out.contains(&format!("Address: {ip}")), "nslookup: {out}");
    assert!(out.contains("PAGE=hello-task-dns"), "wget: {out}");
}

/// A Docker network the test creates, removed when dropped.
struct Network(String);

impl Network {
    fn create(name: &str) -> Network {
        let _ = Command::new("docker")
            .args(["network", "rm", name])
            .output();
        let out = Command::new("docker")
            .args(["network", "create", name])
            .output()
            .expect("docker network create");
        assert!(
            out.status.success(),
            "docker network create: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Network(name.to_string())
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["network", "rm", &self.0])
            .output();
    }
}

#[test]
fn a_container_scoped_vip_on_a_user_network_has_the_container_address_as_backend() {
    busybox::busybox_image();
    let dir = TempDir::new("taskdns-usernet");
    let keel = Dev::new(&dir).start();
    let url = keel.url.clone();
    let containers = Containers(agent_id(&url));
    let net = Network::create(&format!("keel-taskdns-{}", std::process::id()));
    post_app(
        &url,
        json!({
            "id": "/usersvc",
            "cmd": "mkdir -p /www && echo hello-user-net > /www/index.html && exec httpd -f -p 8080 -h /www",
            "cpus": 0.1, "mem": 32, "instances": 1,
            "networks": [{"mode": "container", "name": net.0}],
            "container": {"type": "DOCKER",
                "docker": {"image": busybox::BUSYBOX_IMAGE},
                "portMappings": [{"containerPort": 8080, "name": "http",
                    "labels": {"VIP_0": "/uservip:80"}}]}
        }),
    );
    let t = running_task(&url, "/usersvc");
    let ip = t["ipAddresses"][0]["ipAddress"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        ip.parse::<std::net::Ipv4Addr>()
            .is_ok_and(|a| a.is_private()),
        "the container's address on {}: {t}",
        net.0
    );
    // The VIP's backend is the container's address and port (network-scope=container).
    let vip = wait_for(10, "the /uservip VIP", || {
        let (_, table) = get(&format!("{url}/internal/v1/vips"));
        (table["vips"].as_array().into_iter().flatten())
            .find(|v| v["label"] == "/uservip" && v["backends"][0].is_object())
            .cloned()
    });
    assert_eq!(vip["backends"][0]["ip"], ip.as_str(), "{vip}");
    assert_eq!(vip["backends"][0]["port"], 8080, "{vip}");
    // A client on the host reaches httpd through the VIP (a loopback address under dev).
    let addr = format!("{}:{}", vip["ip"].as_str().unwrap_or_default(), vip["port"]);
    let body = wait_for(30, "httpd through the VIP", || http_get(&addr));
    assert_eq!(body.trim(), "hello-user-net");
    drop(containers);
}

#[test]
fn a_task_of_keels_own_runtime_gets_a_resolv_conf_naming_the_task_dns() {
    let dir = TempDir::new("taskdns-ucr");
    let archives = dir.path().join("archives");
    let archive = keel_image::testing::busybox_archive(&dir.path().join("build"));
    std::fs::create_dir_all(&archives).expect("mkdir");
    std::fs::copy(&archive, archives.join("busybox:latest.tar")).expect("copy archive");
    let relay = loopback_dns(0);
    let keel = Dev::new(&dir)
        .args(&["--docker-registry", &archives.display().to_string()])
        .args(&[
            "--task-dns",
            &relay,
            "--task-dns-search",
            "marathon.mesos,mesos",
        ])
        .start();
    let url = keel.url.clone();
    agent_id(&url);
    let script = "cat /etc/resolv.conf; \
        for i in $(seq 1 20); do nslookup leader.mesos > /tmp/ns 2>&1 && break; sleep 0.5; done; \
        cat /tmp/ns; echo UCR-DONE";
    let (ok, out, err) = cli(
        &url,
        &[
            "task", "run", "--image", "busybox", "--", "sh", "-c", script,
        ],
    );
    assert!(ok, "keel task run: {err}");
    let id = out.trim().to_string();
    let t = wait_state(&url, &id, "TASK_FINISHED", 90);
    let out = read_sandbox(&url, &t, "stdout");
    assert!(out.contains("UCR-DONE"), "{out}");
    assert!(out.contains(&format!("nameserver {relay}")), "{out}");
    assert!(out.contains("search marathon.mesos mesos"), "{out}");
    assert!(out.contains(&format!("Server:\t\t{relay}")), "{out}");
    assert!(out.contains("Address: 127.0.0.1"), "leader.mesos: {out}");
}

#[test]
fn a_host_network_docker_task_gets_the_task_dns_when_the_operator_asks() {
    busybox::busybox_image();
    let dir = TempDir::new("taskdns-host");
    let relay = loopback_dns(2);
    let keel = Dev::new(&dir)
        .args(&["--task-dns", &relay, "--task-dns-host-network"])
        .start();
    let url = keel.url.clone();
    let _containers = Containers(agent_id(&url));
    let script = "cat /etc/resolv.conf; \
        for i in $(seq 1 20); do nslookup leader.mesos > /tmp/ns 2>&1 && break; sleep 0.5; done; \
        cat /tmp/ns; echo HOST-DONE";
    let (ok, out, err) = cli(
        &url,
        &[
            "task",
            "run",
            "--docker",
            "--image",
            busybox::BUSYBOX_IMAGE,
            "--",
            "sh",
            "-c",
            script,
        ],
    );
    assert!(ok, "keel task run: {err}");
    let id = out.trim().to_string();
    let t = wait_state(&url, &id, "TASK_FINISHED", 90);
    let out = read_sandbox(&url, &t, "stdout");
    assert!(out.contains("HOST-DONE"), "{out}");
    assert!(out.contains(&format!("nameserver {relay}")), "{out}");
    assert!(out.contains("Address: 127.0.0.1"), "leader.mesos: {out}");
    // Host networking: no container address of its own.
    let running = (t["statuses"].as_array().into_iter().flatten())
        .find(|s| s["state"] == "TASK_RUNNING")
        .cloned()
        .unwrap_or_default();
    assert!(
        running["container_status"]["network_infos"].is_null(),
        "{t}"
    );
}

#[test]
fn write_resolv_conf_points_the_node_at_the_relay_and_restores_the_old_file() {
    let dir = TempDir::new("taskdns-resolv");
    let path = |p: &str| dir.path().join(p).display().to_string();
    let dns_port = free_port();
    let master = Proc::start(&[
        "master",
        "--data-dir",
        &path("master"),
        "--listen",
        &format!("127.0.0.1:{}", free_port()),
        "--dns-listen",
        &format!("127.0.0.1:{dns_port}"),
    ]);
    let resolv = dir.path().join("resolv.conf");
    let old = "# the node's own\nnameserver 192.0.2.53\n";
    std::fs::write(&resolv, old).expect("write resolv.conf");
    let relay = loopback_dns(1);
    let resources = resources_with_own_ports("cpus:2;mem:2048");
    let agent = Proc::start(&[
        "agent",
        "--master",
        &master.url,
        "--work-dir",
        &path("agent"),
        "--listen",
        &format!("127.0.0.1:{}", free_port()),
        "--resources",
        &resources,
        "--task-dns",
        &relay,
        "--task-dns-upstream",
        &format!("127.0.0.1:{dns_port}"),
        "--write-resolv-conf",
        "--resolv-conf-path",
        &resolv.display().to_string(),
    ]);
    let written = std::fs::read_to_string(&resolv).expect("read resolv.conf");
    assert!(
        written.contains(&format!("nameserver {relay}")),
        "{written}"
    );
    assert!(written.contains("search marathon.mesos mesos"), "{written}");
    assert!(!written.contains("192.0.2.53"), "{written}");
    // The relay answers from the master's DNS, over UDP and TCP.
    for tcp in [false, true] {
        let flag = if tcp { "+tcp" } else { "+notcp" };
        let got = wait_for(10, "leader.mesos through the relay", || {
            let v = dig_short(&relay, 53, &[flag, "leader.mesos"]);
            (!v.is_empty()).then_some(v)
        });
        assert_eq!(got, vec!["127.0.0.1".to_string()], "tcp: {tcp}");
    }
    // Random packets (a fixed seed, bounded count) leave the relay answering.
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let mut x: u64 = 0x5EED_0000_7A5C_D115;
    for i in 0..300usize {
        let len = 1 + i % 120;
        let packet: Vec<u8> = (0..len)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (x >> 56) as u8
            })
            .collect();
        let _ = sock.send_to(&packet, (relay.as_str(), 53));
    }
    let got = wait_for(10, "leader.mesos after random packets", || {
        let v = dig_short(&relay, 53, &["leader.mesos"]);
        (!v.is_empty()).then_some(v)
    });
    assert_eq!(got, vec!["127.0.0.1".to_string()]);
    assert!(agent.stop(), "the agent should stop cleanly on SIGTERM");
    assert_eq!(
        std::fs::read_to_string(&resolv).expect("read resolv.conf"),
        old,
        "the old resolv.conf is back"
    );
    assert!(!dir.path().join("resolv.conf.keel-orig").exists());
}
