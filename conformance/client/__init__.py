"""``cimd-conformance run-client``: an MCP client scored against the suite's servers.

The reference AS and the mock MCP server play the other side; the AS and the MCP server log
what the client does, and the MCP-CLI rows of the catalog (§3.2) it shows are judged
(:mod:`.checks`). The contract a client command is run with is :mod:`.contract`.
"""
