"""``demo`` spawns the reference AS before loading the suite, runs against that process, and
lets it shut down while the reports are written."""

from __future__ import annotations

import argparse
import gc
from pathlib import Path
from typing import Any

import pytest

from conformance import cli
from conformance.browser.driver import Browser
from conformance.plugin import collector
from conformance.report.model import Report
from conformance.target import reference
from conformance.target.reference import ReferenceTarget


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--issuer", "https://127.0.0.1:1"],
        ["demo", "--lab"],
        ["demo", "--mcp"],
        ["demo", "--list"],
    ],
)
def test_only_a_plain_demo_spawns_early(argv: list[str]) -> None:
    assert reference.spawn_for_demo(cli.parser().parse_args(argv)) is None


def test_a_different_command_is_not_the_same_reference_as() -> None:
    assert ReferenceTarget(("no-cache",)).same_as(ReferenceTarget(("no-cache",)))
    assert not ReferenceTarget(("no-cache",)).same_as(ReferenceTarget())
    assert not ReferenceTarget().same_as(ReferenceTarget(variants=("script-pages",)))


@pytest.fixture
def spawned(monkeypatch: pytest.MonkeyPatch) -> list[ReferenceTarget]:
    """Every reference AS process a command starts."""
    started: list[ReferenceTarget] = []
    spawn = ReferenceTarget.spawn

    def counted(self: ReferenceTarget) -> ReferenceTarget:
        if getattr(self, "_process", None) is None:
            started.append(self)
        return spawn(self)

    monkeypatch.setattr(ReferenceTarget, "spawn", counted)
    return started


def test_demo_runs_against_the_process_it_spawned_first(
    tmp_path: Path, spawned: list[ReferenceTarget], monkeypatch: pytest.MonkeyPatch
) -> None:
    early: list[ReferenceTarget | None] = []
    spawn_for_demo = reference.spawn_for_demo

    def kept(args: argparse.Namespace) -> ReferenceTarget | None:
        early.append(spawn_for_demo(args))
        return early[-1]

    monkeypatch.setattr(reference, "spawn_for_demo", kept)
    out = tmp_path / "out"
    code = cli.main(["demo", "--only", "CIMD-DISC-01", "--report-dir", str(out)])
    assert code == 0
    assert spawned == early  # one process: the one spawned before the suite loaded
    assert Report.load(out / "report.json").issuer == spawned[0].ready["issuer"]
    assert getattr(spawned[0], "_process", None) is None  # stopped at the end


@pytest.fixture
def browsers(monkeypatch: pytest.MonkeyPatch) -> list[Browser]:
    """Every browser a command starts."""
    started: list[Browser] = []
    start = Browser.start

    def counted(self: Browser) -> Browser:
        started.append(self)
        return start(self)

    monkeypatch.setattr(Browser, "start", counted)
    return started


def _one_check_demo(tmp_path: Path) -> dict[str, Any]:
    """Run ``demo`` of one check; its preflight's timing."""
    out = tmp_path / "out"
    assert cli.main(["demo", "--only", "CIMD-DISC-01", "--report-dir", str(out)]) == 0
    return dict(Report.load(out / "report.json").preflight["timing"])


def test_demo_launches_its_browser_while_the_suite_loads(
    tmp_path: Path, browsers: list[Browser]
) -> None:
    timing = _one_check_demo(tmp_path)
    assert len(browsers) == 1  # the run used the one started before pytest
    # the preflight found it running: its launch was no part of the preflight's wait
    assert timing["browser_launch_s"] > 0.05 > timing["browser_start_s"]
    assert getattr(browsers[0], "_browser", None) is None  # stopped at the end


def test_a_browser_started_early_that_does_not_suit_the_run_is_stopped(
    tmp_path: Path, browsers: list[Browser], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Browser, "made_for", lambda self, *args: False)
    timing = _one_check_demo(tmp_path)
    early, used = browsers
    assert getattr(early, "_browser", None) is None and getattr(used, "_browser", None) is None
    assert timing["browser_start_s"] >= timing["browser_launch_s"] > 0  # the run's own start


def test_a_browser_that_cannot_start_early_is_reported_by_the_run(tmp_path: Path) -> None:
    out = tmp_path / "out"
    missing = str(tmp_path / "no-chromium")
    code = cli.main(["demo", "--browser", missing, "--report-dir", str(out)])
    assert code == 2
    report = Report.load(out / "report.json")
    assert f"the browser {missing!r} does not exist" in str(report.preflight["error"])


def test_demo_that_cannot_start_stops_what_it_spawned(
    tmp_path: Path, spawned: list[ReferenceTarget]
) -> None:
    out = tmp_path / "out"
    code = cli.main(["demo", "--variant", "no-such-variant", "--report-dir", str(out)])
    assert code == 2
    assert len(spawned) == 1
    assert getattr(spawned[0], "_process", None) is None


def test_the_reference_as_stops_while_the_reports_are_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []
    frozen: list[int] = []
    terminate = ReferenceTarget.terminate

    def noted_terminate(self: ReferenceTarget) -> None:
        events.append("terminate")
        frozen.append(gc.get_freeze_count())
        terminate(self)

    write_run = collector.write_run

    def noted_write_run(*args: Any, **kwargs: Any) -> None:
        events.append("write")
        write_run(*args, **kwargs)

    monkeypatch.setattr(ReferenceTarget, "terminate", noted_terminate)
    monkeypatch.setattr(collector, "write_run", noted_write_run)
    code = cli.main(["demo", "--only", "CIMD-DISC-01", "--report-dir", str(tmp_path / "out")])
    assert code == 0
    # asked to stop once the checks were done, before the reports: waited for at the end
    assert events[:2] == ["terminate", "write"]
    # what was loaded by the time the checks ran was kept out of the collector's way, and
    # handed back when pytest returned
    assert frozen[0] > 0 and gc.get_freeze_count() == 0
