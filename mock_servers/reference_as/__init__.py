"""The reference AS: a complete, correct CIMD authorization server, and its faults.

It is the suite's self-test target: against it every check passes, and with one named
fault on, exactly the requirements that fault declares fail.

Example:
    >>> from mock_servers.reference_as import F, FaultSet, IssuerConfig, create_app
    >>> app = create_app([IssuerConfig(issuer="https://127.0.0.1:8443")])
    >>> faulty = IssuerConfig(issuer="https://127.0.0.1:8443", faults=FaultSet([F.DROPS_STATE]))
"""

from .app import create_app
from .cli import main
from .config import IssuerConfig
from .faults import FAULTS, F, Fault, FaultSet, fault_names, get_fault
from .upstream import create_provider_app
from .variants import VARIANTS, Variant, variant_names

__all__ = [
    "FAULTS",
    "VARIANTS",
    "F",
    "Fault",
    "FaultSet",
    "IssuerConfig",
    "Variant",
    "create_app",
    "create_provider_app",
    "fault_names",
    "get_fault",
    "main",
    "variant_names",
]
