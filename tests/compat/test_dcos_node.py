"""Compatibility: the real DC/OS CLI 0.6.1 `dcos node` and `dcos node dns` against `keel dev`.

`dcos node` reads `/mesos_dns/v1/hosts/master.mesos` (the masters), `/mesos/master/state.json`
(the leader) and `/mesos/master/state-summary` (the agents); `dcos node dns NAME` reads
`/mesos_dns/v1/hosts/NAME`. Run by `cargo xtask ci` with `.venv-dcos/bin/python`.
"""
from dcos_env import DcosEnv


def main():
    with DcosEnv(keel_args=["--agents", "2"]) as env:
        agents = env.wait("2 active agents",
                          lambda: [s for s in env.get("/master/slaves")["slaves"] if s.get("active")][1:] and
                          env.get("/master/slaves")["slaves"])
        agent_ids = sorted(a["id"] for a in agents)
        master_id = env.get("/master/state")["id"]

        # The table: the leading master (from master.mesos) and both agents.
        out = env.dcos("node")
        lines = [l for l in out.splitlines() if l.strip()]
        assert "HOSTNAME" in lines[0] and "TYPE" in lines[0], out
        leader = [l for l in lines if "master (leader)" in l]
        assert len(leader) == 1 and "master.mesos." in leader[0] and "127.0.0.1" in leader[0], out
        assert master_id in leader[0], out
        for aid in agent_ids:
            assert any(aid in l and "agent" in l for l in lines), (aid, out)

        # --json: the master entry as the CLI builds it, then the agents' state-summary entries.
        nodes = env.dcos_json("node", "--json")
        masters = [n for n in nodes if str(n.get("type", "")).startswith("master")]
        assert len(masters) == 1, nodes
        m = masters[0]
        assert m["host"] == "master.mesos." and m["ip"] == "127.0.0.1", m
        assert m["type"] == "master (leader)" and m["id"] == master_id, m
        got = sorted(n["id"] for n in nodes if n.get("type") == "agent")
        assert got == agent_ids, (got, agent_ids)

        # `dcos node dns`: a task's Mesos-DNS name, once the app runs, and a missing name.
        code, body = env.request("POST", "/v2/apps", {
            "id": "/compat/web", "cmd": "sleep 600", "cpus": 0.01, "mem": 16, "instances": 1,
            "portDefinitions": [{"port": 0, "name": "http", "labels": {"VIP_0": "/compat/web:80"}}],
        })
        assert code == 201, body
        env.wait("the app's task running", lambda: env.get("/v2/apps/compat/web")["app"]["tasksRunning"] == 1)
        hosts = env.wait("the task's name", lambda: [h for h in env.dcos_json("node", "dns", "web.compat.marathon.mesos",
                                                                              "--json") if h["ip"]])
        assert hosts == [{"host": "web.compat.marathon.mesos.", "ip": "127.0.0.1"}], hosts
        out = env.dcos("node", "dns", "web.compat.marathon.mesos")
        assert "web.compat.marathon.mesos." in out and "127.0.0.1" in out, out
        vip = env.wait("the VIP's l4lb name",
                       lambda: [h for h in env.dcos_json("node", "dns", "compatweb.marathon.l4lb.thisdcos.directory",
                                                         "--json") if h["ip"]])
        assert vip[0]["ip"].startswith("127.77."), vip
        none = env.dcos_json("node", "dns", "nothing.marathon.mesos", "--json")
        assert none == [{"host": "", "ip": ""}], none
        print("dcos node compatibility: ok")


if __name__ == "__main__":
    main()
