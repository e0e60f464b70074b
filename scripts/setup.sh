#!/usr/bin/env bash
# Installs what cimd-conformance needs on a Debian machine: Chromium and certutil from Debian
# (never `playwright install`: the suite drives the system Chromium), iproute2 for lab mode,
# then a venv with the pinned package and its development tools. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
if ! { [ -x /usr/bin/chromium ] || [ -x /usr/lib/chromium/chromium ]; } \
  || ! command -v certutil >/dev/null 2>&1 || ! command -v ip >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends chromium libnss3-tools iproute2 >/dev/null
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
log=$(mktemp)
if ! .venv/bin/pip install -q --disable-pip-version-check -e '.[dev]' >"$log" 2>&1; then
  cat "$log" >&2
  exit 1
fi
# the example authorization server's own packages (its tests run in the project's)
if ! .venv/bin/pip install -q --disable-pip-version-check \
  -r examples/flask-authlib/requirements.txt >"$log" 2>&1; then
  cat "$log" >&2
  exit 1
fi
.venv/bin/python -c "import conformance, mock_servers, playwright"
# The project's own modules compiled now, as pip compiles installed packages: where
# PYTHONDONTWRITEBYTECODE is set no run would keep its compiled modules, and each run (and
# the reference AS it starts) would compile them again (a third of a second on 2 cores).
# A module edited later is compiled afresh by Python, as always.
.venv/bin/python -m compileall -q -j 0 conformance mock_servers cimd_rules >/dev/null 
