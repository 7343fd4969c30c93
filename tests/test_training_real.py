"""Jobs that train what the experiment says: the emitted `run.sh` of each backend, run end to end on the CPU.

Each test writes an experiment on a tiny random model built offline (tests/tiny_models.py), builds it for
one target, runs its `run.sh` as a user would, and checks from inside the run (tests/training_trace) that the
trainer took the expected number of optimizer steps, evaluated at the configured cadence when validation data
is given, and saved an adapter or a model into the variant's own folder `<output_dir>/<variant>/<target>`.

A test runs where its backend is installed and is skipped, saying so, elsewhere: the README's `pytest` needs
no torch. `.ci/run` runs them for real, one environment per backend (their pins conflict).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.tiny_models import EOS_ID
from tests.training import TrainingProject, needs, optimizer_steps, saved_files
from tunespec.api import build
from tunespec.config import Config

BATCH, ACCUMULATE, EPOCHS = 2, 2, 2
ADAPTER = {"adapter_model.safetensors", "adapter_config.json"}
MODEL = {"model.safetensors", "config.json"}



def training(lr: float) -> str:
    return (f"  training {{\n    batch_size = {BATCH}\n    accumulate_steps = {ACCUMULATE}\n"
            f"    learning_rate = {lr}\n    epochs = {EPOCHS}\n    max_seq_length = 64\n  }}\n")

LORA = '  lora {\n    rank = 4\n    alpha = 8\n    dropout = 0.0\n    target_modules = ["q_proj", "v_proj"]\n  }\n'
PROMPT = '  prompt {\n    init_method = text\n    init_text = "Classify the ticket:"\n    num_virtual_tokens = 4\n  }\n'


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    """The tiny Llama and T5 (with their tokenizer), built once per session."""
    for module in ("torch", "transformers", "tokenizers", "safetensors"):
        pytest.importorskip(module, reason=f"{module} is not installed here: the training tests need it")
    from tests import tiny_models as tiny

    return tiny.build_all(tmp_path_factory.mktemp("tiny-models"))


@pytest.fixture
def project(tmp_path, tiny_models, monkeypatch) -> TrainingProject:
    monkeypatch.chdir(tmp_path)
    return TrainingProject(tmp_path, tiny_models)


def experiment(method: str, model: str = "tiny-llama", validation: bool = True, lr: float = 1e-3) -> str:
    data = '    train = "data/train.jsonl"\n' + ('    validation = "data/validation.jsonl"\n' if validation else "")
    body = (f'  model = "{model}"\n  method = {method}\n  task = classification\n'
            f'  data {{\n{data}  }}\n' + training(lr))
    if method in ("lora", "qlora"):
        body += LORA
    if method == "prompt_tuning":
        body += PROMPT
    return body


# What this machine needs that the experiment does not say, given to run.sh as its documented KEY=VALUE
# overrides (the spec stays as built): a CPU, no GPU (transformers refuses bf16 without one unless told to use
# the CPU), and no flash-attn (fms-hf-tuning asks for it by default).
# Axolotl has no key for transformers' `use_cpu` (without it bf16 is refused on a CPU), so there it trains in
# fp32, and its Triton LoRA kernels, which need a GPU, are off.
ON_THIS_CPU = {"peft": ("use_cpu=true",), "fms-hf-tuning": ("use_flash_attn=false", "use_cpu=true"),
               "llama-factory": ("use_cpu=true",),
               "axolotl": ("--no-lora-qkv-kernel", "--no-lora-o-kernel", "--no-lora-mlp-kernel", "--bf16=False")}


def train(project: TrainingProject, name: str, body: str, target: str):
    """Build one experiment for one target and run its run.sh; (the run, its trainer output folder)."""
    written = project.build(project.experiment(name, body), target)
    [script] = [path for path in written if path.name == "run.sh"]
    run = project.run(script, *ON_THIS_CPU.get(target, ()))
    return run, project.root / "runs" / name / name / target


def check_precision(run, method: str) -> None:
    """bf16, the default: full fine-tuning trains fp32 master weights under bf16 autocast; LoRA keeps the
    frozen base in bf16 and trains the adapter in fp32; gradient checkpointing on."""
    assert run.arguments["bf16"] is True and run.arguments["fp16"] is False
    assert run.model["gradient_checkpointing"] is True
    if method == "full":
        assert run.model["frozen"] == {} and set(run.model["trainable"]) == {"float32"}, run.model
    elif method in ("lora", "prompt_tuning"):
        assert set(run.model["frozen"]) == {"bfloat16"} and set(run.model["trainable"]) == {"float32"}, run.model


def check_trained(project: TrainingProject, run, folder: Path, saved: set[str], validation: bool = True) -> None:
    """The expected steps, the evaluations, and the files saved in the variant's own folder, nowhere else."""
    steps = optimizer_steps(TrainingProject.TRAIN, BATCH, ACCUMULATE, EPOCHS)
    assert run.steps == steps and run.state["max_steps"] == steps, run.state
    assert run.micro_batches == steps * ACCUMULATE  # every batch of every epoch went through the model
    assert run.trace["data"]["train"] == TrainingProject.TRAIN
    per_epoch = steps // EPOCHS
    if validation:
        assert run.trace["data"]["eval"] == TrainingProject.VALIDATION
        assert [step for step, _ in run.evaluations()] == [per_epoch * (epoch + 1) for epoch in range(EPOCHS)]
    else:
        assert run.evaluations() == []
    # every example the model learned from ends with EOS, so it learns to stop
    assert all(labels[-1] == EOS_ID for _, labels in run.sequences()), run.sequences()[:2]
    assert saved <= saved_files(folder), f"{folder} holds {sorted(saved_files(folder))}"
    trainers = sorted(str(path.relative_to(project.root)) for path in (project.root / "runs").glob("*/*/*"))
    assert trainers == [str(folder.relative_to(project.root))]


