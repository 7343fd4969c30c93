"""Helpers shared by the tests: a throw-away project folder and one-line lint calls."""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from tunespec.api import run_lint
from tunespec.config import Config

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
GOLDEN = Path(__file__).resolve().parent / "golden"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", help="rewrite golden files from the current output")


@pytest.fixture
def golden(request: pytest.FixtureRequest):
    """Compare text with tests/golden/NAME, or rewrite it with --update-golden."""
    update = request.config.getoption("--update-golden")

    def check(name: str, text: str) -> None:
        path = GOLDEN / name
        if update:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        assert path.is_file(), f"no golden file {name}; run pytest --update-golden"
        assert text == path.read_text(encoding="utf-8")

    return check


# Most tests are about one rule or one part of the language; these two would fire on nearly every small
# example (no `max_seq_length`, a data file that is not there), so tests leave them out unless they pass a
# config of their own.
QUIET = Config(ignore=["TS307", "TS401"])


class Project:
    """A temporary project root (it holds `tunespec.toml`), which is also the current directory."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def write(self, name: str, text: str) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    def lint(self, *paths: str, config: Config | None = None):
        return run_lint(list(paths) or ["."], config or QUIET).diagnostics

    def codes(self, *paths: str, config: Config | None = None) -> list[str]:
        return [d.code for d in self.lint(*paths, config=config)]

    def places(self, *paths: str, config: Config | None = None) -> list[tuple]:
        """(code, path, line, column) of every diagnostic, sorted as reported."""
        return [(d.code, d.path, d.line, d.column) for d in self.lint(*paths, config=config)]


TRAINING_RECORDS = 60


def write_training_data(path: Path, count: int = TRAINING_RECORDS) -> None:
    """Valid JSONL examples, enough for every data rule to stay quiet."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = (f'{{"input": "Ticket {i}: my invoice is wrong", "output": "billing"}}\n' for i in range(count))
    path.write_text("".join(lines), encoding="utf-8")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    """A project root holding `tunespec.toml` and `data/train.jsonl` (60 valid examples)."""
    (tmp_path / "tunespec.toml").write_text("", encoding="utf-8")
    write_training_data(tmp_path / "data" / "train.jsonl")
    monkeypatch.chdir(tmp_path)
    return Project(tmp_path)


def lint_source(project: Project, source: str, name: str = "main.tune", config: Config | None = None):
    project.write(name, source)
    return project.lint(name, config=config)


GRANITE_LORA = '''
experiment tickets {
  model  = "ibm/granite-3-1-8b-base"
  method = lora
  data { train = "data/train.jsonl" }
  %s
}
'''


def granite(body: str) -> str:
    """A complete LoRA experiment on granite-3-1-8b-base (documented defaults), plus `body`."""
    return GRANITE_LORA % body


def git(folder: Path, *args: str) -> None:
    """Real git in `folder`, with an identity so that commits work on a machine without one."""
    subprocess.run(["git", *args], cwd=folder, check=True, capture_output=True,
                   env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@t"})
