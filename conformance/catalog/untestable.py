"""Catalog rows that cannot be observed from outside the server, each with its reason.

This is catalog data: a row listed here has no check because no black-box observation can
show whether the server meets it (a policy written down, an egress firewall), never because a
check would be hard to build. ``cimd-conformance requirements`` and the report show the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

UNTESTABLE: Mapping[str, str] = MappingProxyType({})
"""Row ID -> why no observation from outside can judge it (one sentence)."""
