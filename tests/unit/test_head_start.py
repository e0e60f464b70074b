"""Head starts: a waiting check's first part runs ahead, its evidence and errors stay its own."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from conformance.catalog.verdicts import NotApplicable
from conformance.harness import head_start
from conformance.plugin.run import waiting_last


class _Host:
    """The fetch-log side of a metadata host: a list of fetches and positions in it."""

    def __init__(self) -> None:
        self.log: list[str] = []

    def mark(self) -> int:
        return len(self.log)

    def settle(self) -> bool:
        return True

    def fetches_since(self, mark: int) -> list[str]:
        return self.log[mark:]

    def unclaimed(self, fetches: list[str]) -> list[str]:
        return [f for f in fetches if not f.startswith("claimed")]


def _session() -> Any:
    return SimpleNamespace(exchanges=[], attempts=[])


@pytest.fixture
def starters(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    registered: dict[str, Any] = {}
    monkeypatch.setattr(head_start, "_STARTERS", registered)
    return registered


def test_first_part_runs_once_ahead_and_its_evidence_goes_to_its_check(
    starters: dict[str, Any],
) -> None:
    runs = []

    @head_start.head_start("X-01")
    def first_part(session: Any, host: _Host) -> str:
        runs.append(1)
        session.exchanges.append("GET /authorize")
        session.attempts.append("accepted")
        host.log.append("GET /client")
        return "primed"

    session, host = _session(), _Host()
    heads = head_start.HeadStarts()
    heads.begin(session, host, ["X-02", "X-01"])  # type: ignore[arg-type]
    heads.begin(session, host, ["X-01"])  # type: ignore[arg-type]
    assert runs == [1]
    other = _session()  # the check's own session logs, cleared since
    other.exchanges.append("its own")
    value, fetches = heads.take("X-01", other, host)  # type: ignore[arg-type]
    assert value == "primed"
    assert fetches == ["GET /client"]
    assert other.exchanges == ["GET /authorize", "its own"]
    assert other.attempts == ["accepted"]


def test_what_the_first_part_raised_is_raised_by_its_check(starters: dict[str, Any]) -> None:
    @head_start.head_start("X-01")
    def first_part(session: Any, host: _Host) -> None:
        raise NotApplicable("no such feature")

    heads = head_start.HeadStarts()
    heads.begin(_session(), _Host(), ["X-01"])  # type: ignore[arg-type]
    with pytest.raises(NotApplicable, match="no such feature"):
        heads.take("X-01", _session(), _Host())  # type: ignore[arg-type]


def test_without_a_head_start_the_first_part_runs_in_its_turn(starters: dict[str, Any]) -> None:
    starters["X-01"] = lambda session, host: "now"
    value, fetches = head_start.HeadStarts().take("X-01", _session(), _Host())  # type: ignore[arg-type]
    assert (value, fetches) == ("now", [])


def _item(issuer: str, requirement: str, *fixtures: str) -> Any:
    mark = SimpleNamespace(args=(requirement,))
    return SimpleNamespace(
        callspec=SimpleNamespace(params={"cimd_issuer": issuer}),
        get_closest_marker=lambda name: mark if name == "requirement" else None,
        name=f"{issuer}:{requirement}",
        fixturenames=["cimd_target", *fixtures],
    )


def test_waiting_checks_go_last_among_their_targets_checks(starters: dict[str, Any]) -> None:
    starters["W-01"] = starters["W-02"] = lambda session, host: None
    items = [
        _item("a", "W-01"),
        _item("a", "X-01"),
        _item("a", "W-02"),
        _item("a", "X-02"),
        _item("b", "W-01"),
        _item("b", "X-01"),
    ]
    assert [i.name for i in waiting_last(items)] == [
        "a:X-01",
        "a:X-02",
        "a:W-01",
        "a:W-02",
        "b:X-01",
        "b:W-01",
    ]


def test_checks_with_canaries_go_first_among_their_targets_checks(
    starters: dict[str, Any],
) -> None:
    """Their canaries' settle time passes while the target's other checks run."""
    starters["W-01"] = lambda session, host: None
    items = [
        _item("a", "X-01"),
        _item("a", "W-01"),
        _item("a", "S-01", "cimd_ssrf"),
        _item("a", "X-02"),
        _item("a", "S-02", "cimd_ssrf"),
        _item("b", "X-01"),
        _item("b", "S-01", "cimd_ssrf"),
    ]
    assert [i.name for i in waiting_last(items)] == [
        "a:S-01",
        "a:S-02",
        "a:X-01",
        "a:X-02",
        "a:W-01",
        "b:S-01",
        "b:X-01",
    ]


def test_a_first_part_left_running_is_not_settled_and_is_closed_when_untaken(
    starters: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first part left running (requests in flight) is neither waited for when it returns
    nor left behind: an early stop closes what no check took."""
    monkeypatch.setattr(head_start, "_LEFT_RUNNING", set())
    closed: list[str] = []

    class Running:
        def close(self) -> None:
            closed.append("closed")

    class Host(_Host):
        def settle(self) -> bool:
            raise AssertionError("a first part left running is not waited for")

    head_start.head_start("X-01", left_running=True)(lambda session, host: Running())
    heads = head_start.HeadStarts()
    heads.begin(_session(), Host(), ["X-01"])  # type: ignore[arg-type]
    heads.close()
    heads.close()
    assert closed == ["closed"]
