#!/usr/bin/env bash
# Every step of scoring a CIMD authorization server in CI, one phase per workflow step:
#
#   cimd-check.sh install      install the suite, certutil and (when none is found) Chromium
#   cimd-check.sh ca           write the test CA your server must trust ($CIMD_CA_FILE)
#   cimd-check.sh score        run the suite, write the job summary, exit 0 / 1 / 2
#   cimd-check.sh targets DIR  list the target files in DIR (NAME.toml) as a JSON matrix
#   cimd-check.sh scoreboard DIR...   merge the report.json files under DIR into one table
#
# Configured by environment variables (all optional except the target):
#   CIMD_ISSUER          the target's issuer URL, or
#   CIMD_TARGET_FILE     a target file (TOML, see the suite's README)
#   CIMD_TARGET_COMMAND  a shell command that starts the target; the suite waits for it,
#                        gives it $CIMD_CA_FILE and stops it at the end (default with a
#                        target file NAME.toml: `bash NAME.sh` when that file exists)
#   CIMD_BASELINE        known failures (TOML); used when the file exists
#   CIMD_RUN_ARGS        more `cimd-conformance run` options, split on spaces (--strict ...)
#   CIMD_REPORT_DIR      where the reports go (default cimd-report)
#   CIMD_CA_FILE         where `ca` writes the test CA (default cimd-test-ca.pem)
#   CIMD_STATE_DIR       where the suite keeps the test CA (default .cimd-state); `ca` and
#                        `score` must see the same one
#   CIMD_PACKAGE         what `install` asks pip for (default cimd-conformance; empty: skip)
#   CIMD_SCOREBOARD      where `scoreboard` writes (default cimd-scoreboard: .html and .md)
#   GITHUB_STEP_SUMMARY, GITHUB_OUTPUT, GITHUB_ENV   set by GitHub Actions; outside it the
#                        summary is printed
#
# Exit codes of `score`: 0 conformant, 1 non-conformant (an `::error::` annotation), 2 the
# harness could not test the target, no verdict (an `::error::` annotation saying so).
set -euo pipefail

CIMD_REPORT_DIR="${CIMD_REPORT_DIR:-cimd-report}"
CIMD_CA_FILE="${CIMD_CA_FILE:-cimd-test-ca.pem}"
PYTHON="${PYTHON:-python3}"

say() { printf 'cimd-check: %s\n' "$*"; }

use_state_dir() {
    # absolute: the server's start script and later steps may run elsewhere
    mkdir -p "${CIMD_STATE_DIR:=.cimd-state}"
    CIMD_STATE_DIR="$(cd "$CIMD_STATE_DIR" && pwd)"
    export CIMD_STATE_DIR
}

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

install() {
    local package="${CIMD_PACKAGE-cimd-conformance}"
    if [ -n "$package" ]; then
        "$PYTHON" -m pip install --quiet "$package"
    fi
    if ! command -v certutil >/dev/null; then
        # the browser trusts the test CA through an NSS database
        as_root apt-get update -qq
        as_root apt-get install -y -qq --no-install-recommends libnss3-tools
    fi
    local browser
    for browser in "${CIMD_BROWSER:-}" /usr/bin/chromium-headless-shell /usr/bin/chromium \
        /usr/bin/chromium-browser /usr/bin/google-chrome; do
        if [ -n "$browser" ] && [ -x "$browser" ]; then
            say "browser: $browser"
            return 0
        fi
    done
    "$PYTHON" -m playwright install --with-deps chromium
}

ca() {
    use_state_dir
    cimd-conformance ca --out "$CIMD_CA_FILE"
    local absolute
    absolute="$(cd "$(dirname "$CIMD_CA_FILE")" && pwd)/$(basename "$CIMD_CA_FILE")"
    if [ -n "${GITHUB_ENV:-}" ]; then
        # later steps (the one that starts your server) see where the CA is
        printf 'CIMD_CA_FILE=%s\nCIMD_STATE_DIR=%s\n' "$absolute" "$CIMD_STATE_DIR" >>"$GITHUB_ENV"
    fi
    say "trust $absolute in your server (e.g. NODE_EXTRA_CA_CERTS, SSL_CERT_FILE, REQUESTS_CA_BUNDLE)"
}

run_arguments() {
    args=(run --report-dir "$CIMD_REPORT_DIR")
    if [ -n "${CIMD_TARGET_FILE:-}" ]; then
        args+=(--target "$CIMD_TARGET_FILE")
    elif [ -n "${CIMD_ISSUER:-}" ]; then
        args+=(--issuer "$CIMD_ISSUER")
    else
        say "set CIMD_ISSUER or CIMD_TARGET_FILE"
        annotate "not tested" "the harness could not test: no target (set CIMD_ISSUER or CIMD_TARGET_FILE)"
        exit 2
    fi
    local file="${CIMD_TARGET_FILE:-}"
    local start="${file%.toml}.sh"
    if [ -n "${CIMD_TARGET_COMMAND:-}" ]; then
        args+=(--target-command "$CIMD_TARGET_COMMAND")
    elif [ -n "$file" ] && [ -f "$start" ]; then
        args+=(--target-command "exec bash $(printf '%q' "$start")")
    fi
    if [ -n "${CIMD_BASELINE:-}" ]; then
        if [ -f "$CIMD_BASELINE" ]; then
            args+=(--baseline "$CIMD_BASELINE")
        else
            say "no baseline at $CIMD_BASELINE: every failure fails the job"
        fi
    fi
    if [ -n "${CIMD_RUN_ARGS:-}" ]; then
        local extra
        read -r -a extra <<<"$CIMD_RUN_ARGS"
        args+=("${extra[@]}")
    fi
}

