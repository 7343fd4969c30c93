"""Issue 12, item 4: `exclude` patterns and `.gitignore` decide which files below a folder are searched;
a file named on the command line is linted all the same."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO
from tunespec.cli import main

BROKEN = "experiment broken {\n"  # TS001 wherever it is linted


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def tree(project):
    project.write("exp/good.tune", "# nothing declared\n")
    project.write("generated/x.tune", BROKEN)
    project.write("exp/scratch/y.tune", BROKEN)
    project.write("exp/old.tune", BROKEN)
    return project


def linted(capsys, *argv):
    code, out, _ = run(capsys, "lint", "--format", "json", *argv)
    import json

    return sorted({d["path"] for d in json.loads(out)})


def test_every_file_is_searched_without_patterns(tree, capsys):
    assert linted(capsys, ".") == ["exp/old.tune", "exp/scratch/y.tune", "generated/x.tune"]


def test_exclude_in_the_config_is_relative_to_its_folder(tree, capsys, monkeypatch):
    (tree.root / "tunespec.toml").write_text('exclude = ["/generated/", "scratch/", "old.tune"]\n')
    assert linted(capsys, ".") == []
    monkeypatch.chdir(tree.root / "exp")
    assert linted(capsys, ".") == []  # /generated/ and old.tune still anchored at the config's folder
    assert linted(capsys, "old.tune") == ["old.tune"]  # named: linted all the same


def test_exclude_on_the_command_line_adds_to_the_config(tree, capsys):
    (tree.root / "tunespec.toml").write_text('exclude = ["generated/"]\n')
    assert linted(capsys, "--exclude", "scratch/,old.tune", ".") == []
    assert linted(capsys, "--exclude", "scratch/", ".") == ["exp/old.tune"]


def test_a_negated_pattern_brings_a_file_back(tree, capsys):
    assert linted(capsys, "--exclude", "*.tune", "--exclude", "!old.tune", ".") == ["exp/old.tune"]


def test_gitignore_is_respected_inside_a_git_repository(tree, capsys):
    (tree.root / ".gitignore").write_text("generated/\n")
    (tree.root / "exp" / ".gitignore").write_text("scratch/\n")
    assert linted(capsys, ".") == ["exp/old.tune", "exp/scratch/y.tune", "generated/x.tune"]  # not a repository
    subprocess.run(["git", "init", "-q"], cwd=tree.root, check=True)
    assert linted(capsys, ".") == ["exp/old.tune"]
    assert linted(capsys, "exp") == ["exp/old.tune"]  # a parent folder's .gitignore applies too
    assert linted(capsys, "--no-respect-gitignore", ".") == ["exp/old.tune", "exp/scratch/y.tune", "generated/x.tune"]
    (tree.root / "tunespec.toml").write_text("respect-gitignore = false\n")
    assert linted(capsys, ".") == ["exp/old.tune", "exp/scratch/y.tune", "generated/x.tune"]


def test_git_agrees_on_what_is_ignored(tree, capsys):
    """The real git's answer, file by file, is tunespec's."""
    (tree.root / ".gitignore").write_text("generated/\n*.tune\n!exp/*.tune\n")
    (tree.root / "exp" / ".gitignore").write_text("old.tune\n")
    subprocess.run(["git", "init", "-q"], cwd=tree.root, check=True)
    files = ["exp/good.tune", "exp/old.tune", "exp/scratch/y.tune", "generated/x.tune"]
    checked = subprocess.run(["git", "check-ignore", *files], cwd=tree.root, capture_output=True, text=True)
    ignored = set(checked.stdout.split())
    from tunespec.config import Config

    searched = {path.removeprefix("./") for path in Config().excluder().walk(".")}
    assert searched == set(files) - ignored
    assert ignored  # the case means something


def test_gitignore_also_bounds_the_search_for_importers(tree, capsys):
    tree.write("common/base.tune", "preset base {\n  method = lora\n}\n")
    tree.write("generated/imp.tune", 'import "../common/base.tune"\n')
    (tree.root / ".gitignore").write_text("generated/\n")
    subprocess.run(["git", "init", "-q"], cwd=tree.root, check=True)
    code, out, _ = run(capsys, "lint", "common/base.tune")
    assert "1 file" in out and "generated" not in out


def test_exclude_in_the_config_is_validated(tree, capsys):
    (tree.root / "tunespec.toml").write_text("exclude = 3\n")
    code, _, err = run(capsys, "lint", ".")
    assert code == 2 and "`exclude` must be a list of strings" in err
    (tree.root / "tunespec.toml").write_text('respect-gitignore = "no"\n')
    code, _, err = run(capsys, "lint", ".")
    assert code == 2 and "`respect-gitignore` must be true or false" in err


def test_fmt_searches_the_same_files(tree, capsys):
    (tree.root / "tunespec.toml").write_text('exclude = ["generated/", "scratch/", "old.tune"]\n')
    code, out, _ = run(capsys, "fmt", "--check", ".")
    assert code == 0 and "1 left unchanged" in out


def test_lint_without_patterns_does_not_import_pathspec(tree):
    """The fast path: no pattern and no repository, no pathspec."""
    (tree.root / "tunespec.toml").unlink()
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "tunespec", "lint", "exp/good.tune"],
                            capture_output=True, text=True, cwd=tree.root, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "tunespec.rules.engine" in result.stderr and "pathspec" not in result.stderr
    with_pattern = subprocess.run([sys.executable, "-X", "importtime", "-m", "tunespec", "lint", "--exclude", "x/", "."],
                                  capture_output=True, text=True, cwd=tree.root,
                                  env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert "pathspec" in with_pattern.stderr
