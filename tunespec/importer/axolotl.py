"""Axolotl configs (`axolotl train config.yml`): the keys of axolotl/utils/schemas/*.py.

Axolotl's defaults that differ from tunespec's are written into the experiment (cosine schedule, no
gradient checkpointing, no evaluation unless asked), so that it trains as the config does.
"""

from __future__ import annotations

from tunespec.importer import common
from tunespec.importer.draft import Draft, choose, put, put_or_default
from tunespec.importer.models import family_of_architecture, set_model
from tunespec.importer.reader import Reader, key_name

NAME = "axolotl"
TITLE = "Axolotl"
SIGNATURE = ("base_model", "micro_batch_size", "sequence_len", "num_epochs", "adapter", "lora_r",
             "sample_packing", "load_in_4bit")
# Axolotl's chat templates (ChatTemplate in schemas/enums.py) that tunespec names.
CHAT_TEMPLATES = {"tokenizer_default": "model", "chatml": "chatml", "llama3": "llama3", "mistral_v1": "mistral",
                  "qwen_25": "qwen2"}
OPTIMIZERS = {**common.OPTIMIZERS}

# Keys set to Axolotl's own default (schemas/config.py, model.py, peft.py, training.py): they say nothing,
# and tunespec's Axolotl config leaves them to that default too.
DEFAULTS = {
    "load_in_8bit": False, "load_in_4bit": False, "gptq": False, "strict": False, "tf32": "auto",
    "val_set_size": 0, "train_on_inputs": False, "model_type": "AutoModelForCausalLM",
    "tokenizer_type": "AutoTokenizer", "lora_fan_in_fan_out": False, "trust_remote_code": False,
    "peft_use_rslora": False, "peft_use_dora": False, "sample_packing": False, "group_by_length": False,
    "save_safetensors": True, "pad_to_sequence_len": False, "eval_sample_packing": None,
}
# Keys about where logs, caches and checkpoints go, and how the run is watched: not what is trained.
HOUSEKEEPING_PREFIXES = ("wandb_", "mlflow_", "trackio_", "comet_", "hub_", "swanlab_", "dataloader_", "loss_watchdog_")
HOUSEKEEPING_KEYS = {
    "dataset_prepared_path", "resume_from_checkpoint", "push_dataset_to_hub", "save_total_limit",
    "dataset_processes", "save_first_step", "debug", "strict", "logging_dir", "include_tokens_per_second",
    "save_only_model", "eval_table_size", "eval_max_new_tokens", "profiler_steps", "use_wandb", "gc_steps",
    "dataset_num_proc", "skip_prepare_dataset", "shuffle_merged_datasets", "auto_resume_from_checkpoints",
    "save_safetensors", "trust_remote_code", "remove_unused_columns",
}
# Keys that change how fast or in how much memory the same training runs (kernels, attention implementations,
# sharding details), not what is learned.
PERFORMANCE_PREFIXES = ("liger_", "torch_compile", "flash_attn_")
PERFORMANCE_KEYS = {
    "attn_implementation", "flash_attention", "sdp_attention", "xformers_attention", "tf32", "activation_offloading",
    "gradient_checkpointing_kwargs", "lora_mlp_kernel", "lora_qkv_kernel", "lora_o_kernel", "use_kernels",
    "cut_cross_entropy", "pad_to_sequence_len", "ddp_find_unused_parameters", "fsdp_config", "dp_shard_size",
    "context_parallel_size", "tensor_parallel_size", "experimental_skip_move_to_device", "eval_sample_packing",
    "deepspeed", "fsdp_version", "fused_attn_kernel", "use_scattermoe", "use_sonicmoe", "experts_implementation",
}
REASONS = {
    "tf32": "tunespec has no field for TF32 matrix multiplication",
    "attn_implementation": "tunespec has no field for the attention implementation",
    "flash_attention": "tunespec has no field for the attention implementation",
    "val_set_size": "tunespec validates on a file (data.validation), not on a split of the training data",
    "special_tokens": "tunespec has no field for added or replaced special tokens",
    "lora_model_dir": "tunespec has no field for an adapter to start from",
    "plugins": "Axolotl plugins have no tunespec field",
    "max_steps": "tunespec trains whole epochs; it has no step limit",
    "fsdp_config": "tunespec's `strategy = fsdp` leaves FSDP's settings to the target",
    "eval_sample_packing": "tunespec's `packing` is one setting for training and evaluation",
    "max_grad_norm": "tunespec has no field for gradient clipping",
    "lr_scheduler_kwargs": "tunespec's schedulers take no arguments",
    "cosine_min_lr_ratio": "tunespec's cosine schedule decays to zero",
    "rl": "tunespec trains supervised fine-tuning only (no preference or RL training)",
    "lora_modules_to_save": "tunespec has no field for fully trained modules beside the adapters",
    "liger_rms_norm": "tunespec has no field for kernel replacements",
    "tokenizer_type": "tunespec loads the model's own tokenizer (AutoTokenizer)",
    "datasets[].split": "a slice of the dataset: tunespec trains on the whole file",
    "test_datasets[].split": "a slice of the dataset: tunespec validates on the whole file",
    "datasets[].name": "a configuration of a Hub dataset: tunespec reads a dataset's default one",
    # (a prompt template that tunespec's own Axolotl config writes is recognised as such, see rebuild.py)
    "datasets[].type.format": "a prompt template: tunespec's input_output data is used as it is",
    "datasets[].type.no_input_format": "a prompt template: tunespec's input_output data is used as it is",
    "datasets[].message_property_mappings": "records with other keys than role and content: tunespec's messages "
                                            "are {role, content}",
    "datasets[].roles_to_train": "tunespec has no field for whose turns are trained on",
    "gradient_checkpointing_kwargs": "tunespec's gradient checkpointing takes no settings",
    "wandb_project": "tunespec's report_to names the tracker; projects and run names are the tracker's settings",
}


