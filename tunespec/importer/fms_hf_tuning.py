"""fms-hf-tuning configs (the JSON `sft_trainer` reads from SFT_TRAINER_CONFIG_JSON_PATH): the arguments of
tuning/config/configs.py, peft_config.py and acceleration_configs/, and Hugging Face's `TrainingArguments`.

fms-hf-tuning's defaults that differ from tunespec's are written into the experiment (it saves every epoch,
loads the model in bfloat16, and tunes with its own LoRA and prompt-tuning defaults).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tunespec.importer import common
from tunespec.importer.draft import Draft, Unexpressible, put, put_or_default
from tunespec.importer.models import set_model
from tunespec.importer.reader import HOUSEKEEPING, Reader

NAME = "fms-hf-tuning"
TITLE = "fms-hf-tuning"
SIGNATURE = ("training_data_path", "peft_method", "data_config_path", "response_template", "dataset_text_field",
             "validation_data_path", "use_flash_attn", "tokenizer_name_or_path", "torch_dtype", "bnb_qlora",
             "auto_gptq", "accelerate_launch_args", "data_formatter_template", "dataset_conversation_field")
HF_DEFAULTS = (
    ("per_device_train_batch_size", "training.batch_size", 8),
    ("gradient_accumulation_steps", "training.accumulate_steps", 1),
    ("learning_rate", "training.learning_rate", 5e-5),
    ("num_train_epochs", "training.epochs", 3),
)
# tuning/config/configs.py: saves and logs every epoch, evaluates never.
RUN_DEFAULTS = {"logging_steps": None, "eval_strategy": "no", "save_strategy": "epoch"}
# peft_config.py: LoraConfig and PromptTuningConfig defaults.
LORA_DEFAULTS = (("r", "lora.rank", 8), ("lora_alpha", "lora.alpha", 32), ("lora_dropout", "lora.dropout", 0.05))
PROMPT_TEXT = "Classify if the tweet is a complaint or not:"
DTYPES = {"bfloat16": "bf16", "float16": "fp16", "float32": "fp32"}

DEFAULTS = {
    "use_flash_attn": True, "packing": False, "do_dataprocessing_only": False, "embedding_size_multiple_of": 1,
    "num_train_dataset_shards": 1, "num_eval_dataset_shards": 1, "enable_reduce_loss_sum": False,
    "use_rslora": False, "use_dora": False, "max_grad_norm": 1.0, "logging_strategy": "epoch",
    "flash_attn_implementation": "flash_attention_2", "include_tokens_per_second": False,
}
PERFORMANCE_KEYS = {"use_flash_attn", "flash_attn_implementation", "accelerate_launch_args", "padding_free",
                    "gradient_checkpointing_kwargs", "fast_moe", "fused_lora", "fast_kernels"}
HOUSEKEEPING_KEYS = {
    "include_tokens_per_second", "log_level", "save_model_dir", "trackers", "aim_experiment", "aim_repo",
    "logging_strategy", "save_total_limit", "cache_dir", "tokenizer_name_or_path", "per_device_eval_batch_size",
    "trainer_controller_config_file", "file_logger_config", "run_name", "logging_dir", "exp_metadata",
}
REASONS = {
    "use_flash_attn": "tunespec has no field for the attention implementation",
    "response_template": "a text-field dataset with a response template: tunespec's data formats are input_output "
                         "and messages",
    "dataset_text_field": "a text-field dataset: tunespec's data formats are input_output and messages",
    "data_formatter_template": "a prompt template: tunespec's input_output data is used as it is",
    "data_config_path": "fms-hf-tuning's data config (datasets, handlers) has no tunespec field",
    "chat_template": "a Jinja chat template: tunespec names its templates (data.chat_template)",
    "max_grad_norm": "tunespec has no field for gradient clipping",
    "lr_scheduler_kwargs": "tunespec's schedulers take no arguments",
    "accelerate_launch_args": "tunespec's strategy and GPU count say how the run is spread; the rest is the target's",
    "max_steps": "tunespec trains whole epochs; it has no step limit",
    "instruction_template": "tunespec's data formats are input_output and messages",
}


def read(reader: Reader, draft: Draft) -> None:
    _model(reader, draft)
    _method(reader, draft)
    _data(reader, draft)
    common.hf_training(reader, draft, "fms-hf-tuning", RUN_DEFAULTS)
    for key, field, default in HF_DEFAULTS:
        if not reader.has(key):
            draft.default(field, default, key, "Hugging Face")
    _logging(reader, draft)
    put(reader, draft, "max_seq_length", "training.max_seq_length")
    put(reader, draft, "packing", "training.packing")
    _precision(reader, draft)
    put_or_default(reader, draft, "gradient_checkpointing", "training.gradient_checkpointing", False, "Hugging Face")
    _launch(reader, draft, reader.source.path)
    common.output(reader, draft)


def _model(reader: Reader, draft: Draft) -> None:
    name = reader.value("model_name_or_path")
    if not isinstance(name, str) or not name:
        return
    facts = {"quantized": (True, "auto_gptq: a GPTQ checkpoint")} if reader.has("auto_gptq") else {}
    set_model(draft, reader.take("model_name_or_path"), "model_name_or_path", facts)
    if reader.value("tokenizer_name_or_path") == name:
        reader.take("tokenizer_name_or_path")


def _method(reader: Reader, draft: Draft) -> None:
    """`peft_method` lora or pt (compared exactly, as sft_trainer does); anything else is a full fine-tune.
    LoRA becomes QLoRA with fms-acceleration's `bnb_qlora` (4-bit NF4) or `auto_gptq` (a GPTQ checkpoint)."""
    method = reader.value("peft_method")
    if method == "lora":
        quantization = [key for key in ("bnb_qlora", "auto_gptq") if reader.has(key)]
        if quantization == ["bnb_qlora"] and reader.value("bnb_qlora") not in (["nf4"], "nf4"):
            reader.lose(("bnb_qlora",), "tunespec's qlora quantizes to 4-bit NF4")
            quantization = []
        name = "qlora" if quantization else "lora"
        draft.set("method", name, "peft_method: lora" + "".join(f", {key}" for key in quantization))
        for key in ("peft_method", *quantization):
            reader.take(key)
        _lora(reader, draft)
    elif method == "pt":
        put(reader, draft, "peft_method", "method", lambda _: "prompt_tuning")
        _prompt(reader, draft)
    elif method in (None, "", "None", "none"):
        draft.set("method", "full", "peft_method unset: full fine-tuning")
        reader.take("peft_method")
    else:
        reader.lose(("peft_method",), "tunespec's methods are lora, qlora, prompt_tuning and full")


