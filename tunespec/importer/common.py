"""What the four backends share: Hugging Face trainer argument names, data locations, the output folder."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from tunespec.compiler.schema import is_uri
from tunespec.importer.draft import Draft, Unexpressible, choose, experiment_name, put, split_output_folder
from tunespec.importer.reader import Reader

# Hugging Face `TrainingArguments.optim` (OptimizerNames) -> tunespec's `training.optimizer`.
OPTIMIZERS = {
    "adamw_torch": "adamw", "adamw_torch_fused": "adamw", "adamw_hf": "adamw",
    "adamw_bnb_8bit": "adamw_8bit", "adamw_8bit": "adamw_8bit",
    "paged_adamw_32bit": "paged_adamw", "paged_adamw_8bit": "paged_adamw_8bit",
    "sgd": "sgd", "adafactor": "adafactor",
}
# `lr_scheduler_type` (SchedulerType) -> tunespec's `training.scheduler`.
SCHEDULERS = {"linear": "linear", "cosine": "cosine", "constant": "constant",
              "constant_with_warmup": "constant_with_warmup"}
CADENCES = {"no": "no", "epoch": "epoch", "steps": "steps"}
TRACKERS = {"tensorboard": "tensorboard", "wandb": "wandb", "mlflow": "mlflow"}
HUB_DATASET = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+\Z")
DATA_SUFFIXES = (".json", ".jsonl", ".parquet", ".csv", ".arrow", ".txt")


def data_location(draft: Draft, path: Any, local: bool | None = None) -> str:
    """A dataset a config names, as `data.train` holds it: a URI, a file relative to the .tune file, or a
    Hugging Face Hub dataset (`org/name`, not on disk) as `hf://org/name`. `local` when the config says."""
    if not isinstance(path, str) or not path:
        raise Unexpressible("tunespec's data paths are strings")
    if is_uri(path):
        return path
    if "://" in path:
        raise Unexpressible("tunespec reads data from files and s3://, cos://, hf:// or https:// URIs")
    on_disk = (draft.root / path).exists()
    if local is None:
        local = on_disk or path.lower().endswith(DATA_SUFFIXES) or not HUB_DATASET.match(path)
    return draft.place(path) if local else f"hf://{path}"


def output(reader: Reader, draft: Draft, key: tuple | str = "output_dir") -> None:
    """`output_dir`, and the experiment's name when the folder is one `tunespec build` made
    (`<output_dir>/<variant>/<target>`)."""
    key = (key,) if isinstance(key, str) else key
    folder = reader.value(*key)
    if not isinstance(folder, str) or not folder:
        put(reader, draft, key, "output_dir")
        return
    output_dir, variant = split_output_folder(folder, draft.backend)
    if variant is None or (draft.generated_by is not None and variant.partition(".")[0] != draft.generated_by):
        put(reader, draft, key, "output_dir")
        return
    put(reader, draft, key, "output_dir", lambda _: output_dir,
        f"{'.'.join(map(str, key))}: {folder}, the folder tunespec builds for variant {variant}")
    draft.variant = variant
    if draft.name is None:
        draft.name = experiment_name(variant.partition(".")[0])


def warmup(reader: Reader, draft: Draft, steps: tuple | str, ratio: tuple | str, title: str) -> None:
    """Warmup as steps or as a ratio; where a config sets both, the trainers use the steps (Hugging Face's
    `get_warmup_steps`), and the ratio is reported as not imported."""
    steps = (steps,) if isinstance(steps, str) else steps
    ratio = (ratio,) if isinstance(ratio, str) else ratio
    step_count, fraction = reader.value(*steps), reader.value(*ratio)
    if step_count is None or fraction is None:
        put(reader, draft, steps, "training.warmup_steps")
        put(reader, draft, ratio, "training.warmup_ratio")
    elif step_count == 0:  # no warmup steps: the ratio applies
        reader.take(*steps)
        put(reader, draft, ratio, "training.warmup_ratio")
    else:
        if fraction != 0:
            reader.lose(ratio, f"{title} uses warmup steps when both are set")
        reader.take(*ratio)
        put(reader, draft, steps, "training.warmup_steps")


def hf_training(reader: Reader, draft: Draft, title: str, defaults: dict[str, Any]) -> None:
    """The Hugging Face `TrainingArguments` that LLaMA-Factory and fms-hf-tuning pass through as they are.
    `defaults`: the backend's own, for what the config leaves unset (`save_strategy`, `logging_steps`...)."""
    put(reader, draft, "per_device_train_batch_size", "training.batch_size")
    put(reader, draft, "gradient_accumulation_steps", "training.accumulate_steps")
    put(reader, draft, "learning_rate", "training.learning_rate")
    put(reader, draft, "num_train_epochs", "training.epochs")
    put(reader, draft, "seed", "seed")
    put(reader, draft, "lr_scheduler_type", "training.scheduler", choose(SCHEDULERS, "scheduler"))
    warmup(reader, draft, "warmup_steps", "warmup_ratio", title)
    put(reader, draft, "weight_decay", "training.weight_decay")
    put(reader, draft, "optim", "training.optimizer", choose(OPTIMIZERS, "optimizer"))
    if not put(reader, draft, "logging_steps", "training.logging_steps") and not reader.has("logging_steps"):
        if defaults.get("logging_steps") is not None:
            draft.default("training.logging_steps", defaults["logging_steps"], "logging_steps", title)
    cadence(reader, draft, "eval", defaults, title)
    cadence(reader, draft, "save", defaults, title)
    put(reader, draft, "report_to", "training.report_to", trackers)
    put(reader, draft, "fsdp", "resources.strategy", fsdp_strategy)


