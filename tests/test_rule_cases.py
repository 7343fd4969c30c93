"""Every rule's fixtures: a file that triggers it at its place and a near miss that must stay silent.

The corpus is `tests/cases/rules/CODE/`: `trigger-N.tune` ends with `# expect: CODE at LINE:COLUMN` (the
one place the code is reported), `near-miss-N.tune` must not report the code. Each is linted as `main.tune`
in a project with a valid `data/train.jsonl` (60 examples), every rule selected. Add a case by adding a
file. Rules whose fixtures need more than one `.tune` file (data files, an unreadable file, several files of
a run, `# noqa`) are tested beside their family instead: see `ELSEWHERE`.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tunespec.config import Config
from tunespec.rules import REGISTRY

CORPUS = Path(__file__).parent / "cases" / "rules"
EXPECT = re.compile(r"^# expect: (TS\d{3}) at (\d+):(\d+)$", re.M)
# Codes with their triggers and near misses in another test module, and why.
ELSEWHERE = {
    "TS014": "a file that is not UTF-8 (tests/test_rules.py)",
    "TS015": "two experiments of a run in one folder (tests/test_rules.py)",
    "TS401": "data files (tests/test_rules_data.py)", "TS402": "data files (tests/test_rules_data.py)",
    "TS403": "data files (tests/test_rules_data.py)", "TS404": "data files (tests/test_rules_data.py)",
    "TS405": "data files (tests/test_rules_data.py)", "TS406": "data files (tests/test_rules_data.py)",
    "TS901": "`# noqa` comments (tests/test_noqa.py)",
}


def _cases(kind: str) -> list[Path]:
    return sorted(CORPUS.glob(f"TS*/{kind}-*.tune"), key=lambda p: (p.parent.name, int(p.stem.rsplit("-", 1)[1])))


def _id(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}"


def _lint(project, case: Path):
    (project.root / "main.tune").write_bytes(case.read_bytes())
    return project.lint("main.tune", config=Config())


@pytest.mark.parametrize("case", _cases("trigger"), ids=_id)
def test_rule_triggers_at_its_place(project, case):
    [(code, line, column)] = EXPECT.findall(case.read_text(encoding="utf-8"))
    assert code == case.parent.name
    diagnostics = _lint(project, case)
    assert [(d.line, d.column) for d in diagnostics if d.code == code] == [(int(line), int(column))], \
        [f"{d.code} {d.line}:{d.column} {d.message}" for d in diagnostics]


@pytest.mark.parametrize("case", _cases("near-miss"), ids=_id)
def test_near_miss_stays_silent(project, case):
    code = case.parent.name
    assert code not in [d.code for d in _lint(project, case)]


def test_every_rule_has_a_trigger_and_a_near_miss_here_or_elsewhere():
    folders = {path.name for path in CORPUS.iterdir() if path.is_dir()}
    assert folders <= set(REGISTRY.rules), folders - set(REGISTRY.rules)
    for code in folders:
        assert _cases_of(code, "trigger") and _cases_of(code, "near-miss"), code
    assert set(REGISTRY.rules) == folders | set(ELSEWHERE)
    assert not folders & set(ELSEWHERE)


def _cases_of(code: str, kind: str) -> list[Path]:
    return list((CORPUS / code).glob(f"{kind}-*.tune"))
