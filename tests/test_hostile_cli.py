"""Hostile input to the command line (issue 11): file names that look like options, terminal escapes in
values and names, file names that are not UTF-8, broken configuration. Each gets a diagnostic or one line
on stderr, never a traceback, never a changed input file, never a raw control character on the terminal."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, granite
from tunespec.cli import main

CONTROL = "\x1b]0;owned\x07\x1b[2J\x1b[31mred\x00nul\x9bcsi\u202eevil"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "internal error" not in err, err
    return code, out, err


def raw_controls(text: str) -> list[str]:
    """The control characters (and bidi overrides) that a terminal would act on."""
    return [char for char in text if (ord(char) < 32 and char not in "\n") or 0x7f <= ord(char) <= 0x9f
            or char in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"]


# --- item 2: a file name is never an option, and -o never overwrites an input --------------------------

def test_lint_o_refuses_to_overwrite_a_tune_file(project, capsys):
    """What pre-commit made of a file named `-oexperiments.tune` without `--`: `-o experiments.tune`."""
    original = project.write("experiments.tune", granite("")).read_bytes()
    project.write("-oexperiments.tune", granite("").replace("tickets", "other"))
    code, out, err = run(capsys, "lint", "-oexperiments.tune")
    assert code == 2 and err.count("\n") == 1 and "experiments.tune" in err and ".tune" in err, err
    assert (project.root / "experiments.tune").read_bytes() == original


@pytest.mark.parametrize("output", ["new.tune", "UPPER.TUNE", "tunespec.toml", "linked-report"])
def test_lint_o_refuses_tune_files_inputs_and_the_configuration(project, capsys, output):
    original = project.write("a.tune", granite("")).read_bytes()
    os.symlink("a.tune", project.root / "linked-report")
    config = (project.root / "tunespec.toml").read_bytes()
    code, out, err = run(capsys, "lint", "-o", output, "a.tune")
    assert code == 2 and err.count("\n") == 1 and "refus" in err, err
    assert (project.root / "a.tune").read_bytes() == original and (project.root / "tunespec.toml").read_bytes() == config
    assert not (project.root / "new.tune").exists() and not (project.root / "UPPER.TUNE").exists()


def test_lint_o_still_writes_a_report(project, capsys):
    project.write("a.tune", granite(""))
    code, _, _ = run(capsys, "lint", "--format", "json", "-o", "report.json", "a.tune")
    assert code == 0 and json.loads((project.root / "report.json").read_text())[0]["code"] == "TS307"


def test_a_file_named_like_an_option_after_double_dash_is_a_file(project, capsys):
    project.write("experiments.tune", granite(""))
    project.write("-oexperiments.tune", granite("training { batch_size = 64 }").replace("tickets", "other"))
    code, out, _ = run(capsys, "lint", "--", "-oexperiments.tune", "experiments.tune")
    assert code == 1 and "-oexperiments.tune:" in out and "TS101" in out


def hooks() -> list[dict]:
    return yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())


def test_every_hook_ends_its_arguments_with_double_dash():
    """pre-commit runs `entry`, then `args`, then the file names: `--` last in `args` ends the options (and
    a user's own `args` replace these, so the README says to end them with `--` too)."""
    for hook in hooks():
        assert hook["args"][-1] == "--", hook["id"]
        assert "--" not in hook["entry"].split(), hook["id"]


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
@pytest.mark.parametrize("user_args", [None, ["--strict", "--"]])
def test_the_hooks_under_real_pre_commit_never_read_a_file_name_as_an_option(tmp_path, user_args):
    pre_commit = Path(sys.executable).with_name("pre-commit")
    if not pre_commit.exists():
        pytest.skip("pre-commit is not installed (it is in the test extra)")
    repo = tmp_path / "repo"
    repo.mkdir()
    environment = {**os.environ, "PYTHONPATH": str(REPO), "PRE_COMMIT_HOME": str(tmp_path / "cache"),
                   "GIT_CONFIG_GLOBAL": str(tmp_path / "gitconfig"), "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
                   "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    local = []
    for hook in hooks():
        if hook["id"] == "tunespec-format":
            continue  # it rewrites files, as it should (tests/test_fixes.py); here no file may change
        hook = dict(hook, language="system", entry=f"{sys.executable} -m {hook['entry']}")
        if user_args is not None and hook["id"] == "tunespec-lint":
            hook["args"] = user_args
        local.append(hook)
    (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump({"repos": [{"repo": "local", "hooks": local}]}))
    (repo / "tunespec.toml").write_text("")
    text = granite("training { max_seq_length = 512 }").replace('"data/train.jsonl"', '"train.jsonl"')
    (repo / "train.jsonl").write_text("".join(f'{{"input": "q{i}", "output": "a"}}\n' for i in range(60)))
    (repo / "experiments.tune").write_text(text)
    (repo / "-oexperiments.tune").write_text(text.replace("tickets", "other"))
    for command in (["git", "init", "-q"], ["git", "add", "-A"]):
        subprocess.run(command, cwd=repo, env=environment, check=True)
    before = {path.name: path.read_bytes() for path in repo.iterdir() if path.is_file()}
    done = subprocess.run([str(pre_commit), "run", "--all-files"], cwd=repo, env=environment, capture_output=True,
                          text=True, timeout=300)
    after = {path.name: path.read_bytes() for path in repo.iterdir() if path.is_file()}
    assert after == before, done.stdout + done.stderr
    assert "tunespec lint" in done.stdout and "Failed" not in done.stdout.split("tunespec lint")[1].splitlines()[0], \
        done.stdout + done.stderr


# --- item 6: no control character reaches the terminal raw ------------------------------------------------

def hostile_project(project) -> None:
    """Control characters written raw inside strings (the language allows all but a line break there)."""
    text = f'"{CONTROL}"'
    project.write("t.tune", granite(f"description = {text}\n  output_dir = {text}\n  targets = [{text}]\n"
                                    f"  training {{ batch_size = 64 }}\n  resources {{ image = {text} }}"))
    project.write("u.tune", f'experiment u extends {CONTROL[:2]} {{ model = {text} }}\n')
    project.write("e.tune", "experiment e extends nosuch { training { learning_rat = 1 } }\n")


@pytest.mark.parametrize("argv", [["lint", "."], ["lint", "--format", "github", "."], ["show", "t.tune"],
                                  ["build", "t.tune"], ["fmt", "--check", "."], ["show", "--experiment", CONTROL],
                                  ["build", "--target", CONTROL, "t.tune"], ["rule", CONTROL],
                                  ["lint", "--config", CONTROL], ["new", CONTROL, "--model", CONTROL, "--method", "lora"]])
def test_no_raw_control_character_reaches_the_terminal(project, capsys, argv):
    hostile_project(project)
    code = main(argv)
    out, err = capsys.readouterr()
    assert "internal error" not in err
    assert raw_controls(out) == [] and raw_controls(err) == [], (out + err)[-2000:]


def test_control_characters_are_shown_as_escapes(project, capsys):
    hostile_project(project)
    code, out, err = run(capsys, "lint", "t.tune")
    assert "\\x1b]0;owned\\x07" in out


def test_a_file_name_with_control_characters_is_shown_escaped(project, capsys):
    project.write(f"bad{CONTROL[:6]}.tune", "experiment e { seed = 1 }\n")
    for argv in (["lint", "."], ["lint", "--format", "github", "."], ["fmt", "--check", "."], ["show", "."]):
        main(argv)
        out, err = capsys.readouterr()
        assert raw_controls(out + err) == [] and "bad\\x1b]0;" in out + err, argv


# --- item 21: a file name that is not UTF-8 --------------------------------------------------------------

@pytest.fixture
def latin1_name(project):
    folder = os.fsencode(project.root)
    with open(folder + b"/caf\xe9.tune", "w") as handle:
        handle.write(granite("training { max_seq_length = 512 }").replace("data/train.jsonl", "data/missing.jsonl"))
    return project


@pytest.mark.parametrize("argv", [["lint", "."], ["lint", "--format", "json", "."], ["lint", "--format", "sarif", "."],
                                  ["lint", "--format", "github", "."], ["lint", "-o", "report.txt", "."],
                                  ["lint", "--format", "sarif", "-o", "report.sarif", "."], ["show", "."],
                                  ["show", "--format", "json", "."], ["build", "."], ["fmt", "--check", "."]])
def test_a_tune_file_name_that_is_not_utf8(latin1_name, capsys, argv):
    code, out, err = run(capsys, *argv)
    assert code in (0, 1), err
    (out + err).encode("utf-8")
    if "-o" in argv:
        (latin1_name.root / argv[argv.index("-o") + 1]).read_text(encoding="utf-8")
    if "sarif" in argv and "-o" not in argv:
        uri = json.loads(out)["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert uri == "caf%E9.tune"
    if argv[0] == "build":
        written = latin1_name.root / "out" / "tickets" / "yaml" / "experiment.yaml"
        assert yaml.safe_load(written.read_text(encoding="utf-8"))["metadata"]["source"] == "caf\\xe9.tune"


def test_an_output_folder_that_is_not_utf8_is_one_line(latin1_name, capsys):
    code, out, err = run(capsys, "build", "--out", os.fsdecode(b"out\xff"), ".")
    assert code == 2 and err.count("\n") == 1 and "UTF-8" in err


def test_a_data_path_through_a_folder_whose_name_is_not_utf8_is_not_built(project, capsys):
    folder = os.fsencode(project.root) + b"/d\xe9"
    os.mkdir(folder)
    with open(folder + b"/t.tune", "w") as handle:
        handle.write(granite("training { max_seq_length = 512 }").replace("data/train.jsonl", "train.jsonl"))
    code, out, err = run(capsys, "build", ".")
    assert code == 1 and "d\\xe9/train.jsonl is not UTF-8" in out
    code, out, err = run(capsys, "show", "--format", "json", ".")
    assert json.loads(out)[0]["ir"]["spec"]["data"]["train"] == "d\\xe9/train.jsonl"


# --- item 14: configuration and folder names with odd characters ------------------------------------------

@pytest.mark.parametrize("name, text, words", [
    ("tunespec.toml", 'out = "a\\u0000b"\n', "`out`"),
    ("pyproject.toml", "# [tool.tunespec] is below\ntool = 5\n", "`tool`"),
    ("pyproject.toml", "[tool]\ntunespec = 5  # not [tool.tunespec]\n", "table"),
    ("tunespec.toml", "max-variants = 1e3\n", "max-variants"),
])
def test_a_broken_configuration_is_one_line(project, capsys, name, text, words):
    (project.root / "tunespec.toml").unlink()
    (project.root / name).write_text(text)
    project.write("t.tune", granite(""))
    for argv in (["lint", "t.tune"], ["build", "t.tune"], ["show", "t.tune"]):
        code, out, err = run(capsys, *argv)
        assert code == 2 and err.count("\n") == 1 and words in err and name in err, err
    assert not (project.root / "out").exists()


def test_a_line_break_in_a_model_id_or_the_output_folder_builds_and_reads_back(project, capsys):
    project.write("t.tune", 'model "meta-llama/llama-3-1-8b" { family = llama  hf_id = "acme/x\\ny"  hidden_size = 4096 }\n'
                  + granite('training { max_seq_length = 512 }\n  resources { image = "img" }')
                  .replace("ibm/granite-3-1-8b-base", "meta-llama/llama-3-1-8b"))
    targets = "peft,fms-hf-tuning,axolotl,llama-factory,torchtune"
    for out in ("out", "o\nut"):
        code, stdout, err = run(capsys, "build", "t.tune", "--target", targets, "--out", out)
        assert code == 0 and "not built" not in stdout, stdout + err
    script = (project.root / "o\nut" / "tickets" / "torchtune" / "run.sh").read_text()
    assert "'acme/x\ny'" in script


def test_a_build_that_fails_halfway_leaves_no_empty_folders(project, capsys):
    from tests.test_build import user_target

    project.write("a.tune", granite(""))
    project.write("b.tune", granite("").replace("tickets", "zz_last"))
    templates = user_target(project.root / "templates", "{{ 1 // (0 if name == 'zz_last' else 1) }}\n")
    code, out, err = run(capsys, "build", "a.tune", "b.tune", "--template-dir", str(templates), "--target", "yaml,mine",
                          "--out", "specs/run1")
    assert code == 2 and "template error" in err
    assert not (project.root / "specs").exists()
