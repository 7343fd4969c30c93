"""An estimate of peak GPU memory per GPU for one resolved variant (TS309, `tunespec show`).

It counts what the emitted job does: the IR fixes the precision, gradient checkpointing, the optimizer and
the distribution strategy, and every target emits exactly those, so the estimate and the launchers agree.
Its constants live in the catalog (`advice.toml [memory]`, each with its source); this module only does the
arithmetic. Sizes are in bytes; `describe()` prints GiB (2^30 bytes) and says so.

- weights: full fine-tuning keeps fp32 master weights (mixed precision autocasts to 16 bits); LoRA and
  prompt tuning keep the frozen model in the training precision; qlora keeps the linear layers of the blocks
  at 4 bits with their quantization constants, while embeddings and the output layer stay 16-bit;
- trainable parameters T: full = all of them; lora/qlora = rank x (inputs + outputs) of each targeted
  module in every block (the model's real widths: grouped-query attention, its feed-forward size);
  prompt tuning = virtual tokens x hidden. Adapters are fp32: 4 bytes of weight (counted in `weights`),
  4 of gradient and the optimizer's state (AdamW: 8; 8-bit AdamW: 2; paged optimizers' state moves to CPU
  memory under pressure and is not counted);
- activations: with checkpointing each block's input is kept (2·s·b·h bytes in 16 bits) plus the one block
  being recomputed (34·s·b·h); without it every block keeps all of its 34·s·b·h (s = max_seq_length,
  b = batch_size per GPU, h = hidden size); fp32 doubles them;
- logits: b·s·vocabulary elements at the loss, 10 bytes each in the Hugging Face trainers (16-bit logits, an
  fp32 copy and its log-softmax), fewer where a target computes the loss in chunks (torchtune);
- sharding over the world (nodes x gpus_per_node): ddp shards nothing; DeepSpeed ZeRO-2 shards gradients
  and optimizer states; FSDP and ZeRO-3 shard weights too, and gather two blocks' weights at a time;
- overhead: the CUDA context and workspaces, and the 4-bit kernels' dequantization buffer (one block's
  largest weight in 16 bits) for qlora.

It agrees within 15% with published figures (tests/test_memory.py holds them with their sources): the QLoRA
paper, torchtune's recipe table and LLaMA-Factory's hardware table.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # (typing, for type checkers only, is not imported at run time)
    from typing import Iterable

from tunespec.compiler.catalog import Catalog
from tunespec.compiler.resolve import ResolvedExperiment
from tunespec.record import Record

GIB = 2**30
PARTS = ("weights", "gradients", "optimizer", "activations", "logits", "overhead")
LOSS_FULL = "full"


class MemoryEstimate(Record):
    """Bytes per GPU, by part."""

    weights: float
    gradients: float
    optimizer: float
    activations: float
    logits: float
    overhead: float
    gpus: int
    trainable_parameters: float
    loss: str = LOSS_FULL

    @property
    def total(self) -> float:
        return sum(getattr(self, part) for part in PARTS)

    def describe(self) -> str:
        parts = ", ".join(f"{part} {getattr(self, part) / GIB:.1f}" for part in PARTS)
        where = f"per GPU over {self.gpus} GPUs" if self.gpus > 1 else "on one GPU"
        return f"{self.total / GIB:.1f} GiB {where} ({parts} GiB)"


def estimate(exp: ResolvedExperiment, catalog: Catalog, loss: str = LOSS_FULL) -> MemoryEstimate | None:
    """None when the model's size or the run's shape is not known."""
    model = exp.model
    values = exp.values
    method = values.get("method")
    batch = values.get("training.batch_size")
    length = values.get("training.max_seq_length")
    if model is None or None in (model.parameters, model.hidden_size, model.num_layers) or None in (method, batch, length):
        return None
    trainable = trainable_parameters(exp)
    if trainable is None:
        return None
    constants = catalog.advice["memory"]
    precision = values.get("training.precision", "bf16")
    compute_bytes = constants["dtype_bytes"][precision]
    gpus = max(1, values.get("resources.nodes", 1) * values.get("resources.gpus_per_node", 1))
    sharded = set(constants["sharded"][values.get("resources.strategy", "ddp")]) if gpus > 1 else set()

    def share(part: str, size: float) -> float:
        return size / gpus if part in sharded else size

    frozen = _frozen_weights(exp, catalog, trainable, compute_bytes)
    adapters = 0.0 if method == "full" else trainable * constants["trainable_bytes"]
    optimizer = values.get("training.optimizer", "adamw")
    hidden, blocks = model.hidden_size, model.num_layers
    per_block = length * batch * hidden * compute_bytes / 2  # one 16-bit activation of the block: s·b·h·2 bytes
    if values.get("training.gradient_checkpointing", True):
        activations = per_block * (constants["checkpoint_bytes"] * blocks + constants["layer_bytes"])
    else:
        activations = per_block * constants["layer_bytes"] * blocks
    logits = batch * length * (model.vocab_size or 0) * constants["logits_bytes"][loss]
    overhead = constants["cuda_context_gib"] * GIB
    if method == "qlora":
        overhead += _largest_module(model) * 2
    if "weights" in sharded:
        overhead += constants["gathered_blocks"] * model.parameters / blocks * compute_bytes
    return MemoryEstimate(
        weights=share("weights", frozen + adapters),
        gradients=share("gradients", trainable * constants["gradient_bytes"]),
        optimizer=share("optimizer", trainable * constants["optimizer_bytes"][optimizer]),
        activations=activations,
        logits=logits,
        overhead=overhead,
        gpus=gpus,
        trainable_parameters=trainable,
        loss=loss,
    )


def estimate_for_targets(exp: ResolvedExperiment, catalog: Catalog,
                         targets: Iterable[str] | None = None) -> MemoryEstimate | None:
    """The largest estimate over the ways the variant's targets compute the loss (no targets: the Hugging
    Face trainers' full logits)."""
    chunked = set(catalog.advice["memory"]["chunked_loss_targets"])
    names = list(targets if targets is not None else exp.values.get("targets") or ())
    kinds = {"chunked" if name in chunked else LOSS_FULL for name in names} or {LOSS_FULL}
    found = [estimate(exp, catalog, kind) for kind in sorted(kinds)]
    found = [item for item in found if item is not None]
    return max(found, key=lambda item: item.total) if found else None


def _frozen_weights(exp: ResolvedExperiment, catalog: Catalog, trainable: float, compute_bytes: float) -> float:
    """Bytes of the model's own weights (for full fine-tuning: the fp32 master weights it trains)."""
    model = exp.model
    constants = catalog.advice["memory"]
    method = exp.values.get("method")
    if method == "full":
        return model.parameters * constants["trainable_bytes"]
    if method != "qlora":
        return model.parameters * compute_bytes
    embeddings = (model.vocab_size or 0) * model.hidden_size * (1 if model.tie_word_embeddings else 2)
    return (model.parameters - embeddings) * constants["quantized_bytes"] + embeddings * 2


def _largest_module(model) -> float:
    """Elements of the largest linear weight of a block (what a 4-bit kernel dequantizes at once)."""
    dimensions = model.dimensions() or {}
    return dimensions.get("hidden", 0) * max(dimensions.get("intermediate", 0), dimensions.get("hidden", 0))


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
    # An unknown module: assume hidden -> hidden.
    per_block = sum(model.module_width(name) or 2 * model.hidden_size for name in targets)
    return rank * per_block * model.num_layers
