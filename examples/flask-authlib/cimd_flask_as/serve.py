"""Serve the example authorization server over TLS with Werkzeug, in a thread or alone.

python -m cimd_flask_as.serve --cert server.pem --port 8443 --ca-file test-ca.pem \
        --allow-loopback --user alice:wonderland
"""

from __future__ import annotations

import argparse
import ssl
import threading
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from cimd_flask_as.app import create_app


class Server:
    """The server on ``host``:``port`` (0: any free port), TLS from ``cert`` (key + chain PEM).

    Args:
        cert: the server's key and certificate chain, one PEM file.
        trust_file: CA file(s) to trust when fetching client documents (besides the system's).
        users: user name -> password.
        allow_loopback: development only: fetch client documents from loopback addresses.
    """

    def __init__(
        self,
        cert: Path,
        trust_file: Path | None,
        users: dict[str, str],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        allow_loopback: bool = False,
    ) -> None:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(cert)
        trust = ssl.create_default_context()
        if trust_file is not None:
            trust.load_verify_locations(cafile=str(trust_file))
        late = _Late()
        self._httpd: BaseWSGIServer = make_server(host, port, late, threaded=True, ssl_context=tls)
        self.issuer = f"https://{host}:{self._httpd.server_port}"
        late.app = create_app(self.issuer, trust, users, allow_loopback=allow_loopback)
        self._thread: threading.Thread | None = None

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted."""
        self._httpd.serve_forever()

    def start(self) -> Server:
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)


class _Late:
    """The WSGI app, set once the port (and so the issuer) is known."""

    def __init__(self) -> None:
        self.app: Flask | None = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if self.app is None:
            raise RuntimeError("the server started before its app was set")
        return self.app(environ, start_response)


def main() -> None:
    """Run the server in the foreground."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cert", type=Path, required=True, help="key + certificate chain PEM")
    parser.add_argument("--ca-file", type=Path, help="extra CA to trust for client documents")
    parser.add_argument("--port", type=int, default=8443)
    parser.add_argument("--user", action="append", default=[], metavar="NAME:PASSWORD")
    parser.add_argument("--allow-loopback", action="store_true", help="development only")
    args = parser.parse_args()
    users = dict(u.split(":", 1) for u in args.user)
    server = Server(
        args.cert, args.ca_file, users, port=args.port, allow_loopback=args.allow_loopback
    )
    print(f"serving {server.issuer}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
