"""Resolution: inheritance, documented defaults, sweeps, provenance and the IR document."""

from __future__ import annotations

import pytest

from tunespec.api import resolve_paths
from tunespec.compiler.ir import document
from tunespec.compiler.resolve import variant_name
from tunespec.config import Config


def resolved(project, name="main.tune", **config):
    _, resolver, experiments = resolve_paths([name], Config(**config))
    return {exp.name: exp for exp in experiments if not exp.is_preset}, resolver.findings


def test_block_by_block_merge_child_over_base(project):
    project.write("main.tune", """
        preset base {
          model = "ibm/granite-3-1-8b-base"
          training { batch_size = 4  epochs = 2 }
        }
        experiment e extends base {
          training { epochs = 7 }
        }
    """)
    exp = resolved(project)[0]["e"]
    assert exp.values["training.batch_size"] == 4 and exp.values["training.epochs"] == 7
    assert str(exp.provenance["training.batch_size"]) == "main.tune:3:27 (preset base)"
    assert str(exp.provenance["training.epochs"]) == "main.tune:6:23 (experiment e)"


def test_lists_replace_and_never_concatenate(project):
    project.write("main.tune", """
        preset base { lora { target_modules = ["q_proj", "v_proj"] } }
        experiment e extends base { lora { target_modules = ["o_proj"] } }
    """)
    assert resolved(project)[0]["e"].values["lora.target_modules"] == ["o_proj"]


def test_scalar_replaces_an_inherited_sweep_and_a_sweep_replaces_a_scalar(project):
    project.write("main.tune", """
        preset swept { training { learning_rate = sweep [1e-5, 2e-5] epochs = 3 } }
        experiment fixed extends swept { training { learning_rate = 3e-5 } }
        experiment both extends fixed { training { epochs = sweep [1, 2] } }
    """)
    experiments = resolved(project)[0]
    assert sorted(experiments) == ["both.epochs-1", "both.epochs-2", "fixed"]
    assert experiments["fixed"].values["training.learning_rate"] == 3e-5


def test_preset_chains_of_any_depth(project):
    project.write("main.tune", """
        preset a { method = lora }
        preset b extends a { task = generation }
        preset c extends b { seed = 1 }
        experiment e extends c { }
    """)
    exp = resolved(project)[0]["e"]
    assert (exp.values["method"], exp.values["task"], exp.values["seed"]) == ("lora", "generation", 1)
    assert [written.name for written in exp.writes_along_extends()] == ["e", "c", "b", "a"]


def test_lora_defaults_for_granite_and_llama(project):
    project.write("main.tune", """
        experiment g { model = "granite-3-1-8b-base"  method = lora }
        experiment l { model = "meta-llama/Llama-3.1-8B"  method = lora }
        experiment q { model = "meta-llama/Llama-3.1-8B"  method = qlora }
    """)
    experiments = resolved(project)[0]
    granite, llama, qlora = experiments["g"], experiments["l"], experiments["q"]
    assert granite.values["lora.alpha"] == 32 and granite.values["lora.target_modules"] == ["all-linear"]
    assert str(granite.provenance["lora.alpha"]) == "catalog: ibm/granite-3-1-8b-base lora default"
    assert llama.values["lora.rank"] == 32 and llama.values["training.epochs"] == 5
    assert llama.values["lora.target_modules"] == ["q_proj", "v_proj"]
    assert "lora.rank" not in qlora.values  # defaults are documented for lora only


def test_prompt_tuning_defaults_for_flan_t5(project):
    project.write("main.tune", 'experiment p { model = "flan-t5-xl-3b"  method = prompt_tuning }')
    exp = resolved(project)[0]["p"]
    assert exp.values["prompt.init_method"] == "random"
    assert (exp.values["training.batch_size"], exp.values["training.accumulate_steps"]) == (16, 16)
    assert (exp.values["training.learning_rate"], exp.values["training.epochs"]) == (0.3, 20)
    assert "prompt.init_text" not in exp.values


def test_granite_13b_prompt_tuning_defaults_depend_on_the_task(project):
    project.write("main.tune", """
        experiment e {
          model  = "ibm/granite-13b-instruct-v2"
          method = prompt_tuning
          task   = sweep [classification, generation, summarization, extraction]
        }
    """)
    experiments = resolved(project)[0]
    table = {name.rpartition("-")[2]: (exp.values.get("training.batch_size"), exp.values.get("training.accumulate_steps"),
                                       exp.values.get("training.learning_rate"), exp.values.get("training.epochs"))
             for name, exp in experiments.items()}
    assert table == {
        "classification": (8, 32, 0.0006, 20),
        "generation": (16, 16, 0.0002, 20),
        "summarization": (8, 1, 0.0002, 40),
        "extraction": (None, None, None, None),
    }
    label = str(experiments["e.task-summarization"].provenance["training.epochs"])
    assert label == "catalog: ibm/granite-13b-instruct-v2 prompt_tuning summarization default"


