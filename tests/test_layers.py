"""The dependency rule (ARCHITECTURE.md, "Layers"), held.

- ``cimd_rules`` imports the standard library only.
- ``mock_servers`` imports neither ``conformance`` nor pytest nor Playwright.
- ``conformance/report/`` renders offline: none of its modules reaches pytest or Playwright,
  and in a fresh interpreter where importing them fails, a report.json is rendered to HTML,
  JUnit and console text.
- No import cycle among the modules of ``conformance``, ``mock_servers`` and ``cimd_rules``.

Imports are read with ``ast``, never executed: every import statement counts, at module level
or inside a function (a lazy import is still a dependency, and it is how cycles hide). Only
imports under ``if TYPE_CHECKING:`` are left out of the graph the report and cycle rules walk,
since they never run. A known violation is allowed below by its exact entry; an entry that no
longer matches anything fails too, so the lists are emptied as the violations are fixed.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("cimd_rules", "conformance", "mock_servers")
PYTEST = frozenset({"pytest", "_pytest", "pytest_asyncio"})
PLAYWRIGHT = frozenset({"playwright"})
SAMPLE_REPORT = ROOT / "reports" / "sample" / "report.json"

# Known violations, each by its exact entry (an entry that no longer applies fails the test).
ALLOWED_REPORT_REACH: frozenset[tuple[str, str]] = frozenset()
ALLOWED_CYCLE_EDGES: frozenset[tuple[str, str]] = frozenset()


@dataclass(frozen=True)
class Import:
    """One import statement's target, as an absolute dotted name."""

    source: str
    target: str
    line: int
    runtime: bool  # False under ``if TYPE_CHECKING:``

    @property
    def top(self) -> str:
        return self.target.split(".")[0]

    def where(self) -> str:
        return f"{self.source}:{self.line} imports {self.target}"


@cache
def modules() -> dict[str, Path]:
    """Every module of the three packages, by dotted name (a package by its own name)."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _base(source: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = source if modules()[source].name == "__init__.py" else source.rpartition(".")[0]
    parts = package.split(".")
    parts = parts[: len(parts) - (node.level - 1)]
    return ".".join([*parts, *([node.module] if node.module else [])])


def _visit(source: str, node: ast.AST, runtime: bool) -> Iterator[Import]:
    if isinstance(node, ast.If) and _is_type_checking(node):
        for statement in node.body:
            yield from _visit(source, statement, False)
        for statement in node.orelse:
            yield from _visit(source, statement, runtime)
    elif isinstance(node, ast.Import):
        yield from (Import(source, a.name, node.lineno, runtime) for a in node.names)
    elif isinstance(node, ast.ImportFrom):
        base = _base(source, node)
        for alias in node.names:
            submodule = f"{base}.{alias.name}"
            target = submodule if submodule in modules() else base
            yield Import(source, target, node.lineno, runtime)
    else:
        for child in ast.iter_child_nodes(node):
            yield from _visit(source, child, runtime)


@cache
def imports(source: str) -> tuple[Import, ...]:
    """Every import in ``source``, at any depth."""
    tree = ast.parse(modules()[source].read_text("utf-8"))
    return tuple(_visit(source, tree, True))


@cache
def graph() -> dict[str, frozenset[str]]:
    """The runtime import graph between the three packages' modules."""
    return {
        name: frozenset(
            i.target
            for i in imports(name)
            if i.runtime and i.target in modules() and i.target != name
        )
        for name in modules()
    }


def _path(start: str, goal: str, edges: dict[str, frozenset[str]]) -> list[str] | None:
    """The shortest import chain from ``start`` to ``goal``, or None."""
    came_from: dict[str, str | None] = {start: None}
    queue = [start]
    while queue:
        here = queue.pop(0)
        if here == goal:
            chain, at = [], here
            while at is not None:
                chain.append(at)
                at = came_from[at]
            return chain[::-1]
        for there in sorted(edges[here]):
            if there not in came_from:
                came_from[there] = here
                queue.append(there)
    return None


def _reaches(source: str, tops: frozenset[str]) -> dict[str, list[str]]:
    """The forbidden packages ``source`` reaches at runtime, each with one import chain."""
    found: dict[str, list[str]] = {}
    for module in sorted(modules()):
        chain = _path(source, module, graph())
        if chain is None:
            continue
        for i in imports(module):
            if i.runtime and i.top in tops:
                family = "playwright" if i.top in PLAYWRIGHT else "pytest"
                found.setdefault(family, [*chain, i.target])
    return found


def test_cimd_rules_imports_the_standard_library_only() -> None:
    stdlib = sys.stdlib_module_names
    bad = [
        i.where()
        for name in modules()
        if name.split(".")[0] == "cimd_rules"
        for i in imports(name)
        if i.top != "cimd_rules" and i.top not in stdlib
    ]
    assert not bad, "cimd_rules imports the standard library only:\n" + "\n".join(bad)


