//! End-to-end tests of the fetcher: URIs served by a test HTTP server or on local disk end
//! up in the sandbox (plain, executable, unpacked) before the task starts, and a URI that
//! cannot be fetched fails the launch.

mod support;

use keel_api::executor::ExecutorConfig;
use keel_model::{FetchUri, Reason, TaskState};
use std::path::Path;
use std::process::Command;
use support::server::{TestServer, chunked, redirect, response};
use support::*;

use TaskState::{Failed, Finished, Running, Starting};

fn uri(uri: &str) -> FetchUri {
    FetchUri {
        uri: uri.into(),
        extract: true,
        executable: false,
        cache: false,
        dest_path: None,
    }
}

/// Builds `bundle.tar.gz` holding `app/inner.txt` with Debian's tar; returns its bytes.
fn tarball(dir: &Path) -> Vec<u8> {
    let app = dir.join("app");
    std::fs::create_dir_all(&app).expect("mkdir");
    std::fs::write(app.join("inner.txt"), "from the tarball\n").expect("write");
    let archive = dir.join("bundle.tar.gz");
    let status = Command::new("tar")
        .arg("-czf")
        .arg(&archive)
        .arg("-C")
        .arg(dir)
        .arg("app")
        .status()
        .expect("run tar");
    assert!(status.success(), "tar failed: {status}");
    std::fs::read(&archive).expect("read tarball")
}

/// Serves the fixtures: a plain file (chunked), a script, a tarball, a redirect, and 404.
fn fixtures(tarball: Vec<u8>) -> TestServer {
    TestServer::http(Box::new(move |path| match path {
        "/files/plain.txt" => chunked(b"plain content that spans several chunks\n"),
        "/files/tool.sh" => response("200 OK", b"#!/bin/sh\necho tool ran\n"),
        "/files/bundle.tar.gz" => response("200 OK", &tarball),
        "/moved" => redirect("/files/plain.txt"),
        _ => response("404 Not Found", b"nothing here"),
    }))
}

/// Runs `config` to its terminal state; returns the statuses and the executor.
fn run_to_end(config: ExecutorConfig, state: TaskState) -> (Executor, Vec<(u64, TaskState)>) {
    let mut executor = Executor::start(config);
    let mut agent = executor.connect();
    let statuses = agent.hello_then_until(state);
    let last = statuses.last().map_or(0, |s| s.seq);
    agent.ack(last);
    executor.join();
    let seen = states(&statuses);
    (executor, seen)
}

#[test]
fn http_uris_are_fetched_made_executable_and_extracted_before_the_task_starts() {
    let work = tempfile::tempdir().expect("tempdir");
    let server = fixtures(tarball(work.path()));
    let script = "cat plain.txt; ./tool.sh; cat app/inner.txt; cat again.txt; \
                  test -e bundle.tar.gz && test ! -x plain.txt && echo checked";
    let mut config = config(sh(script));
    let mut tool = uri(&server.url("/files/tool.sh"));
    tool.executable = true;
    let mut again = uri(&server.url("/moved"));
    again.dest_path = Some("again.txt".into());
    again.cache = true;
    config.task.fetch = vec![
        uri(&server.url("/files/plain.txt")),
        tool,
        uri(&server.url("/files/bundle.tar.gz")),
        again,
    ];
    let (executor, seen) = run_to_end(config, Finished);
    assert_eq!(seen, [(1, Starting), (2, Running), (3, Finished)]);
    let plain = "plain content that spans several chunks\n";
    assert_eq!(
        executor.read_sandbox("stdout"),
        format!("{plain}tool ran\nfrom the tarball\n{plain}checked\n")
    );
    let log = executor.read_sandbox("stderr");
    for expect in [
        format!(
            "keel-fetcher: Fetching URI '{}'",
            server.url("/files/plain.txt")
        ),
        "keel-fetcher: Extracted '".to_string(),
        "with: tar --no-same-owner -C ".to_string(),
        "keel-fetcher: Caching is not supported".to_string(),
        format!(
            "keel-fetcher: Redirected to '{}'",
            server.url("/files/plain.txt")
        ),
        "keel-fetcher: Successfully fetched all URIs into '".to_string(),
    ] {
        assert!(log.contains(&expect), "{expect:?} not in stderr:\n{log}");
    }
}

#[test]
fn file_uris_and_absolute_paths_are_copied() {
    let work = tempfile::tempdir().expect("tempdir");
    let source = work.path().join("settings.conf");
    std::fs::write(&source, "key=value\n").expect("write");
    let mut config = config(sh("cat settings.conf conf/copy.conf"));
    let mut absolute = uri(&source.display().to_string());
    absolute.dest_path = Some("conf/copy.conf".into());
    config.task.fetch = vec![uri(&format!("file://{}", source.display())), absolute];
    let (executor, seen) = run_to_end(config, Finished);
    assert_eq!(seen, [(1, Starting), (2, Running), (3, Finished)]);
    assert_eq!(executor.read_sandbox("stdout"), "key=value\nkey=value\n");
}

/// A URI that cannot be fetched fails the task before it runs, naming the URI.
fn fails_to_fetch(fetch: FetchUri, expect: &str) {
    let mut config = config(sh("echo > ran"));
    config.task.fetch = vec![fetch];
    let mut executor = Executor::start(config);
    let mut agent = executor.connect();
    let statuses = agent.hello_then_until(Failed);
    assert_eq!(states(&statuses), [(1, Starting), (2, Failed)]);
    assert_eq!(
        statuses[1].reason,
        Some(Reason::ReasonContainerLaunchFailed)
    );
    assert_eq!(statuses[1].message.as_deref(), Some(expect));
    agent.ack(2);
    executor.join();
    assert!(!executor.sandbox_file("ran").exists(), "the task ran");
    let log = executor.read_sandbox("stderr");
    assert!(log.contains("keel-fetcher: Failed to fetch '"), "{log}");
}

#[test]
fn a_missing_uri_fails_the_launch() {
    let server = fixtures(Vec::new());
    let missing = server.url("/files/missing.tgz");
    fails_to_fetch(
        uri(&missing),
        &format!(
            "Failed to launch container: cannot fetch {missing}: the server answered HTTP \
             404 Not Found"
        ),
    );
    fails_to_fetch(
        uri("file:///nonexistent/keel/file.txt"),
        "Failed to launch container: cannot fetch file:///nonexistent/keel/file.txt: cannot \
         copy /nonexistent/keel/file.txt: No such file or directory (os error 2)",
    );
}

#[test]
fn an_unreachable_server_fails_the_launch() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let url = format!("http://127.0.0.1:{port}/x.txt");
    fails_to_fetch(
        uri(&url),
        &format!(
            "Failed to launch container: cannot fetch {url}: cannot connect to 127.0.0.1:{port}: \
             Connection refused (os error 111)"
        ),
    );
}
