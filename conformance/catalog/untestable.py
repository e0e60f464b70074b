"""Catalog rows no check can observe from outside the server, each with the reason why.

Catalog data, like :mod:`conformance.catalog.requirements`: a row listed here has no check in
``conformance/scenarios`` because what it asks about cannot be seen by a black-box suite (a
deployment's configuration, a questionnaire item). The
reason is one sentence and says what would have to be seen.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

UNTESTABLE: Final[Mapping[str, str]] = MappingProxyType(
    {
        "CIMD-DISC-06": (
            "Whether CIMD URLs are pre-registered or allowlisted is the deployment's policy, "
            "which the suite sees only as its own hosts being accepted (the run needs them "
            "allowlisted), so it is a questionnaire item."
        ),
        "CIMD-SEC-07": (
            "Network-level egress controls sit outside the server process and show no "
            "difference in its answers; only the operator can state them (questionnaire)."
        ),
        "CIMD-SEC-10": (
            "Domain-trust policies (allowlists, domain age, reputation) act on real public "
            "domains, and a run's client URLs are on the suite's own host, which such a "
            "policy must already admit for the run to work."
        ),
        "CIMD-UI-08": (
            "Only a server that itself hosts client documents (a CIMD Service) has clients "
            "to mark, and no request can tell the suite whether one exists or where."
        ),
        "MCP-AUTH-18": (
            "Trust policies are the deployment's configuration (the same as CIMD-SEC-10), "
            "which a run can only meet as its own hosts being admitted."
        ),
    }
)