def test_mock_servers_import_neither_the_suite_nor_pytest_nor_playwright() -> None:
    forbidden = {"conformance", *PYTEST, *PLAYWRIGHT}
    bad = [
        i.where()
        for name in modules()
        if name.split(".")[0] == "mock_servers"
        for i in imports(name)
        if i.top in forbidden
    ]
    assert not bad, "mock_servers imports no conformance, pytest, playwright:\n" + "\n".join(bad)


def _report_modules() -> list[str]:
    return [
        n for n in modules() if n == "conformance.report" or n.startswith("conformance.report.")
    ]


def test_report_reaches_neither_pytest_nor_playwright() -> None:
    found = {
        (name, family): chain
        for name in _report_modules()
        for family, chain in _reaches(name, PYTEST | PLAYWRIGHT).items()
    }
    unexpected = [" -> ".join(v) for k, v in found.items() if k not in ALLOWED_REPORT_REACH]
    assert not unexpected, "report/ must render offline:\n" + "\n".join(unexpected)
    stale = sorted(ALLOWED_REPORT_REACH - set(found))
    assert not stale, f"fixed, so remove from ALLOWED_REPORT_REACH: {stale}"


def _cycles(edges: dict[str, frozenset[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycle() -> None:
    edges = {
        name: frozenset(t for t in targets if (name, t) not in ALLOWED_CYCLE_EDGES)
        for name, targets in graph().items()
    }
    cycles = [" <-> ".join(c) for c in _cycles(edges)]
    assert not cycles, "import cycles:\n" + "\n".join(cycles)
    stale = sorted(
        (a, b) for a, b in ALLOWED_CYCLE_EDGES if b not in graph()[a] or not _path(b, a, graph())
    )
    assert not stale, f"no longer a cycle, so remove from ALLOWED_CYCLE_EDGES: {stale}"


def test_the_cycle_check_finds_a_cycle() -> None:
    edges = {"a": frozenset({"b"}), "b": frozenset({"c"}), "c": frozenset({"a"}), "d": frozenset()}
    assert _cycles(edges) == [["a", "b", "c"]]


def test_lazy_and_typing_only_imports_are_read() -> None:
    by_target = {i.target: i for i in imports("mock_servers.reference_as.logos")}
    assert by_target["mock_servers.reference_as.issuer"].runtime is False
    # cli.main imports the reference AS inside the function, only for `reference-as`
    lazy = [
        i for i in imports("conformance.cli") if i.target.startswith("mock_servers.reference_as")
    ]
    assert lazy and all(i.runtime for i in lazy)


# Run in a fresh interpreter: pytest and Playwright cannot be imported there.
OFFLINE = """
import importlib, importlib.abc, json, sys
from pathlib import Path

BLOCKED = set(json.loads(sys.argv[3]))
sys.path.insert(0, sys.argv[5])  # this tree's package, not an installed one
refused = []

class Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            refused.append(name)
            raise ImportError(f"{name} is blocked: the report must render offline")
        return None

sys.meta_path.insert(0, Blocked())
try:
    import pytest
except ImportError:
    pass
else:
    raise SystemExit("the blocker let pytest in")
refused.clear()

for name in json.loads(sys.argv[4]):
    importlib.import_module(name)
from conformance.report import console, html, junit
from conformance.report.model import Report
from conformance.report.scrub import scrub

out = Path(sys.argv[2])
report = scrub(Report.load(Path(sys.argv[1])))
(out / "report.html").write_text(html.render(report, out), "utf-8")
(out / "junit.xml").write_bytes(junit.render([report]))
(out / "console.txt").write_text(console.render(report), "utf-8")
loaded = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
print(json.dumps({"refused": refused, "loaded": loaded}))
"""


def test_report_renders_offline(tmp_path: Path) -> None:
    offline = [n for n in _report_modules() if not any(n == m for m, _ in ALLOWED_REPORT_REACH)]
    arguments = [str(SAMPLE_REPORT), str(tmp_path), json.dumps(sorted(PYTEST | PLAYWRIGHT))]
    done = subprocess.run(
        [sys.executable, "-I", "-c", OFFLINE, *arguments, json.dumps(offline), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"refused": [], "loaded": []}
    sample = json.loads(SAMPLE_REPORT.read_text("utf-8"))
    page = (tmp_path / "report.html").read_text("utf-8")
    assert sample["issuer"] in page
    assert all(r["requirement"] in page for r in sample["results"])
    cases = ET.fromstring((tmp_path / "junit.xml").read_bytes()).iter("testcase")
    assert len(list(cases)) == len(sample["results"])
    assert sample["issuer"] in (tmp_path / "console.txt").read_text("utf-8")


@pytest.mark.parametrize("package", PACKAGES)
def test_every_package_is_read(package: str) -> None:
    assert any(name.split(".")[0] == package for name in graph())
