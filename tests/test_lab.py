"""Lab mode: a private network namespace with no route out, removed when the run ends."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from conformance import cli
from conformance.catalog.verdicts import HarnessError
from conformance.network import lab
from conformance.report.model import Report


def _inside_lab(script: str) -> list[str]:
    """A command that runs the Python ``script`` inside a fresh lab namespace."""
    return [
        sys.executable,
        "-c",
        "import sys; from conformance.network import lab; "
        f"sys.exit(lab.run_inside([sys.executable, '-c', {script!r}]))",
    ]


def _lab_json(script: str) -> Any:
    """Run ``script`` inside a fresh lab; the JSON it printed last."""
    done = subprocess.run(_inside_lab(script), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="lab mode needs root (a network namespace); CI runs as root"
)

PROBE = r"""
import errno, json, socket, subprocess
from conformance.network import lab
lab.prepare()
links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
def ip(*args):
    return subprocess.run(["ip", *args], capture_output=True, text=True)
routes = ip("route", "show", "table", "main")
routes6 = ip("-6", "route", "show", "table", "main")
outside = {}
# addresses that exist nowhere in the lab: a packet to them would have to leave the machine
for address, family in (("11.0.0.11", socket.AF_INET), ("192.0.2.1", socket.AF_INET),
                        ("2001:db9::1", socket.AF_INET6)):
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        sock = socket.socket(family, kind)
        try:
            if kind == socket.SOCK_STREAM:
                sock.settimeout(2)
                sock.connect((address, 443))
            else:
                sock.sendto(b"x", (address, 53))
            outside[f"{address}/{kind}"] = "sent"
        except OSError as exc:
            outside[f"{address}/{kind}"] = errno.errorcode.get(exc.errno, str(exc.errno))
        finally:
            sock.close()
# a process left behind on purpose: the run must kill it with the namespace
subprocess.Popen(["sleep", "300"], start_new_session=True)
print(json.dumps({"links": links, "routes": routes.stdout, "routes6": routes6.stdout,
                  "resolv": open("/etc/resolv.conf").read(), "outside": outside,
                  "netns": __import__("os").readlink("/proc/self/ns/net")}))
"""


@needs_root
def test_lab_has_only_loopback_and_no_route_out() -> None:
    host_resolv = Path("/etc/resolv.conf").read_text()
    seen = _lab_json(PROBE)
    # one interface, the namespace's own loopback
    assert [line.split(":")[1].strip() for line in seen["links"].splitlines()] == ["lo"]
    # no route in the main tables: nothing but the namespace's own addresses is reachable
    assert seen["routes"].strip() == ""
    assert all(" dev lo " in line for line in seen["routes6"].splitlines())
    assert not any(line.startswith("default") for line in seen["routes6"].splitlines())
    assert set(seen["outside"].values()) == {"ENETUNREACH"}
    assert seen["resolv"].startswith(f"nameserver {lab.DNS_ADDRESS}")
    # the machine's own resolver is untouched, and nothing is left in the namespace
    assert Path("/etc/resolv.conf").read_text() == host_resolv
    assert seen["netns"] != os.readlink("/proc/self/ns/net")
    assert lab.processes_in(seen["netns"]) == []


def test_prepare_refuses_outside_a_private_namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(lab.INSIDE_ENV, "1")
    monkeypatch.setenv(lab.OUTER_ENV, os.readlink("/proc/self/ns/net"))
    with pytest.raises(HarnessError, match="not in a private namespace"):
        lab.prepare()


def test_lab_without_root_is_a_harness_error_with_a_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(lab.INSIDE_ENV, raising=False)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    code = cli.main(["demo", "--lab", "--report-dir", str(tmp_path)])
    assert code == 2
    error = Report.load(tmp_path / "report.json").preflight["error"]
    assert "needs root" in error and "without --lab" in error


WATCH = r"""
import json, socket, time
from conformance.network import lab
from conformance.network.topology import _watched
from mock_servers.packet_watch import PacketWatch
lab.prepare()
watch = PacketWatch(_watched).start()
time.sleep(0.2)
tcp = socket.socket()
tcp.settimeout(2)
try:
    tcp.connect(("10.0.0.1", 9))  # nothing listens: refused, but the SYN was sent
