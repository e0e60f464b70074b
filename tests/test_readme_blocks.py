"""Every command and Python block of README.md runs as written, or says why it cannot.

A fenced block is ``bash`` (commands), ``python`` (a program), ``toml`` (a file's content) or
``text`` (output). A ``bash`` or ``python`` block runs here, or in the test named for its
section in :data:`RUN_ELSEWHERE`, unless the line right before it is
``<!-- not run: REASON -->``. Commands run in a fresh directory holding what they name
(``client.json``, report files), against one reference AS, one mock MCP server in front of
it and one metadata host, all started once for the module. What the test changes, and only
that:

- placeholders become the live servers: ``https://as.example.test`` and
  ``https://127.0.0.1:8443`` the reference AS, ``https://mcp.example.test/mcp`` the mock MCP
  server, ``https://app.example.com/oauth/client.json`` a document on the metadata host
  when it is the URL linted (``client.json`` in the directory claims it),
  ``--mcp-port 8766`` a free port the AS knows as a resource, ``'...'`` the test password,
  ``DIR`` a directory, and ``[optional]`` arguments are given;
- a run is kept cheap: ``run``, ``demo`` and ``pytest`` without a selection judge only the
  requirement IDs the line's comment names (else CIMD-DISC-01, or MCP-AUTH-10 with ``--mcp``
  or ``--mcp-server``, so that the MCP journey is taken); ``demo --matrix`` is listed
  (``--list``), as scoring every fault is the self-test's job;
- a lint of a URL trusts the test CA and the loopback address the metadata host is on.

A ``python`` block with a ``def test_`` is a test module, run by pytest with the plugin in
that directory; any other runs as a script. A line's comment ``exits N`` is the exit code it
must end with (else 0); a run the test narrowed must have judged each requirement it kept (not
"not applicable", not a harness error). A ``toml`` block is read as what it shows: a
baseline, a target file, or a target file's table.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from conformance.harness import corpus
from conformance.report import baseline
from conformance.report.model import Report
from conformance.run import mcp_journey
from conformance.target import file as target_file
from conformance.target.reference import ReferenceTarget
from mock_servers.metadata_host import MetadataHost
from mock_servers.pki import TestCA
from mock_servers.reference_as.config import DEFAULT_PASSWORD

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
SAMPLE = ROOT / "reports" / "sample" / "report.json"
FENCE = re.compile(r"^```(\w*)$")
NOT_RUN = re.compile(r"^<!-- not run: (.+) -->$")
KINDS = {"bash", "python", "toml", "text"}
# Blocks another test runs as written, by the heading of their section.
RUN_ELSEWHERE = {
    "### Fixtures, one at a time": (
        "tests/test_plugin.py::test_readme_fixture_examples_run_as_written"
    ),
}
CLIENT_ID = "https://app.example.com/oauth/client.json"
REQUIREMENT = re.compile(r"\b(?:CIMD|MCP)-[A-Z]+-\d+\b")
MCP_CHECK = "MCP-AUTH-10"
UNJUDGED = {"not-applicable", "harness-error"}
SELECTIONS = {"--list", "--only", "-k", "--cimd-only"}
TIMEOUT_S = 180


@dataclass(frozen=True)
class Block:
    """One fenced block of README.md."""

    line: int  # of the opening fence, counted from 1
    kind: str
    text: str
    section: str
    not_run: str  # the reason given, or ""

    @property
    def where(self) -> str:
        return f"README.md:{self.line}"


def blocks() -> list[Block]:
    """Every fenced block of README.md, in order."""
    found: list[Block] = []
    lines = README.read_text("utf-8").splitlines()
    section, number = "", 0
    while number < len(lines):
        line = lines[number]
        if line.startswith(("## ", "### ")):
            section = line
        opening = FENCE.match(line)
        if opening is None:
            number += 1
            continue
        end = lines.index("```", number + 1)
        before = NOT_RUN.match(lines[number - 1]) if number else None
        text = "\n".join(lines[number + 1 : end]) + "\n"
        reason = before.group(1) if before else ""
        found.append(Block(number + 1, opening.group(1), text, section, reason))
        number = end + 1
    return found


def runnable() -> list[Block]:
    """The command and Python blocks this module runs."""
    return [
        b
        for b in blocks()
        if b.kind in ("bash", "python") and not b.not_run and b.section not in RUN_ELSEWHERE
    ]


def test_every_block_is_known_and_every_command_runs_or_says_why_not() -> None:
    found = blocks()
    assert found
    unknown = [f"{b.where} ```{b.kind}" for b in found if b.kind not in KINDS]
    assert not unknown, f"a README block is bash, python, toml or text: {unknown}"
    marked = [b.where for b in found if b.not_run and b.kind not in ("bash", "python")]
    assert not marked, f"only commands and programs are run, so only they are marked: {marked}"
    elsewhere = {b.section for b in found if b.section in RUN_ELSEWHERE}
    assert elsewhere == set(RUN_ELSEWHERE), "a section named in RUN_ELSEWHERE is gone"
    for test in RUN_ELSEWHERE.values():
        path, name = test.split("::")
        assert f"def {name}(" in (ROOT / path).read_text("utf-8"), test
    assert len(runnable()) >= 10


# --- the live servers the commands run against ------------------------------------------------


@dataclass(frozen=True)
class Live:
    """The servers and files the README's commands are pointed at."""

    state: Path
    ca: Path
    issuer: str
    mcp_url: str
    mcp_port: int
    document_url: str

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "GITHUB_STEP_SUMMARY"}
        return {**env, "PYTHONPATH": str(ROOT), "CIMD_STATE_DIR": str(self.state)}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    state = tmp_path_factory.mktemp("readme-state")
    ca = TestCA.load_or_create(state)
    port = _free_port()
    with (
        MetadataHost(ca) as host,
        mcp_journey.mock_mcp_server(ca) as mcp,
    ):
        extra = ("--resource", mcp.url, "--resource", f"https://127.0.0.1:{port}/mcp")
        with ReferenceTarget(state_dir=state, extra_args=extra) as target:
            mcp.issuer = target.issuer
            url = host.new_client_url()
            document = corpus.lint_document(
                "lint-clean", client_id=url, metadata_host=host.base_url
            )
            assert isinstance(document, dict)
            host.serve_document(url, document)
            yield Live(state, ca.cert_path, target.issuer, mcp.url, port, url)


