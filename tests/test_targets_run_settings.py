"""How a run trains, emitted in every target that can express it (issue 10): precision, checkpointing,
evaluation cadence, the strategy's launcher files, chat formatting, the volume; and TS501 for the values a
target cannot express (`[values]` in its declaration). The real backends read and run these files in
tests/test_backends_real.py and tests/test_training_real.py; these tests need none of them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import lint_source
from tests.test_build import built_text
from tests.test_rules_models import experiment
from tunespec.api import build
from tunespec.config import Config

LLAMA = "meta-llama/llama-3-1-8b"
DATA = 'data { train = "data/train.jsonl"  validation = "data/train.jsonl" }'
TRAINING = "training { batch_size = 2  accumulate_steps = 1  learning_rate = 0.0001  epochs = 1 %s}"
LORA = 'lora { rank = 8  alpha = 16  dropout = 0.05  target_modules = ["q_proj", "v_proj"] }'


def lora(*body: str, training: str = "") -> str:
    return experiment(LLAMA, "lora", DATA, TRAINING % training, LORA, *body)


def full(*body: str, training: str = "") -> str:
    return experiment(LLAMA, "full", DATA, TRAINING % training, *body)


def files(project, source: str, target: str) -> dict[str, str]:
    project.write("main.tune", source)
    result = build(["main.tune"], out="out", targets=[target], config=Config())
    assert not result.refused, result.refused
    return {Path(path).name: Path(path).read_text(encoding="utf-8") for path in result.written}


def codes(project, source: str) -> list[tuple[str, str]]:
    return [(d.code, d.message) for d in lint_source(project, source, config=Config())]


# --- precision: full fine-tuning keeps fp32 master weights ------------------------------------------------

def test_fms_loads_full_fine_tuning_in_fp32_and_computes_in_bf16(project):
    config = json.loads(built_text(project, full(), "fms-hf-tuning", "config.json"))
    assert config["torch_dtype"] == "float32" and config["bf16"] is True and config["fp16"] is False
    config = json.loads(built_text(project, lora(), "fms-hf-tuning", "config.json"))
    assert config["torch_dtype"] == "bfloat16" and config["bf16"] is True


def test_every_target_emits_the_precision(project):
    emitted = {
        "peft": lambda: "\"precision\": 'fp16'" in built_text(project, lora(training="precision = fp16 "), "peft",
                                                              "train.py"),
        "llama-factory": lambda: yaml.safe_load(built_text(project, lora(training="precision = fp16 "),
                                                           "llama-factory", "config.yaml"))["fp16"] is True,
        "axolotl": lambda: yaml.safe_load(built_text(project, lora(training="precision = fp16 "), "axolotl",
                                                     "config.yaml"))["fp16"] is True,
        "torchtune": lambda: yaml.safe_load(built_text(project, lora(training="precision = fp32 "), "torchtune",
                                                       "config.yaml"))["dtype"] == "fp32",
    }
    assert {target: check() for target, check in emitted.items()} == dict.fromkeys(emitted, True)


def test_axolotl_and_torchtune_keep_full_fine_tuning_in_fp32_and_say_so(project):
    config = yaml.safe_load(built_text(project, full(), "axolotl", "config.yaml"))
    assert config["bf16"] is False and config["fp16"] is False
    config = yaml.safe_load(built_text(project, full(), "torchtune", "config.yaml"))
    assert config["dtype"] == "fp32"
    found = codes(project, full("targets = [axolotl, torchtune]"))
    assert [message for code, message in found if code == "TS501" and "`training.precision` = \"bf16\" for full" in message]
    assert not [code for code, message in codes(project, full("targets = [axolotl]", training="precision = fp32 "))
                if code == "TS501"]


def test_a_value_the_backend_rewrites_is_reported(project):
    """Axolotl turns a one-step warmup into two: TS501, from its declaration's `never`."""
    found = codes(project, lora("targets = [axolotl]", training="warmup_steps = 1 "))
    assert [m for code, m in found if code == "TS501" and "warmup_steps" in m]
    assert not [m for code, m in codes(project, lora("targets = [axolotl]", training="warmup_steps = 2 "))
                if code == "TS501" and "warmup_steps" in m]


# --- evaluation: every target given validation data evaluates, at the same cadence -------------------------

@pytest.mark.parametrize("target, file, key", [("peft", "train.py", None), ("fms-hf-tuning", "config.json", "eval_strategy"),
                                               ("llama-factory", "config.yaml", "eval_strategy"),
                                               ("axolotl", "config.yaml", "eval_strategy")])
def test_validation_data_is_evaluated_at_the_configured_cadence(project, target, file, key):
    text = built_text(project, lora(training="eval_strategy = steps  eval_steps = 5 "), target, file)
    if key is None:
        assert "\"eval_strategy\": 'steps'," in text and "\"eval_steps\": 5," in text
    else:
        values = json.loads(text) if file.endswith(".json") else yaml.safe_load(text)
        assert values[key] == "steps" and values["eval_steps"] == 5


def test_kubeflow_evaluates_too(project):
    text = built_text(project, lora('resources { image = "registry/fms:3.2.2"  volume = "tuning" }'), "kubeflow",
                      "pytorchjob.yaml")
    config = json.loads(next(yaml.safe_load_all(text))["data"]["config.json"])
    assert config["eval_strategy"] == "epoch" and config["validation_data_path"] == "/workspace/data/train.jsonl"


