# Starts the reference AS for reference.toml (the suite stops it when the run ends).
exec cimd-conformance reference-as --port 8443
