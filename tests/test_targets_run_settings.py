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


# --- what the import round trip (tests/test_import_roundtrip.py) found ---------------------------------------------

TRAINERS = {"peft": ("train.py", None), "fms-hf-tuning": ("config.json", "output_dir"),
            "llama-factory": ("config.yaml", "output_dir"), "axolotl": ("config.yaml", "output_dir"),
            "torchtune": ("config.yaml", "output_dir")}


@pytest.mark.parametrize("target", sorted(TRAINERS))
def test_a_uri_output_folder_keeps_its_scheme(project, target):
    """`s3://bucket/runs` is not a path to normalise (`s3:/bucket/...`): each trainer writes under the URI."""
    file, key = TRAINERS[target]
    text = built_text(project, lora('output_dir = "s3://bucket/runs/"'), target, file)
    if key is None:
        assert "\"output_dir\": 's3://bucket/runs/e/peft'," in text
    else:
        values = json.loads(text) if file.endswith(".json") else yaml.safe_load(text)
        assert values[key] == "s3://bucket/runs/e/" + target


def test_axolotl_saves_a_named_chat_template_with_input_output_data(project):
    """Axolotl sets the tokenizer's chat template from `chat_template` whatever the data (loaders/tokenizer.py):
    on input/output records, which are joined as written, it is the template the model is saved with."""
    data = 'data { train = "data/train.jsonl"  chat_template = "chatml" }'
    config = yaml.safe_load(built_text(project, experiment(LLAMA, "lora", data, TRAINING % "", LORA), "axolotl",
                                       "config.yaml"))
    assert config["chat_template"] == "chatml" and config["datasets"][0]["type"]["format"] == "{instruction}"
    assert "chat_template" not in yaml.safe_load(built_text(project, lora(), "axolotl", "config.yaml"))


def test_llama_factory_refuses_a_named_chat_template_on_input_output_data(project):
    """Input/output records need `fewshot` (joined as written, then EOS): a named chat template is TS501, and
    the config keeps `fewshot`; on chat records the template is LLaMA-Factory's of that name."""
    data = 'data { train = "data/train.jsonl"  chat_template = "chatml" }'
    source = experiment(LLAMA, "lora", data, TRAINING % "", LORA, "targets = [llama-factory]")
    found = [m for code, m in codes(project, source) if code == "TS501" and "data.chat_template" in m]
    assert found and 'with `data.format` = "input_output"' in found[0]
    assert yaml.safe_load(built_text(project, source, "llama-factory", "config.yaml"))["template"] == "fewshot"
    chat = source.replace('chat_template = "chatml"', 'chat_template = "chatml"  format = messages')
    assert not [m for code, m in codes(project, chat) if code == "TS501"]
    assert yaml.safe_load(built_text(project, chat, "llama-factory", "config.yaml"))["template"] == "chatml"


def test_no_trackers_is_none_for_the_hugging_face_trainers(project):
    """`report_to = []` is transformers' "none" (the trainers' own spelling), and no tracker elsewhere."""
    source = lora(training="report_to = [] ")
    assert "\"report_to\": 'none'," in built_text(project, source, "peft", "train.py")
    assert json.loads(built_text(project, source, "fms-hf-tuning", "config.json"))["report_to"] == "none"
    assert yaml.safe_load(built_text(project, source, "llama-factory", "config.yaml"))["report_to"] == "none"
    axolotl = yaml.safe_load(built_text(project, source, "axolotl", "config.yaml"))
    assert not (axolotl["use_tensorboard"] or axolotl["use_wandb"] or axolotl["use_mlflow"])
    torchtune = yaml.safe_load(built_text(project, source, "torchtune", "config.yaml"))
    assert torchtune["metric_logger"]["_component_"] == "torchtune.training.metric_logging.DiskLogger"
    tracked = lora(training="report_to = [tensorboard] ")
    assert yaml.safe_load(built_text(project, tracked, "llama-factory", "config.yaml"))["report_to"] == ["tensorboard"]


