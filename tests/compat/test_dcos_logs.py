"""Compatibility: the DC/OS CLI (dcoscli 0.6.1) `dcos task log` and `dcos node log` on dcos-log v2
against `keel dev`.

`--lines` (range read through the 303 discovery redirect and the master's agent log proxy) and
`--follow` (SSE): the follower must print a line the task writes after the command started.
`dcos task log --completed` on a task whose sandbox the agent's GC removed (the log archive).
`dcos node log --leader` and `--mesos-id` (component logs of the node's journal), with
`--component` and `--filter`.
Run by `cargo xtask ci`; uses the harness in dcos_env.py.
"""
import os
import re
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dcos_env import DcosEnv, DCOS, HERE, KEEL  # noqa: E402

TIME = r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}: "


def main():
    # Finished tasks' sandboxes are collected seconds after they end.
    with DcosEnv(keel_args=["--gc-delay", "3secs", "--disk-watch-interval", "1secs"]) as env:
        app = env.file("counter.json", {
            "id": "/logs/counter", "cpus": 0.1, "mem": 32, "instances": 1,
            "cmd": "i=0; while true; do echo line-$i; i=$((i+1)); sleep 0.1; done"})
        env.dcos("marathon", "app", "add", app)
        env.wait("the app to run", lambda: env.get("/v2/apps/logs/counter")["app"]["tasksRunning"] == 1)
        env.wait("a few lines", lambda: len(env.dcos("task", "log", "--lines", "5", "counter").splitlines()) == 5)

        out = env.dcos("task", "log", "--lines", "3", "counter").splitlines()
        assert len(out) == 3 and all(re.fullmatch(r"line-\d+", l) for l in out), out
        nums = [int(l.split("-")[1]) for l in out]
        assert nums == list(range(nums[0], nums[0] + 3)), out

        # Unknown tasks: the CLI says so (the master answers 404 before it).
        missing = env.dcos_fail("task", "log", "nosuchtask")
        assert "nosuchtask" in missing or "No" in missing, missing

        # --follow: everything printed after the start is a later line, in order, no gaps.
        started_at = int(env.dcos("task", "log", "--lines", "1", "counter").strip().split("-")[1])
        proc = subprocess.Popen([DCOS, "task", "log", "--follow", "--lines", "1", "counter"],
                                env=dict(os.environ, DCOS_DIR=env.dcos_dir, PYTHONPATH=HERE),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        seen = []

        def read():
            for line in proc.stdout:
                seen.append(line.strip())

        t = threading.Thread(target=read, daemon=True)
        t.start()
        deadline = time.time() + 30
        target = started_at + 20
        try:
            while time.time() < deadline:
                if any(s == "line-%d" % target for s in seen):
                    break
                time.sleep(0.2)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        got = [int(s.split("-")[1]) for s in seen if re.fullmatch(r"line-\d+", s)]
        assert target in got, (target, seen[-5:], proc.stderr.read() if proc.stderr else "")
        assert got == list(range(got[0], got[-1] + 1)), "gaps or repeats in %s" % got
        assert got[0] >= started_at, (started_at, got[:3])

        env.dcos("marathon", "app", "remove", "/logs/counter")

        # A task whose sandbox the GC removed: its log comes from the archive.
        run = subprocess.run([KEEL, "task", "run", "--shell", "--", "echo gone-1; echo gone-2; echo gone-3; echo gone-err >&2"],
                             env=dict(os.environ, KEEL_URL=env.url), capture_output=True, text=True,
                             timeout=60)
        assert run.returncode == 0, run.stderr
        task_id = run.stdout.strip()
        state = lambda: env.get("/master/tasks?limit=-1&task_id=%s" % task_id)["tasks"]  # noqa: E731
        env.wait("the task to finish", lambda: state() and state()[0]["state"] == "TASK_FINISHED")
        fw = state()[0]["framework_id"]
        work = os.path.join(env.tmp, "data", "agent-0")
        archived = os.path.join(work, "log-archive", fw, task_id)
        runs = [os.path.join(root, "runs") for root, dirs, _ in os.walk(os.path.join(work, "slaves"))
                if os.path.basename(root) == task_id]
        env.wait("the GC to archive and remove the sandbox", lambda: os.path.isdir(archived) and all(
            not os.listdir(r) for r in runs if os.path.isdir(r)))
        out = env.dcos("task", "log", "--completed", "--lines", "2", task_id).splitlines()
        assert out == ["gone-2", "gone-3"], out
        err = env.dcos("task", "log", "--completed", task_id, "stderr").splitlines()
        assert err == ["gone-err"], err

        # Component logs: the leading master's node, and an agent by its Mesos id.
        out = env.dcos("node", "log", "--leader", "--lines", "300").splitlines()
        assert out and all(re.match(TIME, l) for l in out), out[:5]
        assert any(l.endswith(": agent registered") for l in out), out[-10:]
        out = env.dcos("node", "log", "--leader", "--component", "dcos-mesos-master", "--lines", "300")
        assert "agent registered" in out and "registered with master" not in out, out
        out = env.dcos("node", "log", "--leader", "--component", "dcos-marathon", "--lines", "300")
        assert "marathon recovered its state" in out, out
        agent = env.get("/master/state")["slaves"][0]["id"]
        out = env.dcos("node", "log", "--mesos-id", agent, "--lines", "300")
        assert "registered with master" in out, out
        out = env.dcos("node", "log", "--mesos-id", agent, "--component", "dcos-mesos-slave",
                       "--filter", "KEEL_ROLE:agent", "--lines", "300")
        assert "gc: archived the task's logs" in out and "agent registered" not in out, out
        # --follow (SSE): an entry Marathon writes after the command started is printed.
        proc = subprocess.Popen([DCOS, "node", "log", "--leader", "--component", "dcos-marathon", "--follow"],
                                env=dict(os.environ, DCOS_DIR=env.dcos_dir, PYTHONPATH=HERE),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        followed = []
        threading.Thread(target=lambda: [followed.append(l.strip()) for l in proc.stdout], daemon=True).start()
        try:
            done = lambda: sum(1 for l in followed if re.match(TIME + "deployment finished$", l))  # noqa: E731
            time.sleep(2)
            before = done()
            env.dcos("marathon", "app", "add", env.file("later.json", {
                "id": "/logs/later", "cpus": 0.01, "mem": 8, "instances": 0, "cmd": "sleep 100"}))
            deadline = time.time() + 30
            while time.time() < deadline and done() <= before:
                time.sleep(0.2)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        assert done() > before, (before, followed[-5:])
        missing = env.dcos_fail("node", "log", "--mesos-id", agent, "--component", "no-such-unit")
        assert "No files exist" in missing or "404" in missing, missing
        print("dcoscli task log and node log compatibility: ok")


if __name__ == "__main__":
    main()