def read(reader: Reader, draft: Draft) -> None:
    _model(reader, draft)
    _method(reader, draft)
    _datasets(reader, draft)
    _training(reader, draft)
    _lora(reader, draft)
    _run(reader, draft)


def _model(reader: Reader, draft: Draft) -> None:
    name = reader.value("base_model")
    if not isinstance(name, str) or not name:
        return
    facts = {}
    family = family_of_architecture(reader.value("model_type"))
    if family is not None:
        facts["family"] = (family, f"model_type: {reader.take('model_type')}")
    if reader.value("gptq") is True:
        facts["quantized"] = (True, "gptq: true")
    set_model(draft, reader.take("base_model"), "base_model", facts)


def _method(reader: Reader, draft: Draft) -> None:
    adapter = reader.value("adapter")
    four, gptq = reader.value("load_in_4bit") is True, reader.value("gptq") is True
    if adapter in (None, ""):
        draft.set("method", "full", "adapter unset: full fine-tuning")
        for key in _quantized_loading(reader):
            reader.lose((key,), "Axolotl refuses quantized loading without an adapter")
    elif adapter == "qlora" and four:
        draft.set("method", "qlora", "adapter: qlora, load_in_4bit: true")
        reader.take("adapter"), reader.take("load_in_4bit")
    elif adapter == "lora" and gptq:
        draft.set("method", "qlora", "adapter: lora, gptq: true (LoRA on a GPTQ checkpoint)")
        reader.take("adapter"), reader.take("gptq")
    elif adapter == "lora":
        draft.set("method", "lora", "adapter: lora")
        reader.take("adapter")
        for key in _quantized_loading(reader):
            reader.lose((key,), "tunespec's lora trains on 16-bit weights; quantized LoRA is qlora (4-bit NF4)")
    else:
        reader.lose(("adapter",), "tunespec's methods are lora, qlora (4-bit), full and prompt_tuning")


