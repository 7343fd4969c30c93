"""torchtune configs (`tune run RECIPE --config config.yaml`): components named by `_component_`, read the
way torchtune's LoRA and full fine-tuning recipes read them (recipes/*.py, torchtune/models/*).

The model is the builder `model._component_` names: the torchtune target's declaration maps its builders
back to catalog models; another builder gives the family, and the model's Hub id comes from the
`tune download` command torchtune's configs name in their opening comment.
"""

from __future__ import annotations

import re
from tunespec.importer import common
from tunespec.importer.draft import Draft, choose, model_entry, put, put_or_default, whole
from tunespec.importer.models import catalog_model, set_model
from tunespec.importer.reader import HOUSEKEEPING, Reader

NAME = "torchtune"
TITLE = "torchtune"
SIGNATURE_TEXT = "`_component_` entries (model, tokenizer, checkpointer, optimizer)"
SIGNATURE = ()
BUILDER = re.compile(r"torchtune\.models\.(\w+)\.(q?lora_)?(\w+)\Z")
FAMILIES = {"llama2": "llama", "llama3": "llama", "llama3_1": "llama", "llama3_2": "llama", "llama3_3": "llama",
            "code_llama2": "llama", "mistral": "mistral", "qwen2": "qwen2", "qwen2_5": "qwen2"}
DOWNLOAD = re.compile(r"tune download (\S+)")
OPTIMIZERS = {"torch.optim.adamw": "adamw", "bitsandbytes.optim.adamw8bit": "adamw_8bit",
              "bitsandbytes.optim.pagedadamw": "paged_adamw", "bitsandbytes.optim.pagedadamw8bit": "paged_adamw_8bit",
              "torch.optim.sgd": "sgd"}
LOGGERS = {"torchtune.training.metric_logging.disklogger": [], "torchtune.training.metric_logging.stdoutlogger": [],
           "torchtune.training.metric_logging.tensorboardlogger": ["tensorboard"],
           "torchtune.training.metric_logging.wandblogger": ["wandb"],
           "torchtune.training.metric_logging.mlflowlogger": ["mlflow"]}
PRECISIONS = {"bf16": "bf16", "fp32": "fp32", "fp16": "fp16"}
SFT_LOSSES = ("torchtune.modules.loss.CEWithChunkedOutputLoss", "torchtune.modules.loss.LinearCrossEntropyLoss",
              "torch.nn.CrossEntropyLoss")

DEFAULTS = {
    "device": "cuda", "shuffle": True, "compile": False, "resume_from_checkpoint": False,
    "save_adapter_weights_only": False, "optimizer_in_bwd": False,
    "enable_activation_offloading": False, "model.apply_lora_to_output": False, "dataset.split": "train",
    "checkpointer._component_": "torchtune.training.FullModelHFCheckpointer",
    "checkpointer.output_dir": "${output_dir}",
    "optimizer.fused": True, "profiler.enabled": False, "dataset.train_on_input": False,
}
PERFORMANCE_KEYS = {"compile", "enable_activation_offloading", "optimizer_in_bwd", "custom_sharded_layers",
                    "fsdp_cpu_offload", "low_cpu_ram", "tensor_parallel_dim", "tensor_parallel_plan", "optimizer.fused",
                    "fsdp_reshard_after_forward", "data_parallel_shard_dim", "data_parallel_replicate_dim",
                    "memory_efficient_fsdp_wrap", "ac_mode", "ac_option", "batch_size_val", "fsdp"}
HOUSEKEEPING_KEYS = {"metric_logger", "log_peak_memory_stats", "log_level", "profiler", "checkpointer", "output_dir",
                "resume_from_checkpoint", "save_adapter_weights_only", "log_dir"}
REASONS = {
    "clip_grad_norm": "tunespec has no field for gradient clipping",
    "compile": "tunespec has no field for torch.compile",
    "max_steps_per_epoch": "tunespec trains whole epochs; it has no step limit",
    "enable_activation_offloading": "tunespec has no field for activation offloading",
    "optimizer_in_bwd": "tunespec has no field for fusing the optimizer step into the backward pass",
    "dataset": "a dataset builder of torchtune's: tunespec's data are files (instruct_dataset, chat_dataset)",
    "dataset_val": "a dataset builder of torchtune's: tunespec's data are files (instruct_dataset, chat_dataset)",
    "loss": "tunespec trains with cross-entropy on the responses (supervised fine-tuning) only",
    "quantizer": "tunespec has no field for quantization-aware training",
}


def score(data: dict) -> int:
    return sum(1 for value in data.values() if isinstance(value, dict) and "_component_" in value)


