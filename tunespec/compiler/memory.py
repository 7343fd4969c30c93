"""An estimate of peak GPU memory per GPU for one resolved variant (TS309, `tunespec show`).

The model is a mixed-precision AdamW run with gradient checkpointing, the setup the HF-based backends
use by default (TRL's `SFTConfig` turns checkpointing on). Its constants live in the catalog
(`advice.toml [memory]`, each with its source); this module only does the arithmetic:

- weights: every parameter at 16 bits (lora, full, prompt tuning) or 4 bits (qlora);
- trainable parameters T: full = all of them; lora/qlora = rank x (inputs + outputs) of each targeted
  linear module, in every block (`module_widths` of the family); prompt tuning = virtual tokens x hidden;
  each has an fp32 master copy, a 16-bit gradient and AdamW's two fp32 moments;
- activations: each block's 16-bit input kept for the backward pass (2·s·b·h per block) plus the one
  block being recomputed (34·s·b·h), with s = max_seq_length and b = batch_size per GPU;
- weights, gradients, master copies and optimizer states are sharded over `nodes x gpus_per_node` GPUs
  (FSDP full sharding, as multi-GPU fms-hf-tuning and Kubeflow jobs run); activations are not: each GPU
  holds its own batch.

Not counted: the logits of the output layer (b·s·vocabulary), framework buffers and fragmentation, so the
estimate is a floor. It agrees with the published points: an 8B model LoRA-tunes on one 80 GB GPU at batch
2 and length 512, LoRA on a 70B model at length 1,024 and batch 32 needs 8 GPUs, and QLoRA fits a 65B
model on one 48 GB GPU (tests/test_memory.py).
"""

from __future__ import annotations

from tunespec.compiler.catalog import Catalog
from tunespec.compiler.resolve import ResolvedExperiment
from tunespec.record import Record

GIB = 2**30
PARTS = ("weights", "trainable", "gradients", "optimizer", "activations")


class MemoryEstimate(Record):
    """Bytes per GPU, by part."""

    weights: float
    trainable: float  # the fp32 master copy of the trainable parameters
    gradients: float
    optimizer: float
    activations: float
    gpus: int
    trainable_parameters: float

    @property
    def total(self) -> float:
        return self.weights + self.trainable + self.gradients + self.optimizer + self.activations

    def describe(self) -> str:
        parts = ", ".join(f"{part} {getattr(self, part) / GIB:.1f}" for part in PARTS)
        where = f"per GPU over {self.gpus} GPUs" if self.gpus > 1 else "on one GPU"
        return f"{self.total / GIB:.1f} GB {where} ({parts} GB)"


def estimate(exp: ResolvedExperiment, catalog: Catalog) -> MemoryEstimate | None:
    """None when the model's size or the run's shape is not known."""
    model = exp.model
    method = exp.values.get("method")
    batch = exp.values.get("training.batch_size")
    length = exp.values.get("training.max_seq_length")
    if model is None or None in (model.parameters, model.hidden_size, model.num_layers) or None in (method, batch, length):
        return None
    constants = catalog.advice["memory"]
    trainable = trainable_parameters(exp)
    if trainable is None:
        return None
    gpus = max(1, exp.values.get("resources.nodes", 1) * exp.values.get("resources.gpus_per_node", 1))
    hidden, blocks = model.hidden_size, model.num_layers
    activations = length * batch * hidden * (constants["checkpoint_bytes"] * blocks + constants["layer_bytes"])
    return MemoryEstimate(
        weights=model.parameters * constants["weight_bytes"][method] / gpus,
        trainable=trainable * constants["master_bytes"] / gpus,
        gradients=trainable * constants["gradient_bytes"] / gpus,
        optimizer=trainable * constants["optimizer_bytes"] / gpus,
        activations=activations,
        gpus=gpus,
        trainable_parameters=trainable,
    )


def trainable_parameters(exp: ResolvedExperiment) -> float | None:
    model = exp.model
    method = exp.values.get("method")
    if method == "full":
        return model.parameters
    if method == "prompt_tuning":
        return exp.values.get("prompt.num_virtual_tokens", 20) * model.hidden_size
    rank = exp.values.get("lora.rank")
    targets = exp.values.get("lora.resolved_target_modules")
    if rank is None or targets is None:
        return None
    widths = model.module_widths
    per_block = sum(widths.get(name, 2) for name in targets)  # an unknown module: assume hidden -> hidden
    return rank * per_block * model.hidden_size * model.num_layers
