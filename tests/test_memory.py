"""The GPU memory estimate against the published figures, and how `show` prints it."""

from __future__ import annotations

import pytest

from tunespec.api import resolve_paths
from tunespec.compiler.catalog import load_catalog
from tunespec.compiler.memory import GIB, estimate
from tunespec.config import Config

LLAMA_70B = 'model "meta-llama/Llama-3.1-70B" { family = llama  parameters = 70.6e9  hidden_size = 8192  num_layers = 80 }'
LLAMA_65B = 'model "huggyllama/llama-65b" { family = llama  parameters = 65.2e9  hidden_size = 8192  num_layers = 80 }'


def estimated(project, declare: str, model: str, method: str, batch: int, length: int, gpus: int, lora: str = ""):
    project.write("m.tune", f"""{declare}
experiment e {{
  model  = "{model}"
  method = {method}
  training {{ batch_size = {batch}  max_seq_length = {length} }}
  resources {{ gpus_per_node = {gpus} }}
  {lora}
}}
""")
    _, _, [exp] = resolve_paths(["m.tune"], Config())
    return estimate(exp, load_catalog())


def test_8b_lora_fits_one_80gb_gpu_at_batch_2_and_length_512(project):
    """Software Hub planning: "for an 8 billion parameter model you can use 1 GPU if you set the batch size
    to 2 and the maximum sequence length to 512"."""
    found = estimated(project, "", "meta-llama/llama-3-1-8b", "lora", 2, 512, 1)
    assert found.total < 80 * GIB


@pytest.mark.parametrize("gpus, fits", [(8, True), (4, False), (2, False), (1, False)])
def test_70b_lora_at_length_1024_and_batch_32_needs_8_gpus(project, gpus, fits):
    """Software Hub planning: "LoRA fine tuning of a 70 billion parameter model with a 1,024 maximum sequence
    length and batch size of 32 requires 8 GPUs" (80 GB each)."""
    found = estimated(project, LLAMA_70B, "meta-llama/Llama-3.1-70B", "lora", 32, 1024, gpus,
                      'lora { rank = 16  target_modules = ["q_proj", "v_proj"] }')
    assert (found.total <= 80 * GIB) is fits


def test_qlora_fits_65b_on_one_48gb_gpu(project):
    """QLoRA paper: a 65B model fine-tuned on a single 48 GB GPU (rank 64 on all linear layers)."""
    found = estimated(project, LLAMA_65B, "huggyllama/llama-65b", "qlora", 1, 512, 1,
                      'lora { rank = 64  target_modules = ["all-linear"] }')
    assert found.total < 48 * GIB


def test_the_same_65b_model_in_16_bits_does_not_fit_48gb(project):
    found = estimated(project, LLAMA_65B, "huggyllama/llama-65b", "lora", 1, 512, 1,
                      'lora { rank = 64  target_modules = ["all-linear"] }')
    assert found.total > 48 * GIB


def test_parts_add_up_and_weights_shard_over_gpus(project):
    one = estimated(project, "", "mistralai/Mistral-7B-v0.1", "full", 4, 2048, 1)
    four = estimated(project, "", "mistralai/Mistral-7B-v0.1", "full", 4, 2048, 4)
    assert one.total == pytest.approx(one.weights + one.trainable + one.gradients + one.optimizer + one.activations)
    assert one.weights == pytest.approx(7.2e9 * 2) and four.weights == pytest.approx(one.weights / 4)
    assert four.activations == one.activations
    assert one.trainable_parameters == 7.2e9


def test_no_estimate_without_sizes_or_shape(project):
    assert estimated(project, 'model "acme/x" { family = llama }', "acme/x", "lora", 2, 512, 1) is None
    project.write("m.tune", 'experiment e { model = "meta-llama/llama-3-1-8b"  method = lora }')
    _, _, [exp] = resolve_paths(["m.tune"], Config())
    assert estimate(exp, load_catalog()) is None  # no max_seq_length


def test_show_prints_the_estimate(project):
    import json

    from tunespec.cli import main

    project.write("m.tune", 'experiment e { model = "meta-llama/llama-3-1-8b"  method = lora  training { batch_size = 2  max_seq_length = 512 } }')
    import contextlib
    import io

    text, data = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(text):
        main(["show", "m.tune"])
    with contextlib.redirect_stdout(data):
        main(["show", "--format", "json", "m.tune"])
    assert "estimated peak GPU memory" in text.getvalue() and "GB on one GPU (weights 14.9" in text.getvalue()
    memory = json.loads(data.getvalue())[0]["memory_estimate"]
    assert memory["gpus"] == 1 and sum(memory["parts"].values()) == pytest.approx(memory["bytes_per_gpu"], abs=5)
