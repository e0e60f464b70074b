"""Lab mode: the whole run inside a private network namespace with its own DNS.

``--lab`` (root only) re-runs the command under ``unshare --net --mount``. The new network
namespace has one interface, its own loopback, and no route anywhere else, so nothing the run
or the target sends can leave the machine. Inside it the suite adds special-use addresses to
the loopback interface (RFC 1918, link-local, CGNAT, benchmarking, ULA ...) for the canaries,
puts the metadata host on a globally routable-looking address that exists only in the
namespace, and points ``/etc/resolv.conf`` (bind-mounted in the private mount namespace) at
the lab DNS server, which answers every name the checks need. The target is started inside
the lab too, so it resolves through the lab DNS.

The namespace lives as long as a process in it does. The run is the first process of its own
PID namespace too, so when it ends, however it ends, the kernel kills everything it started;
if the command that started it dies, the run is killed with it. The parent also kills any
process left in the network namespace, and the kernel then removes the namespace.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from conformance.catalog.verdicts import HarnessError

INSIDE_ENV = "CIMD_LAB_INSIDE"
OUTER_ENV = "CIMD_LAB_OUTER_NETNS"
ZONE = "cimd.test"
METADATA_NAME = f"metadata.{ZONE}"
ALIAS_NAME = f"alias.{ZONE}"
# A globally routable-looking address that exists only on the namespace's loopback: the target
# must accept it as an ordinary public host. The namespace has no route out, so nothing sent
# to it, or to any other address not in the namespace, can leave the machine.
METADATA_ADDRESS = "11.0.0.10"
DNS_ADDRESS = "127.0.0.53"
ENTER_TIMEOUT_S = 10.0
PR_SET_PDEATHSIG = 1


# Whole private blocks are made local to the namespace's loopback (as 127.0.0.0/8 is), so
# checks can take fresh canary addresses from them: a canary that must sit on a fixed port
# (the metadata host's, for DNS rebinding) gets an address no other check is using.
LOCAL_BLOCKS = ("10.0.0.1/8", "172.16.0.1/12", "192.168.0.1/16")


@dataclass(frozen=True)
class LabAddress:
    """A special-use address a canary can listen on inside the lab."""

    address: str
    registry: str


# Added to the namespace's loopback interface (127.0.0.0/8 and ::1 are there already).
CANARY_ADDRESSES: tuple[LabAddress, ...] = (
    LabAddress("127.0.0.1", "Loopback (RFC 1122)"),
    LabAddress("127.9.9.9", "Loopback (RFC 1122)"),
    LabAddress("10.0.0.1", "Private-Use (RFC 1918)"),
    LabAddress("172.16.0.1", "Private-Use (RFC 1918)"),
    LabAddress("192.168.0.1", "Private-Use (RFC 1918)"),
    LabAddress("100.64.0.1", "Shared Address Space, CGNAT (RFC 6598)"),
    LabAddress("169.254.169.254", "Link Local, cloud metadata (RFC 3927)"),
    LabAddress("192.0.0.1", "IETF Protocol Assignments (RFC 6890)"),
    LabAddress("198.18.0.1", "Benchmarking (RFC 2544)"),
    LabAddress("240.0.0.1", "Reserved (RFC 1112)"),
    LabAddress("::1", "Loopback (RFC 4291)"),
    LabAddress("fc00::1", "Unique-Local (RFC 4193)"),
    LabAddress("fe80::1", "Link-Local Unicast (RFC 4291), scoped to the loopback interface"),
    LabAddress("2001:db8::1", "Documentation (RFC 3849)"),
    LabAddress("64:ff9b::a00:1", "NAT64 of 10.0.0.1 (RFC 6052)"),
)


def inside() -> bool:
    """Whether this process is the run inside the lab."""
    return os.environ.get(INSIDE_ENV) == "1"


def _netns(pid: int | str = "self") -> str:
    return os.readlink(f"/proc/{pid}/ns/net")


def check_can_enter() -> None:
    """Raise a HarnessError naming the fix when lab mode cannot run on this machine."""
    if sys.platform != "linux":
        raise HarnessError("lab mode needs Linux network namespaces; run without --lab")
    if os.geteuid() != 0:
        raise HarnessError(
            "lab mode needs root (it creates a network namespace): run it as root, "
            "or run without --lab for the default mode"
        )
    for tool in ("unshare", "ip", "mount"):
        if shutil.which(tool) is None:
            raise HarnessError(f"lab mode needs the {tool!r} command (util-linux, iproute2)")


def run_inside(command: Sequence[str], env: dict[str, str] | None = None) -> int:
    """Run ``command`` in a new network and mount namespace; returns its exit status.

    Every process left in the namespace afterwards is killed, so the namespace is gone when
    this returns, even if the command crashed or left children behind.
    """
    check_can_enter()
    ours = _netns()
    child_env = {**(env if env is not None else os.environ), INSIDE_ENV: "1", OUTER_ENV: ours}
    # A new PID namespace too: when its first process (the run) ends, however it ends, the
    # kernel kills every process in it. unshare --kill-child ends that process when unshare
    # dies, and unshare dies with this process (PR_SET_PDEATHSIG).
    namespaces = ["--net", "--mount", "--pid", "--mount-proc", "--fork", "--kill-child"]
    process = subprocess.Popen(
        ["unshare", *namespaces, "--", *command],
        env=child_env,
        preexec_fn=_die_with_parent,  # the parent has started no thread yet
    )
    lab = ""
    previous = _forward_signals(process.pid)
    try:
        deadline = time.monotonic() + ENTER_TIMEOUT_S
        while time.monotonic() < deadline and process.poll() is None:
            with contextlib.suppress(OSError):
                lab = _netns(process.pid)
            if lab and lab != ours:
                break
            time.sleep(0.01)
        code = process.wait()
        if not lab or lab == ours:
            raise HarnessError(
                f"unshare could not create the lab's network namespace (exit {code}): it "
                "needs root with CAP_SYS_ADMIN (in a container: --privileged, or "
                "--cap-add SYS_ADMIN); run without --lab for the default mode"
            )
        return code
    except BaseException:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(10)
        raise
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if process.poll() is None:
            process.kill()
            process.wait()
        if lab and lab != ours:
            kill_namespace(lab)


def _forward_signals(unshare_pid: int) -> dict[int, Any]:
    """Pass SIGINT and SIGTERM on to the run inside the lab; returns the old handlers.

    unshare does not pass signals on to its child (the run, the first process of the lab's
    PID namespace), so this process does: the run then stops and writes its interrupted
    report, and its exit code comes back through unshare. Before the run exists, the
    signal ends unshare, which takes the lab down with it.
    """

    def forward(signum: int, frame: FrameType | None) -> None:
        inner = children_of(unshare_pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(inner[0] if inner else unshare_pid, signum if inner else signal.SIGKILL)

    if threading.current_thread() is not threading.main_thread():
        return {}
    return {signum: signal.signal(signum, forward) for signum in (signal.SIGINT, signal.SIGTERM)}


def children_of(pid: int) -> list[int]:
    """The pids whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = (entry / "stat").read_text("ascii", "replace")
                if int(stat.rpartition(")")[2].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


def _die_with_parent() -> None:
    """In the child before exec: receive SIGKILL when the parent dies."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)


def processes_in(netns: str) -> list[int]:
    """The pids of every process in the network namespace ``netns`` (``net:[inode]``)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if _netns(entry.name) == netns:
                    pids.append(int(entry.name))
    return pids


def kill_namespace(netns: str) -> None:
    """Kill every process still in ``netns`` (the kernel then removes the namespace)."""
    for _ in range(50):
        pids = processes_in(netns)
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)


