"""The document corpus in ``fixtures/``: client documents and raw bodies as plain data.

The corpus is language neutral (JSON templates and a manifest); this module fills in the
templates. In a checkout it is read from ``fixtures/``; an installed wheel carries the same
files as ``conformance/_corpus``.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

_PACKAGE = Path(__file__).resolve().parents[1]


def corpus_dir() -> Path:
    """The directory holding ``manifest.json``."""
    for candidate in (_PACKAGE / "_corpus", _PACKAGE.parent / "fixtures"):
        if (candidate / "manifest.json").is_file():
            return candidate
    raise FileNotFoundError("the document corpus (fixtures/manifest.json) is not installed")


@cache
def manifest() -> dict[str, Any]:
    """The parsed corpus manifest."""
    data: dict[str, Any] = json.loads((corpus_dir() / "manifest.json").read_text("utf-8"))
    return data


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


def _subs(client_id: str, metadata_host: str, plain: str = "") -> dict[str, str]:
    return {
        "client_id": client_id,
        "metadata_host": metadata_host,
        "metadata_host_plain": plain or "http://" + metadata_host.partition("://")[2],
        "nonce": secrets.token_hex(4),
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
        path = corpus_dir() / data["documents"][name]["file"]
        doc: dict[str, Any] = _fill(json.loads(path.read_text("utf-8")), subs)
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