def refusal(data: dict) -> str | None:
    if "optimizer" not in data and "loss" not in data:
        return "this torchtune config has no optimizer and no loss: a generation, evaluation or quantization " \
               "config, not a fine-tuning one"
    return None


def read(reader: Reader, draft: Draft) -> None:
    _model(reader, draft)
    _lora(reader, draft)
    _data(reader, draft)
    _training(reader, draft)
    common.output(reader, draft)
    put(reader, draft, "seed", "seed")


# --- the model ---------------------------------------------------------------------------------------------

def _builders() -> dict[str, tuple[str, str]]:
    """Builder -> (catalog model, method), from the torchtune target's declaration."""
    found = {}
    for model, entry in _target().get("models", {}).items():
        for key, method in (("builder", "full"), ("lora_builder", "lora"), ("qlora_builder", "qlora")):
            if key in entry:
                found[entry[key]] = (model, method)
    return found


def _model(reader: Reader, draft: Draft) -> None:
    """The model: the Hub id of the `tune download` command in the config's comments, else the catalog model
    whose builder `model._component_` names (the torchtune target's declaration), else the checkpoint folder.
    The builder says the method (lora_*, qlora_* or the full model's)."""
    builder = reader.value("model", "_component_")
    if not isinstance(builder, str):
        return
    parts = BUILDER.match(builder)
    known = _builders().get(builder)
    if parts is None and known is None:
        reader.lose(("model", "_component_"), "not a torchtune model builder")
        return
    method = known[1] if known else {"lora_": "lora", "qlora_": "qlora", None: "full"}[parts.group(2)]
    draft.set("method", method, f"model._component_: {builder.rsplit('.', 1)[-1]}")
    reader.take("model", "_component_")
    module = parts.group(1) if parts else None
    facts = {}
    if module in FAMILIES:
        facts["family"] = (FAMILIES[module], f"model._component_: torchtune.models.{module}")
    download = DOWNLOAD.search(reader.source.text)
    folder = reader.value("checkpointer", "checkpoint_dir")
    if download is not None:
        set_model(draft, download.group(1), "the `tune download` command in the config's comments", facts)
    elif known is not None:
        set_model(draft, known[0], f"model._component_ ({builder.rsplit('.', 1)[-1]})")
    elif isinstance(folder, str):
        set_model(draft, folder.rstrip("/") or "/", "checkpointer.checkpoint_dir", facts)
    _checkpoint(reader, draft, known[0] if known and download is None else None)
    _tokenizer(reader, draft, known[0] if known else None)


def _checkpoint(reader: Reader, draft: Draft, known_model: str | None) -> None:
    """Where the checkpoint is: for a catalog model, where tunespec's own torchtune config reads it (its
    run.sh downloads it there); for another model, the declared model's `path`."""
    folder = reader.value("checkpointer", "checkpoint_dir")
    if not isinstance(folder, str) or draft.model is None:
        return
    folder = folder.rstrip("/")
    declared = catalog_model(draft.model.id) is None
    if known_model is not None:
        expected = f"{_target()['checkpoint_root']}/{catalog_model(known_model).hf_id}"
        builders = _target()["models"][known_model]
        if folder != expected:
            reader.lose(("checkpointer", "checkpoint_dir"), f"tunespec's torchtune config reads the checkpoint from "
                        f"{expected}, where its run.sh downloads it", kind=HOUSEKEEPING)
            return
        same = {"checkpoint_files": builders.get("checkpoint_files"), "model_type": builders.get("model_type")}
    elif declared:
        if "path" not in draft.model.declared:
            draft.model.declared["path"] = model_entry("path", draft.place(folder), "checkpointer.checkpoint_dir")
            draft.model = draft.model.replace(declare=True)
        same = {key: reader.value("checkpointer", key) for key in ("checkpoint_files", "model_type")}
    else:
        reader.lose(("checkpointer", "checkpoint_dir"), f"{draft.model.id} is a catalog model, whose checkpoint "
                    "tunespec's torchtune run.sh downloads itself", kind=HOUSEKEEPING)
        return
    reader.take("checkpointer", "checkpoint_dir")
    for key, value in same.items():
        if reader.value("checkpointer", key) == value:
            reader.take("checkpointer", key)


