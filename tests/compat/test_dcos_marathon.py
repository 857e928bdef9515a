"""Compatibility: the DC/OS CLI (dcoscli 0.6.1) `dcos marathon ...` against `keel dev`.

Run by `cargo xtask ci`; uses the harness in dcos_env.py (isolated DCOS_DIR, `dcos cluster setup`).
"""
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dcos_env import DcosEnv  # noqa: E402


def main():
    with DcosEnv() as env:
        app = {"id": "/dcos/web", "cmd": "exec sleep 1000", "cpus": 0.1, "mem": 32, "instances": 2}
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(app, f)
            path = f.name
        env.dcos("marathon", "app", "add", path)
        env.wait("the app to run", lambda: env.get("/v2/apps/dcos/web")["app"]["tasksRunning"] == 2
                 and not env.get("/v2/deployments"))

        out = env.dcos("marathon", "app", "list")
        assert "/dcos/web" in out, out
        listed = env.dcos_json("marathon", "app", "list", "--json")
        assert [a["id"] for a in listed] == ["/dcos/web"], listed
        shown = env.dcos_json("marathon", "app", "show", "/dcos/web")
        assert shown["instances"] == 2 and shown["cmd"] == "exec sleep 1000", shown

        tasks = env.dcos("marathon", "task", "list")
        assert tasks.count("/dcos/web") == 2, tasks
        task_json = env.dcos_json("marathon", "task", "list", "--json")
        assert len(task_json) == 2 and all(t["appId"] == "/dcos/web" for t in task_json), task_json

        before = {t["id"] for t in task_json}
        env.dcos("marathon", "app", "restart", "/dcos/web")
        env.wait("the restart", lambda: not env.get("/v2/deployments")
                 and {t["id"] for t in env.get("/v2/apps/dcos/web/tasks")["tasks"]}.isdisjoint(before)
                 and env.get("/v2/apps/dcos/web")["app"]["tasksRunning"] == 2)

        # A deployment that cannot finish (no agent has 64 cpus) shows in `deployment list`.
        big = env.file("big.json", {"id": "/dcos/big", "cmd": "sleep 1000", "cpus": 64, "mem": 32})
        env.dcos("marathon", "app", "add", big)
        out = env.dcos("marathon", "deployment", "list")
        assert "/dcos/big" in out, out
        env.dcos("marathon", "app", "remove", "--force", "/dcos/big")
        env.wait("no deployments", lambda: not env.get("/v2/deployments"))
        done = env.run("marathon", "deployment", "list")
        assert "There are no deployments" in done.stdout + done.stderr, (done.stdout, done.stderr)

        env.dcos("marathon", "app", "remove", "/dcos/web")
        env.wait("the app to go", lambda: env.get("/v2/apps")["apps"] == [] and env.get("/v2/tasks")["tasks"] == [])
        out = env.dcos("marathon", "app", "list")
        assert "/dcos/web" not in out, out
        print("dcoscli marathon compatibility: ok")


if __name__ == "__main__":
    main()