# --- kubeflow: data and output on the volume ------------------------------------------------------------------

def test_kubeflow_paths_are_under_the_mount(project):
    source = lora('resources { image = "registry/fms:3.2.2"  volume = "tuning"  mount_path = "/mnt/repo" }')
    config_map, job = yaml.safe_load_all(built_text(project, source, "kubeflow", "pytorchjob.yaml"))
    config = json.loads(config_map["data"]["config.json"])
    assert config["training_data_path"] == "/mnt/repo/data/train.jsonl"
    assert config["output_dir"] == config["save_model_dir"] == "/mnt/repo/runs/e/e/kubeflow"
    assert config["accelerate_launch_args"] == {"config_file": "/etc/config/accelerate.yaml"}
    assert yaml.safe_load(config_map["data"]["accelerate.yaml"])["distributed_type"] == "NO"
    container = job["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]["containers"][0]
    assert {"name": "workspace", "mountPath": "/mnt/repo"} in container["volumeMounts"]


# --- strategy and gradient checkpointing: the launchers' files ---------------------------------------------------

@pytest.mark.parametrize("strategy, kind", [("ddp", "MULTI_GPU"), ("fsdp", "FSDP"), ("deepspeed_zero3", "DEEPSPEED")])
def test_accelerate_config_spreads_the_model_as_the_strategy_says(project, strategy, kind):
    source = lora(f"resources {{ gpus_per_node = 4  strategy = {strategy} }}")
    config = yaml.safe_load(files(project, source, "peft")["accelerate.yaml"])
    assert config["distributed_type"] == kind and config["num_processes"] == 4 and config["mixed_precision"] == "bf16"
    assert ("fsdp_config" in config) == (strategy == "fsdp")
    assert config.get("deepspeed_config", {}).get("zero_stage") == (3 if strategy == "deepspeed_zero3" else None)


@pytest.mark.parametrize("target", ["llama-factory", "axolotl"])
def test_deepspeed_config_is_written_only_for_deepspeed(project, target):
    written = files(project, lora("resources { strategy = deepspeed_zero2 }"), target)
    assert json.loads(written["deepspeed.json"])["zero_optimization"]["stage"] == 2
    assert yaml.safe_load(written["config.yaml"])["deepspeed"].endswith(f"out/e/{target}/deepspeed.json")
    assert "deepspeed.json" not in files(project, lora("resources { strategy = ddp }"), target)


def test_llama_factory_shards_with_fsdp(project):
    config = yaml.safe_load(built_text(project, lora("resources { gpus_per_node = 2  strategy = fsdp }"),
                                       "llama-factory", "config.yaml"))
    assert config["fsdp"] == "full_shard auto_wrap" and config["fsdp_config"]["use_orig_params"] is True


def test_gradient_checkpointing_is_emitted_everywhere(project):
    off = lora(training="gradient_checkpointing = false ")
    assert "\"gradient_checkpointing\": False," in built_text(project, off, "peft", "train.py")
    assert json.loads(built_text(project, off, "fms-hf-tuning", "config.json"))["gradient_checkpointing"] is False
    assert yaml.safe_load(built_text(project, off, "llama-factory", "config.yaml"))["disable_gradient_checkpointing"]
    assert yaml.safe_load(built_text(project, off, "axolotl", "config.yaml"))["gradient_checkpointing"] is False
    assert yaml.safe_load(built_text(project, off, "torchtune", "config.yaml"))["enable_activation_checkpointing"] is False


# --- data formats: EOS after every response, chat data with its template -------------------------------------------

def test_llama_factory_formats_input_output_records_with_fewshot(project):
    config = yaml.safe_load(built_text(project, lora(), "llama-factory", "config.yaml"))
    assert config["template"] == "fewshot"  # the input and output as written, then EOS (after a blank line)


def test_llama_factory_formats_chat_with_the_tokenizer_or_a_named_template(project):
    chat = 'data { train = "data/train.jsonl"  format = messages  messages_field = "conversation" }'
    source = experiment(LLAMA, "lora", chat, TRAINING % "", LORA)
    written = files(project, source, "llama-factory")
    assert "template" not in yaml.safe_load(written["config.yaml"])  # the tokenizer's own chat template
    entry = json.loads(written["dataset_info.json"])["train"]
    assert entry["formatting"] == "sharegpt" and entry["columns"] == {"messages": "conversation"}
    assert entry["tags"]["role_tag"] == "role" and entry["tags"]["assistant_tag"] == "assistant"
    named = experiment(LLAMA, "lora", chat.replace("}", ' chat_template = "qwen2" }'), TRAINING % "", LORA)
    assert yaml.safe_load(built_text(project, named, "llama-factory", "config.yaml"))["template"] == "qwen"


def test_axolotl_joins_input_and_output_as_written(project):
    config = yaml.safe_load(built_text(project, lora(), "axolotl", "config.yaml"))
    assert config["datasets"][0]["type"]["format"] == "{instruction}"


def test_chat_data_is_refused_where_a_backend_cannot_format_it(project):
    chat = 'data { train = "data/train.jsonl"  format = messages }'
    found = codes(project, experiment(LLAMA, "lora", chat, TRAINING % "", LORA, "targets = [fms-hf-tuning]"))
    assert [m for code, m in found if code == "TS501" and "data.format" in m]
