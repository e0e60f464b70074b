"""The reference AS's client tests: how it misbehaves on purpose to see what a client does.

A fault (:mod:`.faults`) breaks an authorization-server requirement and a variant
(:mod:`.variants`) breaks none; a client test is neither. It puts a client in front of a
situation a correct client must refuse: an authorization response whose ``state`` is not the
one sent, metadata without ``code_challenge_methods_supported``. ``cimd-conformance
run-client`` serves one issuer per client test and judges whether the client went on. The
authorization-server self-test never switches them on.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

CLIENT_TESTS: Final[dict[str, str]] = {
    "tampered-state": "authorization responses carry another state than the request's",
    "no-pkce-metadata": "the metadata has no code_challenge_methods_supported (no PKCE)",
}
"""Each client test's name and what it changes."""


class UnknownClientTestError(ValueError):
    """A name that is not in :data:`CLIENT_TESTS`."""

    def __init__(self, names: Iterable[str]) -> None:
        super().__init__(
            f"unknown client test(s): {', '.join(sorted(names))}; valid: {', '.join(CLIENT_TESTS)}"
        )


def check_client_tests(names: Iterable[str]) -> frozenset[str]:
    """``names`` as a frozenset, after checking each is in :data:`CLIENT_TESTS`.

    Raises:
        UnknownClientTestError: naming the unknown ones and the valid ones.
    """
    chosen = frozenset(names)
    if chosen - CLIENT_TESTS.keys():
        raise UnknownClientTestError(chosen - CLIENT_TESTS.keys())
    return chosen


def tampered(state: str | None) -> str | None:
    """The ``tampered-state`` answer's state: another value of the same shape."""
    if state is None:
        return None
    return state[:-1] + ("B" if state.endswith("A") else "A") if state else "tampered"