def _lora(reader: Reader, draft: Draft) -> None:
    for key, field, default in LORA_DEFAULTS:
        put_or_default(reader, draft, key, field, default, TITLE)
    if not put(reader, draft, "target_modules", "lora.target_modules", _targets):
        if not reader.has("target_modules"):
            draft.set("lora.target_modules", [], "target_modules unset: the architecture's default layers (PEFT)")
    put(reader, draft, "use_rslora", "lora.use_rslora")
    put(reader, draft, "use_dora", "lora.use_dora")


def _targets(value: Any) -> list[str]:
    if value in ("all-linear", ["all-linear"]):
        return ["all-linear"]
    if isinstance(value, list):
        return value
    raise Unexpressible("a pattern: tunespec names the layers, or all-linear")


def _prompt(reader: Reader, draft: Draft) -> None:
    init = reader.value("prompt_tuning_init", default="TEXT")
    put_or_default(reader, draft, "prompt_tuning_init", "prompt.init_method", "text", TITLE, _init)
    if str(init).upper() == "TEXT":
        put_or_default(reader, draft, "prompt_tuning_init_text", "prompt.init_text", PROMPT_TEXT, TITLE)
    put_or_default(reader, draft, "num_virtual_tokens", "prompt.num_virtual_tokens", 8, TITLE)


def _init(value: Any) -> str:
    if str(value).upper() in ("TEXT", "RANDOM"):
        return str(value).lower()
    raise Unexpressible("tunespec's init_method is random or text")


def _data(reader: Reader, draft: Draft) -> None:
    put(reader, draft, "training_data_path", "data.train", lambda path: common.data_location(draft, path, True))
    put(reader, draft, "validation_data_path", "data.validation", lambda path: common.data_location(draft, path, True))
    if put(reader, draft, "dataset_conversation_field", "data.messages_field"):
        draft.set("data.format", "messages", "dataset_conversation_field")