def _tokenizer(reader: Reader, draft: Draft, known_model: str | None) -> None:
    """The tokenizer goes with the model: its builder and its file in the checkpoint folder."""
    folder = str(reader.value("checkpointer", "checkpoint_dir", default="")).rstrip("/")
    tokenizer = reader.value("tokenizer")
    for key, value in (tokenizer.items() if isinstance(tokenizer, dict) and folder else ()):
        if isinstance(value, str) and value.startswith(folder + "/"):
            reader.take("tokenizer", key)  # a file of the checkpoint
    component = reader.value("tokenizer", "_component_")
    expected = _target()["models"][known_model].get("tokenizer") if known_model else None
    if isinstance(component, str) and (expected is None or component == expected):
        reader.take("tokenizer", "_component_")


def _target() -> dict:
    from tunespec.templates.targets import builtin_targets

    return builtin_targets()["torchtune"].data


# --- lora ----------------------------------------------------------------------------------------------------

ATTENTION = {"q_proj": "q_proj", "k_proj": "k_proj", "v_proj": "v_proj", "output_proj": "o_proj"}
MLP = ["gate_proj", "up_proj", "down_proj"]


def _lora(reader: Reader, draft: Draft) -> None:
    if draft.get("method") not in ("lora", "qlora"):
        return
    put(reader, draft, ("model", "lora_rank"), "lora.rank")
    put(reader, draft, ("model", "lora_alpha"), "lora.alpha", lambda alpha: whole(alpha, "alpha"))
    put_or_default(reader, draft, ("model", "lora_dropout"), "lora.dropout", 0.0, TITLE)
    put(reader, draft, ("model", "use_dora"), "lora.use_dora")
    quantize = reader.value("model", "quantize_base")
    if quantize is True and draft.get("method") == "lora":  # a LoRA builder told to quantize: QLoRA (QDoRA)
        draft.set("method", "qlora", f"{draft.fields['method'].origin}, model.quantize_base: true")
    if quantize is (draft.get("method") == "qlora"):
        reader.take("model", "quantize_base")
    _targets(reader, draft)


def _targets(reader: Reader, draft: Draft) -> None:
    attention = reader.value("model", "lora_attn_modules", default=[])
    mlp = reader.value("model", "apply_lora_to_mlp", default=False)
    if not isinstance(attention, list) or any(name not in ATTENTION for name in attention) or not isinstance(mlp, bool):
        reader.lose(("model", "lora_attn_modules"),
                    "torchtune's attention modules are q_proj, k_proj, v_proj and output_proj")
        return
    layers = [ATTENTION[name] for name in attention] + (MLP if mlp else [])
    if reader.value("model", "apply_lora_to_output") is True:
        layers.append("lm_head")
        reader.take("model", "apply_lora_to_output")
    draft.set("lora.target_modules", layers, "model.lora_attn_modules, apply_lora_to_mlp")
    reader.take("model", "lora_attn_modules"), reader.take("model", "apply_lora_to_mlp")


# --- data and training -----------------------------------------------------------------------------------------

def _data(reader: Reader, draft: Draft) -> None:
    for key, field in (("dataset", "data.train"), ("dataset_val", "data.validation")):
        component = reader.value(key, "_component_")
        if component == "torchtune.datasets.instruct_dataset":
            _instruct(reader, draft, key, field)
        elif component == "torchtune.datasets.chat_dataset":
            _chat(reader, draft, key, field)
    put(reader, draft, ("tokenizer", "max_seq_len"), "training.max_seq_length")


def _files(reader: Reader, draft: Draft, key: str, field: str) -> None:
    """`source: json` with `data_files`, or a Hub dataset as the source."""
    source = reader.value(key, "source")
    if source in ("json", "jsonl") and put(reader, draft, (key, "data_files"), field,
                                           lambda path: common.data_location(draft, path, True)):
        reader.take(key, "source")
    elif isinstance(source, str) and common.HUB_DATASET.match(source):
        put(reader, draft, (key, "source"), field, lambda name: f"hf://{name}")
    reader.take(key, "_component_")
    if field == "data.train":
        put(reader, draft, (key, "packed"), "training.packing")


def _instruct(reader: Reader, draft: Draft, key: str, field: str) -> None:
    _files(reader, draft, key, field)
    columns = reader.value(key, "column_map", default={})
    if field == "data.train" and isinstance(columns, dict):
        draft.set("data.format", "input_output", f"{key}._component_: instruct_dataset")
        for column, path in (("input", "data.input_field"), ("output", "data.output_field")):
            put(reader, draft, (key, "column_map", column), path)
    elif columns == reader.value("dataset", "column_map", default={}):
        reader.take(key, "column_map")


