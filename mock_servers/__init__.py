"""Mock servers for CIMD testing: ASGI apps and one runner; no pytest, no conformance."""
