"""Compatibility: the real avmesos-cli (Mesos CLI) driven against a running `keel dev`.

Run by `cargo xtask ci` with the test venv's Python; KEEL_BIN names the keel binary.
"""
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

KEEL = os.environ.get("KEEL_BIN", "target/debug/keel")


def get(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def post(url, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read() or b"null")


def wait(what, fn, secs=15):
    deadline = time.time() + secs
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


def mesos_cli(config, *args):
    env = dict(os.environ, MESOS_CLI_CONFIG=config)
    out = subprocess.run([sys.executable, "-m", "avmesos.cli.mesos-cli", *args], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, "mesos-cli %s failed: %s %s" % (args, out.stdout, out.stderr)
    return out.stdout


def main():
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen([KEEL, "dev", "--data-dir", tmp + "/data", "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE, text=True)
        try:
            url = proc.stdout.readline().split()[-1]
            agent = wait("an agent", lambda: (get(url + "/master/slaves")["slaves"] or [None])[0])
            task = post(url + "/internal/v1/tasks", {"name": "compat", "cmd": "exec sleep 1000"})
            tid = task["task_id"]
            wait("task running", lambda: any(t["id"] == tid and t["state"] == "TASK_RUNNING" for t in get(url + "/master/tasks?limit=-1")["tasks"]))

            config = os.path.join(tmp, "config.toml")
            with open(config, "w") as f:
                f.write('[master]\naddress = "%s"\n' % url.replace("http://", ""))

            out = mesos_cli(config, "agent", "list")
            assert agent["id"] in out and agent["hostname"] in out, out
            out = mesos_cli(config, "task", "list")
            assert tid in out and "TASK_RUNNING" in out, out
            out = mesos_cli(config, "framework", "list")
            assert task["task_id"] and "keel" in out, out
            out = mesos_cli(config, "task", "inspect", tid)
            assert '"slave_id": "%s"' % agent["id"] in out, out

            post(url + "/internal/v1/tasks/%s/kill" % tid, {"grace_secs": 1})
            wait("task killed", lambda: any(t["id"] == tid and t["state"] == "TASK_KILLED" for t in get(url + "/master/tasks?limit=-1")["tasks"]))
            out = mesos_cli(config, "task", "list", "--all")
            assert tid in out and "TASK_KILLED" in out, out
            print("avmesos-cli compatibility: ok")
        finally:
            proc.terminate()
            proc.wait(timeout=10)


if __name__ == "__main__":
    main()
