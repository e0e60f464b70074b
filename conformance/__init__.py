"""cimd-conformance: the conformance suite for OAuth Client ID Metadata Document servers."""

__version__ = "0.1.0"
