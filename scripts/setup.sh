#!/usr/bin/env bash
# Installs what cimd-conformance needs on a Debian machine: Chromium (its headless shell too,
# where Debian has it) and certutil from Debian
# (never `playwright install`: the suite drives the system Chromium), iproute2 for lab mode,
# then a venv with the pinned package and its development tools. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
known() { apt-cache show "$1" >/dev/null 2>&1; }
missing=0
{ [ -x /usr/bin/chromium ] || [ -x /usr/lib/chromium/chromium ]; } || missing=1
command -v certutil >/dev/null 2>&1 || missing=1
command -v ip >/dev/null 2>&1 || missing=1
# Chromium's headless shell is the run's browser where Debian has it (bookworm's security
# updates and later): lighter than the full browser, which stays as the fallback
if ! [ -x /usr/lib/chromium/chromium-headless-shell ] && known chromium-headless-shell; then
  missing=1
fi
if [ "$missing" -eq 1 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  shell=()
  if known chromium-headless-shell; then shell=(chromium-headless-shell); fi
  $SUDO apt-get install -y -qq --no-install-recommends \
    chromium libnss3-tools iproute2 "${shell[@]}" >/dev/null
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