def _quantized_loading(reader: Reader) -> list[str]:
    return [key for key in ("load_in_4bit", "load_in_8bit") if reader.value(key) is True]


# --- data ------------------------------------------------------------------------------------------------

def _datasets(reader: Reader, draft: Draft) -> None:
    train = reader.value("datasets")
    if isinstance(train, list) and train:
        _dataset(reader, draft, ("datasets", 0), "data.train")
        for index in range(1, len(train)):
            reader.lose(("datasets", index), "tunespec trains on one dataset (data.train)")
    elif train is not None:
        reader.lose(("datasets",), "a list of datasets was expected")
    test = reader.value("test_datasets")
    if isinstance(test, list) and test:
        _dataset(reader, draft, ("test_datasets", 0), "data.validation")
        for index in range(1, len(test)):
            reader.lose(("test_datasets", index), "tunespec validates on one dataset (data.validation)")


def _dataset(reader: Reader, draft: Draft, key: tuple, field: str) -> None:
    entry = reader.value(*key)
    if not isinstance(entry, dict):
        reader.lose(key, "a dataset was expected to be a mapping with a `path`")
        return
    ds_type = entry.get("ds_type")
    if ds_type not in (None, "json"):
        reader.lose(key + ("ds_type",), "tunespec's data files are JSON lines")
    local = True if ds_type == "json" else None
    if put(reader, draft, key + ("path",), field, lambda path: common.data_location(draft, path, local)) and local:
        reader.take(*key, "ds_type")
    if entry.get("split") == "train":
        reader.take(*key, "split")
    if field == "data.train":
        _columns(reader, draft, key)
    elif reader.value(*key, "type") == reader.value("datasets", 0, "type"):
        reader.take(*key, "type")
    elif reader.has(*key, "type"):
        reader.lose(key + ("type",), "tunespec reads the validation data with the training data's fields")


def _columns(reader: Reader, draft: Draft, key: tuple) -> None:
    kind = reader.value(*key, "type")
    if isinstance(kind, dict):
        _input_output(reader, draft, key + ("type",))
    elif kind in ("chat_template", "chat_template.default"):
        _messages(reader, draft, key)
    elif kind is not None:
        reader.lose(key + ("type",), "a prompt format of Axolotl's own: tunespec's data formats are input_output "
                                     "(a prompt field and a response field, as they are) and messages")


def _input_output(reader: Reader, draft: Draft, key: tuple) -> None:
    """A custom format (`type: {field_instruction: ..., field_output: ...}`), with Axolotl's defaults."""
    draft.set("data.format", "input_output", f"{key_name(key)}: a custom format")
    for column, field, default in (("field_instruction", "data.input_field", "instruction"),
                                   ("field_output", "data.output_field", "output")):
        put_or_default(reader, draft, key + (column,), field, default, TITLE)


def _messages(reader: Reader, draft: Draft, key: tuple) -> None:
    put(reader, draft, key + ("type",), "data.format", lambda _: "messages")
    put(reader, draft, key + ("field_messages",), "data.messages_field")
    put(reader, draft, key + ("chat_template",), "data.chat_template", choose(CHAT_TEMPLATES, "chat_template"))
    mappings = reader.value(*key, "message_property_mappings")
    if mappings == {"role": "role", "content": "content"}:
        reader.take(*key, "message_property_mappings")


# --- training ----------------------------------------------------------------------------------------------

