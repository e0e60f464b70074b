"""The report templates are compiled once and kept from run to run.

conformance/report/template_cache.py
"""

from __future__ import annotations

from pathlib import Path

import pytest
from jinja2 import Environment, FileSystemLoader, PackageLoader

from conformance.report import html, scoreboard
from conformance.report.template_cache import CACHE, TEMPLATES, TemplateCache
from conformance.user_cache import user_cache


def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("conformance.report", "templates"),
        bytecode_cache=TemplateCache(),
    )


def _never_compiled(environment: Environment, monkeypatch: pytest.MonkeyPatch) -> None:
    def compile_(*args: object, **kwargs: object) -> None:
        raise AssertionError("the template was compiled again")

    monkeypatch.setattr(environment, "compile", compile_)


def test_the_report_templates_use_the_kept_cache() -> None:
    assert isinstance(TEMPLATES.bytecode_cache, TemplateCache)
    assert html.TEMPLATES is TEMPLATES and scoreboard.TEMPLATES is TEMPLATES


def test_a_template_compiled_once_is_loaded_in_the_next_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    first = _environment().get_template("report.html")
    kept = list(user_cache(CACHE).glob("*.cache"))
    assert len(kept) == 1 and kept[0].parent == tmp_path / "cimd-conformance" / CACHE

    later = _environment()
    _never_compiled(later, monkeypatch)
    assert later.get_template("report.html").name == first.name


def test_a_changed_template_is_compiled_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "t.html").write_text("one {{ x }}")

    def made() -> Environment:
        return Environment(loader=FileSystemLoader(templates), bytecode_cache=TemplateCache())

    assert made().get_template("t.html").render(x=1) == "one 1"
    (templates / "t.html").write_text("two {{ x }}")
    assert made().get_template("t.html").render(x=1) == "two 1"


def test_an_unreadable_entry_is_compiled_and_kept_anew(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    _environment().get_template("report.html")
    (entry,) = user_cache(CACHE).glob("*.cache")
    entry.write_bytes(entry.read_bytes()[:40])  # cut short

    assert _environment().get_template("report.html").name == "report.html"
    later = _environment()
    _never_compiled(later, monkeypatch)
    later.get_template("report.html")  # the entry was written again, whole
    assert not list(user_cache(CACHE).glob("*.partial"))


def test_a_cache_that_cannot_be_written_is_passed_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    template = _environment().get_template("report.html")
    assert template.name == "report.html"
    assert blocked.is_file()
