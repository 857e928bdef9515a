"""Compatibility: the real marathon-python 0.13.0 client driven against a running `keel dev`.

Run by `cargo xtask ci` with the test venv's Python; KEEL_BIN names the keel binary.
"""
import os
import subprocess
import tempfile
import threading
import time

import requests

from marathon import MarathonClient
from marathon.models import MarathonApp, MarathonGroup
from marathon.exceptions import NotFoundError

KEEL = os.environ.get("KEEL_BIN", "target/debug/keel")


def wait(what, fn, secs=30):
    deadline = time.time() + secs
    last = None
    while time.time() < deadline:
        try:
            last = fn()
            if last:
                return last
        except Exception as e:  # keep polling through transient errors
            last = e
        time.sleep(0.2)
    raise AssertionError("timed out waiting for %s (last: %r)" % (what, last))


def settled(c):
    wait("deployments to finish", lambda: len(c.list_deployments()) == 0)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen([KEEL, "dev", "--data-dir", tmp + "/data", "--listen", "127.0.0.1:0",
                                 "--resources", "cpus:8;mem:8192"], stdout=subprocess.PIPE, text=True)
        try:
            url = proc.stdout.readline().split()[-1]
            for base in (url, url + "/marathon"):
                c = MarathonClient(base)
                assert c.ping() in (b"pong", b'"pong"'), c.ping()
            c = MarathonClient(url)
            info = c.get_info()
            assert info.name == "marathon", info

            # An event stream in the background collects every event type we see.
            seen = []

            def listen():
                try:
                    for ev in MarathonClient(url).event_stream():
                        seen.append(ev.event_type)
                except Exception as e:  # the test asserts on what was seen
                    seen.append("error: %r" % e)

            threading.Thread(target=listen, daemon=True).start()
            wait("event_stream_attached", lambda: "event_stream_attached" in seen)

            app = c.create_app("/compat/web", MarathonApp(cmd="sleep 1000", cpus=0.1, mem=32, instances=2,
                                                          labels={"team": "a"}))
            assert app.id == "/compat/web", app
            settled(c)
            got = c.get_app("/compat/web", embed_tasks=True, embed_counts=True)
            assert got.tasks_running == 2 and len(got.tasks) == 2, got
            apps = c.list_apps(embed_tasks=True, embed_counts=True, label="team==a")
            assert [a.id for a in apps] == ["/compat/web"], apps
            assert c.list_apps(label="team==b") == []

            c.scale_app("/compat/web", instances=3)
            settled(c)
            tasks = c.list_tasks("/compat/web")
            assert len(tasks) == 3 and all(t.state == "TASK_RUNNING" for t in tasks), tasks
            assert len(c.list_tasks()) == 3

            # Kill one task and scale down at the same time.
            c.kill_task("/compat/web", tasks[0].id, scale=True)
            settled(c)
            wait("2 running", lambda: c.get_app("/compat/web").tasks_running == 2)
            # Kill without scale: Marathon replaces it.
            victim = c.list_tasks("/compat/web")[0].id
            c.kill_given_tasks([victim])
            wait("replacement", lambda: victim not in [t.id for t in c.list_tasks("/compat/web")]
                 and c.get_app("/compat/web").tasks_running == 2)

            versions = c.list_versions("/compat/web")
            assert len(versions) >= 2, versions
            c.update_app("/compat/web", MarathonApp(cmd="sleep 2000"))
            settled(c)
            assert c.get_app("/compat/web").cmd == "sleep 2000"
            new_version = c.get_app("/compat/web").version
            assert all(t.version == new_version for t in c.list_tasks("/compat/web"))

            # Groups.
            c.create_group(MarathonGroup(id="/grp", apps=[MarathonApp(id="/grp/a", cmd="sleep 1000", cpus=0.1, mem=32)]))
            settled(c)
            g = c.get_group("/grp")
            assert [a.id for a in g.apps] == ["/grp/a"], g
            assert "/grp" in [x.id for x in c.list_groups()]
            c.scale_group("/grp", 2.0)
            settled(c)
            assert c.get_app("/grp/a").instances == 2
            c.delete_group("/grp", force=True)
            settled(c)
            try:
                c.get_app("/grp/a")
                raise AssertionError("/grp/a still exists")
            except NotFoundError:
                pass

            assert c.list_queue() == [] or all(q.app for q in c.list_queue())
            # An app and a pod that no agent can take: the client lists the app's queue item
            # and is not handed the pod item it cannot parse (pods need `embed=pods`).
            c.create_app("/compat/huge", MarathonApp(cmd="sleep 1000", cpus=100, mem=32))
            pod = {"id": "/compat/hugepod", "containers": [{"name": "a", "resources": {"cpus": 100, "mem": 32},
                                                              "exec": {"command": {"shell": "sleep 1000"}}}]}
            r = requests.post(url + "/v2/pods", json=pod)
            assert r.status_code == 201, r.text
            wait("the pod in the queue", lambda: len(requests.get(url + "/v2/queue?embed=pods").json()["queue"]) == 2)
            queue = c.list_queue()
            assert [q.app.id for q in queue] == ["/compat/huge"], queue
            assert queue[0].count == 1 and queue[0].delay.overdue is not None, queue
            c.delete_app("/compat/huge", force=True)
            assert requests.delete(url + "/v2/pods/compat/hugepod?force=true").status_code == 202
            settled(c)
            c.delete_app("/compat/web", force=True)
            settled(c)
            wait("no tasks", lambda: c.list_tasks() == [])
            time.sleep(0.5)
            for t in ("api_post_event", "deployment_info", "deployment_success", "status_update_event"):
                assert t in seen, (t, seen)
            assert not [s for s in seen if s.startswith("error")], seen
            print("marathon-python compatibility: ok")
        finally:
            proc.terminate()
            proc.wait(timeout=10)


if __name__ == "__main__":
    main()
