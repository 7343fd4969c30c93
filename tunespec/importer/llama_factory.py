"""LLaMA-Factory configs (`llamafactory-cli train config.yaml`): llamafactory/hparams/*.py and the Hugging
Face `TrainingArguments` it passes on; datasets by name from `dataset_info.json` in `dataset_dir`.

Defaults of LLaMA-Factory and of Hugging Face that differ from tunespec's are written into the experiment
(batch size 8, 3 epochs, learning rate 5e-5, logging and saving every 500 steps, fp32).
"""

from __future__ import annotations

import json
import os
from typing import Any

from tunespec.importer import common
from tunespec.importer.draft import Draft, Unexpressible, choose, put, put_or_default
from tunespec.importer.models import quantized, set_model
from tunespec.importer.reader import Reader

NAME = "llama-factory"
TITLE = "LLaMA-Factory"
SIGNATURE = ("stage", "finetuning_type", "cutoff_len", "template", "dataset", "lora_target", "lora_rank",
             "do_train", "dataset_dir", "quantization_bit", "train_dataset", "model_class")
DATASET_INFO = "dataset_info.json"
# The template that joins a prompt and its response as they are (with EOS), as tunespec's input_output data is.
NO_TEMPLATE = "fewshot"
# LLaMA-Factory's templates (data/template.py) that tunespec names.
CHAT_TEMPLATES = {"llama3": "llama3", "chatml": "chatml", "mistral": "mistral", "qwen": "qwen2", "granite3": "granite"}
# Hugging Face `TrainingArguments` defaults that tunespec's differ from.
HF_DEFAULTS = (
    ("per_device_train_batch_size", "training.batch_size", 8),
    ("gradient_accumulation_steps", "training.accumulate_steps", 1),
    ("learning_rate", "training.learning_rate", 5e-5),
    ("num_train_epochs", "training.epochs", 3),
)
HF_RUN_DEFAULTS = {"logging_steps": 500, "eval_strategy": "no", "save_strategy": "steps"}

# Keys set to LLaMA-Factory's or Hugging Face's own default: they say nothing.
DEFAULTS = {
    "stage": "sft", "do_train": True, "quantization_method": "bnb", "quantization_type": "nf4",
    "double_quantization": True, "use_rslora": False, "use_dora": False, "trust_remote_code": False,
    "train_on_prompt": False, "val_size": 0, "neat_packing": False, "streaming": False,
    "mask_history": False, "upcast_layernorm": False, "shift_attn": False, "use_unsloth": False,
    "enable_liger_kernel": False, "train_from_scratch": False, "resize_vocab": False, "pure_bf16": False,
    "mix_strategy": "concat", "flash_attn": "auto", "do_eval": False, "do_predict": False,
    "lr_scheduler_kwargs": {}, "max_grad_norm": 1.0, "adam_beta1": 0.9, "adam_beta2": 0.999, "adam_epsilon": 1e-8,
}
PERFORMANCE_PREFIXES = ("kt_",)
PERFORMANCE_KEYS = {
    "flash_attn", "use_unsloth", "use_unsloth_gc", "enable_liger_kernel", "use_v1_kernels", "use_kt",
    "tensor_model_parallel_size", "pipeline_model_parallel_size", "sequence_parallel", "use_distributed_optimizer",
    "overlap_grad_reduce", "overlap_param_gather", "bias_activation_fusion", "apply_rope_fusion", "use_reentrant_gc",
    "low_cpu_mem_usage", "cp_size", "cp_mode", "expert_model_parallel_size", "deepspeed",
}
HOUSEKEEPING_KEYS = {
    "overwrite_output_dir", "plot_loss", "save_only_model", "ddp_timeout", "logging_dir", "run_name",
    "preprocessing_num_workers", "dataloader_num_workers", "overwrite_cache", "resume_from_checkpoint",
    "trust_remote_code", "cache_dir", "save_total_limit", "logging_first_step", "hf_hub_token", "tokenized_path",
    "preprocessing_batch_size", "report_to", "include_num_input_tokens_seen", "ray_run_name", "ray_storage_path",
    "ray_num_workers", "resources_per_worker", "placement_strategy", "push_to_hub", "hub_model_id",
    "use_swanlab", "swanlab_project", "swanlab_run_name", "data_shared_file_system", "print_param_status",
    "per_device_eval_batch_size", "ddp_find_unused_parameters",
}
REASONS = {
    "max_samples": "tunespec trains on the whole dataset; it has no field for a subset",
    "val_size": "tunespec validates on a file (data.validation), not on a split of the training data",
    "flash_attn": "tunespec has no field for the attention implementation",
    "max_steps": "tunespec trains whole epochs; it has no step limit",
    "stage": "tunespec trains supervised fine-tuning (stage sft) only",
    "adapter_name_or_path": "tunespec has no field for an adapter to start from",
    "max_grad_norm": "tunespec has no field for gradient clipping",
    "lr_scheduler_kwargs": "tunespec's schedulers take no arguments",
    "neat_packing": "tunespec's packing lets packed examples attend to each other (no neat packing)",
    "freeze_vision_tower": "tunespec trains text models; it has no field for vision towers",
    "image_max_pixels": "tunespec trains text models",
    "video_max_pixels": "tunespec trains text models",
    "enable_thinking": "tunespec has no field for reasoning traces in chat templates",
    "ddp_timeout": "tunespec has no field for the distributed timeout",
    "template": "tunespec's chat templates are model, llama3, chatml, mistral, qwen2 and granite",
}