# --- peft: train.py with transformers, PEFT and TRL --------------------------------------------------------

@needs("peft")
def test_peft_lora_trains_evaluates_and_saves_its_adapter(project):
    run, folder = train(project, "lora", experiment("lora"), "peft")
    check_trained(project, run, folder, ADAPTER)
    assert run.model["peft"]["r"] == 4 and run.model["peft"]["lora_alpha"] == 8
    assert run.model["lora_modules"] == ["q_proj", "v_proj"]
    check_precision(run, "lora")


@needs("peft")
def test_peft_qlora_trains_a_4_bit_model(project):
    pytest.importorskip("bitsandbytes", reason="bitsandbytes is not installed: QLoRA cannot run here")
    run, folder = train(project, "qlora", experiment("qlora"), "peft")
    check_trained(project, run, folder, ADAPTER)
    assert run.model["quantized_4bit"] and run.model["lora_modules"] == ["q_proj", "v_proj"]
    # 4-bit weights (stored as uint8), the rest upcast by prepare_model_for_kbit_training; TRL casts the
    # adapters of a 4-bit model to the compute dtype, as the QLoRA reference does
    assert "uint8" in run.model["frozen"] and set(run.model["trainable"]) == {"bfloat16"}


@needs("peft")
def test_peft_full_fine_tuning_trains_and_saves_the_model(project):
    run, folder = train(project, "full", experiment("full", lr=1e-4), "peft")
    check_trained(project, run, folder, MODEL)
    assert "peft" not in run.model
    check_precision(run, "full")


@needs("peft")
def test_peft_prompt_tuning_on_t5(project):
    run, folder = train(project, "prompt_t5", experiment("prompt_tuning", model="tiny-t5", lr=0.3), "peft")
    check_trained(project, run, folder, ADAPTER)
    assert run.model["peft"]["num_virtual_tokens"] == 4 and run.model["peft"]["task_type"] == "SEQ_2_SEQ_LM"
    check_precision(run, "prompt_tuning")


@needs("peft")
def test_peft_prompt_tuning_on_a_decoder(project):
    run, folder = train(project, "prompt_llama", experiment("prompt_tuning", lr=0.3), "peft")
    check_trained(project, run, folder, ADAPTER)
    assert run.model["peft"]["num_virtual_tokens"] == 4 and run.model["peft"]["task_type"] == "CAUSAL_LM"
    check_precision(run, "prompt_tuning")


# --- fms-hf-tuning 3.2.2: sft_trainer -----------------------------------------------------------------------

@needs("fms-hf-tuning")
@pytest.mark.parametrize("method, saved", [("lora", ADAPTER), ("full", MODEL)])
def test_fms_hf_tuning_trains_evaluates_and_saves(project, method, saved):
    run, folder = train(project, f"fms_{method}", experiment(method, lr=1e-3 if method == "lora" else 1e-4),
                        "fms-hf-tuning")
    check_trained(project, run, folder, saved)
    check_precision(run, method)
    config = json.loads((project.root / "out" / f"fms_{method}" / "fms-hf-tuning" / "config.json").read_text())
    assert "use_flash_attn" not in config  # the override stayed out of the spec


