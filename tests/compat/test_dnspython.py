"""Compatibility: dnspython (PyPI) against Keel's DNS server in a running `keel dev`.

Every record kind of the Mesos-DNS and dcos-dns zones over UDP and TCP, NXDOMAIN vs NODATA
(the zone's SOA in the authority section), truncation (TC over plain UDP, the full answer
over TCP and with EDNS), and dnspython's stub resolver (which retries truncated answers over
TCP). Run by `cargo xtask ci` with the test venv's Python; KEEL_BIN names the keel binary.
Every query goes to 127.0.0.1.
"""
import socket

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.resolver

from dcos_env import DcosEnv

TIMEOUT = 3


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Dns:
    def __init__(self, port):
        self.port = port

    def ask(self, name, rtype, tcp=False, edns=0, payload=1232):
        q = dns.message.make_query(name, rtype, use_edns=edns if edns is not None else False, payload=payload)
        if tcp:
            return dns.query.tcp(q, "127.0.0.1", port=self.port, timeout=TIMEOUT)
        return dns.query.udp(q, "127.0.0.1", port=self.port, timeout=TIMEOUT, raise_on_truncation=False)

    def both(self, name, rtype):
        """The answer over UDP and over TCP, which must agree (as sets)."""
        u, t = self.ask(name, rtype), self.ask(name, rtype, tcp=True)
        for m in (u, t):
            assert m.rcode() == dns.rcode.NOERROR, (name, rtype, m)
            assert m.flags & dns.flags.AA, ("authoritative", name, m)
        assert values(u) == values(t), (name, rtype, u, t)
        return u

    def values(self, name, rtype):
        return values(self.both(name, rtype))


def values(m):
    return sorted(r.to_text() for rrset in m.answer for r in rrset)


def soa_in_authority(m):
    return any(rrset.rdtype == dns.rdatatype.SOA for rrset in m.authority)