def refusal(data: dict) -> str | None:
    """LLaMA-Factory's inference, export and v1 configs hold no tuning run tunespec could describe."""
    if "export_dir" in data:
        return "this is a LLaMA-Factory export (merge) config, not a training config"
    if "infer_backend" in data and "dataset" not in data and "stage" not in data:
        return "this is a LLaMA-Factory inference config, not a training config"
    if "train_dataset" in data or "model_class" in data:
        return ("this is a LLaMA-Factory v1 config (`model`, `train_dataset`): tunespec imports the "
                "`llamafactory-cli train` configs (`model_name_or_path`, `dataset`)")
    return None


def read(reader: Reader, draft: Draft) -> None:
    if reader.has("model_name_or_path") and isinstance(reader.value("model_name_or_path"), str):
        set_model(draft, reader.take("model_name_or_path"), "model_name_or_path")
    _method(reader, draft)
    _lora(reader, draft)
    _data(reader, draft)
    _training(reader, draft)
    common.output(reader, draft)


def _method(reader: Reader, draft: Draft) -> None:
    kind = reader.value("finetuning_type", default="lora")
    bits = reader.value("quantization_bit")
    if reader.value("stage", default="sft") != "sft":
        reader.lose(("stage",), REASONS["stage"])
    if kind == "full":
        put(reader, draft, "finetuning_type", "method", lambda _: "full")
    elif kind != "lora":
        reader.lose(("finetuning_type",), "tunespec's methods are lora, qlora, full and prompt_tuning")
    elif bits in (4, "4") and reader.value("quantization_method", default="bnb") == "bnb":
        draft.set("method", "qlora", "finetuning_type: lora, quantization_bit: 4")
        reader.take("finetuning_type"), reader.take("quantization_bit")
    elif quantized(draft) and bits is None:
        draft.set("method", "qlora", "finetuning_type: lora on a quantized (GPTQ) checkpoint")
        reader.take("finetuning_type")
    else:
        origin = "finetuning_type: lora" if reader.has("finetuning_type") else "finetuning_type unset: lora"
        draft.set("method", "lora", origin)
        reader.take("finetuning_type")
    if bits is not None and draft.get("method") != "qlora":
        reader.lose(("quantization_bit",), "tunespec's quantized method is qlora: 4-bit NF4 with bitsandbytes")


def _lora(reader: Reader, draft: Draft) -> None:
    if draft.get("method") not in ("lora", "qlora"):
        return
    rank = reader.value("lora_rank", default=8)
    put_or_default(reader, draft, "lora_rank", "lora.rank", 8, TITLE)
    if not put(reader, draft, "lora_alpha", "lora.alpha") and not reader.has("lora_alpha"):
        if isinstance(rank, int):
            draft.set("lora.alpha", rank * 2, f"lora_alpha unset: {TITLE} uses twice lora_rank")
    put_or_default(reader, draft, "lora_dropout", "lora.dropout", 0.0, TITLE)
    if not put(reader, draft, "lora_target", "lora.target_modules", _targets) and not reader.has("lora_target"):
        draft.set("lora.target_modules", ["all-linear"], f"lora_target unset: {TITLE}'s default, all")
    put(reader, draft, "use_rslora", "lora.use_rslora")
    put(reader, draft, "use_dora", "lora.use_dora")


