"""Helpers of the training tests: a project around the tiny models, its build, and `run.sh` run for real.

A test writes an experiment on a tiny model (tests/tiny_models.py) and small JSONL data sets, builds it
with tunespec for a target, runs the emitted `run.sh` as a user would (the backend's commands found on the
PATH of the environment the test runs in, nothing downloaded), and reads what the trainer did from the
trace that tests/training_trace/sitecustomize.py records inside the run.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import tiny_models
from tunespec.api import build
from tunespec.config import Config

TRACE_HOOK = Path(__file__).resolve().parent / "training_trace"

# What each backend's run.sh needs importable in the environment the tests run in.
BACKEND_MODULES = {
    "peft": ("torch", "transformers", "peft", "trl", "datasets", "accelerate"),
    "fms-hf-tuning": ("torch", "transformers", "tuning", "accelerate"),
    "llama-factory": ("torch", "transformers", "llamafactory"),
    "torchtune": ("torch", "torchtune", "torchao", "transformers", "tokenizers"),
    "axolotl": ("torch", "transformers", "axolotl"),
}


def missing(backend: str) -> list[str]:
    return [name for name in BACKEND_MODULES[backend] if importlib.util.find_spec(name) is None]


def needs(backend: str):
    """Skip a test, saying why, when its backend is not installed (`.ci/run` runs each backend's tests in
    an environment of its own, where it is)."""
    absent = missing(backend)
    return pytest.mark.skipif(bool(absent), reason=f"{backend} is not installed here (no {', '.join(absent)}); "
                                                   f".ci/run trains with it in an environment of its own")


def model_declaration(name: str, folder: Path, family: str, decoder_only: bool, hidden_size: int) -> str:
    """A `model` declaration for a tiny model. Its checkpoint is a local folder: `hf_id` names it, as
    `from_pretrained` takes a folder wherever it takes a Hub id."""
    return (f'model "{name}" {{\n'
            f"  family         = {family}\n"
            f"  context_window = 256\n"
            f"  decoder_only   = {'true' if decoder_only else 'false'}\n"
            f"  parameters     = 60_000\n"
            f"  hidden_size    = {hidden_size}\n"
            f"  num_layers     = 2\n"
            f"  methods        = [prompt_tuning, lora, qlora, full]\n"
            f"  hf_id          = {json.dumps(str(folder))}\n"
            f"}}\n")


class TrainingProject:
    """A project root with the tiny models declared in models.tune and data in data/."""

    TRAIN, VALIDATION = 16, 4

    def __init__(self, root: Path, models: dict[str, Path], train: int = TRAIN, validation: int = VALIDATION) -> None:
        self.root = root
        self.train, self.validation = train, validation
        (root / "tunespec.toml").write_text("", encoding="utf-8")
        (root / "models.tune").write_text(
            model_declaration("tiny-llama", models["llama"], "llama", True, 64)
            + model_declaration("tiny-t5", models["t5"], "t5", False, 32), encoding="utf-8")
        tiny_models.write_jsonl(root / "data" / "train.jsonl", tiny_models.records(train))
        tiny_models.write_jsonl(root / "data" / "validation.jsonl", tiny_models.records(validation, offset=100))
        tiny_models.write_jsonl(root / "data" / "chat_train.jsonl", tiny_models.chat_records(train))
        tiny_models.write_jsonl(root / "data" / "chat_validation.jsonl", tiny_models.chat_records(validation, offset=100))

    def experiment(self, name: str, body: str) -> Path:
        path = self.root / f"{name}.tune"
        path.write_text(f'import "models.tune"\n\nexperiment {name} {{\n{body}}}\n', encoding="utf-8")
        return path

    def build(self, path: Path, target: str) -> list[Path]:
        result = build([str(path)], targets=[target], out=self.root / "out", config=Config(), root=self.root)
        assert not result.refused, result.refused
        return [Path(p) for p in result.written]

    def run(self, script: Path, *arguments: str, trace: Path | None = None, timeout: int = 900) -> "Run":
        """`sh run.sh ARGUMENTS` as a user runs it, offline, on the CPU, with the trace hook loaded."""
        trace = trace or script.parent / "trace.json"
        home = self.root / ".home"
        environment = dict(
            os.environ,
            PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            PYTHONPATH=str(TRACE_HOOK), TUNESPEC_TRACE=str(trace), HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1",
            TRANSFORMERS_OFFLINE="1", HF_HOME=str(home / "hf"), XDG_CACHE_HOME=str(home / "cache"),
            TRITON_CACHE_DIR=str(home / "triton"), CUDA_VISIBLE_DEVICES="", TOKENIZERS_PARALLELISM="false",
            WANDB_MODE="disabled", OMP_NUM_THREADS="1", PYTHONHASHSEED="0", AXOLOTL_DO_NOT_TRACK="1", DO_NOT_TRACK="1",
        )
        result = subprocess.run(["sh", str(script), *arguments], cwd=self.root, env=environment, capture_output=True,
                                text=True, timeout=timeout)
        log = result.stdout + result.stderr
        assert result.returncode == 0, f"{script} failed ({result.returncode}):\n{log[-6000:]}"
        assert trace.is_file(), f"{script} ran no trainer:\n{log[-3000:]}"
        return Run(json.loads(trace.read_text(encoding="utf-8")), log)


class Run:
    """What one run did, from its trace."""

    def __init__(self, trace: dict, log: str) -> None:
        self.trace, self.log = trace, log
        self.arguments, self.model, self.state = trace["arguments"], trace["model"], trace["state"]

    @property
    def steps(self) -> int:
        return self.state["global_step"]

    @property
    def micro_batches(self) -> int:
        return len(self.trace["batches"])

    def losses(self) -> list[tuple[int, float]]:
        return [(entry["step"], entry["loss"]) for entry in self.trace["logs"] if "loss" in entry]

    def evaluations(self) -> list[tuple[int, float]]:
        return [(entry["step"], entry["eval_loss"]) for entry in self.trace["logs"] if "eval_loss" in entry]

    def sequences(self) -> list[tuple[tuple, tuple]]:
        """Every (input ids, labels) the model was given, in order."""
        return [(tuple(row["input_ids"]), tuple(row["labels"])) for batch in self.trace["batches"] for row in batch]


def optimizer_steps(examples: int, batch_size: int, accumulate: int, epochs: int) -> int:
    """Steps a Hugging Face trainer takes on one process: ceil(examples / batch) batches an epoch, an update
    every `accumulate` of them (the data sets here divide evenly, where every version agrees)."""
    batches = math.ceil(examples / batch_size)
    assert batches % accumulate == 0, "choose sizes that divide evenly"
    return batches // accumulate * epochs


def saved_files(folder: Path) -> set[str]:
    return {path.name for path in folder.iterdir() if path.is_file()} if folder.is_dir() else set()
