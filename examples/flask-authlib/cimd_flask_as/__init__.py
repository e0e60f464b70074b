"""An example CIMD authorization server (Flask + Authlib), tested with cimd-conformance."""