def _targets(value: Any) -> list[str]:
    """`lora_target`: `all`, or module names separated by commas."""
    names = [name.strip() for name in str(value).split(",") if name.strip()]
    if names == ["all"]:
        return ["all-linear"]
    if "all" in names:
        raise Unexpressible("`all` mixed with names")
    return names


# --- data ------------------------------------------------------------------------------------------------

def _data(reader: Reader, draft: Draft) -> None:
    info = _dataset_info(reader, draft)
    if info is None:
        return
    folder = reader.value("dataset_dir", default="data")
    for key, field in (("dataset", "data.train"), ("eval_dataset", "data.validation")):
        names = _names(reader.value(key))
        if not names:
            continue
        if len(names) > 1:
            reader.lose((key,), f"tunespec {'trains' if key == 'dataset' else 'validates'} on one dataset: "
                                f"{', '.join(names[1:])} not imported", value=reader.value(key))
        _dataset(reader, draft, key, field, names[0], info, folder)
    if reader.value("template") == NO_TEMPLATE and draft.get("data.format") != "messages":
        reader.take("template")  # input/output records joined as they are: no chat template
    else:
        put(reader, draft, "template", "data.chat_template", choose(CHAT_TEMPLATES, "chat_template"))
    put(reader, draft, "cutoff_len", "training.max_seq_length")
    put(reader, draft, "packing", "training.packing")


def _names(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(name).strip() for name in value if str(name).strip()]
    return [name.strip() for name in str(value).split(",") if name.strip()] if value is not None else []


def _dataset_info(reader: Reader, draft: Draft) -> dict | None:
    """dataset_info.json in `dataset_dir` (relative to where LLaMA-Factory runs); None, with the datasets
    reported, when it cannot be read."""
    if not reader.has("dataset") and not reader.has("eval_dataset"):
        return None
    folder = reader.value("dataset_dir", default="data")
    path = draft.root / str(folder) / DATASET_INFO
    problem = None
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        problem = f"{DATASET_INFO} in dataset_dir {folder!r} cannot be read ({type(error).__name__}), so the " \
                  "dataset's file and fields are unknown"
        info = None
    if isinstance(info, dict):
        reader.take("dataset_dir")
        return info
    for key in ("dataset", "eval_dataset"):
        if reader.has(key):
            reader.lose((key,), problem or f"{DATASET_INFO} in dataset_dir {folder!r} is not a mapping")
    return None


def _dataset(reader: Reader, draft: Draft, key: str, field: str, name: str, info: dict, folder: str) -> None:
    entry = info.get(name)
    if not isinstance(entry, dict):
        reader.lose((key,), f"`{name}` is not in {DATASET_INFO}")
        return
    try:
        location = _location(draft, entry, folder)
        draft.set(field, location, f"{key}: {name}, {_where(entry)} in {DATASET_INFO}")
    except Unexpressible as problem:
        reader.lose((key,), f"`{name}` in {DATASET_INFO}: {problem.reason}")
        return
    reader.take(key)
    if field == "data.train":
        for problem in _columns(draft, entry):
            reader.lose((key,), f"`{name}` in {DATASET_INFO}: {problem}", value=name)
    elif _columns_of(entry) != _columns_of(info.get(next(iter(_names(reader.value("dataset"))), ""))):
        reader.lose((key,), f"`{name}` in {DATASET_INFO}: tunespec reads the validation data with the training "
                            "data's fields", value=name)


def _location(draft: Draft, entry: dict, folder: str) -> str:
    if "file_name" in entry:
        return common.data_location(draft, os.path.normpath(os.path.join(folder, str(entry["file_name"]))), True)
    if "hf_hub_url" in entry:
        return f"hf://{entry['hf_hub_url']}"
    raise Unexpressible("tunespec reads data from files and Hugging Face Hub datasets (file_name, hf_hub_url)")


def _where(entry: dict) -> str:
    return "file_name" if "file_name" in entry else "hf_hub_url"


