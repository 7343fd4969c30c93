"""The GPU memory estimate against published figures, what it counts, and how `show` prints it."""

from __future__ import annotations

import json

import pytest

from tunespec.api import resolve_paths
from tunespec.compiler.catalog import load_catalog
from tunespec.compiler.memory import GIB, PARTS, estimate, estimate_for_targets
from tunespec.config import Config

# Models the catalog does not hold, declared with their config.json numbers.
MODELS = {
    "huggyllama/llama-65b": "parameters = 65.2e9  hidden_size = 8192  num_layers = 80  intermediate_size = 22016 "
                            "vocab_size = 32000  num_attention_heads = 64  num_key_value_heads = 64",
    "meta-llama/Llama-2-7b-hf": "parameters = 6.74e9  hidden_size = 4096  num_layers = 32  intermediate_size = 11008 "
                                "vocab_size = 32000  num_attention_heads = 32  num_key_value_heads = 32",
    "meta-llama/Llama-2-70b-hf": "parameters = 68.98e9  hidden_size = 8192  num_layers = 80  intermediate_size = 28672 "
                                 "vocab_size = 32000  num_attention_heads = 64  num_key_value_heads = 8",
    "meta-llama/Llama-3.1-70B": "parameters = 70.6e9  hidden_size = 8192  num_layers = 80  intermediate_size = 28672 "
                                "vocab_size = 128256  num_attention_heads = 64  num_key_value_heads = 8",
}
TORCHTUNE_TARGETS = '["q_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]'
GB = 1e9
CONTEXT = load_catalog().advice["memory"]["cuda_context_gib"] * GIB

# (what, source, model, method, batch, length, GPUs, lora block, training extras, targets, published bytes,
#  what the figure measures). Each figure is met within 15%.
ANCHORS = [
    ("65B QLoRA fits one 48 GB GPU",
     "Dettmers et al., QLoRA (2023): Guanaco 65B, rank 64 on every linear layer, paged AdamW, length 512",
     "huggyllama/llama-65b", "qlora", 1, 512, 1, 'rank = 64  target_modules = ["all-linear"]',
     "optimizer = paged_adamw", [], 48 * GIB, "device"),
    ("Llama 3.1 8B LoRA, batch 2, length 2048: 16.2 GiB",
     "torchtune README, Memory and training speed (llama3_1/8B_lora_single_device: rank 8, q/v/output + MLP)",
     "meta-llama/llama-3-1-8b", "lora", 2, 2048, 1, f"rank = 8  target_modules = {TORCHTUNE_TARGETS}",
     "", ["torchtune"], 16.2 * GIB, "allocated"),
    ("Llama 3.1 8B QLoRA, batch 2, length 2048: 7.4 GiB",
     "torchtune README, Memory and training speed (llama3_1/8B_qlora_single_device)",
     "meta-llama/llama-3-1-8b", "qlora", 2, 2048, 1, f"rank = 8  target_modules = {TORCHTUNE_TARGETS}",
     "", ["torchtune"], 7.4 * GIB, "allocated"),
    ("Llama 3.1 70B LoRA on 8 GPUs, batch 2, length 2048: 27.6 GiB per GPU",
     "torchtune README, Memory and training speed (llama3_1/70B_lora: rank 16, FSDP)",
     "meta-llama/Llama-3.1-70B", "lora", 2, 2048, 8, f"rank = 16  target_modules = {TORCHTUNE_TARGETS}",
     "", ["torchtune"], 27.6 * GIB, "allocated"),
    ("LoRA 7B: 16 GB", "LLaMA-Factory README, Hardware Requirement (16-bit LoRA; its examples: batch 1, cutoff 2048)",
     "meta-llama/Llama-2-7b-hf", "lora", 1, 2048, 1, 'rank = 8  target_modules = ["all-linear"]', "", [],
     16 * GB, "device"),
    ("LoRA 70B: 160 GB", "LLaMA-Factory README, Hardware Requirement",
     "meta-llama/Llama-2-70b-hf", "lora", 1, 2048, 1, 'rank = 8  target_modules = ["all-linear"]', "", [],
     160 * GB, "device"),
    ("QLoRA 4-bit 7B: 6 GB", "LLaMA-Factory README, Hardware Requirement",
     "meta-llama/Llama-2-7b-hf", "qlora", 1, 2048, 1, 'rank = 8  target_modules = ["all-linear"]', "", [],
     6 * GB, "device"),
    ("QLoRA 4-bit 70B: 48 GB", "LLaMA-Factory README, Hardware Requirement",
     "meta-llama/Llama-2-70b-hf", "qlora", 1, 2048, 1, 'rank = 8  target_modules = ["all-linear"]', "", [],
     48 * GB, "device"),
    ("Full (mixed precision) 7B: 120 GB", "LLaMA-Factory README, Hardware Requirement (bf16/fp16 AMP: 32-bit weights)",
     "meta-llama/Llama-2-7b-hf", "full", 1, 2048, 1, "", "", [], 120 * GB, "device"),
]


