"""The MCP journey's test pieces: a plain-HTTP user agent that approves at the reference AS."""

from __future__ import annotations

import html
import re
import time
from urllib.parse import urljoin, urlsplit

import httpx

from conformance.target.pacing import retry_after_s
from mock_servers.mcp_client import Approve
from mock_servers.reference_as.config import DEFAULT_PASSWORD, DEFAULT_USER

_HIDDEN = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)">')
_ACTION = re.compile(r'<form method="post" action="([^"]*)"')


def http_approve(http: httpx.Client, redirect_uri: str) -> Approve:
    """The user's approval at the reference AS over plain HTTP: sign in, then approve.

    A page that says "not now" (HTTP 429, as the ``rate-limited`` variant's) is loaded again
    after its ``Retry-After``, as a patient user would.
    """

    def approve(url: str) -> str:
        for _ in range(10):
            answer = http.get(url)
            if answer.status_code == 429:
                time.sleep(retry_after_s(answer.headers.get("retry-after")) or 1.0)
                continue
            if answer.is_redirect:
                url = urljoin(url, answer.headers["location"])
                if url.startswith(redirect_uri):
                    return url
                continue
            fields = {k: html.unescape(v) for k, v in _HIDDEN.findall(answer.text)}
            action = _ACTION.search(answer.text)
            assert action is not None, answer.text[-1200:]
            if urlsplit(action.group(1)).path.endswith("/login"):
                fields.update(username=DEFAULT_USER, password=DEFAULT_PASSWORD)
            else:
                fields["decision"] = "approve"
            posted = http.post(urljoin(url, html.unescape(action.group(1))), data=fields)
            assert posted.is_redirect, posted.text[:500]
            url = urljoin(url, posted.headers["location"])
            if url.startswith(redirect_uri):
                return url
        raise AssertionError(f"no redirect to {redirect_uri}")

    return approve