# --- commands ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    """One command line of a block: its words, and the comment after it."""

    words: list[str]
    comment: str

    def exit_code(self) -> int:
        said = re.search(r"\bexits (\d)\b", self.comment)
        return int(said.group(1)) if said else 0


def commands(block: Block) -> list[Command]:
    """The block's command lines (continued lines joined, comments and blanks left out)."""
    joined = block.text.replace("\\\n", " ")
    found = []
    for raw in joined.splitlines():
        words = shlex.split(raw, comments=True)
        if words:
            found.append(Command(words, raw.partition(" #")[2]))
    return found


def _placeholders(live: Live, cwd: Path) -> dict[str, str]:
    return {
        "https://as.example.test": live.issuer,
        "https://127.0.0.1:8443": live.issuer,
        "https://mcp.example.test/mcp": live.mcp_url,
        "8766": str(live.mcp_port),
        "...": DEFAULT_PASSWORD,
        "DIR": str(cwd / "chosen-reports"),
    }


def argv_for(command: Command, live: Live, cwd: Path) -> list[str]:
    """The command as run here (see the module's docstring for every change)."""
    places = _placeholders(live, cwd)
    words = [places.get(w.strip("[]"), w.strip("[]")) for w in command.words]
    program, rest = words[0], words[1:]
    journey = {"--mcp", "--mcp-server"} & set(rest)  # a check that takes the MCP journey
    only = REQUIREMENT.findall(command.comment) or [MCP_CHECK if journey else "CIMD-DISC-01"]
    selected = SELECTIONS & set(rest)
    if program == "cimd-conformance":
        if rest[0] in ("run", "demo") and not selected:
            rest += ["--list"] if "--matrix" in rest else [x for i in only for x in ("--only", i)]
        if rest[:2] == ["lint", CLIENT_ID]:  # a file claims it; a URL lint fetches it
            rest[1:2] = [live.document_url, "--ca", str(live.ca), "--allow-special-use"]
        return [sys.executable, "-m", "conformance.cli", *rest]
    if program == "pytest":
        if not selected:
            rest += [x for i in only for x in ("--cimd-only", i)]
        return [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *rest]
    raise AssertionError(
        f"{program!r} is not a command this test runs: mark the block <!-- not run: REASON -->"
    )


