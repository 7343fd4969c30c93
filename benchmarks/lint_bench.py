"""Lint benchmark: tunespec against yamllint on the same experiments, and cold start of one file.

    python benchmarks/lint_bench.py [--files 1000] [--repeat 5] [--records 10000]

Generates N realistic `.tune` files (an imported preset file, presets extending presets, sweeps) and the
same experiments as YAML, then times, in one run and interleaved so that machine noise hits both alike:

- `tunespec lint DIR` against `yamllint -d relaxed DIR`      (issue target: <= 0.5x)
- `tunespec lint one.tune` against `yamllint -d relaxed one.yaml`, cold   (issue target: <= 1.2x)
- `python -c pass`, the floor both stand on;
- data-aware lint: the same experiments sharing 10 JSONL files of `--records` records each; what linting
  costs more with the files present than without, against a bare `for line in open(f): json.loads(line)`
  over the same files (issue target: each data file read once, so about 1x);
- `tunespec build` of every target for the variants of a third of the files (3 variants each, so about
  1,000 variants when --files is 1000) against `tunespec lint` of the same files (issue target: <= 2x).

Machines here are shared and noisy: the script prints ratios (medians of interleaved runs), not seconds.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"

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


def generate(count: int) -> tuple[Path, Path]:
    """Write the corpus; returns (tune folder, yaml folder)."""
    if WORK.exists():
        shutil.rmtree(WORK)
    tune_dir, yaml_dir = WORK / "tune", WORK / "yaml"
    tune_dir.mkdir(parents=True)
    yaml_dir.mkdir(parents=True)
    (WORK / "tunespec.toml").write_text("")
    (tune_dir / "common.tune").write_text(PRESETS)
    rng = random.Random(1)
    for index in range(count):
        exp = experiment(index, rng)
        (tune_dir / f"exp_{index}.tune").write_text(tune_text(exp))
        (yaml_dir / f"exp_{index}.yaml").write_text(yaml_text(exp))
    return tune_dir, yaml_dir


def write_data(records: int) -> list[Path]:
    """Ten JSONL files of `records` support tickets each, as the corpus's experiments name them."""
    folder = WORK / "data"
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


def bare_read(paths: list[Path], repeat: int) -> float:
    """The floor: read every file once, parsing each line as JSON (best of `repeat`)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for path in paths:
            for line in open(path, encoding="utf-8"):
                json.loads(line)
        best = min(best, time.perf_counter() - start)
    return best


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, cwd=WORK, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if result.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} failed: {result.stderr.decode()[-500:]}")
    return elapsed


def compare(commands: dict[str, list[str]], repeat: int) -> dict[str, float]:
    """Median wall time of each command, run interleaved `repeat` times after one warm-up round."""
    for command in commands.values():
        timed(command)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(repeat):
        for name, command in commands.items():
            times[name].append(timed(command))
    return {name: statistics.median(values) for name, values in times.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--records", type=int, default=10_000, help="records in each of the 10 data files")
    args = parser.parse_args(argv)
    tune_dir, yaml_dir = generate(args.files)
    python = sys.executable
    many = compare({
        "tunespec": [python, "-m", "tunespec", "lint", "tune"],
        "yamllint": [python, "-m", "yamllint", "-d", "relaxed", "yaml"],
    }, args.repeat)
    one = compare({
        "tunespec": [python, "-m", "tunespec", "lint", "tune/exp_0.tune"],
        "yamllint": [python, "-m", "yamllint", "-d", "relaxed", "yaml/exp_0.yaml"],
        "python": [python, "-c", "pass"],
    }, args.repeat * 2)
    lint_command = [python, "-m", "tunespec", "lint", "tune"]
    without_data = compare({"lint": lint_command}, args.repeat)["lint"]
    data_files = write_data(args.records)
    with_data = compare({"lint": lint_command}, args.repeat)["lint"]
    floor = bare_read(data_files, args.repeat)
    subset = [f"tune/exp_{index}.tune" for index in range(max(1, args.files // 3))]
    targets = "yaml,json,peft,fms-hf-tuning,watsonx,axolotl,llama-factory,torchtune,kubeflow"
    building = compare({
        "build": [python, "-m", "tunespec", "build", *subset, "--target", targets, "--out", "out"],
        "lint": [python, "-m", "tunespec", "lint", *subset],
    }, args.repeat)
    rows = [
        (f"lint {args.files} files: tunespec / yamllint", many["tunespec"] / many["yamllint"], 0.5),
        ("lint one file, cold: tunespec / yamllint", one["tunespec"] / one["yamllint"], 1.2),
        ("lint one file, cold: tunespec / python -c pass", one["tunespec"] / one["python"], None),
        ("lint one file, cold: yamllint / python -c pass", one["yamllint"] / one["python"], None),
        (f"data-aware lint (10 x {args.records} records): extra time / bare json.loads read",
         max(with_data - without_data, 0.0) / floor, None),
        (f"build all targets, {3 * len(subset)} variants: build / lint", building["build"] / building["lint"], 2.0),
    ]
    print(f"{'measure':<50} {'ratio':>7}  target")
    for label, ratio, target in rows:
        verdict = "" if target is None else f"<= {target}  {'met' if ratio <= target else 'NOT MET'}"
        print(f"{label:<50} {ratio:>7.3f}  {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
