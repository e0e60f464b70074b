"""The checks: one module per spec topic, one requirement per check.

Run them with ``cimd-conformance run`` (or ``pytest --pyargs conformance.scenarios
--cimd-issuer URL``). Each check sends its stimulus with fresh client URLs and raises
``NonConformance`` with what it expected and what it observed.
"""