def resolved(project, model: str, method: str, batch: int, length: int, gpus: int, lora: str = "",
             training: str = "", targets=(), resources: str = ""):
    declaration = f'model "{model}" {{ family = llama  {MODELS[model]} }}' if model in MODELS else ""
    lora_block = f"lora {{ {lora} }}" if lora else ""
    project.write("m.tune", f"""{declaration}
experiment e {{
  model  = "{model}"
  method = {method}
  targets = [{", ".join(targets)}]
  training {{ batch_size = {batch}  max_seq_length = {length}  {training} }}
  resources {{ gpus_per_node = {gpus}  {resources} }}
  {lora_block}
}}
""")
    _, _, [exp] = resolve_paths(["m.tune"], Config())
    return exp


@pytest.mark.parametrize("anchor", ANCHORS, ids=[a[0] for a in ANCHORS])
def test_the_estimate_lands_within_15_percent_of_published_figures(project, anchor):
    _, _, model, method, batch, length, gpus, lora, training, targets, published, measures = anchor
    exp = resolved(project, model, method, batch, length, gpus, lora, training, targets)
    found = estimate_for_targets(exp, load_catalog())
    # torchtune reports what PyTorch allocated, which leaves out the CUDA context every GPU also holds.
    total = found.total - (CONTEXT if measures == "allocated" else 0)
    assert abs(total - published) <= 0.15 * published, found.describe()


def test_qlora_65b_fits_its_48_gb_gpu_and_in_16_bits_does_not(project):
    qlora = resolved(project, "huggyllama/llama-65b", "qlora", 1, 512, 1, 'rank = 64  target_modules = ["all-linear"]',
                     "optimizer = paged_adamw")
    lora = resolved(project, "huggyllama/llama-65b", "lora", 1, 512, 1, 'rank = 64  target_modules = ["all-linear"]')
    assert estimate(qlora, load_catalog()).total < 48 * GIB < estimate(lora, load_catalog()).total


def test_8b_lora_fits_one_80gb_gpu_at_batch_2_and_length_512(project):
    """Software Hub planning: "for an 8 billion parameter model you can use 1 GPU if you set the batch size
    to 2 and the maximum sequence length to 512"."""
    found = estimate(resolved(project, "meta-llama/llama-3-1-8b", "lora", 2, 512, 1), load_catalog())
    assert found.total < 80 * GIB


def test_lora_counts_the_real_widths_of_grouped_query_attention(project):
    """Llama 3.1 8B: k_proj and v_proj map 4096 -> 1024 (8 key/value heads), the feed-forward is 14336 wide."""
    exp = resolved(project, "meta-llama/llama-3-1-8b", "lora", 1, 512, 1, 'rank = 8  target_modules = ["all-linear"]')
    per_block = 2 * (4096 + 4096) + 2 * (4096 + 1024) + 3 * (4096 + 14336)
    assert estimate(exp, load_catalog()).trainable_parameters == 8 * per_block * 32


def test_qlora_keeps_embeddings_and_output_layer_in_16_bits(project):
    exp = resolved(project, "meta-llama/llama-3-1-8b", "qlora", 1, 512, 1, 'rank = 8  target_modules = ["q_proj"]')
    found = estimate(exp, load_catalog())
    embeddings = 2 * 128256 * 4096
    adapters = found.trainable_parameters * 4
    assert found.weights - adapters == pytest.approx((8.03e9 - embeddings) * 0.516 + embeddings * 2)


