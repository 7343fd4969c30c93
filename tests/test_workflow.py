"""The repository workflow: `new`, the generated rule docs, and the pre-commit hooks run by pre-commit itself."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, git, write_training_data
from tunespec.cli import main

PRE_COMMIT = [sys.executable, "-m", "pre_commit"]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --- new -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("model, method, task", [
    ("ibm/granite-3-1-8b-base", "lora", None), ("llama-3-1-8b", "lora", None), ("flan-t5-xl-3b", "prompt_tuning", None),
    ("granite-13b-instruct-v2", "prompt_tuning", "summarization"), ("meta-llama/llama-3-1-70b-gptq", "qlora", None),
    ("mistralai/Mistral-7B-v0.1", "full", None), ("Qwen/Qwen2.5-7B", "lora", "generation"),
])
def test_new_files_lint_without_errors_and_are_formatted(project, capsys, model, method, task):
    argv = ["new", "fresh", "--model", model, "--method", method] + (["--task", task] if task else [])
    assert run(capsys, *argv)[0] == 0
    code, out, _ = run(capsys, "lint", "--format", "json", "fresh.tune")
    import json

    findings = json.loads(out)
    assert code == 0 and not [f for f in findings if f["severity"] == "error"], findings
    # documented warnings only (deprecation, quantization, method list, and advice on the 60-example data)
    assert {f["code"] for f in findings} <= {"TS205", "TS206", "TS212", "TS304", "TS306", "TS308"}
    assert run(capsys, "fmt", "--check", "fresh.tune")[0] == 0


def test_new_says_where_each_value_comes_from(project, capsys):
    run(capsys, "new", "tickets", "--model", "granite-3-1-8b-base", "--method", "lora")
    text = (project.root / "tickets.tune").read_text()
    assert "learning_rate    = 1e-5  # documented default" in text
    assert "Documented defaults: watsonx.ai: Parameters for tuning foundation models" in text
    run(capsys, "new", "m", "--model", "mistralai/Mistral-7B-v0.1", "--method", "lora")
    assert "starting point: no documented default" in (project.root / "m.tune").read_text()


def test_new_without_a_name_names_the_experiment_after_model_and_method(project, capsys):
    """DESIGN.md §3 shows NAME as optional: `tunespec new --model ID --method M [NAME]`."""
    code, out, _ = run(capsys, "new", "--model", "ibm/granite-3-1-8b-base", "--method", "qlora")
    assert code == 0 and out == "wrote granite_3_1_8b_base_qlora.tune\n"
    text = (project.root / "granite_3_1_8b_base_qlora.tune").read_text()
    assert "experiment granite_3_1_8b_base_qlora {" in text
    code, out, _ = run(capsys, "new", "--model", "Qwen/Qwen2.5-7B", "--method", "lora")
    assert code == 0 and (project.root / "qwen2_5_7b_lora.tune").exists()


def test_new_refuses_to_overwrite(project, capsys):
    path = project.write("taken.tune", "# mine\n")
    code, _, err = run(capsys, "new", "x", "--model", "llama-3-1-8b", "--method", "lora", "-o", "taken.tune")
    assert code == 2 and "never overwrites" in err and path.read_text() == "# mine\n"


@pytest.mark.parametrize("argv, words", [
    (["--model", "granite-3-1-8b-bse", "--method", "lora"], "did you mean `granite-3-1-8b-base`?"),
    (["--model", "llama-3-1-8b", "--method", "lorra"], "did you mean `lora`?"),
    (["--model", "llama-3-1-8b", "--method", "none"], "did you mean `full`?"),
    (["--model", "granite-13b-instruct-v2", "--method", "prompt_tuning"], "pass --task"),
])
def test_new_with_unknown_model_or_method_is_exit_2(project, capsys, argv, words):
    code, _, err = run(capsys, "new", "x", *argv)
    assert code == 2 and words in err and err.count("\n") == 1 and not (project.root / "x.tune").exists()


# --- rule documentation ----------------------------------------------------------------------------------

def test_docs_rules_md_is_up_to_date(capsys):
    assert main(["rules", "--format", "markdown"]) == 0
    generated = capsys.readouterr().out
    assert generated == (REPO / "docs" / "rules.md").read_text(encoding="utf-8"), \
        "run: tunespec rules --format markdown > docs/rules.md"


# --- pre-commit, for real --------------------------------------------------------------------------------

def test_the_hook_manifest_is_valid():
    result = subprocess.run([*PRE_COMMIT, "validate-manifest", str(REPO / ".pre-commit-hooks.yaml")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


CLEAN = """experiment tickets {
  model  = "ibm/granite-3-1-8b-base"
  method = lora

  data {
    train = "data/train.jsonl"
  }

  training {
    max_seq_length = 512
  }
}
"""


def try_repo(folder: Path, home: Path) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PRE_COMMIT_HOME": str(home), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    return subprocess.run([*PRE_COMMIT, "try-repo", str(REPO), "--all-files", "--verbose"], cwd=folder,
                          capture_output=True, text=True, env=environment, timeout=900)


@pytest.mark.slow
def test_hooks_run_under_pre_commit_try_repo(tmp_path):
    """One repository of clean files (every hook passes), then a broken, an unformatted and a text file."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    write_training_data(repo / "data" / "train.jsonl")
    (repo / "tickets.tune").write_text(CLEAN)
    home = tmp_path / "pre-commit-home"
    subprocess.run([sys.executable, "-m", "tunespec", "build", "tickets.tune"], cwd=repo, check=True,
                   env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True)
    git(repo, "add", "-A")
    clean = try_repo(repo, home)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert clean.stdout.count("Passed") == 4

    (repo / "broken.tune").write_text(CLEAN.replace("tickets", "broken").replace("512", "200000"))
    (repo / "messy.tune").write_text(CLEAN.replace("tickets", "messy").replace("method = lora", "method=lora"))
    (repo / "notes.txt").write_text("experiment not { a tune file")
    git(repo, "add", "-A")
    failing = try_repo(repo, home)
    output = failing.stdout
    assert failing.returncode == 1, output + failing.stderr
    lint_section = output.split("tunespec lint")[1].split("tunespec fmt")[0]
    assert "Failed" in lint_section and "broken.tune:10:22: TS108 error" in lint_section
    fmt_section = output.split("tunespec fmt")[1].split("tunespec build --check")[0]
    assert "Failed" in fmt_section and "would reformat messy.tune" in fmt_section
    assert "notes.txt" not in output
