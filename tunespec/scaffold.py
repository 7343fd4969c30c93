"""`tunespec new`: a new experiment filled with the documented defaults for its model and method.

Every value carries a comment saying where it comes from. Where the documentation has no default for the
model and method, the value written is a common starting point, and its comment says so: the file must be
complete (TS011) and lint without errors, and nothing pretends to be documented when it is not.
"""

from __future__ import annotations

import re
from typing import Any

from tunespec.compiler.catalog import Catalog, ModelInfo
from tunespec.compiler.schema import LORA_METHODS, METHODS, TASKS

PARAMETERS = "watsonx.ai: Parameters for tuning foundation models"
# Starting points for what the documentation leaves open; `new` says so next to each.
STARTING_POINTS = {
    "training.batch_size": 8,
    "training.accumulate_steps": 1,
    "training.learning_rate": {"lora": 1e-4, "qlora": 1e-4, "full": 1e-5, "prompt_tuning": 0.3},
    "training.epochs": 3,
    "lora.rank": 8,
    "lora.alpha": 16,
    "lora.dropout": 0.05,
    "prompt.init_method": "random",
}
LENGTH = 1024


class ScaffoldError(Exception):
    """A model, method or task `new` cannot start from: one line, exit 2."""


def default_name(model_name: str, method: str, catalog: Catalog) -> str:
    """The experiment name `new` uses when none is given: the model's last path part and the method,
    `granite_3_1_8b_base_lora`, so that two scaffolds for different models do not collide."""
    model = catalog.find_model(model_name)
    base = (model.id if model is not None else model_name).rsplit("/", 1)[-1]
    name = re.sub(r"\W+", "_", f"{base}_{method}", flags=re.ASCII).strip("_").lower()
    return name if name[:1].isalpha() else f"exp_{name}"


def scaffold(name: str, model_name: str, method: str, task: str | None, catalog: Catalog) -> str:
    from tunespec.spelling import did_you_mean

    model = catalog.find_model(model_name)
    if model is None:
        hint = did_you_mean(model_name, catalog.model_names()) or f"models: {', '.join(sorted(catalog.models))}"
        raise ScaffoldError(f"unknown model `{model_name}`; {hint}")
    if method not in METHODS:
        hint = "did you mean `full`? (watsonx.ai calls it `none`)" if method == "none" else \
            did_you_mean(method, METHODS) or f"methods: {', '.join(METHODS)}"
        raise ScaffoldError(f"unknown method `{method}`; {hint}")
    if task is not None and task not in TASKS:
        raise ScaffoldError(f"unknown task `{task}`; {did_you_mean(task, TASKS) or 'tasks: ' + ', '.join(TASKS)}")
    if task is None and any(table.model == model.id and table.method == method and table.task for table in catalog.defaults):
        raise ScaffoldError(f"the documented defaults of {model.id} for {method} depend on the task: pass --task "
                            "(classification, generation or summarization)")
    if not name.isidentifier() or name in ("import", "experiment", "preset", "model", "extends", "sweep", "true", "false"):
        raise ScaffoldError(f"`{name}` cannot name an experiment: use letters, digits and `_`, starting with a letter")
    return _text(name, model, method, task, catalog)


def _text(name: str, model: ModelInfo, method: str, task: str | None, catalog: Catalog) -> str:
    table = catalog.defaults_for(model.id, method, task)
    documented = table.values if table else {}
    origin = "documented default"

    def value(path: str) -> tuple[Any, str]:
        if path in documented:
            return documented[path], origin
        start = STARTING_POINTS[path]
        start = start[method] if isinstance(start, dict) else start
        return start, "starting point: no documented default"

    which = f"{model.id} {method}" + (f" ({task})" if table and table.task else "")
    lines = [f"# A new {method} experiment on {model.id}, written by `tunespec new`.",
             f"# Documented defaults: {PARAMETERS}, for {which}." if table else
             f"# {PARAMETERS} documents no defaults for {which}: the values below are starting points.",
             "# Change what your data and budget call for.",
             f"experiment {name} {{",
             f'  model  = "{model.id}"  # catalog: {model.family} family, context window {model.context_window}',
             f"  method = {method}"]
    if task:
        lines.append(f"  task   = {task}")
    lines += ["", "  data {",
              '    train = "data/train.jsonl"  # JSONL, one {"input": ..., "output": ...} per line; 50 or more', "  }",
              "", "  training {"]
    rows = [(field, *value(f"training.{field}")) for field in ("batch_size", "accumulate_steps", "learning_rate", "epochs")]
    length = min(LENGTH, model.context_window or LENGTH)
    rows.append(("max_seq_length", length, "input + output tokens: the smallest that fits your examples"))
    lines += _aligned(rows, "    ") + ["  }"]
    if method in LORA_METHODS:
        rows = [(field, *value(f"lora.{field}")) for field in ("rank", "alpha", "dropout")]
        targets, why = _targets(model, documented, origin)
        rows.append(("target_modules", targets, why))
        lines += ["", "  lora {", *_aligned(rows, "    "), "  }"]
    if method == "prompt_tuning":
        rows = [("init_method", *value("prompt.init_method")),
                ("num_virtual_tokens", 20, "the length of the tuned prompt (PEFT needs it)")]
        lines += ["", "  prompt {", *_aligned(rows, "    "), "  }"]
    lines.append("}")
    return "\n".join(lines) + "\n"


def _targets(model: ModelInfo, documented: dict, origin: str | None) -> tuple[list[str], str]:
    if "lora.target_modules" in documented:
        return documented["lora.target_modules"], origin
    if model.default_targets:
        return list(model.default_targets), f"what PEFT targets by default on {model.family} models"
    return ["all-linear"], "every linear layer but the output layer"


def _aligned(rows: list[tuple[str, Any, str]], indent: str) -> list[str]:
    """`=` aligned as `fmt` aligns it, so that a new file is already in the canonical layout."""
    width = max(len(name) for name, _, _ in rows)
    return [f"{indent}{name.ljust(width)} = {_literal(value)}  # {why}" for name, value, why in rows]


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value if value in ("random", "text") else f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(f'"{item}"' for item in value) + "]"
    if isinstance(value, float):
        return f"{value:g}" if "e" not in f"{value:g}" else repr(value).replace("e-0", "e-")
    return str(value)
