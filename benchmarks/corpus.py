"""The benchmark corpora: realistic `.tune` files and the same experiments as YAML (for yamllint), one
file sweeping many variants, one very large file, and JSONL training data.

Realistic means what a team's repository holds: an imported preset file, presets extending presets,
experiments extending them with a learning-rate sweep of three values, a data file each.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

MODELS = [
    ("ibm/granite-3-1-8b-base", "lora"), ("meta-llama/llama-3-1-8b", "lora"), ("mistralai/Mistral-7B-v0.1", "full"),
    ("Qwen/Qwen2.5-7B", "lora"), ("meta-llama/llama-3-1-70b-gptq", "qlora"),
]
TASKS = ["classification", "generation", "summarization", "extraction", "question_answering"]

PRESETS = """# Shared presets for the benchmark corpus.
preset base_training {
  seed = 42

  training {
    batch_size       = 8
    accumulate_steps = 2
    learning_rate    = 2e-4
    epochs           = 3
    max_seq_length   = 2048
  }
}

preset base_cluster extends base_training {
  resources {
    image = "registry.example.com/ml/fms-hf-tuning:3.2.2"
  }
}

preset lora_defaults extends base_cluster {
  lora {
    rank           = 16
    alpha          = 32
    dropout        = 0.05
    target_modules = ["q_proj", "k_proj", "v_proj", "o_proj"]
  }
}
"""


def experiment(index: int, rng: random.Random) -> dict:
    model, method = MODELS[index % len(MODELS)]
    rates = sorted(rng.sample([1e-5, 2e-5, 5e-5, 1e-4, 2e-4], 3))
    return {
        "name": f"exp_{index}",
        "model": model,
        "method": method,
        "task": TASKS[index % len(TASKS)],
        "description": f"Benchmark experiment number {index}",
        "data": {"train": f"../data/set_{index % 10}.jsonl"},
        "training": {"batch_size": rng.choice([4, 8, 16]), "learning_rate": rates, "epochs": rng.randint(1, 5)},
        "lora": {"rank": rng.choice([8, 16, 32]), "alpha": 32, "dropout": 0.05},
        "resources": {"gpus_per_node": rng.choice([1, 2, 4]), "gpu_memory_gb": 80},
    }


def tune_text(exp: dict) -> str:
    training = exp["training"]
    rates = ", ".join(repr(rate) for rate in training["learning_rate"])
    lora = exp["lora"]
    lora_block = "" if exp["method"] == "full" else f"""
  lora {{
    rank    = {lora['rank']}
    alpha   = {lora['alpha']}
    dropout = {lora['dropout']}
  }}
"""
    base = "base_cluster" if exp["method"] == "full" else "lora_defaults"
    return f"""# Generated for the benchmark.
import "common.tune"

experiment {exp['name']} extends {base} {{
  model       = "{exp['model']}"
  method      = {exp['method']}
  task        = {exp['task']}
  description = "{exp['description']}"

  data {{
    train = "{exp['data']['train']}"
  }}

  training {{
    batch_size    = {training['batch_size']}
    learning_rate = sweep [{rates}]
    epochs        = {training['epochs']}
  }}
{lora_block}
  resources {{
    gpus_per_node = {exp['resources']['gpus_per_node']}
    gpu_memory_gb = {exp['resources']['gpu_memory_gb']}
  }}
}}
"""


def yaml_text(exp: dict) -> str:
    training = exp["training"]
    lora = "" if exp["method"] == "full" else (
        f"lora:\n  rank: {exp['lora']['rank']}\n  alpha: {exp['lora']['alpha']}\n  dropout: {exp['lora']['dropout']}\n")
    rates = ", ".join(repr(rate) for rate in training["learning_rate"])
    return f"""# Generated for the benchmark.
---
experiment: {exp['name']}
extends: {"base_cluster" if exp["method"] == "full" else "lora_defaults"}
model: "{exp['model']}"
method: {exp['method']}
task: {exp['task']}
description: "{exp['description']}"
data:
  train: "{exp['data']['train']}"
training:
  batch_size: {training['batch_size']}
  learning_rate: [{rates}]
  epochs: {training['epochs']}
{lora}resources:
  gpus_per_node: {exp['resources']['gpus_per_node']}
  gpu_memory_gb: {exp['resources']['gpu_memory_gb']}
"""


def generate(work: Path, count: int) -> tuple[Path, Path]:
    """Write `count` experiments as `.tune` and as YAML under `work`; returns (tune folder, yaml folder)."""
    if work.exists():
        shutil.rmtree(work)
    tune_dir, yaml_dir = work / "tune", work / "yaml"
    tune_dir.mkdir(parents=True)
    yaml_dir.mkdir(parents=True)
    (work / "tunespec.toml").write_text("")
    (tune_dir / "common.tune").write_text(PRESETS)
    rng = random.Random(1)
    for index in range(count):
        exp = experiment(index, rng)
        (tune_dir / f"exp_{index}.tune").write_text(tune_text(exp))
        (yaml_dir / f"exp_{index}.yaml").write_text(yaml_text(exp))
    return tune_dir, yaml_dir


def write_data(work: Path, records: int) -> list[Path]:
    """Ten JSONL files of `records` support tickets each, as the corpus's experiments name them."""
    folder = work / "data"
    folder.mkdir(exist_ok=True)
    rng = random.Random(2)
    words = "invoice refund laptop password printer order shipment account charge update error screen".split()
    paths = []
    for index in range(10):
        path = folder / f"set_{index}.jsonl"
        with open(path, "w", encoding="utf-8") as handle:
            for number in range(records):
                text = " ".join(rng.choice(words) for _ in range(rng.randint(8, 60)))
                handle.write(json.dumps({"input": f"Ticket {number}: {text}", "output": rng.choice(words)}) + "\n")
        paths.append(path)
    return paths


def sweep_file(path: Path, variants: int) -> None:
    """One experiment whose sweeps multiply to `variants` (a power of ten): learning rate x epochs x seeds."""
    rates = [f"{(index + 1)}e-5" for index in range(10)]
    epochs = list(range(1, 11))
    seeds = list(range(1, max(1, variants // 100) + 1))
    if variants < 100:
        epochs = epochs[: max(1, variants // 10)]
    path.write_text(f"""import "common.tune"

experiment wide extends lora_defaults {{
  model  = "ibm/granite-3-1-8b-base"
  method = lora
  task   = classification
  seed   = sweep [{", ".join(map(str, seeds))}]

  data {{
    train = "../data/set_0.jsonl"
  }}

  training {{
    learning_rate = sweep [{", ".join(rates)}]
    epochs        = sweep [{", ".join(map(str, epochs))}]
  }}
}}
""")


def big_file(path: Path, megabytes: float) -> int:
    """One `.tune` file of about `megabytes` MB: presets and experiments declared one after another.
    Returns the number of declarations."""
    rng = random.Random(3)
    parts = [PRESETS]
    size, index = len(PRESETS), 0
    while size < megabytes * 1_000_000:
        exp = experiment(index, rng)
        text = tune_text(exp).replace('import "common.tune"\n', "").replace("# Generated for the benchmark.\n", "")
        text = text.replace(f"experiment exp_{index} ", f"experiment big_{index} ")
        parts.append(text)
        size += len(text)
        index += 1
    path.write_text("".join(parts))
    return index + PRESETS.count("preset ")
