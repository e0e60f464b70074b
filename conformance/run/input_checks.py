"""Checks of the run's input before any check starts, each failing with one line naming the fix.

Bad input is the user's to fix, never the target's fault: each problem here ends the run with
exit code 2 and a report (where the report directory can be written), not a traceback.
"""

from __future__ import annotations

import os
import socket
import ssl
from pathlib import Path
from urllib.parse import urlsplit


def report_dir_problem(directory: Path) -> str | None:
    """Why reports cannot be written to ``directory`` (it need not exist yet), or None."""
    existing = directory.absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"cannot write reports to {directory}: {existing} is not a directory"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"cannot write reports to {directory}: {existing} is not writable"
    return None


def url_problem(url: str, name: str) -> str | None:
    """Why ``url`` (given as ``name``, e.g. ``--issuer``) is no usable http(s) URL, or None."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range or not a number
    except ValueError as exc:
        return f"{name} {url!r} is not a valid URL: {exc}"
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return f"{name} {url!r} is not an https URL with a host"
    return None


def ca_file_problem(path: Path, name: str) -> str | None:
    """Why ``path`` (given as ``name``) cannot be used as CA certificates, or None."""
    try:
        ssl.create_default_context().load_verify_locations(cafile=str(path))
    except FileNotFoundError:
        return f"{name} {path}: no such file"
    except (ssl.SSLError, ValueError):  # SSLError first: it is an OSError too
        return f"{name} {path} holds no PEM CA certificate"
    except OSError as exc:
        return f"{name} {path}: cannot read it ({exc.strerror or exc})"
    return None


def port_problem(address: str, port: int, key: str) -> str | None:
    """Why the metadata host cannot listen on ``address:port`` (set by ``key``), or None."""
    if not 0 <= port <= 65535:
        return f"{key} = {port} is not a port number (0 to 65535)"
    if port == 0:
        return None
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the listeners do
        try:
            sock.bind((address, port))
            sock.listen()
        except OSError as exc:
            return (
                f"the metadata host cannot listen on {address}:{port} ({exc.strerror or exc}): "
                f"choose a free port for {key}, or stop what listens there"
            )
    return None