# --- LLaMA-Factory 0.9.5: llamafactory-cli train ----------------------------------------------------------

@needs("llama-factory")
@pytest.mark.parametrize("method, saved", [("lora", ADAPTER), ("full", MODEL)])
def test_llama_factory_trains_evaluates_and_saves(project, method, saved):
    run, folder = train(project, f"lf_{method}", experiment(method, lr=1e-3 if method == "lora" else 1e-4),
                        "llama-factory")
    check_trained(project, run, folder, saved)
    check_precision(run, method)


# --- the same experiment on peft, fms-hf-tuning, LLaMA-Factory and Axolotl 0.19.0 ---------------------------
# (Axolotl trains here only in these runs: fp32 on this CPU, see ON_THIS_CPU.)

# Every step sees the whole training set (batch 8 of 8 examples), so the losses do not depend on the order a
# trainer draws the examples in; two warmup steps and a linear decay make the schedule visible in the logged
# learning rates; a loss is logged every step; fp32, so that losses compare to rounding, and Axolotl, which
# cannot use bf16 on a CPU, takes part.
EQUIVALENCE_TRAIN, EQUIVALENCE_VALIDATION = 8, 4
EQUIVALENCE_TARGETS = ("peft", "fms-hf-tuning", "llama-factory", "axolotl")


def equivalence_experiment(kind: str) -> str:
    """`lora` and `full` on input/output records; `chat`: LoRA on the same examples as conversations, formatted
    with the tokenizer's chat template."""
    data = '    train = "data/train.jsonl"\n    validation = "data/validation.jsonl"\n'
    if kind == "chat":
        data = ('    train = "data/chat_train.jsonl"\n    validation = "data/chat_validation.jsonl"\n'
                '    format = messages\n')
    method = "lora" if kind == "chat" else kind
    body = (f'  model = "tiny-llama"\n  method = {method}\n  task = classification\n  seed = 7\n'
            f'  data {{\n{data}  }}\n'
            "  training {\n    batch_size = 8\n    accumulate_steps = 1\n"
            f"    learning_rate = {1e-3 if method == 'lora' else 1e-4}\n    epochs = 4\n    max_seq_length = 64\n"
            "    warmup_steps = 2\n    logging_steps = 1\n    precision = fp32\n  }\n")
    if method == "lora":
        body += ('  lora {\n    rank = 4\n    alpha = 8\n    dropout = 0.05\n'
                 '    target_modules = ["q_proj", "k_proj", "v_proj", "o_proj"]\n  }\n')
    return body


# fms-hf-tuning formats input/output records only (its chat handling needs the template's markers): no chat run.
EQUIVALENCE_RUNS = [pytest.param(kind, target, marks=needs(target), id=f"{kind}-{target}")
                    for kind in ("lora", "full", "chat") for target in EQUIVALENCE_TARGETS
                    if not (kind == "chat" and target == "fms-hf-tuning")]


@pytest.mark.parametrize("kind, target", EQUIVALENCE_RUNS)
def test_the_equivalence_experiment_runs(tmp_path, tiny_models, monkeypatch, kind, target):
    """One run of the cross-backend experiment; with TUNESPEC_TRAINING_TRACES set (.ci/run sets it), its trace
    is kept there for tests/test_training_equivalence.py, which compares the backends."""
    monkeypatch.chdir(tmp_path)
    project = TrainingProject(tmp_path, tiny_models, EQUIVALENCE_TRAIN, EQUIVALENCE_VALIDATION)
    run, folder = train(project, "equivalence", equivalence_experiment(kind), target)
    assert run.steps == 4 and run.micro_batches == 4 and len(run.losses()) == 4
    # Axolotl also evaluates before training (it sets `eval_on_start` whenever it evaluates,
    # core/builders/base.py, with no key to turn it off)
    assert [step for step, _ in run.evaluations() if step > 0] == [1, 2, 3, 4]
    # every response the model learns ends with EOS (in chat, the template's end of turn may follow it)
    assert all(EOS_ID in labels[-2:] for _, labels in run.sequences())
    assert saved_files(folder) >= (MODEL if kind == "full" else ADAPTER)
    assert [path.relative_to(project.root) for path in (project.root / "runs").glob("*/*/*")] == \
        [folder.relative_to(project.root)]
    keep = os.environ.get("TUNESPEC_TRAINING_TRACES")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        (Path(keep) / f"{kind}-{target}.json").write_text(json.dumps(run.trace), encoding="utf-8")


