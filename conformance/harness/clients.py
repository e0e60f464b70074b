"""Probe clients: fresh client documents on the metadata host, one per case."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from conformance.harness import corpus
from mock_servers.hosting import Hosting
from mock_servers.metadata_host import CALLBACK_PATH, MetadataHost


@dataclass(frozen=True)
class ProbeClient:
    """A client document served at a fresh URL, with the redirect URI the suite uses."""

    client_id: str
    document: dict[str, Any]
    redirect_uri: str


def public_client(host: MetadataHost, name: str = "public-client", **members: Any) -> ProbeClient:
    """Serve a corpus document at a fresh URL; ``members`` replace document members.

    The redirect URI the suite presents is the https one the corpus lists (``M/cb``), which
    the metadata host answers with a plain page.
    """
    client_id = host.new_client_url()
    document = corpus.load(
        name,
        client_id=client_id,
        metadata_host=host.base_url,
        metadata_host_plain=host.plain_base_url,
    )
    redirect_uri = host.base_url + CALLBACK_PATH
    document.update(members)
    host.serve_document(client_id, document)
    return ProbeClient(client_id, document, redirect_uri)


def document_for(host: MetadataHost, served_at: str, client_id: str, **members: Any) -> ProbeClient:
    """Serve the public client at ``served_at`` claiming ``client_id`` (any raw string)."""
    document = corpus.load("public-client", client_id=client_id, metadata_host=host.base_url)
    document.update(members)
    host.serve_document(served_at, document)
    return ProbeClient(client_id, document, host.base_url + CALLBACK_PATH)


def cached_for(doc: Any, cache_control: str, **changes: Any) -> Hosting:
    """``doc`` as JSON with exactly ``cache_control``, never replaced by the run's pacing.

    The metadata host swaps the default JSON headers for the pacing's ``Cache-Control``
    (a rate-limited target); headers in another order are sent as given. ``changes``
    override Hosting fields (``status``, ``etag``, ``body`` ...).
    """
    headers = (("cache-control", cache_control), ("content-type", "application/json"))
    return Hosting.document(doc, headers=headers, **changes)


def published_shapes(
    host: MetadataHost, requirement: str, callback_port: int = 0
) -> list[ProbeClient]:
    """Serve each corpus document shaped like a client people publish, for ``requirement``.

    The documents the corpus expects accepted (``expect: accept``) under that row: a desktop
    app's port-less loopback redirect URI, an editor extension's fixed port beside an https
    URI, several redirect URIs, keys at a ``jwks_uri``, extension members. Each is presented
    with the redirect URI its ``request`` names (``{{callback_port}}``: ``callback_port``).
    """
    shapes = []
    for name in corpus.names("documents", requirement):
        if corpus.manifest()["documents"][name].get("expect") != "accept":
            continue
        client_id = host.new_client_url()
        document = corpus.load(name, client_id=client_id, metadata_host=host.base_url)
        host.serve_document(client_id, document)
        request = corpus.request(
            name, client_id=client_id, metadata_host=host.base_url, callback_port=callback_port
        )
        shapes.append(ProbeClient(client_id, document, request["redirect_uri"]))
    return shapes
