"""Compatibility: the real DC/OS CLI 0.6.1 `dcos node list-components` and
`dcos node diagnostics` (create, --status, --list, download, delete, --cancel) against `keel dev`.

`list-components` reads `/mesos_dns/v1/hosts/leader.mesos` (or the agent's address from state)
and `/system/health/v1/nodes/<ip>/units`; `diagnostics` needs the `SUPPORT_CLUSTER_REPORT`
capability and the `/system/health/v1/report/diagnostics/...` routes. Run by `cargo xtask ci`
with `.venv-dcos/bin/python`.
"""
import json
import os
import tempfile
import zipfile

from dcos_env import DcosEnv


def main():
    with DcosEnv() as env:
        agent = env.wait("an active agent",
                         lambda: [s for s in env.get("/master/slaves")["slaves"] if s.get("active")])[0]

        leader = env.dcos("node", "list-components", "--leader").split()
        for unit in ["dcos-mesos-master.service", "dcos-marathon.service", "dcos-metronome.service",
                     "dcos-mesos-dns.service", "dcos-adminrouter.service"]:
            assert unit in leader, (unit, leader)
        units = env.dcos_json("node", "list-components", "--mesos-id", agent["id"], "--json")
        assert "dcos-mesos-slave.service" in [u["id"] for u in units], units
        assert all(u["health"] == 0 for u in units), units

        # No job runs yet: --cancel fails with the service's own status (the 503 body's).
        assert "Job is not running" in env.dcos_fail("node", "diagnostics", "--cancel")

        out = env.dcos("node", "diagnostics", "create", "all")
        assert "successfully started" in out and "available bundle: bundle-" in out, out
        bundle = out.strip().split("available bundle: ")[1].strip()

        def finished():
            status = env.dcos_json("node", "diagnostics", "--status", "--json")
            (master,) = status.values()
            return master if not master["is_running"] else None
        status = env.wait("the bundle job to finish", finished)
        assert status["job_progress_percentage"] == 100.0 and bundle in status["status"], status
        text = env.dcos("node", "diagnostics", "--status")
        assert "is_running: False" in text, text

        listed = env.dcos("node", "diagnostics", "--list")
        assert bundle in listed, listed
        where = tempfile.mkdtemp(prefix="keel-diag-")
        out = env.dcos("node", "diagnostics", "download", bundle, "--location", where)
        path = os.path.join(where, bundle)
        assert os.path.exists(path), out
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
            root = bundle[:-len(".zip")]
            master_health = [n for n in names if n.endswith("_master/health.json")]
            assert master_health, names
            health = json.loads(z.read(master_health[0]))
            assert "dcos-mesos-master.service" in [u["id"] for u in health["units"]], health
            assert any(n.endswith("_master/mesos-master-state.json") for n in names), names
            agent_state = [n for n in names if agent["id"] in n and n.endswith("mesos-agent-state.json")]
            assert agent_state, names
            assert json.loads(z.read(agent_state[0]))["id"] == agent["id"]
            config = json.loads(z.read(root + "/keel-config.json"))
            assert config["args"][1] == "dev", config

        out = env.dcos("node", "diagnostics", "delete", bundle)
        assert "Deleted" in out or out.strip() == "", out
        assert "No available diagnostic bundles" in env.dcos("node", "diagnostics", "--list")
        print("dcos node list-components and diagnostics: ok")


if __name__ == "__main__":
    main()