annotate() {
    # the title tells a failed target from a run that could not test it at a glance (no
    # colon or comma: they would need escaping in a workflow command property)
    printf '::error title=CIMD conformance (%s)::%s\n' "$1" "$2"
}

summary() {
    local out="${GITHUB_STEP_SUMMARY:-/dev/stdout}" md found=0
    # the suite's own Markdown summary, where this version writes one (one per target)
    for md in "$CIMD_REPORT_DIR"/report.md "$CIMD_REPORT_DIR"/*/report.md; do
        if [ -f "$md" ]; then
            cat "$md" >>"$out"
            found=1
        fi
    done
    if [ "$found" = 1 ]; then
        return 0
    fi
    "$PYTHON" - "$CIMD_REPORT_DIR" "$1" >>"$out" <<'PY'
import html, json, pathlib, sys

root, code = pathlib.Path(sys.argv[1]), int(sys.argv[2])
words = {0: "conformant", 1: "non-conformant", 2: "not tested: the harness could not test"}
def md(text):
    return html.escape(" ".join(str(text).split())).replace("|", "&#124;")
print(f"## CIMD conformance: {words.get(code, words[2])} (exit code {code})\n")
paths = sorted(root.glob("report.json")) or sorted(root.glob("*/report.json"))
if not paths:
    print(f"No report was written to `{md(root)}`; the step's log says why.")
for path in paths:
    report = json.loads(path.read_text("utf-8"))
    counts = ", ".join(f"{n} {v}" for v, n in report.get("summary", {}).items() if n)
    print(f"**{md(report['issuer'])}**: {words.get(report.get('exit_code'), words[2])}"
          f" ({counts or 'no checks'}); profile {md(report['profile'])}, mode {md(report['mode'])},"
          f" suite {md(report['tool_version'])}\n")
    preflight = report.get("preflight", {}).get("error")
    if preflight:  # every check is a harness error for this one reason: say it once
        print(f"Preflight: {md(preflight)}\n")
    known = set(report.get("baseline", {}).get("known", []))
    stale = report.get("baseline", {}).get("stale", [])
    shown = ("fail", "non-strict") if preflight else ("fail", "non-strict", "harness-error")
    rows = [r for r in report["results"] if r["verdict"] in shown]
    if rows:
        print("| Requirement | Tier | Verdict | Observed |\n|---|---|---|---|")
        for r in rows[:60]:
            verdict = r["verdict"] + (" (known failure)" if r["requirement"] in known else "")
            print(f"| {r['requirement']} {md(r['title'])} | {r['tier']} | {verdict} | {md(r['observed'][:300])} |")
        if len(rows) > 60:
            print(f"\n... and {len(rows) - 60} more rows: see report.html in the artifact.")
        print()
    if stale:
        print(f"Stale baseline entries (they pass now; remove them): {', '.join(stale)}\n")
print("The full reports (report.html, report.json, junit.xml) are in the job's artifact.")
PY
}

summary_size() {
    if [ -n "${GITHUB_STEP_SUMMARY:-}" ] && [ -f "$GITHUB_STEP_SUMMARY" ]; then
        wc -c <"$GITHUB_STEP_SUMMARY"
    else
        echo 0
    fi
}

score() {
    local args code=0 before
    use_state_dir
    run_arguments
    before="$(summary_size)"
    cimd-conformance "${args[@]}" || code=$?
    if [ -n "${GITHUB_OUTPUT:-}" ]; then
        printf 'exit-code=%s\n' "$code" >>"$GITHUB_OUTPUT"
    fi
    # a suite that writes the job summary itself has done so; else it is written here
    if [ "$(summary_size)" = "$before" ]; then
        summary "$code" || say "could not write the job summary"
    fi
    case "$code" in
    0)
        say "conformant"
        ;;
    1)
        annotate "non-conformant" "the target is not conformant: see the job summary and the report artifact"
        exit 1
        ;;
    *)
        annotate "not tested" "the harness could not test the target (exit code $code): no verdict on the target; see the job summary and the step's log"
        exit 2
        ;;
    esac
}

scoreboard() {
    local out="${CIMD_SCOREBOARD:-cimd-scoreboard}"
    cimd-conformance scoreboard "$@" --html "$out.html" --markdown "$out.md"
    if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
        cat "$out.md" >>"$GITHUB_STEP_SUMMARY"
    fi
}

targets() {
    # NAME.toml is a target; NAME.baseline.toml its known failures, NAME.sh its start script
    local names
    names="$("$PYTHON" -c 'import json, pathlib, sys
names = sorted(p.name[:-5] for p in pathlib.Path(sys.argv[1]).glob("*.toml")
               if not p.name.endswith(".baseline.toml"))
print(json.dumps(names))' "$1")"
    if [ "$names" = "[]" ]; then
        say "no target files (NAME.toml) in $1"
        exit 2
    fi
    say "targets: $names"
    printf 'targets=%s\n' "$names" >>"${GITHUB_OUTPUT:-/dev/stdout}"
}

case "${1:-}" in
install | ca | score)
    "$1"
    ;;
targets)
    if [ "$#" != 2 ] || [ ! -d "$2" ]; then
        say "targets needs the directory of target files"
        exit 2
    fi
    targets "$2"
    ;;
scoreboard)
    shift
    if [ "$#" = 0 ]; then
        say "scoreboard needs the directories (or report.json files) to merge"
        exit 2
    fi
    scoreboard "$@"
    ;;
*)
    say "usage: cimd-check.sh install | ca | score | targets DIR | scoreboard DIR..."
    exit 2
    ;;
esac