def main():
    port = free_port()
    with DcosEnv(keel_args=["--dns-listen", "127.0.0.1:%d" % port], setup=False) as env:
        d = Dns(port)
        for app in (
            {"id": "/dns/web", "cmd": "sleep 600", "cpus": 0.01, "mem": 8, "instances": 2,
             "portDefinitions": [{"port": 0, "name": "p0", "labels": {"VIP_0": "/dns/web:80"}},
                                 {"port": 0, "name": "p1"}]},
            {"id": "/many", "cmd": "sleep 600", "cpus": 0.01, "mem": 8, "instances": 30,
             "portDefinitions": [{"port": 0}]},
        ):
            code, body = env.request("POST", "/v2/apps", app)
            assert code == 201, body
        env.wait("32 tasks running", lambda: sum(a["tasksRunning"] for a in env.get("/v2/apps")["apps"]) == 32, 90)
        env.wait("the records", lambda: len(d.ask("_many._tcp.marathon.mesos", "SRV", tcp=True).answer[0]) == 30, 10)
        env.wait("the l4lb name", lambda: d.ask("dnsweb.marathon.l4lb.thisdcos.directory", "A").answer, 10)

        # A: task names (DiscoveryInfo raw and sanitised), slave.mesos variants, cluster names.
        for name in ("web.dns.marathon.mesos", "web-dns.marathon.mesos", "web.dns.marathon.slave.mesos",
                     "leader.mesos", "master.mesos", "master0.mesos", "slave.mesos", "marathon.mesos",
                     "ns1.mesos", "web-dns.marathon.agentip.dcos.thisdcos.directory",
                     "web-dns.marathon.autoip.dcos.thisdcos.directory", "leader.dcos.thisdcos.directory",
                     "master.dcos.thisdcos.directory", "web.dns.marathon.mesos.thisdcos.directory"):
            assert d.values(name, "A") == ["127.0.0.1"], name
        vip = d.values("dnsweb.marathon.l4lb.thisdcos.directory", "A")
        assert len(vip) == 1 and vip[0].startswith("127.77."), vip
        # TTLs: 60 in the Mesos-DNS zone, 5 in the dcos-dns zone.
        assert d.both("web.dns.marathon.mesos", "A").answer[0].ttl == 60
        assert d.both("web-dns.marathon.agentip.dcos.thisdcos.directory", "A").answer[0].ttl == 5

        # SRV: per task and port, the targets' A records in the additional section.
        m = d.both("_web.dns._tcp.marathon.mesos", "SRV")
        srv = [r for rrset in m.answer for r in rrset]
        assert len(srv) == 4, m
        targets = {r.target.to_text() for r in srv}
        extra = {rrset.name.to_text() for rrset in m.additional if rrset.rdtype == dns.rdatatype.A}
        assert targets <= extra, (targets, extra)
        assert all(r.priority == 0 and r.weight == 1 for r in srv), m
        assert len(d.values("_p1._web.dns._tcp.marathon.mesos", "SRV")) == 2
        assert len(d.values("_web-dns._udp.marathon.slave.mesos", "SRV")) == 4
        assert len(d.values("_leader._tcp.mesos", "SRV")) == 1
        assert len(d.values("_leader._udp.mesos", "SRV")) == 1
        assert len(d.values("_slave._tcp.mesos", "SRV")) == 1
        assert len(d.values("_framework._tcp.marathon.mesos", "SRV")) == 1

        # SOA and NS at the apex of both zones.
        soa = d.values("mesos", "SOA")
        assert len(soa) == 1 and soa[0].startswith("ns1.mesos. root.ns1.mesos."), soa
        assert d.values("mesos", "NS") == ["ns1.mesos."]
        assert len(d.values("thisdcos.directory", "SOA")) == 1

        # NXDOMAIN vs NODATA, both with the zone's SOA in authority, over UDP and TCP.
        for tcp in (False, True):
            m = d.ask("nope.marathon.mesos", "A", tcp=tcp)
            assert m.rcode() == dns.rcode.NXDOMAIN and not m.answer and soa_in_authority(m), m
            m = d.ask("nope.thisdcos.directory", "A", tcp=tcp)
            assert m.rcode() == dns.rcode.NXDOMAIN and soa_in_authority(m), m
            m = d.ask("web.dns.marathon.mesos", "AAAA", tcp=tcp)
            assert m.rcode() == dns.rcode.NOERROR and not m.answer and soa_in_authority(m), m
        # Names outside Keel's zones with no upstreams configured: REFUSED.
        assert d.ask("example.com", "A").rcode() == dns.rcode.REFUSED

        # Truncation: 30 SRV records do not fit plain UDP's 512 bytes: TC and a partial answer;
        # TCP and EDNS (4096) carry them all.
        m = d.ask("_many._tcp.marathon.mesos", "SRV", edns=None)
        assert m.flags & dns.flags.TC, m
        assert 0 < sum(len(r) for r in m.answer) < 30, m
        m = d.ask("_many._tcp.marathon.mesos", "SRV", tcp=True, edns=None)
        assert not m.flags & dns.flags.TC and len(m.answer[0]) == 30, m
        m = d.ask("_many._tcp.marathon.mesos", "SRV", edns=0, payload=4096)
        assert not m.flags & dns.flags.TC and len(m.answer[0]) == 30, m
        assert m.edns == 0, "the response carries an OPT record"

        # dnspython's stub resolver: plain UDP first, TCP on truncation.
        r = dns.resolver.Resolver(configure=False)
        r.nameservers = ["127.0.0.1"]
        r.port = port
        r.lifetime = 10
        r.use_edns(-1)
        ans = r.resolve("_many._tcp.marathon.mesos", "SRV")
        assert len(ans) == 30, ans.response
        assert [a.to_text() for a in r.resolve("web.dns.marathon.mesos", "A")] == ["127.0.0.1"]
        try:
            r.resolve("nope.marathon.mesos", "A")
            raise AssertionError("NXDOMAIN expected")
        except dns.resolver.NXDOMAIN:
            pass
        try:
            r.resolve("web.dns.marathon.mesos", "AAAA")
            raise AssertionError("NODATA expected")
        except dns.resolver.NoAnswer:
            pass

        # A name follows a scale-down.
        code, body = env.request("PUT", "/v2/apps/dns/web?force=true", {"instances": 0})
        assert code == 200, body
        env.wait("web to go", lambda: d.ask("web.dns.marathon.mesos", "A").rcode() == dns.rcode.NXDOMAIN, 30)
        print("dnspython compatibility: ok")


if __name__ == "__main__":
    main()
