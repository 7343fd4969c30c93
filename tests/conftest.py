"""Helpers shared by the tests: a throw-away project folder and one-line lint calls."""

from __future__ import annotations

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
        return run_lint(list(paths) or ["."], config or Config()).diagnostics

    def codes(self, *paths: str, config: Config | None = None) -> list[str]:
        return [d.code for d in self.lint(*paths, config=config)]

    def places(self, *paths: str, config: Config | None = None) -> list[tuple]:
        """(code, path, line, column) of every diagnostic, sorted as reported."""
        return [(d.code, d.path, d.line, d.column) for d in self.lint(*paths, config=config)]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    (tmp_path / "tunespec.toml").write_text("", encoding="utf-8")
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
