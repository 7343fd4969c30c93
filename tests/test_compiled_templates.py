"""Compiled built-in templates kept in the project's cache (`templates.compiled`): a later process loads them
instead of compiling, `--no-cache` neither reads nor writes them, and nothing in that folder — missing,
damaged, unwritable — changes a byte of what a build writes."""

from __future__ import annotations

import jinja2
import pytest

from tests.test_stamp import experiment
from tunespec import cache
from tunespec.api import build
from tunespec.config import Config
from tunespec.templates import render

TARGETS = ["yaml", "peft"]


@pytest.fixture
def compiles(monkeypatch):
    """A new process's templates (none loaded yet), and the names of those Jinja2 compiles."""
    compiled: list[str] = []
    original = jinja2.Environment.compile

    def counted(self, source, name=None, filename=None, *args, **kwargs):
        compiled.append(name)
        return original(self, source, name, filename, *args, **kwargs)

    monkeypatch.setattr(jinja2.Environment, "compile", counted)
    monkeypatch.setattr(render, "_environments", {})
    monkeypatch.setattr(render, "_templates", {})
    return compiled


def _fresh_build(project, kept_as: str, **options):
    """A build into a new folder `out`, as a new process would run it (its templates not loaded yet);
    the folder is then renamed `kept_as`, so that the next build writes a new `out` too."""
    render._environments.clear()
    render._templates.clear()
    result = build(["t.tune"], targets=TARGETS, out="out", config=Config(), **options)
    (project.root / "out").rename(project.root / kept_as)
    return result


def _files(folder) -> dict:
    return {path.relative_to(folder): path.read_bytes() for path in folder.rglob("*") if path.is_file()}


def _entries(project) -> list:
    return sorted((project.root / cache.FOLDER / "jinja2").glob("*"))


def test_a_second_build_loads_the_templates_the_first_compiled(project, compiles):
    project.write("t.tune", experiment())
    first = _fresh_build(project, "one")
    assert first.written and compiles, "the first build compiles the templates it uses"
    assert _entries(project) and all(entry.suffix == ".jinja2" for entry in _entries(project))
    assert (project.root / cache.FOLDER / "CACHEDIR.TAG").is_file()
    compiles.clear()
    second = _fresh_build(project, "two")
    assert compiles == []
    assert _files(project.root / "one") == _files(project.root / "two") and len(second.written) == len(first.written)


def test_no_cache_neither_reads_nor_writes_compiled_templates(project, compiles):
    project.write("t.tune", experiment())
    _fresh_build(project, "one", cache=False)
    assert compiles and not (project.root / cache.FOLDER / "jinja2").exists()
    _fresh_build(project, "two")
    compiles.clear()
    _fresh_build(project, "three", cache=False)
    assert compiles, "--no-cache compiled the templates again rather than load them"


def test_a_damaged_or_foreign_entry_is_compiled_again(project, compiles):
    project.write("t.tune", experiment())
    _fresh_build(project, "one")
    entries = _entries(project)
    entries[0].write_bytes(b"j2 not a bucket at all")
    for entry in entries[1:]:
        data = entry.read_bytes()
        entry.write_bytes(data[:len(data) // 2])  # cut short
    compiles.clear()
    _fresh_build(project, "two")
    assert len(compiles) == len(entries)
    assert _files(project.root / "one") == _files(project.root / "two")
    compiles.clear()
    _fresh_build(project, "three")  # written again, whole
    assert compiles == []


def test_a_changed_template_is_compiled_again(project, compiles, monkeypatch, tmp_path):
    """An entry holds the SHA-1 of its template's source: one whose text changed is not used."""
    project.write("t.tune", experiment())
    _fresh_build(project, "one")
    original = jinja2.FileSystemLoader.get_source

    def edited(self, environment, template):
        source, filename, uptodate = original(self, environment, template)
        return source + "{# edited #}", filename, uptodate

    monkeypatch.setattr(jinja2.FileSystemLoader, "get_source", edited)
    compiles.clear()
    _fresh_build(project, "two")
    assert compiles, "the edited templates were compiled, not loaded"


def test_a_cache_that_cannot_be_written_is_no_error(project, compiles):
    """(A file where the cache folder should be fails as a read-only folder does, even for root.)"""
    project.write("t.tune", experiment())
    (project.root / cache.FOLDER).write_text("in the way")
    result = _fresh_build(project, "one")
    assert result.written and compiles
    compiles.clear()
    _fresh_build(project, "two")
    assert compiles and _files(project.root / "one") == _files(project.root / "two")
