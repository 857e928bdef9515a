"""Compatibility: the DC/OS CLI (dcoscli 0.6.1) `dcos task log` on dcos-log v2 against `keel dev`.

`--lines` (range read through the 303 discovery redirect and the master's agent log proxy) and
`--follow` (SSE): the follower must print a line the task writes after the command started.
Run by `cargo xtask ci`; uses the harness in dcos_env.py.
"""
import os
import re
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dcos_env import DcosEnv, DCOS, HERE  # noqa: E402


def main():
    with DcosEnv() as env:
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
        print("dcoscli task log compatibility: ok")


if __name__ == "__main__":
    main()
