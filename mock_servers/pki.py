"""The suite's persistent test CA and the leaf certificates it issues.

The CA lives in a state directory so that a target can be told to trust it before a run
starts (``cimd-conformance ca --out ca.pem``). A second, throwaway CA stands for "a CA the
target does not trust" in the negative TLS checks.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import trustme

CA_CERT_FILE = "ca.pem"
CA_KEY_FILE = "ca-key.pem"
CA_LOCK_FILE = ".ca.lock"
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def default_state_dir() -> Path:
    """Where the CA is kept: ``$CIMD_STATE_DIR``, else ``$XDG_STATE_HOME/cimd-conformance``."""
    explicit = os.environ.get("CIMD_STATE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(xdg) / "cimd-conformance"


@dataclass(frozen=True)
class TestCA:
    """The suite's certificate authority, loaded from (or created in) a state directory."""

    __test__ = False  # not a pytest test class despite the name

    ca: trustme.CA
    cert_path: Path

    @classmethod
    def load_or_create(cls, state_dir: Path | None = None) -> TestCA:
        """Load the CA from ``state_dir``, creating and saving a new one on first use."""
        state = state_dir or default_state_dir()
        state.mkdir(parents=True, exist_ok=True)
        cert_path, key_path = state / CA_CERT_FILE, state / CA_KEY_FILE
        # One creator at a time: the lock is held while checking and creating, the files
        # are written under temporary names and renamed into place (key first), so every
        # process that loads or creates the CA at once ends with the one that was saved.
        with _locked(state / CA_LOCK_FILE):
            if cert_path.exists() and key_path.exists():
                ca = trustme.CA.from_pem(cert_path.read_bytes(), key_path.read_bytes())
            else:
                ca = trustme.CA(organization_name="cimd-conformance test CA")
                _replace(key_path, ca.private_key_pem.bytes(), 0o600)
                _replace(cert_path, ca.cert_pem.bytes(), 0o644)
        return cls(ca=ca, cert_path=cert_path)

    @classmethod
    def untrusted(cls, directory: Path | None = None) -> TestCA:
        """A fresh CA that no target has been told to trust.

        Its certificate is kept in a temporary file (in ``directory`` when given).
        """
        ca = trustme.CA(organization_name="cimd-conformance untrusted CA")
        fd, name = tempfile.mkstemp(prefix="cimd-untrusted-ca-", suffix=".pem", dir=directory)
        os.close(fd)
        Path(name).write_bytes(ca.cert_pem.bytes())
        return cls(ca=ca, cert_path=Path(name))

    def cert_pem(self) -> bytes:
        """The CA certificate, PEM encoded."""
        return self.ca.cert_pem.bytes()

    def issue_server_pem(self, directory: Path, names: tuple[str, ...] = LOOPBACK_NAMES) -> Path:
        """Issue a leaf for ``names`` and write key + chain as one PEM file in ``directory``."""
        leaf = self.ca.issue_cert(*names)
        directory.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix="leaf-", suffix=".pem", dir=directory)
        os.close(fd)
        path = Path(name)
        _write_private(path, leaf.private_key_and_cert_chain_pem.bytes())
        return path


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (released when the process dies, too)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _replace(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to a temporary file beside ``path``, then rename it into place."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(name)
        raise
