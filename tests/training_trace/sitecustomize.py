"""What a trainer really runs with, recorded from inside the run (training tests only).

The training tests put this folder first on the PYTHONPATH of the `run.sh` they start, so Python imports it
in every process the launcher starts. When TUNESPEC_TRACE names a file, it patches `transformers.Trainer`
(the base class of TRL's, fms-hf-tuning's and LLaMA-Factory's trainers) as soon as it is imported, and
writes there, as JSON: the resolved training arguments, the model as it trains (parameter dtypes,
trainable count, the PEFT config, gradient checkpointing), the data sets' sizes, every sequence the model
was given (token ids and labels, in the order given), and every log record (losses, learning rates,
evaluations) with its step. Nothing in the run's behaviour changes. Without TUNESPEC_TRACE it does nothing.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import json
import os
import sys

TRACE = os.environ.get("TUNESPEC_TRACE")
ARGUMENTS = (
    "output_dir", "learning_rate", "lr_scheduler_type", "warmup_steps", "warmup_ratio", "num_train_epochs",
    "max_steps", "per_device_train_batch_size", "per_device_eval_batch_size", "gradient_accumulation_steps",
    "eval_strategy", "eval_steps", "save_strategy", "save_steps", "logging_strategy", "logging_steps", "bf16", "fp16",
    "tf32", "gradient_checkpointing", "weight_decay", "optim", "adam_beta1", "adam_beta2", "adam_epsilon",
    "max_grad_norm", "seed", "report_to", "max_length", "max_seq_length", "sequence_len", "packing",
    "completion_only_loss",
)


def _plain(value):
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple, set)):
        items = [_plain(item) for item in value]
        return sorted(items, key=str) if isinstance(value, set) else items
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    return str(getattr(value, "value", value))


class Trace:
    def __init__(self, path: str) -> None:
        self.path = path
        self.data = {"arguments": {}, "model": {}, "data": {}, "batches": [], "logs": [], "state": {},
                     "parsed": TRACE_DATA}

    def write(self) -> None:
        with open(self.path, "w", encoding="utf-8") as handle:
            json.dump(self.data, handle, indent=1)

    def start(self, trainer) -> None:
        args = trainer.args
        self.data["arguments"] = {name: _plain(getattr(args, name)) for name in ARGUMENTS if hasattr(args, name)}
        self.data["arguments"]["world_size"] = args.world_size
        self.data["trainer"] = type(trainer).__name__
        self.data["model"] = model_facts(trainer.model)
        self.data["data"] = {"train": _size(trainer.train_dataset), "eval": _size(trainer.eval_dataset)}
        self.write()

    def batch(self, trainer, inputs) -> None:
        if not self.data["batches"]:  # the model as it trains: checkpointing and wrapping are done by now
            self.data["model"] = model_facts(trainer.model)
            self.write()
        ids, labels = inputs.get("input_ids"), inputs.get("labels")
        if ids is None:
            return
        mask = inputs.get("attention_mask")
        rows = []
        for row in range(ids.shape[0]):
            keep = mask[row].bool() if mask is not None and mask.shape == ids.shape else slice(None)
            if labels is None:
                target = None
            elif labels.shape == ids.shape:  # a decoder: labels align with the input
                target = labels[row][keep].tolist()
            else:  # an encoder-decoder: the decoder's labels, padded with -100
                target = [token for token in labels[row].tolist() if token != -100]
            rows.append({"input_ids": ids[row][keep].tolist(), "labels": target})
        self.data["batches"].append(rows)

    def log(self, trainer, logs) -> None:
        self.data["logs"].append({"step": trainer.state.global_step, **_plain(dict(logs))})

    def finish(self, trainer) -> None:
        state = trainer.state
        self.data["state"] = {"global_step": state.global_step, "max_steps": state.max_steps, "epoch": state.epoch,
                              "num_train_epochs": state.num_train_epochs}
        self.write()


def model_facts(model) -> dict:
    trainable, frozen = {}, {}
    for parameter in model.parameters():
        counts = trainable if parameter.requires_grad else frozen
        name = str(parameter.dtype).replace("torch.", "")
        counts[name] = counts.get(name, 0) + parameter.numel()
    facts = {"class": type(model).__name__, "trainable": trainable, "frozen": frozen,
             "gradient_checkpointing": bool(getattr(model, "is_gradient_checkpointing", False))}
    base = getattr(model, "get_base_model", lambda: model)()
    facts["gradient_checkpointing"] = facts["gradient_checkpointing"] or bool(getattr(base, "is_gradient_checkpointing", False))
    facts["quantized_4bit"] = bool(getattr(base, "is_loaded_in_4bit", False))
    peft_config = getattr(model, "peft_config", None)
    if peft_config:
        config = peft_config.get("default", next(iter(peft_config.values())))
        facts["peft"] = {name: _plain(getattr(config, name, None)) for name in (
            "peft_type", "task_type", "r", "lora_alpha", "lora_dropout", "target_modules", "use_rslora", "use_dora",
            "num_virtual_tokens", "prompt_tuning_init")}
        facts["lora_modules"] = sorted({name.split(".lora_A.")[0].rsplit(".", 1)[-1]
                                        for name, _ in model.named_parameters() if ".lora_A." in name})
    facts["dtype_of_config"] = str(getattr(getattr(base, "config", None), "torch_dtype", None) or
                                   getattr(getattr(base, "config", None), "dtype", None))
    return facts


def _size(dataset):
    try:
        return len(dataset) if dataset is not None else None
    except TypeError:
        return None


def patch(trainer_class) -> None:
    trace = Trace(TRACE)
    train, training_step, log = trainer_class.train, trainer_class.training_step, trainer_class.log

    def traced_train(self, *args, **kwargs):
        trace.start(self)
        try:
            return train(self, *args, **kwargs)
        finally:
            trace.finish(self)

    def traced_training_step(self, model, inputs, *args, **kwargs):
        trace.batch(self, inputs)
        return training_step(self, model, inputs, *args, **kwargs)

    def traced_log(self, logs, *args, **kwargs):
        trace.log(self, logs)
        return log(self, logs, *args, **kwargs)

    trainer_class.train, trainer_class.training_step, trainer_class.log = traced_train, traced_training_step, traced_log


def patch_parser(parser_class) -> None:
    """Keep the dataclasses a backend parses its configuration into (LLaMA-Factory's cutoff_len and template
    live there, not in the trainer's arguments)."""
    parse_dict = parser_class.parse_dict

    def traced_parse_dict(self, *args, **kwargs):
        parsed = parse_dict(self, *args, **kwargs)
        for item in parsed:
            fields = getattr(item, "__dataclass_fields__", None)
            if fields:
                TRACE_DATA.setdefault(type(item).__name__, {}).update(
                    {name: _plain(getattr(item, name, None)) for name in fields})
        return parsed

    parser_class.parse_dict = traced_parse_dict


TRACE_DATA: dict = {}
PATCHES = {"transformers.trainer": lambda module: patch(module.Trainer),
           "transformers.hf_argparser": lambda module: patch_parser(module.HfArgumentParser)}


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Patches a module of PATCHES right after it is executed."""

    def __init__(self) -> None:
        self.pending = dict(PATCHES)

    def find_spec(self, name, path=None, target=None):
        if name not in self.pending:
            return None
        apply = self.pending.pop(name)
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            if self.pending:
                sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return spec
        execute = spec.loader.exec_module

        def exec_module(module):
            execute(module)
            apply(module)

        spec.loader.exec_module = exec_module
        return spec


if TRACE:
    sys.meta_path.insert(0, _PatchOnImport())
