"""The document corpus in ``fixtures/``: client documents, raw bodies and hostings as data.

The corpus is language neutral (JSON templates and a manifest); this module fills in the
templates and reads hosting variants into :class:`~mock_servers.hosting.Hosting` values. In a
checkout it is read from ``fixtures/``; an installed wheel carries the same files as
``conformance/_corpus``.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from mock_servers.fetch_log import hosting_key
from mock_servers.hosting import Hosting, HostingSequence
from mock_servers.hosting_spec import from_spec
from mock_servers.metadata_host import BAD_TLS, MetadataHost

_PACKAGE = Path(__file__).resolve().parents[1]


@cache
def corpus_dir() -> Path:
    """The directory holding ``manifest.json`` (looked for once)."""
    for candidate in (_PACKAGE / "_corpus", _PACKAGE.parent / "fixtures"):
        if (candidate / "manifest.json").is_file():
            return candidate
    raise FileNotFoundError("the document corpus (fixtures/manifest.json) is not installed")


@cache
def manifest() -> dict[str, Any]:
    """The parsed corpus manifest."""
    data: dict[str, Any] = json.loads((corpus_dir() / "manifest.json").read_text("utf-8"))
    return data


@cache
def _template(file: str) -> Any:
    """A corpus document's parsed template, read once (:func:`_fill` copies what it fills)."""
    return json.loads((corpus_dir() / file).read_text("utf-8"))


@dataclass(frozen=True)
class Body:
    """A raw body from the corpus, ready to serve."""

    content: bytes
    content_type: str


def _fill(value: Any, subs: dict[str, str]) -> Any:
    if isinstance(value, str):
        for key, sub in subs.items():
            value = value.replace("{{" + key + "}}", sub)
        return value
    if isinstance(value, list):
        return [_fill(v, subs) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, subs) for k, v in value.items()}
    return value


def _subs(client_id: str, metadata_host: str, plain: str = "", **more: str) -> dict[str, str]:
    return {
        "client_id": client_id,
        "metadata_host": metadata_host,
        "metadata_host_plain": plain or "http://" + metadata_host.partition("://")[2],
        "nonce": secrets.token_hex(4),
        **more,
    }


def load(
    name: str, *, client_id: str, metadata_host: str, metadata_host_plain: str = ""
) -> dict[str, Any]:
    """A client document (or variant) from the corpus, templated for ``client_id``.

    Args:
        name: a key of ``documents`` or ``variants`` in the manifest.
        client_id: the client URL the document will be served at.
        metadata_host: the metadata host's origin, e.g. ``https://127.0.0.1:40123``.
        metadata_host_plain: its plain-HTTP listener's origin (default: ``metadata_host``
            with ``http``).

    Returns:
        The document as a JSON object.
    """
    data = manifest()
    subs = _subs(client_id, metadata_host, metadata_host_plain)
    if name in data["documents"]:
        doc: dict[str, Any] = _fill(_template(data["documents"][name]["file"]), subs)
        return doc
    if name in data["variants"]:
        variant = data["variants"][name]
        doc = load(
            variant["base"],
            client_id=client_id,
            metadata_host=metadata_host,
            metadata_host_plain=metadata_host_plain,
        )
        for key, value in _fill(variant["patch"], subs).items():
            if value is None:
                doc.pop(key, None)
            else:
                doc[key] = value
        return doc
    raise KeyError(f"no corpus document named {name!r}")


def body(name: str, *, client_id: str, metadata_host: str) -> Body:
    """A raw body from the corpus (malformed JSON and the like), templated."""
    entry = manifest()["bodies"][name]
    subs = _subs(client_id, metadata_host)
    text = (
        entry["literal"]
        if "literal" in entry
        else (corpus_dir() / entry["file"]).read_text("utf-8")
    )
    return Body(_fill(text, subs).encode("utf-8"), entry["content_type"])


def names(kind: str, requirement: str | None = None) -> list[str]:
    """Corpus entry names of ``kind`` (documents, variants, bodies), maybe for a requirement."""
    entries: dict[str, Any] = manifest()[kind]
    return [
        n for n, e in entries.items() if requirement is None or e.get("requirement") == requirement
    ]


def request(name: str, *, client_id: str, metadata_host: str, callback_port: int) -> dict[str, str]:
    """The authorization parameters a document's entry names (``request``), templated.

    ``{{callback_port}}`` is the callback listener's ephemeral port.
    """
    entry = manifest()["documents"][name]
    subs = _subs(client_id, metadata_host, callback_port=str(callback_port))
    params: dict[str, str] = _fill(entry.get("request", {}), subs)
    return params


@dataclass(frozen=True)
class HostingEntry:
    """One hosting variant of the corpus, as the manifest states it.

    Attributes:
        name: its key under ``hostings``.
        document: the corpus document it serves.
        spec: the hosting, as JSON (read by :func:`mock_servers.hosting_spec.from_spec`).
        expect: ``accept``, ``refuse`` or ``record``.
        requirement: the catalog row.
        observe: what the fetch log must also show (``""``: nothing more).
        listener: the TLS listener the URL is on (``""``: the trusted one).
        location: what a redirect points at (``""``: no redirect).
        about: one line for people.
    """

    name: str
    document: str
    spec: dict[str, Any]
    expect: str
    requirement: str
    observe: str = ""
    listener: str = ""
    location: str = ""
    about: str = ""


def hosting_entry(name: str) -> HostingEntry:
    """The manifest's hosting variant ``name``."""
    entry = manifest()["hostings"][name]
    spec = entry["hosting"]
    return HostingEntry(
        name=name,
        document=entry["document"],
        spec=spec,
        expect=entry["expect"],
        requirement=entry["requirement"],
        observe=entry.get("observe", ""),
        listener=spec.get("listener", ""),
        location=spec.get("location", ""),
        about=entry.get("about", ""),
    )


