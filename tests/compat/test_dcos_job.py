"""Compatibility: the real DC/OS CLI (dcoscli 0.6.1) `dcos cluster setup` and
`dcos job add|list|show|run|history|schedule|kill|update|remove` against `keel dev`.

Run by `cargo xtask ci`; see dcos_env.py for the environment it needs.
"""
import sys

from dcos_env import DcosEnv


def history(env, job, failures=False):
    args = ["job", "history", job, "--json"] + (["--failures"] if failures else [])
    return env.dcos_json(*args)


def main():
    with DcosEnv() as env:
        assert "dcoscli.version=0.6.1" in env.dcos("--version")

        job = {
            "id": "compat.hello",
            "description": "says hello",
            "labels": {"team": "compat"},
            "run": {"cpus": 0.1, "mem": 32, "cmd": "echo hello-from-$MESOS_TASK_ID"},
            "schedules": [{"id": "nightly", "cron": "0 3 * * *", "timezone": "Europe/Berlin"}],
        }
        env.dcos("job", "add", env.file("hello.json", job))
        assert "compat.hello" in env.dcos("job", "list")
        listed = env.dcos_json("job", "list", "--json")
        assert [j["id"] for j in listed] == ["compat.hello"], listed
        assert listed[0]["historySummary"]["successCount"] == 0

        shown = env.dcos_json("job", "show", "compat.hello")
        assert shown["run"]["disk"] == 0 and shown["labels"] == {"team": "compat"}, shown
        sched = env.dcos_json("job", "schedule", "show", "compat.hello", "--json")
        assert sched[0]["cron"] == "0 3 * * *" and sched[0]["nextRunAt"].endswith("+0000"), sched

        out = env.dcos("job", "run", "compat.hello")
        run_id = out.strip().split()[-1]
        assert out.startswith("Run ID: "), out
        env.wait("the run to succeed", lambda: any(r["id"] == run_id for r in history(env, "compat.hello")))
        table = env.dcos("job", "history", "compat.hello")
        assert "Successful runs: 1" in table and run_id in table, table
        assert "Success" in env.dcos("job", "list")

        # A failing job shows up under --failures.
        env.dcos("job", "add", env.file("fail.json", {"id": "compat.fail", "run": {"cpus": 0.1, "mem": 32, "disk": 0,
                                                                                  "cmd": "exit 3"}}))
        env.dcos("job", "run", "compat.fail")
        env.wait("the run to fail", lambda: history(env, "compat.fail", failures=True))

        # A long run: listed, then killed.
        env.dcos("job", "add", env.file("long.json", {"id": "compat.long", "run": {"cpus": 0.1, "mem": 32, "disk": 0,
                                                                                  "cmd": "sleep 300"}}))
        long_run = env.dcos("job", "run", "compat.long").strip().split()[-1]
        runs = env.dcos_json("job", "show", "runs", "compat.long", "--json")
        assert [r["id"] for r in runs] == [long_run], runs
        # 409 "There are active job runs" (dcoscli words every 409 as a blocked change).
        assert "Unable to remove 'compat.long'" in env.dcos_fail("job", "remove", "compat.long")
        assert "killed" in env.dcos("job", "kill", "compat.long", long_run)
        env.wait("the stopped run in the failures", lambda: history(env, "compat.long", failures=True))

        # Update keeps the schedules; schedule update and remove.
        job["description"] = "says hello again"
        job["run"]["disk"] = 0  # the schema requires it; only `dcos job add` fills it in
        env.dcos("job", "update", env.file("hello2.json", job))
        shown = env.dcos_json("job", "show", "compat.hello")
        assert shown["description"] == "says hello again" and shown["schedules"][0]["id"] == "nightly", shown
        env.dcos("job", "schedule", "update", "compat.hello",
                 env.file("s.json", {"id": "nightly", "cron": "30 4 * * *", "enabled": False}))
        assert env.dcos_json("job", "schedule", "show", "compat.hello", "--json")[0]["cron"] == "30 4 * * *"
        env.dcos("job", "schedule", "remove", "compat.hello", "nightly")
        assert env.dcos_json("job", "schedule", "show", "compat.hello", "--json") == []

        for j in ["compat.hello", "compat.fail", "compat.long"]:
            env.dcos("job", "remove", j)
        assert "Job not found" in env.dcos_fail("job", "show", "compat.hello")
        assert env.dcos_json("job", "list", "--json") == []
    print("dcos job compatibility: 1 passed, 0 failed")


if __name__ == "__main__":
    sys.exit(main())