def _precision(reader: Reader, draft: Draft) -> None:
    """Mixed precision when `bf16` / `fp16` say; else the dtype the model is loaded in (`torch_dtype`,
    bfloat16 by default)."""
    for key in ("fp16", "bf16"):
        if reader.value(key) is True:
            put(reader, draft, key, "training.precision", lambda _, key=key: key)
            if reader.value("torch_dtype") in (None, {"fp16": "float16", "bf16": "bfloat16"}[key]):
                reader.take("torch_dtype")
            return
    dtype = str(reader.value("torch_dtype", default="bfloat16")).replace("torch.", "")
    if dtype in DTYPES:
        origin = f"torch_dtype: {dtype}" if reader.has("torch_dtype") else "torch_dtype unset: bfloat16"
        draft.set("training.precision", DTYPES[dtype], origin)
        reader.take("torch_dtype"), reader.take("bf16"), reader.take("fp16")


ACCELERATE = "accelerate.yaml"
DISTRIBUTED = {"FSDP": "fsdp", "MULTI_GPU": "ddp", "NO": "ddp"}
ZERO = {2: "deepspeed_zero2", 3: "deepspeed_zero3"}


def _accelerate_config(draft: Draft, config: Path) -> None:
    """The strategy and GPU count of the accelerate config beside `config` (it is not the file imported, so
    its other keys are not reported)."""
    import yaml

    path = config.parent / ACCELERATE
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else None
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        data = None
    if not isinstance(data, dict):
        return
    origin = f"{ACCELERATE} beside the config"
    kind, deepspeed = data.get("distributed_type"), data.get("deepspeed_config")
    stage = deepspeed.get("zero_stage") if isinstance(deepspeed, dict) else None
    strategy = ZERO.get(stage) if kind == "DEEPSPEED" else DISTRIBUTED.get(kind)
    if strategy is not None:
        draft.set("resources.strategy", strategy, f"{origin}: distributed_type {kind}")
    processes, machines = data.get("num_processes"), data.get("num_machines", 1)
    if isinstance(processes, int) and isinstance(machines, int) and machines > 0 and processes % machines == 0:
        draft.set("resources.gpus_per_node", processes // machines, f"{origin}: num_processes")
        if machines != 1:
            draft.set("resources.nodes", machines, f"{origin}: num_machines")


def _logging(reader: Reader, draft: Draft) -> None:
    """fms-hf-tuning logs every epoch unless `logging_strategy` is `steps`; tunespec logs every
    `logging_steps` steps, so a log per epoch cannot be said."""
    strategy = reader.value("logging_strategy", default="epoch")
    if strategy == "steps":
        reader.take("logging_strategy")
        draft.default("training.logging_steps", 500, "logging_steps", "Hugging Face")
        return
    if "training.logging_steps" in draft.fields:
        del draft.fields["training.logging_steps"]
        reader.lose(("logging_steps",), "fms-hf-tuning reads it only with logging_strategy steps", kind=HOUSEKEEPING)
    if reader.has("logging_strategy"):
        reader.lose(("logging_strategy",), "tunespec logs every logging_steps steps, not every epoch",
                    kind=HOUSEKEEPING)
    else:
        draft.notes.append("fms-hf-tuning logs every epoch when logging_strategy is unset; tunespec logs every "
                           "logging_steps steps (10 unless set).")


def _launch(reader: Reader, draft: Draft, config: Path) -> None:
    """How the run is spread over GPUs: `accelerate_launch_args`, which fms-hf-tuning's launcher
    (build/accelerate_launch.py) reads from the same file, else the accelerate config beside the file, as
    tunespec's fms-hf-tuning target writes it."""
    key = ("accelerate_launch_args",)
    if not reader.has(*key):
        _accelerate_config(draft, config)
        return
    processes, machines = reader.value(*key, "num_processes"), reader.value(*key, "num_machines", default=1)
    if isinstance(processes, int) and isinstance(machines, int) and machines > 0 and processes % machines == 0:
        draft.set("resources.gpus_per_node", processes // machines, "accelerate_launch_args.num_processes")
        reader.take(*key, "num_processes")
    if machines == 1 or (isinstance(machines, int) and put(reader, draft, key + ("num_machines",), "resources.nodes")):
        reader.take(*key, "num_machines")
    if reader.value(*key, "use_fsdp") is True:
        draft.set("resources.strategy", "fsdp", "accelerate_launch_args.use_fsdp")
        reader.take(*key, "use_fsdp")

