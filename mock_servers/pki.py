"""The suite's persistent test CA and the leaf certificates it issues.

The CA lives in a state directory so that a target can be told to trust it before a run
starts (``cimd-conformance ca --out ca.pem``). A second, throwaway CA stands for "a CA the
target does not trust" in the negative TLS checks; the other bad certificates (expired, for
another host name, self-signed) are made here too, for the metadata host's bad-TLS listeners.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import ipaddress
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

CA_CERT_FILE = "ca.pem"
CA_KEY_FILE = "ca-key.pem"
CA_LOCK_FILE = ".ca.lock"
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
WRONG_NAME = "wrong-name.cimd.invalid"
"""The only name a wrong-name certificate covers (``.invalid`` never resolves: RFC 6761)."""


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

    def issue_server_pem(
        self,
        directory: Path,
        names: tuple[str, ...] = LOOPBACK_NAMES,
        *,
        not_before: datetime.datetime | None = None,
        not_after: datetime.datetime | None = None,
    ) -> Path:
        """Issue a leaf for ``names`` and write key + chain as one PEM file in ``directory``.

        ``not_before`` and ``not_after`` bound its validity (trustme's defaults otherwise).
        """
        leaf = self.ca.issue_cert(*names, not_before=not_before, not_after=not_after)
        return _leaf_file(directory, leaf.private_key_and_cert_chain_pem.bytes())

    def issue_expired_pem(self, directory: Path, names: tuple[str, ...]) -> Path:
        """A leaf for ``names`` from this CA that expired a day ago (valid for 30 days before)."""
        now = datetime.datetime.now(datetime.UTC)
        return self.issue_server_pem(
            directory,
            names,
            not_before=now - datetime.timedelta(days=31),
            not_after=now - datetime.timedelta(days=1),
        )

    def issue_wrong_name_pem(self, directory: Path) -> Path:
        """A valid leaf from this CA for :data:`WRONG_NAME` only, never the host's names."""
        return self.issue_server_pem(directory, (WRONG_NAME,))


def self_signed_pem(directory: Path, names: tuple[str, ...]) -> Path:
    """A self-signed leaf certificate (no CA behind it) for ``names``, key + certificate PEM.

    It is an end-entity certificate (``CA:FALSE``) that names the host correctly and is in
    its validity period: only its signature chain is wrong.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([_general_name(n) for n in names]), False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return _leaf_file(directory, key_pem + cert.public_bytes(serialization.Encoding.PEM))


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _leaf_file(directory: Path, pem: bytes) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="leaf-", suffix=".pem", dir=directory)
    os.close(fd)
    path = Path(name)
    _write_private(path, pem)
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
