"""The consent pages several checks share (conformance/run/consent_page.py ConsentPages).

The rendering itself (a real browser on the reference AS) is shown by the self-test; here the
renderer is replaced by one that counts, to show what is kept and what is rendered again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any, cast

import pytest
from playwright.sync_api import Error as PlaywrightError

from conformance.catalog.verdicts import HarnessError, NonConformance
from conformance.harness.clients import ProbeClient
from conformance.harness.session import TargetSession
from conformance.run import consent_page
from conformance.run.browser_flow import BrowserFlow, Rendered
from conformance.run.consent_page import ConsentPages
from conformance.target.deadline import Unanswered
from conformance.target.pacing import Transient
from mock_servers.metadata_host import MetadataHost
from mock_servers.pki import TestCA

CALLBACK = "http://127.0.0.1:9/callback"


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MetadataHost]:
    with MetadataHost(TestCA.load_or_create(tmp_path_factory.mktemp("state"))) as host:
        yield host


class Renderer:
    """Stands in for required_consent: records each render, answers as told."""

    def __init__(self, *answers: BaseException | None) -> None:
        self.answers = list(answers)
        self.rendered: list[ProbeClient] = []

    def __call__(self, target: Any, browser: Any, client: ProbeClient, shot: str) -> Rendered:
        self.rendered.append(client)
        target.attempts.append({"client_id": client.client_id, "outcome": "consent shown"})
        answer = self.answers.pop(0) if self.answers else None
        if answer is not None:
            raise answer
        return Rendered("consent", 200, "https://as.test/authorize", text=shot)


@pytest.fixture
def rendering(monkeypatch: pytest.MonkeyPatch) -> Callable[..., tuple[Renderer, ConsentPages]]:
    """Fresh pages whose renders answer as told (see :class:`Renderer`)."""

    def make(*answers: BaseException | None) -> tuple[Renderer, ConsentPages]:
        renderer = Renderer(*answers)
        monkeypatch.setattr(consent_page, "required_consent", renderer)
        return renderer, ConsentPages()

    return make


def _get(pages: ConsentPages, kind: str, host: MetadataHost, check: str) -> Any:
    target = cast(TargetSession, SimpleNamespace(attempts=[]))
    return pages.get(kind, target, cast(BrowserFlow, None), host, CALLBACK, check)


def test_each_page_is_rendered_once_and_the_two_differ_only_in_the_redirect_uri(
    host: MetadataHost, rendering: Callable[..., tuple[Renderer, ConsentPages]]
) -> None:
    renderer, pages = rendering()
    https, rendered = _get(pages, "https", host, "CIMD-UI-01")
    assert rendered and https.first == "CIMD-UI-01" and https.seen.text == "consent-https"
    assert https.attempts == ({"client_id": https.client.client_id, "outcome": "consent shown"},)
    assert _get(pages, "https", host, "CIMD-UI-02") == (https, False)
    local, rendered = _get(pages, "loopback", host, "CIMD-UI-02")
    assert rendered and local.client.redirect_uri == CALLBACK
    assert _get(pages, "loopback", host, "CIMD-UI-03") == (local, False)
    assert renderer.rendered == [https.client, local.client]
    assert https.client.document["redirect_uris"] == [f"https://{pages.redirect_host}/cb"]
    same = ("client_name", "client_uri")
    assert [https.client.document[m] for m in same] == [local.client.document[m] for m in same]
    assert pages.redirect_host not in https.client.document["client_uri"]
    assert host.host_name not in https.client.document["client_name"]


@pytest.mark.parametrize(
    "ending",
    [
        NonConformance(expected="a consent page", observed="approved at once", tier=None),
        HarnessError("the target refused a valid client"),
    ],
    ids=["verdict", "harness-error"],
)
def test_a_render_that_ended_in_a_verdict_or_harness_error_ends_each_later_check_alike(
    host: MetadataHost, rendering: Callable[..., tuple[Renderer, ConsentPages]], ending: Exception
) -> None:
    renderer, pages = rendering(ending)
    for check in ("CIMD-UI-01", "CIMD-UI-04", "CIMD-SEC-09"):
        with pytest.raises(type(ending)) as raised:
            _get(pages, "https", host, check)
        assert str(raised.value) == str(ending)
        if isinstance(ending, NonConformance):
            assert isinstance(raised.value, NonConformance)
            assert (raised.value.expected, raised.value.observed) == (
                "a consent page",
                "approved at once",
            )
    assert len(renderer.rendered) == 1


@pytest.mark.parametrize(
    "failure",
    [
        Unanswered("the check deadline of 60 s fired on GET https://as.test/authorize"),
        Transient("HTTP 429 in the browser", 1.0),
        PlaywrightError("Target page, context or browser has been closed"),
    ],
    ids=["deadline", "not-now", "browser"],
)
def test_any_other_failure_is_not_kept_and_the_next_check_renders_again(
    host: MetadataHost, rendering: Callable[..., tuple[Renderer, ConsentPages]], failure: Exception
) -> None:
    renderer, pages = rendering(failure)
    with pytest.raises(type(failure)):
        _get(pages, "https", host, "CIMD-UI-01")
    page, rendered = _get(pages, "https", host, "CIMD-UI-02")
    assert rendered and page.first == "CIMD-UI-02" and len(renderer.rendered) == 2