def _columns_of(entry: Any) -> tuple:
    if not isinstance(entry, dict):
        return ()
    return entry.get("formatting", "alpaca"), json.dumps(entry.get("columns"), sort_keys=True), \
        json.dumps(entry.get("tags"), sort_keys=True)


def _columns(draft: Draft, entry: dict) -> list[str]:
    """The data format of a dataset_info.json entry; what tunespec cannot say, as problems."""
    formatting = entry.get("formatting", "alpaca")
    columns = entry.get("columns") if isinstance(entry.get("columns"), dict) else None
    problems = [f"`{extra}` ({entry[extra]!r})" for extra in ("ranking", "subset", "folder", "num_samples")
                if entry.get(extra) not in (None, False)]
    problems = [f"{', '.join(problems)}: no tunespec field"] if problems else []
    if formatting == "alpaca":
        return problems + _alpaca(draft, columns)
    if formatting in ("sharegpt", "openai"):
        return problems + _chat(draft, entry, columns, formatting)
    return problems + [f"formatting {formatting!r}: tunespec's formats are input_output and messages"]


def _alpaca(draft: Draft, columns: dict | None) -> list[str]:
    # With `columns`, the columns it leaves out are unused; without, Alpaca's (parser.py, DatasetAttr).
    given = columns if columns is not None else {"prompt": "instruction", "query": "input", "response": "output"}
    draft.set("data.format", "input_output", "formatting: alpaca")
    if given.get("prompt"):
        draft.set("data.input_field", given["prompt"], "columns.prompt")
    if given.get("response"):
        draft.set("data.output_field", given["response"], "columns.response")
    extra = [f"{column} column {given[column]!r}" for column in ("query", "history", "system", "tools")
             if given.get(column)]
    return [f"{', '.join(extra)}: tunespec's input_output data has one prompt and one response field"] if extra else []


def _chat(draft: Draft, entry: dict, columns: dict | None, formatting: str) -> list[str]:
    tags = entry.get("tags") or {}
    expected = {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant"}
    defaults = {"role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt"}
    if formatting == "sharegpt" and any(tags.get(tag, defaults[tag]) != want for tag, want in expected.items()):
        return ["ShareGPT records ({from, value}, human/gpt): tunespec's messages are {role, content}, user/assistant"]
    draft.set("data.format", "messages", f"formatting: {formatting}")
    draft.set("data.messages_field", (columns or {}).get("messages", "conversations"), "columns.messages")
    extra = [name for name in ("system", "tools", "images", "videos", "audios") if (columns or {}).get(name)]
    return [f"{', '.join(extra)} columns: no tunespec field"] if extra else []


# --- training ----------------------------------------------------------------------------------------------

def _training(reader: Reader, draft: Draft) -> None:
    common.hf_training(reader, draft, "Hugging Face", HF_RUN_DEFAULTS)
    for key, field, default in HF_DEFAULTS:
        if not reader.has(key):
            draft.default(field, default, key, "Hugging Face")
    _precision(reader, draft)
    put(reader, draft, "disable_gradient_checkpointing", "training.gradient_checkpointing", lambda off: not off)
    if reader.has("deepspeed"):
        put(reader, draft, "deepspeed", "resources.strategy",
            lambda value: common.deepspeed_strategy(value, draft.root))


def _precision(reader: Reader, draft: Draft) -> None:
    """bf16 or fp16 mixed precision when asked, else fp32 (Hugging Face's default); `pure_bf16` trains
    bf16 weights, which tunespec's precision does not describe."""
    if reader.value("pure_bf16") is True:
        reader.lose(("pure_bf16",), "tunespec's precision is mixed precision (fp32 weights in full fine-tuning)")
    for key in ("bf16", "fp16"):
        if reader.value(key) is True:
            put(reader, draft, key, "training.precision", lambda _, key=key: key)
            other = "fp16" if key == "bf16" else "bf16"
            if reader.value(other) is False:
                reader.take(other)
            return
    origin = " and ".join(f"{key}: false" for key in ("bf16", "fp16") if reader.value(key) is False)
    reader.take("bf16"), reader.take("fp16")
    draft.set("training.precision", "fp32", origin or "bf16 and fp16 unset: fp32, Hugging Face's default")

