"""Issue 12, item 5: `lint --fix` for the safe cases, each with a case it must not touch; nothing is written
without --fix; the rewriting fmt hook under real pre-commit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, git
from tunespec.cli import main

HEAD = 'experiment a {\n  model  = "ibm/granite-3-1-8b-base"\n  method = lora\n  data { train = "data/train.jsonl" }\n'


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def body(text: str) -> str:
    return HEAD + text + "}\n"


@pytest.mark.parametrize("before, after", [
    ("  training {\n    learnng_rate = 1e-5\n  }\n", "  training {\n    learning_rate = 1e-5\n  }\n"),
    ('  training {\n    epochs = "3"\n  }\n', "  training {\n    epochs = 3\n  }\n"),
    ('  lora { dropout = "0.05" }\n', "  lora { dropout = 0.05 }\n"),
    ("  training {\n    epochs = 3  # noqa\n  }\n", "  training {\n    epochs = 3\n  }\n"),
    ("  training {\n    epochs = 3  # noqa: TS104\n  }\n", "  training {\n    epochs = 3\n  }\n"),
    ("  training {\n    batch_size = 64  # noqa: TS101, TS104\n  }\n", "  training {\n    batch_size = 64  # noqa: TS101\n  }\n"),
])
def test_each_fix(project, capsys, before, after):
    path = project.write("a.tune", body(before))
    code, out, _ = run(capsys, "lint", "--fix", "a.tune")
    assert path.read_text() == body(after)
    assert out.startswith("Fixed 1 problem in 1 file.") and code == 0, out


@pytest.mark.parametrize("text, code", [
    ("  training {\n    ratee = 1e-5\n  }\n", "TS002"),  # no single suggestion
    ('  training {\n    epochs = "three"\n  }\n', "TS004"),  # not a number
    ('  description = 3\n', "TS004"),  # a number where a string goes: not a quoting mistake
    ("  training {\n    epochs = 3  # noqa: TS104 (we tune elsewhere)\n  }\n", "TS901"),  # text after the comment
])
def test_near_misses_are_left_as_they_are(project, capsys, text, code):
    path = project.write("a.tune", body(text))
    before = path.read_bytes()
    _, out, _ = run(capsys, "lint", "--fix", "a.tune")
    assert path.read_bytes() == before
    assert "Nothing to fix." in out and code in out


def test_lint_without_fix_never_writes(project, capsys):
    path = project.write("a.tune", body('  training {\n    learnng_rate = 1e-5\n    epochs = "3"  # noqa\n  }\n'))
    before, mtime = path.read_bytes(), path.stat().st_mtime_ns
    code, out, _ = run(capsys, "lint", "a.tune")
    assert code == 1 and path.read_bytes() == before and path.stat().st_mtime_ns == mtime


def test_fix_keeps_line_endings_byte_order_mark_and_mode(project, capsys):
    text = body('  training {\n    epochs = "3"\n  }\n')
    path = project.root / "a.tune"
    path.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    os.chmod(path, 0o640)
    run(capsys, "lint", "--fix", "a.tune")
    assert path.read_bytes() == b"\xef\xbb\xbf" + text.replace('"3"', "3").replace("\n", "\r\n").encode()
    assert path.stat().st_mode & 0o777 == 0o640


def test_fix_reports_what_remains_in_json_on_stdout(project, capsys):
    import json

    project.write("a.tune", body('  training {\n    epochs = "3"\n    batch_size = 64\n  }\n'))
    code, out, err = run(capsys, "lint", "--fix", "--format", "json", "a.tune")
    codes = [d["code"] for d in json.loads(out)]
    assert "TS101" in codes and "TS004" not in codes and code == 1
    assert "Fixed 1 problem in 1 file." in err


@pytest.mark.slow
def test_the_format_hook_rewrites_under_pre_commit(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    messy = repo / "messy.tune"
    messy.write_text(body("").replace("method = lora", "method=lora"))
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    environment = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "home"), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    first = subprocess.run([sys.executable, "-m", "pre_commit", "try-repo", str(REPO), "tunespec-format", "--all-files"],
                           cwd=repo, capture_output=True, text=True, env=environment, timeout=900)
    assert first.returncode == 1 and "files were modified by this hook" in first.stdout, first.stdout + first.stderr
    assert "method = lora" in messy.read_text()
    git(repo, "add", "-A")
    second = subprocess.run([sys.executable, "-m", "pre_commit", "try-repo", str(REPO), "tunespec-format", "--all-files"],
                            cwd=repo, capture_output=True, text=True, env=environment, timeout=900)
    assert second.returncode == 0, second.stdout