def _training(reader: Reader, draft: Draft) -> None:
    for key, field, default in (("micro_batch_size", "training.batch_size", 1),
                                ("gradient_accumulation_steps", "training.accumulate_steps", 1),
                                ("num_epochs", "training.epochs", 1)):
        put_or_default(reader, draft, key, field, default, TITLE)
    put(reader, draft, "learning_rate", "training.learning_rate")
    put(reader, draft, "sequence_len", "training.max_seq_length")
    put_or_default(reader, draft, "lr_scheduler", "training.scheduler", "cosine", TITLE,
                   choose(common.SCHEDULERS, "scheduler"))
    common.warmup(reader, draft, "warmup_steps", "warmup_ratio", TITLE)
    put(reader, draft, "weight_decay", "training.weight_decay")
    put(reader, draft, "optimizer", "training.optimizer", choose(OPTIMIZERS, "optimizer"))
    put(reader, draft, "sample_packing", "training.packing")
    _evaluation(reader, draft)
    _saving(reader, draft)
    put(reader, draft, "logging_steps", "training.logging_steps")
    _precision(reader, draft)
    put_or_default(reader, draft, "gradient_checkpointing", "training.gradient_checkpointing", False, TITLE)


def _evaluation(reader: Reader, draft: Draft) -> None:
    """Axolotl evaluates by `eval_steps`, else `evals_per_epoch`, else `eval_strategy`, else never."""
    if _every("eval", reader, draft):
        return
    put(reader, draft, "eval_strategy", "training.eval_strategy", choose(common.CADENCES, "eval_strategy"))
    if "data.validation" in draft.fields:
        draft.default("training.eval_strategy", "no", "eval_strategy", TITLE)


def _saving(reader: Reader, draft: Draft) -> None:
    """Axolotl saves by `save_steps`, else `saves_per_epoch`, else `save_strategy`, else every epoch."""
    if not _every("save", reader, draft):
        put(reader, draft, "save_strategy", "training.save_strategy", choose(common.CADENCES, "save_strategy"))


def _every(kind: str, reader: Reader, draft: Draft) -> bool:
    """`<kind>_steps` (a whole number of steps) or `<kind>s_per_epoch: 1` as tunespec's cadence."""
    steps, per_epoch = reader.value(f"{kind}_steps"), reader.value(f"{kind}s_per_epoch")
    strategy = f"training.{kind}_strategy"
    if steps is not None:
        if isinstance(steps, float) and steps < 1:
            reader.lose((f"{kind}_steps",), "a fraction of the run: tunespec counts steps, or every epoch")
            return True
        if put(reader, draft, f"{kind}_steps", f"training.{kind}_steps"):
            draft.set(strategy, "steps", f"{kind}_steps")
            _drop_strategy(reader, kind, "steps")
        return True
    if per_epoch is not None:
        if per_epoch == 1:
            reader.take(f"{kind}s_per_epoch")
            draft.set(strategy, "epoch", f"{kind}s_per_epoch: 1")
            _drop_strategy(reader, kind, "epoch")
        else:
            reader.lose((f"{kind}s_per_epoch",), f"tunespec's {kind}_strategy is every epoch or every N steps")
        return True
    return False


def _drop_strategy(reader: Reader, kind: str, agreed: str) -> None:
    if reader.value(f"{kind}_strategy") in (agreed, None):
        reader.take(f"{kind}_strategy")


def _precision(reader: Reader, draft: Draft) -> None:
    """fp16 when asked; bf16 when `bf16` is true or `auto` (Axolotl's default: bf16 where the GPU has it);
    else fp32."""
    fp16, bf16 = reader.value("fp16"), reader.value("bf16", default="auto")
    if fp16 is True:
        draft.set("training.precision", "fp16", "fp16: true")
        reader.take("fp16")
        if bf16 in (False, "auto"):
            reader.take("bf16")
    elif bf16 in (True, "auto"):
        origin = "bf16: true" if bf16 is True else ("bf16: auto" if reader.has("bf16") else "bf16 unset: auto")
        draft.set("training.precision", "bf16", origin + (" (bf16 where the GPU has it)" if bf16 == "auto" else ""))
        reader.take("bf16"), reader.take("fp16")
    elif bf16 is False:
        draft.set("training.precision", "fp32", "bf16: false")
        reader.take("bf16"), reader.take("fp16")
    for pure in ("bfloat16", "float16"):
        if reader.value(pure) is True:
            reader.lose((pure,), "tunespec's precision is mixed precision (the weights stay fp32 in full fine-tuning)")


