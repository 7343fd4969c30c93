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
