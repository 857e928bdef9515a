"""Compatibility: the DC/OS CLI (dcoscli 0.6.1) metrics commands against `keel dev`.

`dcos node metrics details|summary <agent>` read `/system/v1/agent/<id>/metrics/v0/node`;
`dcos task metrics details|summary <task>` read `.../containers/<cid>` and `.../app`.
A Marathon app sends StatsD to the address in its environment, so its app metric shows too.
Run by `cargo xtask ci`; uses the harness in dcos_env.py.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dcos_env import DcosEnv  # noqa: E402

SENDER = ("exec bash -c 'while true; do echo \"compat.requests:1|c\" "
          "> /dev/udp/$STATSD_UDP_HOST/$STATSD_UDP_PORT; sleep 0.2; done'")


def main():
    with DcosEnv() as env:
        agent = env.get("/master/slaves")["slaves"][0]["id"]

        details = env.dcos_json("node", "metrics", "details", agent, "--json")
        names = {d["name"] for d in details}
        for n in ("cpu.total", "memory.total", "memory.free", "load.1min", "filesystem.capacity.total"):
            assert n in names, (n, sorted(names))
        table = env.dcos("node", "metrics", "details", agent)
        assert "cpu.total" in table and "path: /" in table, table

        summary = env.dcos_json("node", "metrics", "summary", agent, "--json")
        got = [d["name"] if d else None for d in summary]
        assert got == ["cpu.total", "memory.total", "memory.free", "filesystem.capacity.total",
                       "filesystem.capacity.used"], got
        table = env.dcos("node", "metrics", "summary", agent)
        assert "GiB" in table and "%" in table, table

        app = env.file("statsd.json", {"id": "/metrics/statsd", "cpus": 0.1, "mem": 32, "instances": 1,
                                       "cmd": SENDER})
        env.dcos("marathon", "app", "add", app)
        env.wait("the app to run", lambda: env.get("/v2/apps/metrics/statsd")["app"]["tasksRunning"] == 1)
        task = env.get("/v2/apps/metrics/statsd")["app"]["tasks"][0]["id"]

        def app_metric():
            points = env.dcos_json("task", "metrics", "details", task, "--json")
            return any(p["name"] == "compat.requests" and p["value"] >= 1 for p in points) and points

        points = env.wait("the StatsD metric in `dcos task metrics details`", app_metric)
        names = {p["name"] for p in points}
        for n in ("cpus.user.time", "cpus.system.time", "mem.total", "mem.limit", "disk.used"):
            assert n in names, (n, sorted(names))
        table = env.dcos("task", "metrics", "details", task)
        assert "cpus.user.time" in table and "compat.requests" in table, table
        summary = env.dcos("task", "metrics", "summary", task)
        assert "GiB" in summary, summary

        env.dcos("marathon", "app", "remove", "/metrics/statsd")
        print("dcoscli metrics compatibility: ok")


if __name__ == "__main__":
    main()