def hosting(
    name: str, *, client_id: str, metadata_host: str, location: str | None = None
) -> tuple[dict[str, Any], Hosting | HostingSequence]:
    """Hosting variant ``name`` for ``client_id``: its document and how to serve it.

    Args:
        name: a key of ``hostings`` in the manifest.
        client_id: the client URL it will be served at.
        metadata_host: the metadata host's origin.
        location: the URL a redirect variant points at (the check makes it, as the entry's
            ``location`` says).

    Returns:
        The templated document, and the hosting (a sequence for a ``sequence`` variant).
    """
    entry = hosting_entry(name)
    document = load(entry.document, client_id=client_id, metadata_host=metadata_host)
    spec = _fill(entry.spec, _subs(client_id, metadata_host))
    return document, from_spec(spec, document, location=location)


@dataclass(frozen=True)
class HostedVariant:
    """A corpus hosting variant served on the metadata host, ready for one attempt.

    Attributes:
        entry: the manifest's entry.
        client_id: the fresh client URL (on the entry's listener).
        document: the document served there (for a sequence, its first step's base).
        elsewhere: the URLs a redirect points at, in order (each must never be fetched).
    """

    entry: HostingEntry
    client_id: str
    document: dict[str, Any]
    elsewhere: tuple[str, ...] = ()


def serve(host: MetadataHost, name: str) -> HostedVariant:
    """Serve hosting variant ``name`` at a fresh client URL, its redirect targets too.

    The entry's ``listener`` picks the base URL (a bad-TLS listener, started on demand); its
    ``location`` is made here: a fresh URL serving the document (claiming the client URL, or
    its own for ``own-client-id``; on the host's other name for ``other-host``), reached
    through a relative reference (``relative``), three hops (``chain``) or a loop (``loop``).
    """
    entry = hosting_entry(name)
    base = host.base_url
    if entry.listener:
        if entry.listener not in BAD_TLS:
            raise ValueError(f"hosting {name!r}: no listener named {entry.listener!r}")
        base = host.bad_tls_base_url(entry.listener)
    client_id = host.new_client_url(base=base)
    document = load(entry.document, client_id=client_id, metadata_host=host.base_url)
    status = int(entry.spec.get("redirect", 302))
    if entry.location == "loop":
        loop = host.serve_redirect_loop(client_id, length=2, status=status)
        return HostedVariant(entry, client_id, document, tuple(loop))
    if not entry.location:
        _, served = hosting(name, client_id=client_id, metadata_host=host.base_url)
        host.serve(client_id, served)
        return HostedVariant(entry, client_id, document)
    other = host.alias_base_url if entry.location == "other-host" else host.base_url
    final = host.new_client_url(base=other)
    claimed = final if entry.location == "own-client-id" else client_id
    host.serve_document(final, {**document, "client_id": claimed})
    if entry.location == "chain":
        hops = host.serve_redirect_chain(client_id, to=final, hops=3, status=status)
        return HostedVariant(entry, client_id, document, (*hops, final))
    location = hosting_key(final) if entry.location == "relative" else final
    host.serve(client_id, Hosting.redirect(location, status=status))
    return HostedVariant(entry, client_id, document, (final,))


@dataclass(frozen=True)
class LintEntry:
    """One document of the publisher lint's corpus (the manifest's ``lint`` section).

    Attributes:
        name: its key under ``lint``.
        rule: the CIMD-PUB rule it breaks (``""``: a clean document, it breaks none).
        severity: the severity that rule must be reported with (``""`` when clean).
        profile: the lint profile.
        hosting: how the metadata host serves it when it is linted live (``None``: a file).
        allow_special_use: live: whether the metadata host's loopback address is allowed.
        logo: live: ``served`` or ``missing`` (whether ``logo_uri`` answers with an image).
        about: one line for people.
    """

    name: str
    rule: str
    severity: str
    profile: str = "mcp"
    hosting: dict[str, Any] | None = None
    allow_special_use: bool = True
    logo: str = "served"
    about: str = ""


def lint_entry(name: str) -> LintEntry:
    """The manifest's publisher-lint entry ``name``."""
    entry = manifest()["lint"][name]
    return LintEntry(
        name=name,
        rule=entry["rule"],
        severity=entry["severity"],
        profile=entry.get("profile", "mcp"),
        hosting=entry.get("hosting"),
        allow_special_use=entry.get("allow_special_use", True),
        logo=entry.get("logo", "served"),
        about=entry["about"],
    )


def lint_client_id(name: str, *, client_id: str, metadata_host: str) -> str:
    """The URL lint entry ``name`` is linted at: its ``client_id`` template, else ``client_id``."""
    template = manifest()["lint"][name].get("client_id")
    return client_id if template is None else str(_fill(template, _subs(client_id, metadata_host)))


def lint_document(name: str, *, client_id: str, metadata_host: str) -> dict[str, Any] | Body:
    """Lint entry ``name``'s document claiming ``client_id`` (a raw :class:`Body` for ``body``)."""
    entry = manifest()["lint"][name]
    if "body" in entry:
        return body(entry["body"], client_id=client_id, metadata_host=metadata_host)
    doc = load(entry["document"], client_id=client_id, metadata_host=metadata_host)
    for key, value in _fill(entry.get("patch", {}), _subs(client_id, metadata_host)).items():
        if value is None:
            doc.pop(key, None)
        else:
            doc[key] = value
    return doc