# --- lora, and how the run is placed and watched ---------------------------------------------------------

def _lora(reader: Reader, draft: Draft) -> None:
    keys = ("lora_r", "lora_alpha", "lora_dropout", "lora_target_modules", "lora_target_linear",
            "peft_use_rslora", "peft_use_dora")
    if draft.get("method") not in ("lora", "qlora"):
        for key in keys:
            if reader.has(key) and key not in DEFAULTS:
                reader.lose((key,), "Axolotl trains no adapter without `adapter`, and ignores it")
        return
    put(reader, draft, "lora_r", "lora.rank")
    put(reader, draft, "lora_alpha", "lora.alpha")
    put_or_default(reader, draft, "lora_dropout", "lora.dropout", 0.0, TITLE)
    _targets(reader, draft)
    put(reader, draft, "peft_use_rslora", "lora.use_rslora")
    put(reader, draft, "peft_use_dora", "lora.use_dora")


def _targets(reader: Reader, draft: Draft) -> None:
    modules, linear = reader.value("lora_target_modules"), reader.value("lora_target_linear")
    if linear is True:
        draft.set("lora.target_modules", ["all-linear"], "lora_target_linear: true")
        reader.take("lora_target_linear")
        if isinstance(modules, list) and "lm_head" in modules:
            reader.lose(("lora_target_modules",), "all-linear and the output layer: tunespec's all-linear leaves "
                                                  "the output layer out, and cannot be mixed with names")
        elif isinstance(modules, list):
            reader.take("lora_target_modules")  # Axolotl adds them to all linear layers: nothing more
        elif modules:
            reader.lose(("lora_target_modules",), "a pattern: tunespec names the layers, or all-linear")
        return
    if linear is False:
        reader.take("lora_target_linear")
    if modules == "all-linear":
        put(reader, draft, "lora_target_modules", "lora.target_modules", lambda _: ["all-linear"])
    elif isinstance(modules, list) and modules:
        put(reader, draft, "lora_target_modules", "lora.target_modules")
    elif modules:
        reader.lose(("lora_target_modules",), "a pattern: tunespec names the layers, or all-linear")
    else:
        draft.set("lora.target_modules", [], "lora_target_modules unset: the architecture's default layers (PEFT)")


def _run(reader: Reader, draft: Draft) -> None:
    common.output(reader, draft)
    put(reader, draft, "seed", "seed")
    put(reader, draft, "chat_template", "data.chat_template", choose(CHAT_TEMPLATES, "chat_template"))
    _reporting(reader, draft)
    _strategy(reader, draft)


def _reporting(reader: Reader, draft: Draft) -> None:
    """Axolotl reports to W&B when `use_wandb` says or `wandb_project` is set, to MLflow and TensorBoard when
    `use_*` says (core/builders/base.py)."""
    trackers, origins = [], []
    keys = (("use_wandb", "wandb"), ("wandb_project", "wandb"), ("use_mlflow", "mlflow"),
            ("use_tensorboard", "tensorboard"))
    for key, tracker in keys:
        value = reader.value(key)
        if value not in (None, False, "") and tracker not in trackers:
            trackers.append(tracker)
            origins.append(key)
        if key.startswith("use_") and isinstance(value, bool):
            reader.take(key)
    if trackers:
        draft.set("training.report_to", trackers, ", ".join(origins))


def _strategy(reader: Reader, draft: Draft) -> None:
    if reader.has("deepspeed"):
        put(reader, draft, "deepspeed", "resources.strategy",
            lambda value: common.deepspeed_strategy(value, draft.root))
    elif reader.has("fsdp") or reader.has("fsdp_version") or reader.has("fsdp_config"):
        origin = "fsdp_version" if reader.has("fsdp_version") else ("fsdp" if reader.has("fsdp") else "fsdp_config")
        draft.set("resources.strategy", "fsdp", origin)
        reader.take("fsdp"), reader.take("fsdp_version")


