"""The reference AS's variants: real servers' shapes, each a correct CIMD AS all the same.

A fault breaks a requirement; a variant breaks none. It changes how the AS looks and behaves
in ways real servers do (script-built pages, a login at an upstream identity provider,
consent before login, ``__Host-`` cookies on a plain-http loopback issuer, rate-limited
document fetches, sessions renewed or ended early, a document cache of few entries or none,
answers from afar, connections closed after each answer, errors as JSON, an approve link,
an issuer with a trailing ``/``, an assertion audience that must be the issuer), so that
every way the suite could mis-score such a server can be reproduced here. Variants apply to
every issuer the process serves (the root and, with ``--matrix``, each fault's), and
several combine.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Variant:
    """One switchable shape of the reference AS.

    Attributes:
        name: the switch, e.g. ``script-pages``.
        about: one line saying what changes.
    """

    name: str
    about: str


VARIANTS: tuple[Variant, ...] = (
    Variant(
        "script-pages",
        "login and consent pages are built by script (no <form>) and submitted with fetch()",
    ),
    Variant(
        "upstream-login",
        "login happens at an upstream identity provider on another loopback port, which "
        "returns a one-time assertion",
    ),
    Variant("consent-before-login", "consent is asked first; login only after the user approves"),
    Variant(
        "host-cookies",
        "the AS is served over plain http on loopback with its session in a __Host- Secure cookie",
    ),
    Variant(
        "rate-limited",
        "per-client minimum interval and per-origin budget for document fetches; over them "
        "HTTP 429 temporarily_unavailable with Retry-After",
    ),
    Variant(
        "renewed-sessions",
        "every approved consent moves the signed-in session to a new cookie value and ends the "
        "old one (against session fixation)",
    ),
    Variant(
        "short-sessions",
        "a sign-in ends at its 40th authorization request (a short session lifetime, counted "
        "in requests): the user is shown the login page again",
    ),
    Variant(
        "small-cache",
        "the document cache keeps its 2 most recently used documents (a bounded cache under "
        "load, as oidc-provider's LRU of 100): a document dropped is fetched again before its time",
    ),
    Variant(
        "no-cache",
        "no document cache: the client's document is fetched at every request that names it "
        "(caching is a MAY), and the logo with each new copy",
    ),
    Variant(
        "distant",
        "every answer starts 50 ms late, as from a server across a continent",
    ),
    Variant(
        "closed-connections",
        "every answer says Connection: close, and the server ends the connection after it "
        "(no keep-alive, as a small server or a proxy without it)",
    ),
    Variant(
        "json-errors",
        "the authorization endpoint's error answers are RFC 6749 JSON error objects, not "
        "HTML pages (as API-first servers answer)",
    ),
    Variant(
        "identifier-first",
        "sign-in asks the user name on one page and the password on the next (as many "
        "identity providers do); not with script-pages",
    ),
    Variant("approve-link", "consent approves and denies through links (<a href>), not buttons"),
    Variant("trailing-slash-issuer", "the issuer identifier (and the metadata's issuer) ends in /"),
    Variant(
        "assertion-audience-issuer",
        "a private_key_jwt assertion's aud must be exactly the issuer identifier, one string "
        "(the RFC 7523bis reading); the token endpoint's URL is refused",
    ),
)

_BY_NAME = {variant.name: variant for variant in VARIANTS}


class UnknownVariantError(ValueError):
    """A variant name that is not in :data:`VARIANTS`."""

    def __init__(self, names: Iterable[str]) -> None:
        unknown = ", ".join(sorted(names))
        valid = ", ".join(variant_names())
        super().__init__(f"unknown variant(s): {unknown}; valid variants: {valid}")


def variant_names() -> tuple[str, ...]:
    """The names of all variants, in catalog order."""
    return tuple(variant.name for variant in VARIANTS)


def check_variant_names(names: Iterable[str]) -> frozenset[str]:
    """Return ``names`` as a frozenset after checking that every one is a known variant.

    Raises:
        UnknownVariantError: naming every unknown variant and listing the valid ones.
    """
    chosen = frozenset(names)
    unknown = chosen - _BY_NAME.keys()
    if unknown:
        raise UnknownVariantError(unknown)
    return chosen
