"""TS501–TS504, from the targets' declarations: a trigger at its place and a near miss for each."""

from __future__ import annotations

import pytest

from tests.conftest import lint_source
from tests.test_rules_models import experiment
from tunespec.config import Config

LLAMA = "meta-llama/llama-3-1-8b"
TRIGGERS = [
    ("TS501", experiment(LLAMA, "lora", "targets = [torchtune]",
                         'data { train = "data/train.jsonl"  validation = "data/train.jsonl" }'), (5, 51)),
    ("TS501", experiment(LLAMA, "lora", "targets = [torchtune]", 'data { train = "data/train.jsonl" }',
                         'lora { target_modules = ["q_proj", "gate_proj"] }'), (6, 27)),
    ("TS501", experiment("ibm/granite-3-1-8b-base", "lora", "targets = [axolotl]", 'data { train = "data/train.jsonl" }',
                         "resources { gpus_per_node = 4 }"), (6, 31)),
    ("TS502", experiment("google/flan-t5-xl", "prompt_tuning", "targets = [axolotl]"), (1, 12)),
    ("TS502", experiment("mistralai/Mistral-7B-v0.1", "lora", "targets = [torchtune]"), (1, 12)),
    ("TS502", experiment("mistralai/Mistral-7B-v0.1", "qlora", "targets = [watsonx]", "task = generation"), (1, 12)),
    ("TS503", experiment("google/flan-t5-xl", "prompt_tuning", "targets = [watsonx]", "task = classification"), (3, 12)),
    ("TS503", experiment(LLAMA, "lora", "targets = [watsonx]", "task = generation"), (3, 12)),
    ("TS504", experiment(LLAMA, "lora", "targets = [kubeflow]"), (1, 12)),
    ("TS504", experiment("google/flan-t5-xl", "prompt_tuning", "targets = [peft]"), (1, 12)),
    ("TS504", experiment(LLAMA, "lora", "targets = [watsonx]"), (1, 12)),
]
NEAR_MISSES = [
    ("TS501", experiment(LLAMA, "lora", "targets = [torchtune]", 'data { train = "data/train.jsonl" }')),
    ("TS501", experiment(LLAMA, "lora", "targets = [axolotl]", 'data { train = "data/train.jsonl" }',
                         "resources { gpus_per_node = 1  gpu_memory_gb = 80 }", 'description = "not a backend value"')),
    ("TS501", experiment(LLAMA, "lora", "targets = [fms-hf-tuning]",
                         'data { train = "data/train.jsonl"  input_field = "input" }')),
    ("TS502", experiment(LLAMA, "lora", "targets = [torchtune]")),
    ("TS502", experiment("meta-llama/llama-3-1-70b-gptq", "qlora", "targets = [watsonx]", "task = generation")),
    ("TS503", experiment(LLAMA, "lora", "targets = [peft]")),
    ("TS504", experiment(LLAMA, "lora", "targets = [kubeflow]", 'resources { image = "registry/fms:1" }')),
    ("TS504", experiment("google/flan-t5-xl", "prompt_tuning", "targets = [peft]", "prompt { num_virtual_tokens = 8 }")),
]
EVERYTHING = Config()


@pytest.mark.parametrize("code, source, place", TRIGGERS, ids=[f"{c}-{i}" for i, (c, _, _) in enumerate(TRIGGERS)])
def test_rule_triggers_at_its_place(project, code, source, place):
    diagnostics = lint_source(project, source, config=EVERYTHING)
    assert [(d.line, d.column) for d in diagnostics if d.code == code] == [place], \
        [f"{d.code} {d.line}:{d.column} {d.message}" for d in diagnostics]


@pytest.mark.parametrize("code, source", NEAR_MISSES, ids=[f"{c}-{i}" for i, (c, _) in enumerate(NEAR_MISSES)])
def test_near_miss_stays_silent(project, code, source):
    assert code not in [d.code for d in lint_source(project, source, config=EVERYTHING)]


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
