"""TS501–TS504, from the targets' declarations, beyond the fixtures in tests/cases/rules/."""

from __future__ import annotations

from tests.conftest import lint_source
from tests.test_rules_models import experiment
from tunespec.config import Config

LLAMA = "meta-llama/llama-3-1-8b"
EVERYTHING = Config()


def test_config_targets_are_checked_when_the_experiment_names_none(project):
    source = experiment("google/flan-t5-xl", "prompt_tuning")
    assert "TS502" in [d.code for d in lint_source(project, source, config=Config(targets=["axolotl"]))]
    assert "TS502" not in [d.code for d in lint_source(project, source, config=Config())]


def test_ts501_says_what_is_dropped_and_from_which_files(project):
    source = experiment(LLAMA, "lora", "targets = [torchtune]",
                        'data { train = "data/train.jsonl"  validation = "data/v.jsonl" }')
    d = next(d for d in lint_source(project, source, config=EVERYTHING) if d.code == "TS501")
    assert d.message == ('`torchtune` cannot express `data.validation` ("data/v.jsonl"): it is dropped from '
                         "config.yaml, run.sh")


def test_builtin_targets_snapshot_is_current_and_makes_the_targets_their_toml_files_make():
    """`python -m tunespec.templates.snapshot_build` must be run after editing a built-in target.toml; the
    targets made from the snapshot are those `load_target` makes from the files (dates as strings)."""
    from tunespec.templates.snapshot import DECLARATIONS
    from tunespec.templates.snapshot_build import read_declarations
    from tunespec.templates.targets import BUILTIN, DECLARATION, builtin_targets, load_target

    assert DECLARATIONS == read_declarations()
    folders = sorted(folder for folder in BUILTIN.iterdir() if (folder / DECLARATION).is_file())
    assert list(DECLARATIONS) == [folder.name for folder in folders]
    assert builtin_targets() == {target.name: target for target in map(load_target, folders)}
