"""What a client command is given: environment variables, and what it must do with them.

The suite runs the command once per scenario (:mod:`.scenarios`), each time with a fresh
MCP server, authorization server and client URL. The command must:

1. write its client ID metadata document (JSON) to ``CIMD_CLIENT_DOCUMENT`` before it asks
   for an authorization: the suite publishes that file at ``CIMD_CLIENT_ID``, the https URL
   the client uses as its ``client_id`` (standing in for the client's own web host);
2. connect to the MCP server ``CIMD_MCP_SERVER_URL`` and authorize as an MCP client does,
   trusting the CA certificates in ``CIMD_CA_FILE`` (PEM) for every https URL;
3. to have the user approve, hand the authorization URL to the user agent: ``POST`` it as
   the form field ``url`` to ``CIMD_USER_AGENT``. The suite signs in and approves at the AS
   and answers ``200`` with the URL the AS redirected the browser to (the client's
   ``redirect_uri`` with ``code``, ``state`` and ``iss``), as text; the client reads its
   parameters as its redirect handler would. The suite never connects to the redirect URI.
   Any other status means the user did not approve (the text says why);
4. exit when it has called a tool (exit 0), or has given up (any other exit code).

A ``private_key_jwt`` client whose document names its keys by ``jwks_uri`` (not ``jwks``)
writes its JWK Set to ``CIMD_CLIENT_JWKS`` with its document: the suite publishes it at
``CIMD_CLIENT_JWKS_URI``, the URL the document's ``jwks_uri`` gives.
"""

from __future__ import annotations

from typing import Final

MCP_SERVER_URL: Final = "CIMD_MCP_SERVER_URL"
CA_FILE: Final = "CIMD_CA_FILE"
CLIENT_ID: Final = "CIMD_CLIENT_ID"
CLIENT_DOCUMENT: Final = "CIMD_CLIENT_DOCUMENT"
USER_AGENT: Final = "CIMD_USER_AGENT"
CLIENT_JWKS: Final = "CIMD_CLIENT_JWKS"
CLIENT_JWKS_URI: Final = "CIMD_CLIENT_JWKS_URI"
