"""TS3xx, advice, beyond the fixtures in tests/cases/rules/: messages that state the numbers."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import granite, lint_source
from tests.test_rules_models import experiment
from tunespec.config import Config

EVERYTHING = Config()
FULL_BODY = "training { batch_size = 4  accumulate_steps = 1  learning_rate = 0.00001  epochs = 3  max_seq_length = 512 }"


def message(project, source, code, name="main.tune"):
    return next(d for d in lint_source(project, source, name, config=EVERYTHING) if d.code == code)


# --- TS301 both ways ----------------------------------------------------------------------------------

def test_ts301_sweeps_are_judged_after_inheritance(project):
    project.write("common.tune", "preset swept {\n  lora { alpha = sweep [16, 32] }\n}\n")
    source = 'import "common.tune"\n' + granite("training { learning_rate = sweep [0.00001, 0.0001] }").replace(
        "experiment tickets {", "experiment tickets extends swept {")
    d = message(project, source, "TS301")
    assert (d.path, d.line, d.column) == ("common.tune", 2, 18)
    assert "swept together: 4 variants" in d.message


def test_ts301_compares_with_the_base_chain(project):
    source = """preset base {
  model  = "mistralai/Mistral-7B-v0.1"
  method = lora
  training { learning_rate = 0.0001 }
  lora { alpha = 16 }
}
experiment e extends base {
  data { train = "data/train.jsonl" }
  training { learning_rate = 0.0002 }
  lora { alpha = 32 }
}
"""
    d = message(project, source, "TS301")
    assert (d.line, d.column) == (10, 18)
    assert d.message == ("experiment `e` changes both `lora.alpha` (16 → 32) and `training.learning_rate` "
                         "(0.0001 → 0.0002)")


def test_ts301_a_preset_that_only_sets_values_without_base_or_default_is_silent(project):
    source = 'preset base {\n  model = "mistralai/Mistral-7B-v0.1"\n  method = lora\n  training { learning_rate = 0.0001 }\n  lora { alpha = 16 }\n}\n'
    assert "TS301" not in [d.code for d in lint_source(project, source, config=EVERYTHING)]


def test_ts301_against_documented_defaults_names_them(project):
    d = message(project, granite("training { learning_rate = 0.0001 }\n  lora { alpha = 16 }"), "TS301")
    assert "(32 → 16)" in d.message and "(1e-05 → 0.0001)" in d.message


# --- the numbers in the messages --------------------------------------------------------------------

def test_ts303_states_the_scale(project):
    d = message(project, granite("lora {\n    rank  = 64\n    alpha = 8\n  }"), "TS303")
    assert d.message.startswith("alpha / rank = 8 / 64 = 0.125, outside 0.25–8")


def test_ts304_states_the_update_count_and_how(project):
    d = message(project, granite("training { batch_size = 16  epochs = 2 }"), "TS304")
    assert d.message == ("only 8 optimizer updates in all: 60 examples / (batch 16) = 4 batches per epoch, "
                         "ceil(4 / 1 accumulate steps) = 4 per epoch × 2 epochs")


def test_ts304_counts_gpus(project):
    d = message(project, granite("training { epochs = 9 }\n  resources { gpus_per_node = 8 }"), "TS304")
    assert "60 examples / (batch 8 × 8 GPUs) = 1 batches per epoch" in d.message


def test_ts304_accumulation_above_the_batches(project):
    d = message(project, granite("training { accumulate_steps = 9 }"), "TS304")
    assert d.message.startswith("`accumulate_steps` is 9, more than the 60 examples / (batch 8) = 8 batches per epoch")


def test_ts304_counts_only_valid_records(project):
    lines = ['{"input": "a", "output": "b"}'] * 12 + ['{"input": "a"}'] * 50
    project.write("data/mixed.jsonl", "\n".join(lines) + "\n")
    source = granite("training { batch_size = 4  epochs = 2 }").replace("data/train.jsonl", "data/mixed.jsonl")
    assert "12 examples" in message(project, source, "TS304").message


def test_ts305_names_the_default(project):
    d = message(project, experiment("meta-llama/llama-3-1-8b", "lora", "training { epochs = 11 }"), "TS305")
    assert "more than 2 × the documented default (5)" in d.message


def test_ts305_uses_the_task_default_on_granite_13b(project):
    source = experiment("ibm/granite-13b-instruct-v2", "prompt_tuning", "task = summarization",
                        "training { epochs = 50 }", "prompt { init_method = random }")
    assert "TS305" not in [d.code for d in lint_source(project, source, config=EVERYTHING)]
    source = source.replace("summarization", "classification")
    assert "(20) for ibm/granite-13b-instruct-v2 prompt_tuning classification" in message(project, source, "TS305").message


def test_ts309_states_the_estimate_and_its_parts(project):
    source = experiment("ibm/granite-3-1-8b-base", "full", FULL_BODY.replace("512", "4096").replace("4 ", "8 ", 1),
                        "resources { gpu_memory_gb = 80 }")
    d = message(project, source, "TS309")
    for part in ("weights", "gradients", "optimizer", "activations", "logits", "overhead", "GiB on one GPU"):
        assert part in d.message


def test_ts301_found_through_a_preset_names_the_experiment_it_concerns(project):
    """Issue 12: the warning points into the preset, so it must say which experiment it is about."""
    project.write("common.tune", 'preset base {\n  model = "ibm/granite-3-1-8b-base"\n  method = lora\n'
                  '  training { learning_rate = 0.0001 }\n  lora { alpha = 16 }\n}\n')
    project.write("main.tune", 'import "common.tune"\nexperiment tickets extends base {\n  data { train = "t.jsonl" }\n}\n')
    [d] = [d for d in project.lint("main.tune", config=EVERYTHING) if d.code == "TS301"]
    assert d.path == "common.tune" and d.experiment == "tickets"
    assert d.message.endswith("for experiment `tickets`, which extends it")


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(),
                 st.builds(lambda a, b: a / b, st.integers(0, 10**9), st.integers(1, 10**6))))
def test_the_ceiling_is_maths(number):
    """advice._ceil (math.ceil without importing math on a cold lint's path) answers as math.ceil does."""
    import math

    from tunespec.rules.advice import _ceil

    assert _ceil(number) == math.ceil(number) and type(_ceil(number)) is int