except OSError:
    pass
tcp.close()
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.sendto(b"x", ("172.16.0.1", 5353))
udp.close()
own = socket.socket()
try:
    own.connect(("127.0.0.1", 9))  # the suite's own loopback address is not watched
except OSError:
    pass
own.close()
time.sleep(0.5)
watch.stop()
print(json.dumps([a.describe() for a in watch.attempts()]))
"""


@needs_root
def test_packet_watch_records_attempts_where_nothing_listens() -> None:
    seen = _lab_json(WATCH)
    assert len(seen) == 2, seen
    assert seen[0].startswith("TCP SYN from 10.0.0.1") and seen[0].endswith("to 10.0.0.1:9")
    assert seen[1].startswith("UDP from") and seen[1].endswith("to 172.16.0.1:5353")


def test_a_namespace_that_cannot_be_created_is_a_harness_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "unshare").write_text(
        "#!/bin/sh\necho 'unshare: Operation not permitted' >&2\nexit 1\n"
    )
    (fake / "unshare").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}:{os.environ['PATH']}")
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.delenv(lab.INSIDE_ENV, raising=False)
    code = cli.main(["demo", "--lab", "--report-dir", str(tmp_path / "out")])
    assert code == 2
    error = Report.load(tmp_path / "out" / "report.json").preflight["error"]
    assert "could not create the lab's network namespace" in error and "CAP_SYS_ADMIN" in error


CRASH = r"""
import os, subprocess, sys, time
from conformance.network import lab
lab.prepare()
subprocess.Popen(["sleep", "300"], start_new_session=True)  # a grandchild of the run
print(os.readlink("/proc/self/ns/net"), flush=True)
time.sleep(300)
"""


@needs_root
def test_the_namespace_goes_when_the_command_that_started_it_is_killed() -> None:
    """SIGKILL the outer process mid-run: nothing may survive in the lab's namespace."""
    outer = subprocess.Popen(
        _inside_lab(CRASH),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert outer.stdout is not None
    netns = outer.stdout.readline().strip()
    assert netns.startswith("net:[")
    assert len(lab.processes_in(netns)) >= 2
    outer.kill()
    outer.wait(10)
    outer.stdout.close()
    for _ in range(100):
        if not lab.processes_in(netns):
            break
        time.sleep(0.05)
    assert lab.processes_in(netns) == []


NO_DNS = r"""
import json, os, subprocess, sys, tempfile
from pathlib import Path
from mock_servers.lab_dns import LabDns
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
resolv = Path(tempfile.mkdtemp()) / "resolv.conf"
resolv.write_text("nameserver 127.0.0.53\n")
subprocess.run(["mount", "--bind", str(resolv), "/etc/resolv.conf"], check=True)
env = {k: v for k, v in os.environ.items() if not k.startswith("CIMD_LAB_")}
with LabDns("127.0.0.53", 53) as dns:  # answers nothing, logs every query
    done = subprocess.run(
        [sys.executable, "-m", "conformance.cli", "demo", "--report-dir", sys.argv[1]],
        env=env, capture_output=True, text=True, timeout=600,
    )
    queries = [f"{q.qtype} {q.name}" for q in dns.queries()]
print(json.dumps({"code": done.returncode, "queries": queries}))
"""


@needs_root
def test_default_mode_makes_no_dns_lookups(tmp_path: Path) -> None:
    """The default-mode run, isolated with a logging resolver: the suite and the reference AS
    never ask DNS for anything (a lookup would leave the machine outside the lab)."""
    script = tmp_path / "no_dns.py"
    script.write_text(NO_DNS)
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from conformance.network import lab; sys.exit(lab.run_inside("
            f"[sys.executable, {str(script)!r}, {str(tmp_path / 'out')!r}]))",
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen == {"code": 0, "queries": []}