def _ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10)
    if done.returncode != 0:
        raise HarnessError(f"lab setup: ip {' '.join(args)} failed: {done.stderr.strip()}")


def prepare() -> Path:
    """Set up the namespace this process is in; returns the lab's resolv.conf.

    Raises:
        HarnessError: this process is not in a private network namespace (the suite never
            changes the addresses or the resolver of the machine's own network).
    """
    if not inside() or _netns() == os.environ.get(OUTER_ENV, _netns()):
        raise HarnessError("lab setup refused: this process is not in a private namespace")
    _ip("link", "set", "lo", "up")
    for block in LOCAL_BLOCKS:
        _ip("addr", "add", block, "dev", "lo")
    in_blocks = {block.split("/")[0] for block in LOCAL_BLOCKS}
    for lab_address in (*CANARY_ADDRESSES, LabAddress(METADATA_ADDRESS, "metadata host")):
        address = lab_address.address
        if address in ("127.0.0.1", "::1") or address in in_blocks:
            continue
        if ":" in address:
            # IPv6 may be switched off on this machine: its canaries are then left out
            with contextlib.suppress(HarnessError):
                _ip("addr", "add", f"{address}/128", "dev", "lo")
            continue
        _ip("addr", "add", f"{address}/32", "dev", "lo")
    resolv = Path(tempfile.mkdtemp(prefix="cimd-lab-")) / "resolv.conf"
    resolv.write_text(f"nameserver {DNS_ADDRESS}\noptions timeout:2 attempts:1\n", "ascii")
    done = subprocess.run(
        ["mount", "--bind", str(resolv), "/etc/resolv.conf"],
        capture_output=True,
        text=True,
        timeout=10,
    )
    if done.returncode != 0:
        raise HarnessError(f"lab setup: could not bind-mount resolv.conf: {done.stderr.strip()}")
    return resolv
