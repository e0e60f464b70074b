# Starts the reference AS with the follows-redirects fault (CIMD-FETCH-04).
exec cimd-conformance reference-as --port 8443 --fault follows-redirects
