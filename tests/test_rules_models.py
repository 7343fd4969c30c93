"""TS2xx, method and model consistency: a trigger at its place and a near miss for every rule."""

from __future__ import annotations

import pytest

from tests.conftest import granite, lint_source


def experiment(model: str, method: str, *body: str, declare: str = "") -> str:
    """Lines: (declaration), experiment, model, method, then one line per `body` item (line 4 on)."""
    lines = ["experiment e {", f'  model = "{model}"', f"  method = {method}", *(f"  {b}" for b in body), "}"]
    return (declare + "\n" if declare else "") + "\n".join(lines) + "\n"


T5 = 'model "acme/t5" { family = t5 }'
INSTRUCT = 'model "acme/chat" { family = llama  instruction_tuned = true }'
FALCON = 'model "acme/falcon" { family = falcon }'
LORA_BODY = "training { batch_size = 8  accumulate_steps = 1  learning_rate = 0.0001  epochs = 3 }"

TRIGGERS = [
    ("TS201", experiment("mistralai/Mistral-7B-v0.1", "full", "lora { rank = 8 }"), (4, 3)),
    ("TS201", "preset p {\n  lora { rank = 8 }\n}\nexperiment e extends p {\n  method = full\n}\n", (2, 3)),
    ("TS202", granite("prompt { init_method = random }"), (5, 3)),
    ("TS203", experiment("google/flan-t5-xl", "prompt_tuning", 'prompt { init_text = "x" }'), (4, 24)),
    ("TS204", experiment("google/flan-t5-xl", "prompt_tuning", "prompt { init_method = text }"), (4, 26)),
    ("TS205", experiment("google/flan-t5-xl", "prompt_tuning"), (3, 12)),
    ("TS206", experiment("mistralai/Mistral-7B-v0.1", "qlora"), (3, 12)),
    ("TS207", experiment("meta-llama/llama-3-1-70b-gptq", "lora"), (3, 12)),
    ("TS207", experiment("meta-llama/llama-3-1-70b-gptq", "full"), (3, 12)),
    ("TS208", granite('lora { target_modules = ["q_proj", "value_proj"] }'), (5, 38)),
    ("TS209", experiment("acme/t5", "lora", 'lora { target_modules = ["all-linear"] }', declare=T5), (5, 28)),
    ("TS210", granite('lora { target_modules = ["all-linear", "q_proj"] }'), (5, 28)),
    ("TS211", experiment("acme/chat", "lora", declare=INSTRUCT), (4, 12)),
    ("TS212", experiment("ibm/granite-13b-instruct-v2", "full"), (1, 12)),
    ("TS213", experiment("acme/falcon", "lora", "lora { target_modules = [] }", declare=FALCON), (5, 27)),
    ("TS214", granite('lora { target_modules = ["q_proj", "lm_head"] }'), (5, 38)),
    ("TS215", granite("training { warmup_steps = 10  warmup_ratio = 0.1 }"), (5, 48)),
    ("TS216", granite('data { validation = "v.jsonl" }\n  training { eval_strategy = steps }'), (6, 30)),
    ("TS216", granite("training { save_strategy = steps }"), (5, 30)),
    ("TS217", granite("training { eval_strategy = epoch }"), (5, 30)),
]

NEAR_MISSES = [
    ("TS201", experiment("mistralai/Mistral-7B-v0.1", "lora", "lora { rank = 8 }")),
    ("TS201", experiment("meta-llama/llama-3-1-70b-gptq", "qlora", "lora { rank = 8 }")),
    ("TS202", experiment("google/flan-t5-xl", "prompt_tuning", "prompt { init_method = random }")),
    ("TS203", experiment("google/flan-t5-xl", "prompt_tuning", 'prompt { init_method = text  init_text = "x" }')),
    ("TS204", experiment("google/flan-t5-xl", "prompt_tuning", 'prompt { init_method = text  init_text = "x" }')),
    ("TS205", granite("")),
    ("TS206", experiment("meta-llama/llama-3-1-70b-gptq", "qlora")),
    ("TS206", experiment("acme/unknown", "qlora")),
    ("TS207", granite("")),
    ("TS208", granite('lora { target_modules = ["q_proj", "v_proj", "down_proj"] }')),
    ("TS208", experiment("acme/unknown", "lora", 'lora { target_modules = ["anything"] }')),
    ("TS209", granite('lora { target_modules = ["all-linear"] }')),
    ("TS210", granite('lora { target_modules = ["all-linear"] }')),
    ("TS211", granite("")),
    ("TS212", experiment("mistralai/Mistral-7B-v0.1", "full")),
    ("TS212", experiment("ibm/granite-13b-instruct-v2", "prompt_tuning")),
    ("TS213", experiment("mistralai/Mistral-7B-v0.1", "lora", "lora { target_modules = [] }")),
    ("TS214", granite('lora { target_modules = ["q_proj", "v_proj"] }')),
    ("TS214", experiment("acme/unknown", "lora", 'lora { target_modules = ["lm_head"] }')),
    ("TS215", granite("training { warmup_ratio = 0.1 }")),
    ("TS216", granite('data { validation = "v.jsonl" }\n  training { eval_strategy = steps  eval_steps = 5 }')),
    ("TS216", granite("training { save_strategy = epoch }")),
    ("TS217", granite('data { validation = "v.jsonl" }\n  training { eval_strategy = epoch }')),
    ("TS217", granite("training { eval_strategy = no }")),
]


