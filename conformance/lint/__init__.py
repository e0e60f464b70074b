"""The publisher lint: a client's own metadata document against the CIMD-PUB rules.

``cimd-conformance lint URL|FILE`` (:mod:`conformance.lint.command`) checks a client
metadata document the way a strict authorization server would read it, against the rules of
the requirement catalog's §3.1 (CIMD-PUB). Static rules read the document and its URL
(:mod:`~conformance.lint.url_rules`, :mod:`~conformance.lint.document_rules`,
:mod:`~conformance.lint.keys`, :mod:`~conformance.lint.uri_members`,
:mod:`~conformance.lint.profiles`); with a URL, live rules fetch it
(:mod:`~conformance.lint.fetch`, :mod:`~conformance.lint.live`). Every finding names its
rule, says what is wrong and how to fix it (:mod:`~conformance.lint.findings`). Rules an AS
applies too (client_id syntax, redirect URI form, secrets and private keys, special-use
addresses) come from :mod:`cimd_rules`, so the lint and the reference AS cannot disagree.
"""
