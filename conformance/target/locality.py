"""Where a target on this machine runs: which process listens on its port.

When a target refuses a valid client without ever connecting to the metadata host, two causes
look the same from outside: its policy refuses the host, or it cannot reach it. On Linux the
suite can tell them apart for a target on this machine: the process that listens on the
target's port is found through ``/proc/net/tcp{,6}`` and the processes' open sockets. A
port forwarder (Docker's ``docker-proxy``, rootless networking, ``kubectl port-forward``)
means the target runs in another network namespace, where 127.0.0.1 is not this machine's
loopback; any other process shares this machine's loopback, so it could connect and chose not
to.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
from pathlib import Path

FORWARDERS = frozenset(
    {
        "docker-proxy",
        "rootlessport",
        "rootlesskit",
        "slirp4netns",
        "pasta",
        "passt",
        "kubectl",
        "conmon",
        "vpnkit",
        "gvproxy",
    }
)
LISTEN = "0A"


def listening_inodes(port: int, proc: Path = Path("/proc")) -> set[str]:
    """Socket inodes listening on ``port`` in this network namespace (TCP, IPv4 and IPv6)."""
    inodes = set()
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(OSError):
            for line in (proc / "net" / table).read_text().splitlines()[1:]:
                fields = line.split()
                listening = len(fields) > 9 and fields[3] == LISTEN
                if listening and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(fields[9])
    return inodes


def listener_process(port: int, proc: Path = Path("/proc")) -> str | None:
    """The name (``comm``) of a process listening on ``port`` here, if one can be seen."""
    wanted = {f"socket:[{inode}]" for inode in listening_inodes(port, proc)}
    if not wanted:
        return None
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (entry / "fd").iterdir():
                if os.readlink(fd) in wanted:
                    return (entry / "comm").read_text().strip()
    return None


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a URL host) names this machine's loopback."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def why_never_connected(host: str, port: int, proc: Path = Path("/proc")) -> str | None:
    """``"policy"`` or ``"reach: <forwarder>"`` for a target on this machine, else None."""
    if not is_loopback(host):
        return None
    process = listener_process(port, proc)
    if process is None:
        return None
    return f"reach: {process}" if process in FORWARDERS else "policy"
