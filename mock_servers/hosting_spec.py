"""Hostings written as JSON (the corpus's ``hostings`` entries), read into :class:`Hosting`.

A spec is a JSON object; every key is optional and the document is served as
:meth:`Hosting.document` would without any:

``status`` (a valid document with that status, shaped as :meth:`Hosting.with_status` does),
``content_type`` and ``cache_control`` (a string, or null for none), ``headers`` (extra
``[name, value]`` pairs), ``delay_s``, ``drip_ms``, ``drip_head``, ``pad_to`` (exact body
size), ``declared_length`` (a lying Content-Length), ``endless``, ``chunked``, ``gzip``,
``inflates_to`` (with ``gzip``: pad before compressing), ``etag``, ``last_modified``,
``expires_in_s``, ``cap_s``, ``cap_bytes``; ``redirect`` (a status; the Location is the
caller's ``location``); ``silent`` (never answer, until ``cap_s``); ``patch`` (a JSON merge
patch applied to the document first, RFC 7396); ``sequence`` (a list of specs: the Nth fetch
gets the Nth, the last repeats). ``listener`` and ``location`` name where the document is
served and what a redirect points at; the caller resolves them, this module does not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from mock_servers.hosting import CAP_S, Hosting, HostingSequence

_FIELDS = (
    "delay_s",
    "drip_ms",
    "drip_head",
    "declared_length",
    "endless",
    "chunked",
    "etag",
    "last_modified",
    "expires_in_s",
    "cap_s",
    "cap_bytes",
)
KNOWN_KEYS = frozenset(
    {
        *_FIELDS,
        "status",
        "content_type",
        "cache_control",
        "headers",
        "pad_to",
        "gzip",
        "inflates_to",
        "redirect",
        "silent",
        "patch",
        "sequence",
        "listener",
        "location",
    }
)


def from_spec(
    spec: Mapping[str, Any], document: dict[str, Any], *, location: str | None = None
) -> Hosting | HostingSequence:
    """The hosting ``spec`` describes, serving ``document``.

    Args:
        spec: the JSON object (see the module's docstring).
        document: the client document to serve (before the spec's ``patch``).
        location: where a ``redirect`` points (required with ``redirect``).

    Raises:
        ValueError: an unknown key, or a redirect without ``location``.
    """
    unknown = set(spec) - KNOWN_KEYS
    if unknown:
        raise ValueError(f"unknown hosting spec keys: {', '.join(sorted(unknown))}")
    if "sequence" in spec:
        steps = (_one(_step(spec, step), document, location) for step in spec["sequence"])
        return HostingSequence(tuple(steps))
    return _one(spec, document, location)


def _step(outer: Mapping[str, Any], step: Mapping[str, Any]) -> dict[str, Any]:
    """A step's spec: the outer keys (but the sequence) overridden by the step's own."""
    unknown = set(step) - KNOWN_KEYS
    if unknown or "sequence" in step:
        raise ValueError(f"bad hosting sequence step keys: {', '.join(sorted(step))}")
    return {**{k: v for k, v in outer.items() if k != "sequence"}, **step}


def _one(spec: Mapping[str, Any], document: dict[str, Any], location: str | None) -> Hosting:
    document = merge_patch(document, spec.get("patch") or {})
    if "redirect" in spec:
        if location is None:
            raise ValueError("a redirect spec needs a location")
        return Hosting.redirect(location, status=int(spec["redirect"]))
    if spec.get("silent"):
        return Hosting.silent(cap_s=float(spec.get("cap_s", CAP_S)))
    if spec.get("gzip"):
        hosting = Hosting.gzipped(document, inflates_to=spec.get("inflates_to"))
    elif "pad_to" in spec:
        hosting = Hosting.padded(document, int(spec["pad_to"]))
    elif spec.get("endless"):
        hosting = Hosting.endless_stream(document)
    else:
        hosting = Hosting.with_status(document, int(spec.get("status", 200)))
    headers = dict(hosting.headers)
    for key in ("content_type", "cache_control"):
        if key in spec:
            name = key.replace("_", "-")
            headers.pop(name, None)
            if spec[key] is not None:
                headers[name] = spec[key]
    extra = tuple((str(k).lower(), str(v)) for k, v in spec.get("headers", ()))
    fields = {k: spec[k] for k in _FIELDS if k in spec}
    if "status" in spec:  # with_status shaped it already; a padded or gzip body takes it as is
        fields["status"] = int(spec["status"])
    return replace(hosting, headers=(*headers.items(), *extra), **fields)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge patch: ``null`` removes a member, objects merge, others replace."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result
