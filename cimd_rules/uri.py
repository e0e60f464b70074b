"""URI references split into their RFC 3986 components, exactly as written.

URL libraries (WHATWG ``new URL()``, httpx, ``urllib.parse``) silently remove dot segments,
drop empty fragments and lower-case hosts, so a rule about the raw string (CIMD-02 §3) must be
checked on the pieces this module gives, before any parser touches them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# RFC 3986 Appendix B. Optional groups tell "absent" (None) from "empty" ("").
_URI = re.compile(
    r"(?:(?P<scheme>[^:/?#]+):)?(?://(?P<authority>[^/?#]*))?"
    r"(?P<path>[^?#]*)(?:\?(?P<query>[^#]*))?(?:#(?P<fragment>.*))?",
    re.DOTALL,
)


@dataclass(frozen=True)
class RawURI:
    """The five RFC 3986 components of a URI reference, exactly as written."""

    scheme: str | None
    authority: str | None
    path: str
    query: str | None
    fragment: str | None

    def host_port(self) -> tuple[str, str | None]:
        """The host as written (brackets kept) and the port, or ``None`` without one."""
        hostport = (self.authority or "").rpartition("@")[2]
        if hostport.startswith("["):
            host, _, rest = hostport.partition("]")
            return host + "]", rest[1:] if rest.startswith(":") else None
        host, colon, port = hostport.partition(":")
        return host, port if colon else None


def split_uri(value: str) -> RawURI:
    """Split ``value`` into its raw components without any normalization."""
    match = _URI.fullmatch(value)
    assert match is not None  # every string matches the Appendix B pattern
    return RawURI(
        match["scheme"], match["authority"], match["path"], match["query"], match["fragment"]
    )