def test_written_values_win_over_defaults(project):
    project.write("main.tune", 'experiment g { model = "granite-3-1-8b-base" method = lora lora { rank = 16 } }')
    exp = resolved(project)[0]["g"]
    assert exp.values["lora.rank"] == 16 and exp.values["lora.alpha"] == 32


def test_language_defaults_apply_to_every_model(project):
    project.write("main.tune", 'experiment e { model = "acme/unknown" method = full }')
    exp = resolved(project)[0]["e"]
    assert (exp.values["data.input_field"], exp.values["data.output_field"]) == ("input", "output")
    assert exp.values["output_dir"] == "runs/e"


def test_sweeps_make_a_cartesian_product_with_safe_deterministic_names(project):
    project.write("main.tune", """
        experiment t {
          training { learning_rate = sweep [1e-5, 3e-5]  batch_size = sweep [4, 8] }
          model = sweep ["ibm/granite-3-1-8b-base", "meta-llama/llama-3-1-8b"]
        }
    """)
    names = list(resolved(project)[0])
    assert len(names) == 8
    assert names[0] == "t.model-ibm_granite-3-1-8b-base.batch_size-4.learning_rate-1e-05"
    assert all("/" not in name and " " not in name for name in names)


def test_variant_names_match_the_design():
    assert variant_name("tickets", {"training.learning_rate": 3e-5}) == "tickets.learning_rate-3e-05"
    assert variant_name("x", {"seed": True}) == "x.seed-true"
    long = variant_name("x", {"data.train": "d/" * 40})
    assert len(long) < 60 and long.startswith("x.train-d_d_")


def test_names_that_sanitise_alike_are_ts012_not_numbered(project):
    """Numbering ("a_b-2") could collide with a value of its own; the sweep is an error instead (issue 11)."""
    project.write("main.tune", 'experiment e { description = sweep ["a/b", "a_b"] }')
    assert [(d.code, d.column) for d in project.lint("main.tune") if d.code == "TS012"] == [("TS012", 44)]


def test_sweep_element_provenance_points_at_the_element(project):
    project.write("main.tune", "experiment e {\n  training {\n    epochs = sweep [1,\n      2]\n  }\n}\n")
    exp = resolved(project)[0]["e.epochs-2"]
    assert str(exp.provenance["training.epochs"]) == "main.tune:4:7 (experiment e, sweep)"


def test_too_many_variants_is_ts012_at_the_sweep_that_crosses_the_limit(project):
    project.write("main.tune", """
        experiment e {
          training { epochs = sweep [1, 2, 3]  batch_size = sweep [1, 2, 3] }
        }
    """)
    experiments, findings = resolved(project, max_variants=8)
    assert experiments == {}
    [(finding, owner)] = [(f, o) for f, o in findings if f.code == "TS012"]
    assert finding.location.span.line == 2 and owner == "e" and "9 variants" in finding.message


def test_data_paths_are_relative_to_the_file_that_wrote_them(project):
    project.write("common/data.tune", 'preset d { data { train = "../data/train.jsonl" validation = "s3://b/v.jsonl" } }')
    project.write("exp/main.tune", 'import "../common/data.tune"\nexperiment e extends d { }')
    _, _, experiments = resolve_paths(["exp/main.tune"], Config())
    exp = experiments[0]
    assert exp.values["data.train"] == "data/train.jsonl" and exp.values["data.validation"] == "s3://b/v.jsonl"
    assert exp.local_files["data.train"] == project.root / "data" / "train.jsonl"


def test_declared_model_feeds_the_ir(project):
    project.write("main.tune", """
        model "acme/m-7b" { family = mistral  context_window = 4096  hf_id = "acme/M-7B" }
        experiment e { model = "ACME/m-7b"  method = lora  lora { target_modules = [] } }
    """)
    exp = resolved(project)[0]["e"]
    model = document(exp)["spec"]["model"]
    assert model == {"id": "acme/m-7b", "hf_id": "acme/M-7B", "watsonx_id": "acme/m-7b", "family": "mistral",
                     "decoder_only": True, "quantized": False, "context_window": 4096}
    assert exp.values["lora.resolved_target_modules"] == ["q_proj", "v_proj"]