# --- torchtune 0.6.1: tune run ----------------------------------------------------------------------------------

TORCHTUNE_RUNS = {  # method: (what the experiment adds, tune run's model for the tiny architecture)
    "lora": (LORA, "torchtune.models.llama3.lora_llama3"),
    # the full fine-tuning recipe schedules too (0.6.1 `_setup_lr_scheduler`): two warmup steps here
    "full": ("", "torchtune.models.llama3.llama3"),
}


@needs("torchtune")
@pytest.mark.parametrize("method", sorted(TORCHTUNE_RUNS))
def test_torchtune_trains_with_the_emitted_config(tmp_path, monkeypatch, method):
    """The emitted config and run.sh of a run on Llama 3.1 8B, its checkpoint folder holding a tiny model
    of the same layout (so run.sh finds it and downloads nothing); `tune run` is told the tiny architecture
    (torchtune's catalog builder is the 8B's) and the CPU on the command line, run.sh's overrides. Everything
    else trains as emitted: data, batch, accumulation, epochs, optimizer, schedule, clipping, dtype, logging."""
    from tests import tiny_models

    monkeypatch.chdir(tmp_path)
    (tmp_path / "tunespec.toml").write_text("", encoding="utf-8")
    tiny_models.write_jsonl(tmp_path / "data" / "train.jsonl", tiny_models.records(TrainingProject.TRAIN))
    checkpoint = tiny_models.build_llama3_layout(tmp_path / "models" / "meta-llama" / "Llama-3.1-8B")
    extra, component = TORCHTUNE_RUNS[method]
    warmup = 2 if method == "full" else 0
    settings = f"    logging_steps = 1\n    warmup_steps = {warmup}\n" + ("    precision = fp32\n" if method == "full" else "")
    lr = 1e-3 if method == "lora" else 1e-4
    source = tmp_path / "tt.tune"
    source.write_text(f'experiment tt {{\n  model = "meta-llama/llama-3-1-8b"\n  method = {method}\n  task = classification\n'
                      '  data { train = "data/train.jsonl" }\n' + training(lr).replace("  }\n", settings + "  }\n")
                      + extra + "}\n", encoding="utf-8")
    result = build([str(source)], targets=["torchtune"], out=tmp_path / "out", config=Config(), root=tmp_path)
    assert not result.refused, result.refused
    architecture = [f"model.{key}={value}" for key, value in tiny_models.LLAMA3_ARCHITECTURE.items()]
    environment = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
                       HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", HF_HOME=str(tmp_path / ".hf"),
                       CUDA_VISIBLE_DEVICES="", OMP_NUM_THREADS="1")
    run = subprocess.run(["sh", str(tmp_path / "out" / "tt" / "torchtune" / "run.sh"), "device=cpu",
                          f"model._component_={component}", *architecture,
                          "checkpointer.checkpoint_files=[model.safetensors]",
                          f"tokenizer.special_tokens_path={checkpoint / 'tokenizer.json'}"],
                         cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, (run.stdout + run.stderr)[-6000:]
    folder = tmp_path / "runs" / "tt" / "tt" / "torchtune"
    [log] = (folder / "logs").glob("log_*.txt")
    steps = [line for line in log.read_text(encoding="utf-8").splitlines() if line.startswith("Step ")]
    expected = optimizer_steps(TrainingProject.TRAIN, BATCH, ACCUMULATE, EPOCHS)
    assert len(steps) == expected and steps[-1].startswith(f"Step {expected} ")
    # the linear schedule the spec asks for, up over the warmup, then down to 0 over the rest of the run
    # (torchtune logs the rate of the next step)
    learning_rates = [float(line.split("lr:")[1].split()[0]) for line in steps]
    assert learning_rates == pytest.approx([lr * (step / warmup if step < warmup else (expected - step) / (expected - warmup))
                                            for step in range(1, expected + 1)])
    saved = {path.name for path in (folder / f"epoch_{EPOCHS - 1}").iterdir()}
    assert "adapter_model.safetensors" in saved if method == "lora" else \
        [name for name in saved if name.endswith(".safetensors")], saved
    assert [path.relative_to(tmp_path) for path in (tmp_path / "runs").glob("*/*/*")] == [folder.relative_to(tmp_path)]
