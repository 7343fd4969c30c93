"""Issue 12, item 1: a changed preset is checked in every experiment that imports it; orphaned specs;
`out` and spec paths relative to the configuration file; the hooks under real git and pre-commit."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import REPO, git, write_training_data
from tunespec.cli import main
from tunespec.project import dependents

PRE_COMMIT = [sys.executable, "-m", "pre_commit"]

BASE = """preset base {
  model  = "ibm/granite-3-1-8b-base"
  method = lora

  training {
    max_seq_length = 512
  }
}
"""

MIDDLE = """import "base.tune"

preset middle extends base {
  training {
    epochs = 3
  }
}
"""


def experiment(name: str, imported: str, base: str) -> str:
    return f"""import "{imported}"

experiment {name} extends {base} {{
  data {{
    train = "../data/train.jsonl"
  }}
}}
"""


@pytest.fixture
def presets(project):
    """common/base.tune <- common/middle.tune <- exp/c.tune; base <- exp/a.tune, exp/b.tune; exp/lone.tune
    imports nothing; notes/string.tune holds an import line inside a string only."""
    project.write("common/base.tune", BASE)
    project.write("common/middle.tune", MIDDLE)
    project.write("exp/a.tune", experiment("a", "../common/base.tune", "base"))
    project.write("exp/b.tune", experiment("b", "../common/base.tune", "base"))
    project.write("exp/c.tune", experiment("c", "../common/middle.tune", "middle"))
    project.write("exp/lone.tune", BASE.replace("preset base", "experiment lone").replace(
        "  training", '  data {\n    train = "../data/train.jsonl"\n  }\n\n  training'))
    project.write("notes/string.tune", 'experiment s {\n  description = """\nimport "../common/base.tune"\n"""\n}\n')
    return project


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_dependents_are_the_importers_transitively(presets):
    found = [display for _, display in dependents(["common/base.tune"], Path.cwd())]
    assert found == ["common/middle.tune", "exp/a.tune", "exp/b.tune", "exp/c.tune"]
    assert [d for _, d in dependents(["common/middle.tune"], Path.cwd())] == ["exp/c.tune"]
    assert dependents(["exp/lone.tune"], Path.cwd()) == []


def test_the_import_line_pattern_finds_what_its_plain_form_finds():
    """IMPORT_WORD is written unrolled (no alternation tried per character); on every text of up to six
    pieces among the ones that matter (quotes, backslashes, line ends, blanks), it finds the same import
    lines, at the same places, as the plain `(?:[^"\\\n]|\\.)*` form."""
    import itertools
    import re

    from tunespec.project import IMPORT_WORD

    plain = re.compile(rb'import[ \t\r\n\f\v]*"((?:[^"\\\n]|\\.)*)"')
    unrolled = re.compile(IMPORT_WORD)
    pieces = [b'import "', b'"', b"\\", b"\n", b" ", b"a", b'import"']
    for size in range(7):
        for chosen in itertools.product(pieces, repeat=size):
            text = b"".join(chosen)
            found = [(m.start(), m.end(), m.group(1)) for m in unrolled.finditer(text)]
            assert found == [(m.start(), m.end(), m.group(1)) for m in plain.finditer(text)], text


def test_an_import_line_inside_a_string_is_not_an_import(presets):
    assert "notes/string.tune" not in [d for _, d in dependents(["common/base.tune"], Path.cwd())]


def test_the_output_folder_is_not_searched_for_importers(presets, capsys):
    """out/ holds thousands of generated files and no experiment: a hook run does not walk it (a `.tune`
    file planted there would be found if it did)."""
    presets.write("out/stray/x.tune", experiment("x", "../../common/base.tune", "base"))
    assert "out/stray/x.tune" in [d for _, d in dependents(["common/base.tune"], Path.cwd())]
    assert "out/stray/x.tune" not in [d for _, d in dependents(["common/base.tune"], Path.cwd(), skip=[Path("out")])]
    _, out, _ = run(capsys, "lint", "--ignore", "TS405,TS307", "common/base.tune")
    assert "(5 files)" in out  # base, middle, a, b, c: not out/stray/x.tune
    _, out, _ = run(capsys, "lint", "--ignore", "TS405,TS307", "--no-dependents",
                    "common/base.tune", "out/stray/x.tune")
    assert "in 2 files" in out  # named, it is linted like any file


def test_lint_of_a_preset_reports_the_experiments_that_import_it(presets, capsys):
    presets.write("common/base.tune", BASE.replace("512", "200000"))
    code, out, _ = run(capsys, "lint", "--ignore", "TS405,TS307", "common/base.tune")
    assert code == 1
    assert "common/base.tune:6:22: TS108 error" in out
    assert "in 5 files" in out  # base, middle, a, b, c
    code, out, _ = run(capsys, "lint", "--ignore", "TS405,TS307", "--no-dependents", "common/base.tune")
    assert "in 1 file" in out


def test_build_check_of_a_preset_finds_the_stale_specs_of_its_importers(presets, capsys):
    assert run(capsys, "build", "exp/")[0] == 0
    presets.write("common/base.tune", BASE.replace("512", "1024"))
    code, out, _ = run(capsys, "build", "--check", "--quiet", "common/base.tune")
    assert code == 1
    assert out.splitlines() == ["stale: out/a/yaml/experiment.yaml", "stale: out/b/yaml/experiment.yaml",
                                "stale: out/c/yaml/experiment.yaml", "Checked 3 files: 3 stale or missing."]


# --- orphans -------------------------------------------------------------------------------------------

def test_specs_of_a_deleted_experiment_are_orphans_and_prune_removes_only_them(presets, capsys):
    assert run(capsys, "build", "exp/")[0] == 0
    (presets.root / "out" / "mine").mkdir()
    (presets.root / "out" / "mine" / "notes.txt").write_text("a user's file")
    (presets.root / "exp" / "b.tune").unlink()
    code, out, _ = run(capsys, "build", "--check", "-q", "exp/a.tune")
    assert code == 1
    assert "orphaned: out/b/yaml/ (its experiment file exp/b.tune is gone)" in out
    assert "1 orphaned folder" in out
    assert (presets.root / "out" / "b" / "yaml" / "experiment.yaml").exists()  # --check writes nothing
    code, out, _ = run(capsys, "build", "-q", "--prune", "exp/a.tune")
    assert code == 0 and "removed: out/b/yaml/" in out
    assert not (presets.root / "out" / "b").exists()
    assert (presets.root / "out" / "mine" / "notes.txt").read_text() == "a user's file"
    assert (presets.root / "out" / "a" / "yaml" / "experiment.yaml").exists()
    assert run(capsys, "build", "--check", "exp/")[0] == 0


def test_a_variant_the_run_makes_is_never_an_orphan_whatever_its_mark_says(presets, capsys):
    """A file name with a control character is marked with a space in its place: the mark names no file."""
    presets.write("exp/tab\tname.tune", experiment("tabbed", "../common/base.tune", "base"))
    assert run(capsys, "build", "-q", "exp/")[0] == 0
    code, out, _ = run(capsys, "build", "-q", "--prune", "exp/")
    assert "orphaned" not in out and "removed" not in out
    assert (presets.root / "out" / "tabbed" / "yaml" / "experiment.yaml").exists()


def test_prune_and_check_together_are_a_usage_error(presets, capsys):
    code, _, err = run(capsys, "build", "--check", "--prune", "exp/")
    assert code == 2 and "use one of them" in err


def test_a_folder_holding_anything_else_is_not_tunespecs(presets, capsys):
    run(capsys, "build", "exp/")
    folder = presets.root / "out" / "b" / "yaml"
    (folder / "README.md").write_text("notes about b")
    os.symlink("experiment.yaml", presets.root / "out" / "c" / "yaml" / "link.yaml")
    (presets.root / "exp" / "b.tune").unlink()
    (presets.root / "exp" / "c.tune").unlink()
    code, out, _ = run(capsys, "build", "-q", "--prune", "exp/")
    assert "removed" not in out and "orphaned" not in out
    assert (folder / "README.md").exists() and (folder / "experiment.yaml").exists()


def test_a_target_no_longer_named_and_a_variant_no_longer_swept_are_orphans(presets, capsys):
    presets.write("exp/a.tune", experiment("a", "../common/base.tune", "base").replace(
        "  data {", "  targets = [yaml, json]\n\n  training {\n    epochs = sweep [1, 2]\n  }\n\n  data {"))
    run(capsys, "build", "exp/a.tune")
    presets.write("exp/a.tune", experiment("a", "../common/base.tune", "base").replace(
        "  data {", "  targets = [yaml]\n\n  training {\n    epochs = sweep [1]\n  }\n\n  data {"))
    code, out, _ = run(capsys, "build", "--check", "-q", "exp/a.tune")
    assert "orphaned: out/a.epochs-2/json/ (exp/a.tune no longer makes the variant a.epochs-2)" in out
    assert "orphaned: out/a.epochs-1/json/ (a.epochs-1 no longer names the target json)" in out


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(before=st.tuples(st.sets(st.sampled_from(["1", "2", "3"]), min_size=1), st.sets(st.sampled_from(["yaml", "json"]), min_size=1)),
       after=st.tuples(st.sets(st.sampled_from(["1", "2", "3"]), min_size=1), st.sets(st.sampled_from(["yaml", "json"]), min_size=1)))
def test_orphans_skip_the_variant_folders_the_run_put_in_place_whole_and_find_the_same(presets, monkeypatch, before, after):
    """The orphan search does not list the variant folders the build put in place whole (all the run's):
    it finds what the full search finds, whatever variants and targets the build before made."""
    from tunespec import orphans

    real_find = orphans.find
    skipped = []

    def both(*args, **kwargs):
        found = real_find(*args, **kwargs)
        skipped.append(set(kwargs.get("whole", args[8] if len(args) > 8 else ())))
        assert found == real_find(*args[:8], **{k: v for k, v in kwargs.items() if k != "whole"})
        return found

    monkeypatch.setattr(orphans, "find", both)
    shutil.rmtree(presets.root / "out", ignore_errors=True)
    for epochs, targets in (before, after):
        presets.write("exp/a.tune", experiment("a", "../common/base.tune", "base").replace(
            "  data {", f"  targets = [{', '.join(sorted(targets))}]\n\n  training {{\n"
                        f"    epochs = sweep [{', '.join(sorted(epochs))}]\n  }}\n\n  data {{"))
        assert main(["build", "-q", "exp/a.tune"]) == 0
    assert skipped[0] == {f"a.epochs-{n}" for n in before[0]}  # the first build made every folder
    assert skipped[1] == {f"a.epochs-{n}" for n in after[0] - before[0]}


def test_specs_of_a_file_that_does_not_parse_are_never_orphans(presets, capsys):
    run(capsys, "build", "exp/")
    presets.write("exp/b.tune", "experiment b {\n")
    code, out, _ = run(capsys, "build", "-q", "--prune", "exp/")
    assert "removed" not in out and "orphaned" not in out
    assert (presets.root / "out" / "b" / "yaml" / "experiment.yaml").exists()


# --- paths relative to the configuration ---------------------------------------------------------------

def test_out_and_spec_paths_are_relative_to_the_config_file(presets, capsys, monkeypatch):
    (presets.root / "tunespec.toml").write_text('out = "specs"\n')
    assert run(capsys, "build", "exp/a.tune")[0] == 0
    written = (presets.root / "specs" / "a" / "yaml" / "experiment.yaml").read_bytes()
    monkeypatch.chdir(presets.root / "exp")
    code, out, _ = run(capsys, "build", "--check", "a.tune")
    assert code == 0, out
    assert "Checked 1 file: all up to date." in out
    assert not (presets.root / "exp" / "specs").exists()
    assert run(capsys, "build", "a.tune")[0] == 0
    assert (presets.root / "specs" / "a" / "yaml" / "experiment.yaml").read_bytes() == written


# --- the hooks, under real git and pre-commit ------------------------------------------------------------

@pytest.mark.slow
def test_committing_only_a_preset_runs_the_hooks_on_its_importers(tmp_path):
    """pre-commit passes only common/base.tune: the build-check hook finds its importers' stale specs, and
    each diagnostic is printed once in the whole run (the lint hook prints it, build --check does not)."""
    repo = tmp_path / "repo"
    for name, text in (("common/base.tune", BASE), ("exp/a.tune", experiment("a", "../common/base.tune", "base")),
                       ("exp/b.tune", experiment("b", "../common/base.tune", "base"))):
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    write_training_data(repo / "data" / "train.jsonl")
    git(repo, "init", "-q")
    environment = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-m", "tunespec", "build", "exp/"], cwd=repo, check=True, env=environment,
                   capture_output=True)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "start")
    (repo / "common/base.tune").write_text(BASE.replace("512", "1024"))
    git(repo, "add", "common/base.tune")
    home = tmp_path / "pre-commit-home"
    environment = {**os.environ, "PRE_COMMIT_HOME": str(home), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    stale = subprocess.run([*PRE_COMMIT, "try-repo", str(REPO), "--verbose"], cwd=repo, capture_output=True,
                           text=True, env=environment, timeout=900)
    assert stale.returncode == 1, stale.stdout + stale.stderr
    section = stale.stdout.split("tunespec build --check")[1].split("tunespec fmt")[0]
    assert "stale: out/a/yaml/experiment.yaml" in section and "stale: out/b/yaml/experiment.yaml" in section
    assert "Checked 2 files: 2 stale or missing." in section

    (repo / "common/base.tune").write_text(BASE.replace("512", "200000"))
    (repo / "exp/broken.tune").write_text("experiment broken {\n")
    git(repo, "add", "common/base.tune", "exp/broken.tune")
    broken = subprocess.run([*PRE_COMMIT, "try-repo", str(REPO), "--verbose"], cwd=repo, capture_output=True,
                            text=True, env=environment, timeout=900)
    assert broken.returncode == 1
    assert broken.stdout.count("TS108") == 1, broken.stdout
    assert broken.stdout.count("TS001") == 1, broken.stdout  # lint's; fmt names the file, build skips it
    assert "a: not built, it has errors" in broken.stdout