def test_ir_document_has_the_design_shape(project):
    project.write("main.tune", """
        experiment tickets {
          model = "ibm/granite-3-1-8b-base"
          method = lora
          task = classification
          output_dir = "runs/tickets"
          data { train = "data/tickets/train.jsonl" }
          training { learning_rate = sweep [1e-5, 3e-5] }
        }
    """)
    doc = document(resolved(project)[0]["tickets.learning_rate-3e-05"])
    assert list(doc) == ["apiVersion", "kind", "metadata", "spec"]
    assert doc["metadata"] == {"name": "tickets.learning_rate-3e-05", "experiment": "tickets",
                               "source": "main.tune", "variant": {"training.learning_rate": 3e-05}}
    assert list(doc["spec"]) == ["model", "method", "task", "data", "training", "lora", "resources", "output_dir", "seed"]
    assert doc["spec"]["lora"]["resolved_target_modules"][:2] == ["q_proj", "k_proj"]
    assert doc["spec"]["data"] == {"train": "data/tickets/train.jsonl", "input_field": "input",
                                   "output_field": "output", "format": "input_output"}
    # How the run trains is fixed in the IR, so that every target emits the same (issue 10).
    training = doc["spec"]["training"]
    assert {key: training[key] for key in ("precision", "gradient_checkpointing", "optimizer", "scheduler",
                                           "eval_strategy", "save_strategy", "logging_steps")} == {
        "precision": "bf16", "gradient_checkpointing": True, "optimizer": "adamw", "scheduler": "linear",
        "eval_strategy": "no", "save_strategy": "epoch", "logging_steps": 10}
    assert doc["spec"]["resources"] == {"strategy": "ddp"}


@pytest.mark.parametrize("written, expected", [
    ("", {"precision": "bf16", "eval_strategy": "no", "strategy": "ddp"}),
    ('data { validation = "v.jsonl" }', {"eval_strategy": "epoch"}),
    ("resources { nodes = 2  gpus_per_node = 4 }", {"strategy": "fsdp"}),
    ('resources { volume = "tuning" }', {"mount_path": "/workspace"}),
    ("training { eval_strategy = steps  precision = fp32 }  resources { strategy = deepspeed_zero3  gpus_per_node = 2 }",
     {"eval_strategy": "steps", "precision": "fp32", "strategy": "deepspeed_zero3"}),
])
def test_run_defaults_follow_the_experiment(project, written, expected):
    project.write("main.tune", f"""
        experiment e {{
          model = "mistralai/Mistral-7B-v0.1"
          method = full
          data {{ train = "t.jsonl" }}
          {written}
        }}
    """)
    spec = document(resolved(project)[0]["e"])["spec"]
    found = {**spec["training"], **spec.get("resources", {})}
    assert {key: found[key] for key in expected} == expected


def test_qlora_on_a_gptq_checkpoint_defaults_to_fp16(project):
    project.write("main.tune", """
        model "acme/gptq" { family = llama  quantized = true }
        experiment e { model = "acme/gptq"  method = qlora }
    """)
    exp = resolved(project)[0]["e"]
    assert exp.values["training.precision"] == "fp16" and "GPTQ" in str(exp.provenance["training.precision"])


def test_a_declared_models_path_is_relative_to_its_file_in_the_ir(project):
    project.write("models/tiny.tune", 'model "acme/tiny" { family = llama  path = "../weights/tiny" }')
    project.write("exp/main.tune", 'import "../models/tiny.tune"\nexperiment e { model = "acme/tiny" }')
    _, _, [exp] = resolve_paths(["exp/main.tune"], Config())
    assert document(exp)["spec"]["model"]["path"] == "weights/tiny"


def test_catalog_models_without_a_hugging_face_checkpoint_have_no_hf_id(project):
    project.write("main.tune", 'experiment e { model = "ibm/granite-13b-instruct-v2" }')
    model = document(resolved(project)[0]["e"])["spec"]["model"]
    assert "hf_id" not in model and model["watsonx_id"] == "ibm/granite-13b-instruct-v2"


def test_unknown_model_keeps_its_id_for_both_backends(project):
    project.write("main.tune", 'experiment e { model = "acme/x" }')
    doc = document(resolved(project)[0]["e"])
    assert doc["spec"]["model"] == {"id": "acme/x", "hf_id": "acme/x", "watsonx_id": "acme/x"}