def test_logits_count_batch_length_and_vocabulary_unless_the_target_chunks_them(project):
    exp = resolved(project, "meta-llama/llama-3-1-8b", "lora", 2, 2048, 1, targets=["peft", "torchtune"])
    full = estimate(exp, load_catalog())
    chunked = estimate(exp, load_catalog(), "chunked")
    assert full.logits == 2 * 2048 * 128256 * 10 and chunked.logits == 2 * 2048 * 128256 * 2
    assert estimate_for_targets(exp, load_catalog()).total == full.total  # the worst of its targets
    assert estimate_for_targets(exp, load_catalog(), ["torchtune"]).total == chunked.total


def test_checkpointing_precision_and_optimizer_change_the_estimate(project):
    base = estimate(resolved(project, "mistralai/Mistral-7B-v0.1", "full", 2, 1024, 1), load_catalog())
    no_checkpointing = estimate(resolved(project, "mistralai/Mistral-7B-v0.1", "full", 2, 1024, 1,
                                         training="gradient_checkpointing = false"), load_catalog())
    fp32 = estimate(resolved(project, "mistralai/Mistral-7B-v0.1", "full", 2, 1024, 1, training="precision = fp32"),
                    load_catalog())
    eight_bit = estimate(resolved(project, "mistralai/Mistral-7B-v0.1", "full", 2, 1024, 1,
                                  training="optimizer = adamw_8bit"), load_catalog())
    assert no_checkpointing.activations == pytest.approx(base.activations * 34 * 32 / (2 * 32 + 34))
    assert fp32.activations == pytest.approx(2 * base.activations) and fp32.weights == base.weights
    assert eight_bit.optimizer == pytest.approx(base.optimizer / 4)
    assert base.weights == base.gradients == pytest.approx(7.2e9 * 4)  # fp32 master weights and gradients


@pytest.mark.parametrize("strategy, sharded", [
    ("ddp", set()), ("deepspeed_zero2", {"gradients", "optimizer"}),
    ("deepspeed_zero3", {"weights", "gradients", "optimizer"}), ("fsdp", {"weights", "gradients", "optimizer"}),
])
def test_strategies_shard_what_they_shard(project, strategy, sharded):
    one = estimate(resolved(project, "mistralai/Mistral-7B-v0.1", "full", 2, 1024, 1), load_catalog())
    four = estimate(resolved(project, "mistralai/Mistral-7B-v0.1", "full", 2, 1024, 4), load_catalog())
    found = estimate(resolved(project, "mistralai/Mistral-7B-v0.1", "full", 2, 1024, 4,
                              resources=f"strategy = {strategy}"), load_catalog())
    for part in ("weights", "gradients", "optimizer"):
        expected = getattr(one, part) / 4 if part in sharded else getattr(one, part)
        assert getattr(found, part) == pytest.approx(expected), part
    assert found.activations == one.activations
    assert four.weights == pytest.approx(one.weights / 4)  # more than one GPU: fsdp by default


def test_parts_add_up(project):
    found = estimate(resolved(project, "mistralai/Mistral-7B-v0.1", "full", 4, 2048, 1), load_catalog())
    assert found.total == pytest.approx(sum(getattr(found, part) for part in PARTS))
    assert found.trainable_parameters == 7.2e9


def test_no_estimate_without_sizes_or_shape(project):
    project.write("m.tune", 'model "acme/x" { family = llama }\n'
                  'experiment e { model = "acme/x"  method = lora  training { batch_size = 2  max_seq_length = 512 } }')
    _, _, [exp] = resolve_paths(["m.tune"], Config())
    assert estimate(exp, load_catalog()) is None
    project.write("m.tune", 'experiment e { model = "meta-llama/llama-3-1-8b"  method = lora }')
    _, _, [exp] = resolve_paths(["m.tune"], Config())
    assert estimate(exp, load_catalog()) is None  # no max_seq_length


def test_show_prints_the_estimate_in_gib(project):
    import contextlib
    import io

    from tunespec.cli import main

    project.write("m.tune", 'experiment e { model = "meta-llama/llama-3-1-8b"  method = lora  training { batch_size = 2  max_seq_length = 512 } }')
    text, data = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(text):
        main(["show", "m.tune"])
    with contextlib.redirect_stdout(data):
        main(["show", "--format", "json", "m.tune"])
    assert "estimated peak GPU memory" in text.getvalue() and "GiB on one GPU (weights 15.0" in text.getvalue()
    memory = json.loads(data.getvalue())[0]["memory_estimate"]
    assert memory["gpus"] == 1 and sum(memory["parts"].values()) == pytest.approx(memory["bytes_per_gpu"], abs=5)
