"""TS2xx, method and model consistency, beyond the fixtures in tests/cases/rules/."""

from __future__ import annotations

from tests.conftest import granite, lint_source


def experiment(model: str, method: str, *body: str, declare: str = "") -> str:
    """Lines: (declaration), experiment, model, method, then one line per `body` item (line 4 on)."""
    lines = ["experiment e {", f'  model = "{model}"', f"  method = {method}", *(f"  {b}" for b in body), "}"]
    return (declare + "\n" if declare else "") + "\n".join(lines) + "\n"


T5 = 'model "acme/t5" { family = t5 }'
INSTRUCT = 'model "acme/chat" { family = llama  instruction_tuned = true }'
FALCON = 'model "acme/falcon" { family = falcon }'
LORA_BODY = "training { batch_size = 8  accumulate_steps = 1  learning_rate = 0.0001  epochs = 3 }"


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
