"""A reusable harness for DC/OS CLI (dcoscli 0.6.1) compatibility tests against `keel dev`.

    with DcosEnv() as env:                 # starts keel dev, runs `dcos cluster setup`
        env.dcos("job", "list")            # -> stdout (raises with stdout/stderr on failure)
        env.dcos_json("job", "list", "--json")
        env.dcos_fail("job", "show", "x")  # -> combined output of a command that must fail
        env.get("/v1/jobs")                # JSON straight from the cluster

Environment: KEEL_BIN (default target/debug/keel), DCOS_BIN (default .venv-dcos/bin/dcos,
installed by `cargo xtask deps`), KEEL_ENV_* variables are passed to keel without the prefix
(e.g. KEEL_ENV_KEEL_METRONOME_TICK_MS=100). The CLI runs with an isolated DCOS_DIR and with
this directory on PYTHONPATH, whose sitecustomize.py restores `collections.Mapping` & co.
"""
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
KEEL = os.environ.get("KEEL_BIN", os.path.join(ROOT, "target/debug/keel"))
DCOS = os.environ.get("DCOS_BIN", os.path.join(ROOT, ".venv-dcos/bin/dcos"))


class DcosEnv:
    def __init__(self, keel_args=(), keel_env=None, setup=True):
        self.keel_args = list(keel_args)
        self.keel_env = dict(keel_env or {})
        self.setup = setup
        self.url = None
        self.proc = None

    def __enter__(self):
        self.tmp = tempfile.mkdtemp(prefix="keel-dcos-")
        env = dict(os.environ, KEEL_LOG=os.environ.get("KEEL_LOG", "warn"))
        env.update(self.keel_env)
        args = [KEEL, "dev", "--data-dir", os.path.join(self.tmp, "data"), "--listen", "127.0.0.1:0",
                "--resources", "cpus:4;mem:4096"] + self.keel_args
        self.proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        self.url = line.split()[-1] if line.strip() else ""
        assert self.url.startswith("http://"), "keel dev printed %r" % line
        self.wait("an active agent", lambda: any(s.get("active") for s in self.get("/master/slaves")["slaves"]))
        self.dcos_dir = os.path.join(self.tmp, "dcos")
        os.makedirs(self.dcos_dir)
        if self.setup:
            self.dcos("cluster", "setup", self.url)
        return self

    def __exit__(self, *exc):
        if self.proc:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)
        return False

    def run(self, *args, stdin=None, timeout=120):
        env = dict(os.environ, DCOS_DIR=self.dcos_dir,
                   PYTHONPATH=os.pathsep.join(p for p in [HERE, os.environ.get("PYTHONPATH")] if p))
        for k in ("DCOS_URL", "DCOS_DCOS_URL", "DCOS_ACS_TOKEN", "DCOS_CLUSTER"):
            env.pop(k, None)
        return subprocess.run([DCOS, *args], env=env, input=stdin, capture_output=True, text=True,
                              timeout=timeout)

    def dcos(self, *args, stdin=None):
        out = self.run(*args, stdin=stdin)
        if out.returncode != 0:
            raise AssertionError("dcos %s failed (%d):\n%s\n%s" % (" ".join(args), out.returncode, out.stdout,
                                                                   out.stderr))
        return out.stdout

    def dcos_json(self, *args):
        return json.loads(self.dcos(*args))

    def dcos_fail(self, *args):
        out = self.run(*args)
        assert out.returncode != 0, "dcos %s should have failed:\n%s" % (" ".join(args), out.stdout)
        return out.stdout + out.stderr

    def request(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                text = r.read()
                return r.status, (json.loads(text) if text else None)
        except urllib.error.HTTPError as e:
            text = e.read()
            try:
                return e.code, json.loads(text)
            except ValueError:
                return e.code, text.decode(errors="replace")

    def get(self, path):
        code, body = self.request("GET", path)
        assert code == 200, "GET %s: %s %s" % (path, code, body)
        return body

    def file(self, name, doc):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            json.dump(doc, f)
        return path

    @staticmethod
    def wait(what, fn, secs=30):
        deadline = time.time() + secs
        while time.time() < deadline:
            try:
                v = fn()
            except (AssertionError, OSError, KeyError, ValueError):
                v = None
            if v:
                return v
            time.sleep(0.2)
        raise AssertionError("timed out waiting for " + what)