def fsdp_strategy(value: Any) -> str:
    """`TrainingArguments.fsdp`: FSDP options (`full_shard auto_wrap`, or a list); `offload` is more than
    tunespec's `fsdp` says."""
    options = value if isinstance(value, list) else str(value).split()
    if "offload" in options:
        raise Unexpressible("tunespec's fsdp strategy does not offload to the CPU")
    if not options or value is False:
        raise Unexpressible("no FSDP option")
    return "fsdp"


def cadence(reader: Reader, draft: Draft, kind: str, defaults: dict[str, Any], title: str) -> None:
    """`eval_strategy` / `save_strategy` and their step counts (`evaluation_strategy` is the old name).
    The trainer reads the step count only with the `steps` strategy; without one, `eval_steps` is
    `logging_steps` and `save_steps` 500 (Hugging Face's defaults)."""
    strategy_key, steps_key = f"{kind}_strategy", f"{kind}_steps"
    if kind == "eval" and not reader.has(strategy_key) and reader.has("evaluation_strategy"):
        strategy_key = "evaluation_strategy"
    field = f"training.{kind}_strategy"
    put(reader, draft, strategy_key, field, choose(CADENCES, strategy_key))
    if reader.has(strategy_key) and field not in draft.fields:
        return  # a strategy tunespec cannot say; its step count goes with it
    if kind == "eval" and "data.validation" not in draft.fields and not reader.has(strategy_key):
        return
    strategy = draft.get(field, defaults[f"{kind}_strategy"])
    if strategy != "steps":
        draft.default(field, strategy, strategy_key, title)
        if reader.has(steps_key):
            reader.take(steps_key)
        return
    draft.default(field, "steps", strategy_key, title)
    if not put(reader, draft, steps_key, f"training.{steps_key}") and not reader.has(steps_key):
        every = draft.get("training.logging_steps") if kind == "eval" else 500
        draft.default(f"training.{steps_key}", every, steps_key, title)


def trackers(value: Any) -> list[str]:
    """`report_to`: a name, a comma-separated string or a list; `none` is the empty list."""
    names = value if isinstance(value, list) else str(value).split(",")
    names = [str(name).strip().lower() for name in names if str(name).strip()]
    if names in (["none"], []):
        return []
    if "all" in names:
        raise Unexpressible("`all` reports to whatever is installed; tunespec names its trackers")
    unknown = [name for name in names if name not in TRACKERS]
    if unknown:
        raise Unexpressible(f"tunespec reports to {', '.join(TRACKERS)} (not {', '.join(unknown)})")
    return names


def deepspeed_strategy(value: Any, root: Path | None = None) -> str:
    """A DeepSpeed config: its `zero_optimization.stage` when given inline or in a file that can be read (from
    `root`, where the trainer runs), else the stage its file name says (`ds_z3_config.json`, `zero2.json`)."""
    if isinstance(value, str) and root is not None and (root / value).is_file():
        try:
            value = json.loads((root / value).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            pass
    if isinstance(value, dict):
        zero = value.get("zero_optimization")
        stage = zero.get("stage") if isinstance(zero, dict) else None
    elif "offload" in str(value).lower():
        raise Unexpressible("tunespec's DeepSpeed strategies do not offload to the CPU")
    else:
        found = re.search(r"(?:zero|_z)([0-3])", os.path.basename(str(value)).lower())
        stage = int(found.group(1)) if found else None
    if stage in (2, 3):
        return f"deepspeed_zero{stage}"
    raise Unexpressible("tunespec's strategies are ddp, fsdp, deepspeed_zero2 and deepspeed_zero3"
                        + (f" (this is ZeRO stage {stage})" if stage is not None else ""))