@pytest.mark.parametrize("code, source, place", TRIGGERS, ids=[f"{c}-{i}" for i, (c, _, _) in enumerate(TRIGGERS)])
def test_rule_triggers_at_its_place(project, code, source, place):
    diagnostics = lint_source(project, source)
    assert [(d.line, d.column) for d in diagnostics if d.code == code] == [place], \
        [f"{d.code} {d.line}:{d.column} {d.message}" for d in diagnostics]


@pytest.mark.parametrize("code, source", NEAR_MISSES, ids=[f"{c}-{i}" for i, (c, _) in enumerate(NEAR_MISSES)])
def test_near_miss_stays_silent(project, code, source):
    assert code not in [d.code for d in lint_source(project, source)]


def message(project, source, code):
    return next(d for d in lint_source(project, source) if d.code == code)


def test_lm_head_is_a_warning_not_an_unknown_layer(project):
    """PEFT and fms-hf-tuning accept `lm_head`: TS208 leaves it to TS214, a warning (issue 10)."""
    codes = [d.code for d in lint_source(project, granite('lora { target_modules = ["lm_head"] }'))]
    assert "TS214" in codes and "TS208" not in codes


def test_t5_layer_names_are_spelled_out(project):
    d = message(project, experiment("acme/t5", "lora", 'lora { target_modules = ["q_proj"] }', declare=T5), "TS208")
    assert "q, k, v, o (attention) and wi_0, wi_1, wo" in d.help


def test_layer_did_you_mean(project):
    d = message(project, granite('lora { target_modules = ["v_prj"] }'), "TS208")
    assert d.help == "did you mean `v_proj`?"


def test_qlora_warning_says_backends_quantize_at_load(project):
    d = message(project, experiment("mistralai/Mistral-7B-v0.1", "qlora"), "TS206")
    assert "4-bit NF4 while loading" in d.message


def test_declared_layers_are_checked(project):
    declare = 'model "acme/m" { family = custom  layers = ["attn", "mlp"] }'
    source = experiment("acme/m", "lora", 'lora { target_modules = ["attn", "mlpp"] }', declare=declare)
    d = message(project, source, "TS208")
    assert (d.line, d.column, d.help) == (5, 36, "did you mean `mlp`?")


def test_declared_methods_are_checked(project):
    declare = 'model "acme/m" { family = llama  methods = [lora] }'
    assert message(project, experiment("acme/m", "full", declare=declare), "TS212").line == 2


def test_all_linear_on_a_declared_encoder_decoder_without_a_family_is_ts209_not_a_crash(project):
    declare = 'model "acme/t5x" { decoder_only = false }'
    d = message(project, experiment("acme/t5x", "lora", 'lora { target_modules = ["all-linear"] }', declare=declare),
                "TS209")
    assert d.help == "name the layers instead"


def test_a_model_declared_with_no_methods_is_ts212_not_a_crash(project):
    declare = 'model "acme/m" { family = llama  methods = [] }'
    d = message(project, experiment("acme/m", "lora", declare=declare), "TS212")
    assert "declared with no methods" in d.message


def test_prompt_tuning_on_granite_13b_with_a_model_list_is_not_ts212(project):
    codes = [d.code for d in lint_source(project, experiment("granite-13b-instruct-v2", "prompt_tuning"))]
    assert "TS212" not in codes and "TS205" in codes


def test_target_module_finding_in_a_preset_is_reported_once(project):
    project.write("common.tune", 'preset adapters {\n  lora { target_modules = ["q_proj", "vproj"] }\n}\n')
    for name in ("a", "b"):
        project.write(f"{name}.tune", 'import "common.tune"\n'
                      + granite("").replace("experiment tickets {", f"experiment {name} extends adapters {{"))
    diagnostics = [d for d in project.lint("a.tune", "b.tune") if d.code == "TS208"]
    assert [(d.path, d.line, d.column, d.experiment) for d in diagnostics] == [("common.tune", 2, 38, "a")]
