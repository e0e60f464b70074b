"""Rules and tables that the suite and the mock servers share, owned by neither.

``conformance`` (the suite) and ``mock_servers`` (the reference AS and the suite's servers)
both import this package; it imports the standard library only. A table here is tested on its
own against its source (``tests/test_special_use_registry.py``, ``tests/test_cimd_rules.py``),
so a mistake in it cannot hide by being made the same way on both sides.

- :mod:`cimd_rules.special_use`: the special-use address blocks (IANA special-purpose
  registries, multicast) and how an address is judged against them.
- :mod:`cimd_rules.loopback`: 127.0.0.1 written so that a strict parser does not see it.
- :mod:`cimd_rules.secret_params`: URL parameters whose values are secrets.
- :mod:`cimd_rules.uri`: URI references split into their raw components.
- :mod:`cimd_rules.client_id`: the Client Identifier URL's syntax rules (CIMD-02 §3).
- :mod:`cimd_rules.redirect_uris`: loopback hosts, and the form of a listed redirect URI.
- :mod:`cimd_rules.credentials`: shared-secret methods, secret members, private-key members.
"""
