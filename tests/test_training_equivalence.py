"""The same experiment, built for peft, fms-hf-tuning, LLaMA-Factory and Axolotl, trains the same way.

Each backend runs in an environment of its own (their pins conflict), so the runs happen there
(tests/test_training_real.py::test_the_equivalence_experiment_runs, which keeps each run's trace in the folder
TUNESPEC_TRAINING_TRACES names) and this module compares the traces afterwards; `.ci/run` does both. What is
compared was recorded inside each real run (tests/training_trace): the trainer's resolved arguments, the model
as it trained, every sequence it was given and every loss and learning rate it logged.

Where the backends tokenise identically (peft's TRL, fms-hf-tuning and Axolotl: the input, the output as
written, EOS), the losses agree: at every step for full fine-tuning (the same weights, data, optimizer and
schedule), and at the first step for LoRA (after it, each backend's random LoRA initialisation and dropout
differ). LLaMA-Factory has no template that adds only EOS to input/output records: its `fewshot` adds a blank
line before EOS, two more tokens to predict in every example, so its losses differ by construction; the test
checks that this is the only difference in what it trains on.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

FOLDER = os.environ.get("TUNESPEC_TRAINING_TRACES")
TARGETS = ("peft", "fms-hf-tuning", "llama-factory", "axolotl")
SAME_TOKENS = ("peft", "fms-hf-tuning", "axolotl")  # the input and the output joined as written, then EOS

pytestmark = pytest.mark.skipif(not FOLDER, reason="TUNESPEC_TRAINING_TRACES is not set: .ci/run runs the "
                                                   "equivalence experiment in each backend's environment first")


def traces(method: str) -> dict[str, dict]:
    found = {target: Path(FOLDER, f"{method}-{target}.json") for target in TARGETS}
    loaded = {target: json.loads(path.read_text(encoding="utf-8")) for target, path in found.items() if path.is_file()}
    if len(loaded) < 2:
        pytest.skip(f"fewer than two backends ran the {method} experiment (traces: {sorted(loaded)}): "
                    "the others' environments could not be installed")
    return loaded


def max_length(trace: dict) -> int | None:
    """The maximum sequence length each trainer resolved: TRL's `max_length`, fms-hf-tuning's `max_seq_length`,
    LLaMA-Factory's `cutoff_len` (in its data arguments), Axolotl's `sequence_len`."""
    arguments, parsed = trace["arguments"], trace["parsed"]
    return (arguments.get("max_length") or arguments.get("max_seq_length") or arguments.get("sequence_len")
            or parsed.get("DataArguments", {}).get("cutoff_len"))


def effective(trace: dict) -> dict:
    """The hyperparameters that decide how a run trains, as the trainer resolved them."""
    arguments, model, state = trace["arguments"], trace["model"], trace["state"]
    facts = {name: arguments.get(name) for name in (
        "learning_rate", "lr_scheduler_type", "num_train_epochs", "per_device_train_batch_size",
        "gradient_accumulation_steps", "eval_strategy", "save_strategy", "logging_steps", "bf16", "fp16",
        "weight_decay", "optim", "max_grad_norm", "seed")}
    facts["warmup_steps"] = arguments.get("warmup_steps") or 0
    facts["optimizer_steps"] = state["max_steps"]
    facts["max_length"] = max_length(trace)
    facts["gradient_checkpointing"] = model["gradient_checkpointing"]
    facts["trainable"], facts["frozen"] = model["trainable"], model["frozen"]
    if "peft" in model:
        facts["lora"] = {name: model["peft"][name] for name in ("r", "lora_alpha", "lora_dropout", "use_rslora",
                                                                "use_dora")}
        facts["lora_modules"] = model["lora_modules"]
    # Axolotl also evaluates before the first step (it sets `eval_on_start` whenever it evaluates)
    facts["evaluated_at"] = [entry["step"] for entry in trace["logs"] if "eval_loss" in entry and entry["step"] > 0]
    facts["learning_rates"] = [round(entry["learning_rate"], 12) for entry in trace["logs"] if "loss" in entry]
    return facts


def losses(trace: dict) -> list[float]:
    return [entry["loss"] for entry in trace["logs"] if "loss" in entry]


def first_step_sequences(trace: dict) -> list[tuple]:
    """What the model learned from at the first step (the whole training set: batch 8 of 8), in a fixed order."""
    return sorted((tuple(row["input_ids"]), tuple(row["labels"])) for row in trace["batches"][0])


@pytest.mark.parametrize("method", ["lora", "full"])
def test_every_backend_resolves_the_same_hyperparameters(method):
    found = traces(method)
    resolved = {target: effective(trace) for target, trace in found.items()}
    reference_target, reference = next(iter(resolved.items()))
    assert reference["optimizer_steps"] == 4 and reference["evaluated_at"] == [1, 2, 3, 4]
    assert reference["max_length"] == 64 and reference["seed"] == 7 and reference["warmup_steps"] == 2
    peak = reference["learning_rate"]  # linear warmup from 0 over two steps, then linear decay to 0
    assert reference["learning_rates"] == pytest.approx([0.0, peak / 2, peak, peak / 2])
    for target, facts in resolved.items():
        if target == "llama-factory":
            # LLaMA-Factory loads the weights in the checkpoint's dtype (torch_dtype="auto", model/loader.py):
            # its frozen weights are bf16 here, whatever the precision; trainable ones are fp32 as elsewhere
            facts["frozen"] = reference["frozen"]
        differing = {name: (value, reference[name]) for name, value in facts.items() if value != reference[name]}
        assert not differing, f"{target} differs from {reference_target}: {differing}"


@pytest.mark.parametrize("method", ["lora", "full"])
def test_backends_that_format_alike_train_on_the_same_tokens(method):
    found = traces(method)
    same = {target: first_step_sequences(trace) for target, trace in found.items() if target in SAME_TOKENS}
    reference = next(iter(same.values()))
    assert len(reference) == 8 and all(labels[-1] == ids[-1] for ids, labels in reference)  # EOS, learned
    for target, sequences in same.items():
        assert sequences == reference, f"{target} tokenises differently"
    if "llama-factory" in found:
        # `fewshot`: the same sequences with one fixed suffix (a blank line) between the output and EOS
        suffixes = set()
        stripped = []
        for ids, labels in first_step_sequences(found["llama-factory"]):
            end = len(ids) - 1
            for cut in range(end, 0, -1):
                candidate = (ids[:cut] + ids[end:], labels[:cut] + labels[end:])
                if candidate in reference:
                    suffixes.add(ids[cut:end])
                    stripped.append(candidate)
                    break
        assert sorted(stripped) == reference and len(suffixes) == 1, "LLaMA-Factory differs by more than its suffix"


@pytest.mark.parametrize("method", ["lora", "full"])
def test_losses_agree_where_the_tokens_agree(method):
    found = {target: trace for target, trace in traces(method).items() if target in SAME_TOKENS}
    if len(found) < 2:
        pytest.skip(f"fewer than two of {', '.join(SAME_TOKENS)} ran the {method} experiment")
    # full fine-tuning: every step; LoRA: up to the first update (the first warmup step has learning rate 0,
    # so steps 1 and 2 see the initial adapter, whose B matrix is zero whatever the random A)
    steps = 4 if method == "full" else 2
    reference_target, reference = next(iter(found.items()))
    for target, trace in found.items():
        assert losses(trace)[:steps] == pytest.approx(losses(reference)[:steps], rel=1e-4), \
            f"{target}: {losses(trace)} against {reference_target}: {losses(reference)}"
        evaluations = [entry["eval_loss"] for entry in trace["logs"] if "eval_loss" in entry and entry["step"] > 0]
        expected = [entry["eval_loss"] for entry in reference["logs"] if "eval_loss" in entry and entry["step"] > 0]
        count = 4 if method == "full" else 1
        assert evaluations[:count] == pytest.approx(expected[:count], rel=1e-4)


def test_chat_data_is_formatted_alike_by_the_tokenizers_template():
    """Chat records (`data.format = messages`, the tokenizer's own chat template): TRL and LLaMA-Factory
    train on the same tokens and agree on the loss; Axolotl gives the model the same tokens but does not
    train on what the template writes after EOS (its `train_on_eos: turn` ends a turn's labels at EOS)."""
    found = traces("chat")
    sequences = {target: first_step_sequences(trace) for target, trace in found.items()}
    if "peft" in sequences and "llama-factory" in sequences:
        assert sequences["llama-factory"] == sequences["peft"]
        assert losses(found["llama-factory"])[:2] == pytest.approx(losses(found["peft"])[:2], rel=1e-4)
    if "axolotl" in sequences:
        reference = sequences.get("peft") or sequences.get("llama-factory")
        if reference is not None:
            assert [ids for ids, _ in sequences["axolotl"]] == [ids for ids, _ in reference]
            for (ids, ours), (_, theirs) in zip(sequences["axolotl"], reference):
                end = max(index for index, token in enumerate(theirs) if token != -100)
                eos = end - 1  # the template writes one token after EOS
                assert ours[:end] == theirs[:end] and ours[eos] == ids[eos] and ours[end] == -100
    assert all(effective(trace)["lora"]["r"] == 4 for trace in found.values())
