"""tunespec's own defaults for how a run trains, applied to what an experiment leaves unset.

The trainers disagree on these (Axolotl schedules with cosine where the Hugging Face trainers use linear;
TRL checkpoints gradients where plain transformers does not; one backend evaluates every epoch, another
never), so the IR fixes one value and every target emits it: the same experiment then trains the same way
on every backend, and the memory estimate counts exactly what is emitted. Each default says why in its
origin, which `tunespec show` prints.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # (typing, for type checkers only, is not imported at run time)
    from typing import Any, Callable, Iterator

from tunespec.record import Record


class RunDefault(Record):
    path: str
    choose: Callable[[dict, Any], tuple[Any, str] | None]  # (values, model) -> (value, origin), or None


def _precision(values: dict, model: Any) -> tuple[Any, str]:
    if values.get("method") == "qlora" and model is not None and model.quantized:
        return "fp16", "default: fp16, what GPTQ kernels compute in"
    return "bf16", "default: bf16 mixed precision"


def _eval_strategy(values: dict, model: Any) -> tuple[Any, str]:
    if values.get("data.validation") is not None:
        return "epoch", "default: evaluate every epoch, as data.validation is set"
    return "no", "default: no evaluation without data.validation"


def _strategy(values: dict, model: Any) -> tuple[Any, str]:
    world = values.get("resources.nodes", 1) * values.get("resources.gpus_per_node", 1)
    if world > 1:
        return "fsdp", f"default: fsdp, sharding over {world} GPUs"
    return "ddp", "default: ddp (one GPU: nothing to shard)"


def _mount_path(values: dict, model: Any) -> tuple[Any, str] | None:
    if values.get("resources.volume") is None:
        return None
    return "/workspace", "default: /workspace, where resources.volume is mounted"


def _fixed(value: Any, why: str) -> Callable[[dict, Any], tuple[Any, str]]:
    chosen = (value, f"default: {why}")  # one tuple and one string for every variant, not one each
    return lambda values, model: chosen


RUN_DEFAULTS = (
    RunDefault("training.precision", _precision),
    RunDefault("training.gradient_checkpointing", _fixed(True, "gradient checkpointing on, to fit memory")),
    RunDefault("training.optimizer", _fixed("adamw", "AdamW")),
    RunDefault("training.scheduler", _fixed("linear", "linear decay, the Hugging Face trainers' default")),
    RunDefault("training.eval_strategy", _eval_strategy),
    RunDefault("training.save_strategy", _fixed("epoch", "save every epoch")),
    RunDefault("training.logging_steps", _fixed(10, "log every 10 steps")),
    RunDefault("seed", _fixed(42, "42, a fixed seed, so that a run repeats")),
    RunDefault("resources.strategy", _strategy),
    RunDefault("resources.mount_path", _mount_path),
)


def run_defaults(values: dict, model: Any, is_set: Callable[[str], bool]) -> Iterator[tuple[str, Any, str]]:
    """(path, value, origin) for each run default the experiment leaves unset."""
    for default in RUN_DEFAULTS:
        if is_set(default.path):
            continue
        chosen = default.choose(values, model)
        if chosen is not None:
            yield default.path, chosen[0], chosen[1]
