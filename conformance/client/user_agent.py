"""The user and their browser, for a client under test: sign in and approve at the reference AS.

A client hands its authorization URL to the user agent (``POST url=...``, see
:mod:`.contract`); the user agent opens it, signs in, approves on the consent page as a
browser submits its forms, and answers with the URL the AS redirected to. Whether it
approves at all is the scenario's (:class:`Decision`): in a scenario the client must never
reach the authorization endpoint, the user closes the browser.
"""

from __future__ import annotations

import html
import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from conformance.redaction import RECEIVED_SECRETS, SECRETS
from mock_servers.reference_as.config import DEFAULT_PASSWORD, DEFAULT_USER

_HIDDEN = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)">')
_ACTION = re.compile(r'<form method="post" action="([^"]*)"')
MAX_STEPS = 10
TIMEOUT_S = 15.0


class NotApproved(Exception):
    """The user agent did not get to an approval; the message says where it stopped."""


@dataclass
class Decision:
    """What the user does with an authorization URL handed over.

    Attributes:
        approve: sign in and approve (else the user closes the browser).
        before: called with the URL before it is opened (the scenario records it and
            publishes the client's document).
    """

    approve: bool
    before: Callable[[str], None]


def approve(tls: ssl.SSLContext, url: str) -> str:
    """Open ``url`` at the reference AS, sign in, approve; the URL redirected to off the AS.

    Raises:
        NotApproved: the AS answered with an error, or the pages were not the AS's.
    """
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(url))
    with httpx.Client(verify=tls, timeout=TIMEOUT_S) as http:
        for _ in range(MAX_STEPS):
            answer = http.get(url)
            if answer.is_redirect:
                url = urljoin(url, answer.headers["location"])
                if not url.startswith(origin + "/"):
                    return url
                continue
            fields = {k: html.unescape(v) for k, v in _HIDDEN.findall(answer.text)}
            action = _ACTION.search(answer.text)
            if action is None:
                raise NotApproved(f"the AS answered {answer.status_code} without a form")
            if urlsplit(action.group(1)).path.endswith("/login"):
                fields.update(username=DEFAULT_USER, password=DEFAULT_PASSWORD)
            else:
                fields["decision"] = "approve"
            posted = http.post(urljoin(url, html.unescape(action.group(1))), data=fields)
            if not posted.is_redirect:
                raise NotApproved(f"the AS answered {posted.status_code} to a form")
            url = urljoin(url, posted.headers["location"])
            if not url.startswith(origin + "/"):
                return url
    raise NotApproved(f"no redirect off the AS after {MAX_STEPS} pages")


def redirect_params(url: str) -> dict[str, str]:
    """The first value of each query parameter of a redirect."""
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def app(decisions: dict[str, Decision], tls: ssl.SSLContext) -> Starlette:
    """The user agent's endpoint: ``POST /<scenario>`` with the form field ``url``."""

    async def hand_over(request: Request) -> Response:
        decision = decisions.get(request.path_params["scenario"])
        url = str((await request.form()).get("url", ""))
        if decision is None or not url.startswith("https://"):
            return PlainTextResponse("expected the form field url=<authorization URL>", 400)
        decision.before(url)
        if not decision.approve:
            return PlainTextResponse("the user closed the browser without approving", 403)
        try:
            landed = await run_in_threadpool(approve, tls, url)
        except (NotApproved, httpx.HTTPError) as exc:
            return PlainTextResponse(f"no approval: {exc}", 502)
        SECRETS.add_params(redirect_params(landed), RECEIVED_SECRETS)  # the code
        return PlainTextResponse(landed)

    return Starlette(routes=[Route("/{scenario}", hand_over, methods=["POST"])])