def test_torchtune_reads_chat_records_from_their_field(project):
    data = 'data { train = "data/train.jsonl"  format = messages  messages_field = "conversation" }'
    dataset = yaml.safe_load(built_text(project, experiment(LLAMA, "lora", data, TRAINING % "", LORA), "torchtune",
                                        "config.yaml"))["dataset"]
    assert dataset["_component_"] == "torchtune.datasets.chat_dataset" and "column_map" not in dataset
    assert dataset["conversation_column"] == "conversation" and dataset["conversation_style"] == "openai"


@pytest.mark.parametrize("target", ["axolotl", "llama-factory", "torchtune", "peft"])
def test_a_messages_field_on_input_output_data_builds(project, target):
    """A field of the chat format on input/output records changes nothing the target writes."""
    data = 'data { train = "data/train.jsonl"  messages_field = "conversation" }'
    project.write("main.tune", experiment(LLAMA, "lora", data, TRAINING % "", LORA))
    assert build(["main.tune"], out="out", targets=[target], config=Config()).written


def test_torchtune_full_fine_tuning_warms_up_and_schedules(project):
    """The 0.6.1 full fine-tuning recipes take an `lr_scheduler` as the LoRA ones do (`_setup_lr_scheduler`)."""
    source = full(training="warmup_steps = 3  scheduler = cosine  precision = fp32 ")
    config = yaml.safe_load(built_text(project, source, "torchtune", "config.yaml"))
    assert config["lr_scheduler"] == {"_component_": "torchtune.training.lr_schedulers.get_cosine_schedule_with_warmup",
                                      "num_warmup_steps": 3}
    source = full("targets = [torchtune]", training="warmup_steps = 3  scheduler = cosine  precision = fp32 ")
    assert not [m for code, m in codes(project, source) if code == "TS501" and "`training." in m]


def test_torchtune_constant_ignores_warmup_as_transformers_does(project):
    """transformers' `constant` ignores warmup (get_constant_schedule), `constant_with_warmup` warms up: the two
    build different configs, and warmup given to `constant` is TS501 on torchtune (its config says 0)."""
    schedules = {}
    for scheduler in ("constant", "constant_with_warmup"):
        source = lora(training=f"warmup_steps = 3  scheduler = {scheduler} ")
        schedules[scheduler] = yaml.safe_load(built_text(project, source, "torchtune", "config.yaml"))["lr_scheduler"]
    assert schedules["constant"]["num_warmup_steps"] == 0 and schedules["constant_with_warmup"]["num_warmup_steps"] == 3
    assert schedules["constant"]["power"] == schedules["constant_with_warmup"]["power"] == 0.0
    found = codes(project, lora("targets = [torchtune]", training="warmup_steps = 3  scheduler = constant "))
    assert [m for code, m in found if code == "TS501" and "warmup_steps" in m and "constant" in m]
    found = codes(project, lora("targets = [torchtune]", training="warmup_steps = 3  scheduler = constant_with_warmup "))
    assert not [m for code, m in found if code == "TS501" and "`training." in m]


def test_llama_factory_reads_hf_data_from_the_hub_and_refuses_other_uris(project):
    data = 'data { train = "hf://acme/tickets"  validation = "data/validation.jsonl" }'
    info = json.loads(files(project, experiment(LLAMA, "lora", data, TRAINING % "", LORA), "llama-factory")
                      ["dataset_info.json"])
    assert info["train"]["hf_hub_url"] == "acme/tickets" and "file_name" not in info["train"]
    assert info["validation"]["file_name"] == "../../../data/validation.jsonl"
    for uri in ("s3://bucket/train.jsonl", "https://example.com/train.jsonl"):
        source = experiment(LLAMA, "lora", f'data {{ train = "{uri}" }}', TRAINING % "", LORA)
        project.write("main.tune", source)
        result = build(["main.tune"], out="out", targets=["llama-factory"], config=Config())
        found = [d for d in result.lint.diagnostics if d.code == "TS504"]
        assert result.refused and found and found[0].line == 4 and "hf://" in found[0].message
        assert not [d for d in build(["main.tune"], out="out", targets=["peft"], config=Config()).lint.diagnostics
                    if d.code == "TS504"]