def _workdir(tmp_path: Path, live: Live) -> Path:
    """A directory holding what the README's commands name."""
    for name in ("reports/latest", "new", "old", "."):
        (tmp_path / name).mkdir(parents=True, exist_ok=True)
        shutil.copy(SAMPLE, tmp_path / name / "report.json")
    document = corpus.lint_document(
        "lint-clean", client_id=CLIENT_ID, metadata_host="https://app.example.com"
    )
    (tmp_path / "client.json").write_text(json.dumps(document), "utf-8")
    return tmp_path


def _run(argv: list[str], live: Live, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        cwd=cwd,
        env={**live.env(), **env},
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )


def _test_module(block: Block, live: Live, cwd: Path) -> None:
    """A block that is a test module, run by pytest with the plugin (as a user's project)."""
    (cwd / "test_readme_block.py").write_text(block.text, "utf-8")
    plugin = (
        ["-p", "conformance.plugin"] if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD") else []
    )
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *plugin]
    done = _run([*argv, "test_readme_block.py"], live, cwd, NO_PROXY="*")
    assert done.returncode == 0, f"{block.where}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert " passed" in done.stdout and "skipped" not in done.stdout, done.stdout[-3000:]


def _python(block: Block, live: Live, cwd: Path) -> None:
    """A program block, run as a script (its issuer the live one, one check selected)."""
    if re.search(r"^def test_", block.text, re.MULTILINE):
        _test_module(block, live, cwd)
        return
    source = block.text.replace("https://127.0.0.1:8443", live.issuer)
    done = _run(
        [sys.executable, "-c", source],
        live,
        cwd,
        PYTEST_ADDOPTS="-p no:cacheprovider -k advertises_cimd_support",
    )
    assert done.returncode == 0, f"{block.where}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    printed = done.stdout.strip().splitlines()
    if "combined_exit_code" in source:  # the clean reference AS: no failure, no harness error
        assert printed[-1:] == ["0"], f"{block.where}\n{done.stdout[-3000:]}"


@pytest.mark.browser
@pytest.mark.parametrize("block", runnable(), ids=lambda b: b.where)
def test_the_block_runs(block: Block, live: Live, tmp_path: Path) -> None:
    cwd = _workdir(tmp_path, live)
    if block.kind == "python":
        _python(block, live, cwd)
        return
    for command in commands(block):
        argv = argv_for(command, live, cwd)
        done = _run(argv, live, cwd)
        shown = f"{block.where}: {shlex.join(argv)}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        assert done.returncode == command.exit_code(), shown
        if not SELECTIONS & set(command.words):
            _judged(argv, cwd, shown)


def _judged(argv: list[str], cwd: Path, shown: str) -> None:
    """A run the test narrowed with ``--only`` judged each requirement it kept, really."""
    if argv[3:4] not in (["run"], ["demo"]) or "--only" not in argv:
        return
    directory = Path(argv[argv.index("--report-dir") + 1]) if "--report-dir" in argv else None
    report = Report.load(cwd / (directory or Path("reports/latest")) / "report.json")
    kept = {argv[i + 1] for i, word in enumerate(argv) if word == "--only"}
    judged = {r.requirement for r in report.results if r.verdict not in UNJUDGED}
    assert {k for k in kept if REQUIREMENT.fullmatch(k)} <= judged, shown


# --- files ------------------------------------------------------------------------------------


@pytest.mark.parametrize("block", [b for b in blocks() if b.kind == "toml"], ids=lambda b: b.where)
def test_the_toml_block_is_read(block: Block, tmp_path: Path) -> None:
    """A baseline loads as a baseline; a target file (or one of its tables) as a target file."""
    path = tmp_path / "block.toml"
    if "[[known-failure]]" in block.text:
        path.write_text(block.text, "utf-8")
        assert baseline.load(path).requirements
        return
    text = block.text
    if not re.search(r"^(issuer|mcp_server) =", text, re.MULTILINE):
        text = 'issuer = "https://as.example.test"\n' + text  # a table shown alone
    path.write_text(text, "utf-8")
    (tmp_path / "hooks").mkdir()
    (tmp_path / "hooks" / "login.py").write_text("def log_in(page, recipe):\n    pass\n")
    (tmp_path / "as-ca.pem").write_text("read when a run starts, not here")
    spec = target_file.load(path)
    assert spec.issuer or spec.mcp_server
    assert bool(spec.metadata_host) == ("[metadata_host]" in text)
