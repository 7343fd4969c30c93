"""The data-driven corpus: every case under tests/cases/ lints to exactly its expected diagnostics."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tunespec.api import run_lint
from tunespec.config import Config

CASES = Path(__file__).parent / "cases"


def _cases() -> list[Path]:
    singles = sorted(CASES.glob("*.tune"))
    # `rules/` holds each rule's triggers and near misses (tests/test_rule_cases.py), not cases of this form
    folders = sorted(path for path in CASES.iterdir() if path.is_dir() and path.name != "rules")
    return singles + folders


def _expected(case: Path) -> list[str]:
    file = case / "expected" if case.is_dir() else case.with_suffix(".expected")
    return [line.strip() for line in file.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.parametrize("case", _cases(), ids=lambda path: path.stem)
def test_case(case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "tunespec.toml").write_text("")
    if case.is_dir():
        shutil.copytree(case, tmp_path / "case")
        monkeypatch.chdir(tmp_path / "case")
        target = "main.tune"
    else:
        shutil.copy(case, tmp_path / case.name)
        monkeypatch.chdir(tmp_path)
        target = case.name
    diagnostics = run_lint([target], Config()).diagnostics
    found = [f"{d.path}:{d.line}:{d.column}: {d.code} {d.severity.value}" for d in diagnostics]
    assert found == _expected(case), "\n".join(f"{d.path}:{d.line}:{d.column}: {d.code} {d.message}" for d in diagnostics)


def test_every_case_has_its_expectations():
    for case in _cases():
        assert (case / "expected" if case.is_dir() else case.with_suffix(".expected")).is_file(), case