def _chat(reader: Reader, draft: Draft, key: str, field: str) -> None:
    _files(reader, draft, key, field)
    if reader.value(key, "conversation_style") == "openai":
        reader.take(key, "conversation_style")
        if field == "data.train":
            draft.set("data.format", "messages", f"{key}._component_: chat_dataset, conversation_style: openai")
            put(reader, draft, (key, "conversation_column"), "data.messages_field")
        elif reader.value(key, "conversation_column") == reader.value("dataset", "conversation_column"):
            reader.take(key, "conversation_column")


def _training(reader: Reader, draft: Draft) -> None:
    put(reader, draft, "batch_size", "training.batch_size")
    put(reader, draft, "gradient_accumulation_steps", "training.accumulate_steps")
    put(reader, draft, "epochs", "training.epochs")
    _optimizer(reader, draft)
    _scheduler(reader, draft)
    put(reader, draft, "log_every_n_steps", "training.logging_steps")
    put(reader, draft, "dtype", "training.precision", choose(PRECISIONS, "precision"))
    put_or_default(reader, draft, "enable_activation_checkpointing", "training.gradient_checkpointing", False, TITLE)
    loggers = {component: [tracker] for component, tracker in _declared("loggers", {}).items()}
    put(reader, draft, ("metric_logger", "_component_"), "training.report_to",
        choose({**LOGGERS, **loggers}, "report_to"))
    if reader.has("run_val_every_n_steps") and "data.validation" in draft.fields:
        if put(reader, draft, "run_val_every_n_steps", "training.eval_steps"):
            draft.set("training.eval_strategy", "steps", "run_val_every_n_steps")
    if reader.value("profiler", "enabled") is False:
        reader.take("profiler")  # a profiler that is off: none of its settings apply
    if reader.value("metric_logger", "log_dir") == "${output_dir}/logs":
        reader.take("metric_logger", "log_dir")
    loss = reader.value("loss", "_component_")
    if loss in SFT_LOSSES:
        reader.take("loss", "_component_")


def _declared(name: str, own: dict) -> dict:
    """A table of components -> tunespec's values: the torchtune target's (its `[data]` `name`, the other way
    round), over this module's own."""
    declared = {str(component).lower(): value for value, component in _target().get(name, {}).items()}
    return {**own, **declared}


def _optimizer(reader: Reader, draft: Draft) -> None:
    put(reader, draft, ("optimizer", "_component_"), "training.optimizer",
        choose(_declared("optimizers", OPTIMIZERS), "optimizer"))
    put(reader, draft, ("optimizer", "lr"), "training.learning_rate")
    adamw = reader.value("optimizer", "_component_") == "torch.optim.AdamW"
    if not put(reader, draft, ("optimizer", "weight_decay"), "training.weight_decay"):
        if adamw and not reader.has("optimizer", "weight_decay"):  # torch's AdamW decays by 0.01 by default
            draft.default("training.weight_decay", 0.01, "optimizer.weight_decay", "torch.optim.AdamW")


SCHEDULERS = {
    "torchtune.training.lr_schedulers.get_cosine_schedule_with_warmup": "cosine",
    "transformers.get_cosine_schedule_with_warmup": "cosine",
    "transformers.get_linear_schedule_with_warmup": "linear",
    "transformers.get_constant_schedule_with_warmup": "constant_with_warmup",
    "transformers.get_constant_schedule": "constant",
}
POLYNOMIAL = "transformers.get_polynomial_decay_schedule_with_warmup"


def _scheduler(reader: Reader, draft: Draft) -> None:
    """The recipes schedule with `lr_scheduler` when given, else keep the learning rate constant. A
    polynomial decay of power 0 to 0 is constant after its warmup, of power 1 linear."""
    key = ("lr_scheduler",)
    component = reader.value(*key, "_component_")
    if component is None:
        draft.set("training.scheduler", "constant", "lr_scheduler unset: a constant learning rate")
        return
    name = SCHEDULERS.get(component)
    if component == POLYNOMIAL and reader.value(*key, "lr_end", default=1e-7) in (0, 0.0):
        warmup = reader.value(*key, "num_warmup_steps") not in (None, 0)
        name = {0: "constant_with_warmup" if warmup else "constant", 1: "linear"}.get(reader.value(*key, "power"))
        if name is not None:
            reader.take(*key, "power"), reader.take(*key, "lr_end")
    if name is None:
        reader.lose(key + ("_component_",), "tunespec's schedulers are linear, cosine, constant and "
                                           "constant_with_warmup")
        return
    put(reader, draft, key + ("_component_",), "training.scheduler", lambda _: name)
    put(reader, draft, key + ("num_warmup_steps",), "training.warmup_steps")


