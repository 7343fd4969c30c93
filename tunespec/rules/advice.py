"""TS3xx — advice: values that are allowed but that the documentation (or experience) warns against.

Thresholds come from the catalog (`advice.toml`), each with its source.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # (typing, for type checkers only, is not imported at run time)
    from typing import Iterator

from tunespec import codes
from tunespec.compiler.memory import GIB, estimate_for_targets
from tunespec.compiler.resolve import ResolvedExperiment
from tunespec.compiler.schema import LORA_METHODS
from tunespec.diagnostics import Problem, Severity
from tunespec.rules.data import training_records
from tunespec.rules.engine import SCOPE_EXPERIMENT, RuleContext, rule

ALPHA, RATE = "lora.alpha", "training.learning_rate"


@rule(codes.ALPHA_AND_LEARNING_RATE_CHANGED_TOGETHER, "alpha-and-learning-rate-changed-together", Severity.WARNING,
      "Alpha and the learning rate change together", scope=SCOPE_EXPERIMENT)
def alpha_and_learning_rate_changed_together(variants: list[ResolvedExperiment], context: RuleContext) -> Iterator[Problem]:
    """
    ## What it does
    Warns when `lora.alpha` and `training.learning_rate` change together, in either of two ways:

    - both are swept in an experiment's resolved variants (judged after inheritance); it points at alpha's
      sweep;
    - one declaration (preset or experiment) writes both, each differing from the value it would have
      without that declaration: the value its base chain gives, else the documented default. When either
      has no such value to differ from, there is no finding.

    ## Why is this bad?
    Alpha works much like the learning rate (alpha / rank scales the adapter's update); change only one of
    the two during experiments, or you cannot tell which change made the difference.

    ## Example
    ```tune
    experiment tickets {
      model  = "ibm/granite-3-1-8b-base"
      method = lora
      data { train = "data/train.jsonl" }
      training { learning_rate = sweep [0.00001, 0.00003] }
      lora { alpha = sweep [16, 32] }
    }
    ```

    ## Use instead
    ```tune
    experiment tickets {
      model  = "ibm/granite-3-1-8b-base"
      method = lora
      data { train = "data/train.jsonl" }
      training { learning_rate = sweep [0.00001, 0.00003] }
    }
    ```

    ## Source
    watsonx.ai: Parameters for tuning foundation models ("this setting has a similar function to the
    learning rate, so adjust only one of the two during experiments").
    """
    first = variants[0]
    alpha, rate = first.sweep_of(ALPHA), first.sweep_of(RATE)
    if alpha is not None and rate is not None:
        yield Problem(alpha.location,
                      f"`lora.alpha` ({_listed(alpha.value)}) and `training.learning_rate` ({_listed(rate.value)}) "
                      f"are swept together: {len(variants)} variants that change both",
                      "sweep one of them; alpha / rank scales the update much as the learning rate does")
    yield from _written_together(first, context)


def _written_together(exp: ResolvedExperiment, context: RuleContext) -> Iterator[Problem]:
    """Each declaration along `extends` that writes both. A declaration's finding depends on it, on what
    its bases write and on the documented defaults, so each is looked at once per run for those
    defaults: the walk stops at the first one already looked at (its bases were, too), which keeps a
    chain of ten thousand presets, each of them checked, linear."""
    looked_at = context.cache.setdefault("TS301 declarations looked at", set())
    defaults = (exp.model.id if exp.model else None, exp.values.get("method"), exp.values.get("task"))
    for declaration in exp.writes_along_extends(ALPHA, RATE):
        if (declaration.key, defaults) in looked_at:
            break
        looked_at.add((declaration.key, defaults))
        written = declaration.written
        if ALPHA not in written or RATE not in written:
            continue
        if written[ALPHA].swept and written[RATE].swept:
            continue  # the sweep form above reports it
        before = _value_without(exp, declaration.inherited, context)
        changed = {path: (before.get(path), written[path].value) for path in (ALPHA, RATE)}
        if any(old is None or _same(old, new) for old, new in changed.values()):
            continue
        (old_alpha, new_alpha), (old_rate, new_rate) = changed[ALPHA], changed[RATE]
        concerns = "" if declaration.own else f" for experiment `{exp.experiment}`, which extends it"
        yield Problem(written[ALPHA].location,
                      f"{declaration.kind} `{declaration.name}` changes both `lora.alpha` ({_shown(old_alpha)} → "
                      f"{_shown(new_alpha)}) and `training.learning_rate` ({_shown(old_rate)} → {_shown(new_rate)})"
                      f"{concerns}",
                      "change one of them per experiment: alpha / rank scales the update much as the learning rate does")


def _value_without(exp: ResolvedExperiment, inherited: dict, context: RuleContext) -> dict:
    """Alpha and the learning rate as the bases alone would set them, else the documented default."""
    values = {}
    for path in (ALPHA, RATE):
        written = inherited.get(path)
        if written is None and exp.model is not None and exp.values.get("method"):
            table = context.catalog.defaults_for(exp.model.id, exp.values["method"], exp.values.get("task"))
            written = table.values.get(path) if table else None
        values[path] = written
    return values


def _same(old, new) -> bool:
    if isinstance(new, tuple):  # a sweep differs unless it only repeats the old value
        return all(value == old for value in new)
    return old == new


def _shown(value) -> str:
    return _listed(value) if isinstance(value, tuple) else _number(value)


def _listed(values) -> str:
    return "sweep [" + ", ".join(_number(v) for v in values) + "]"


def _number(value) -> str:
    return repr(value) if isinstance(value, float) else str(value)


@rule(codes.LEARNING_RATE_FAR_ABOVE_TYPICAL, "learning-rate-far-above-typical",
      Severity.WARNING, "Learning rate far above typical for the method")
def learning_rate_far_above_typical(exp: ResolvedExperiment, context: RuleContext) -> Iterator[Problem]:
    """
    ## What it does
    Warns when `training.learning_rate` is at or above {advice:learning_rate_ceiling.lora} for lora and qlora, or at or above {advice:learning_rate_ceiling.full} for
    full fine-tuning (the thresholds are in the catalog). Prompt tuning, whose documented rates are far higher, is not
    checked.

    ## Why is this bad?
    A learning rate set too high keeps the model from learning gradually enough to generalise; for full
    fine-tuning it also erases what the model knew. Start conservatively and change it gradually.

    ## Example
    ```tune
    experiment tickets {
      model  = "ibm/granite-3-1-8b-base"
      method = lora
      data { train = "data/train.jsonl" }
      training { learning_rate = 0.01 }
    }
    ```

    ## Use instead
    ```tune
    experiment tickets {
      model  = "ibm/granite-3-1-8b-base"
      method = lora
      data { train = "data/train.jsonl" }
      training { learning_rate = 0.0002 }
    }
    ```

    ## Source
    watsonx.ai: Parameters for tuning foundation models (managing the learning rate); common practice:
    LoRA around 1e-4 to 3e-4, full fine-tuning around 1e-5 to 5e-5.
    """
    method = exp.values.get("method")
    rate = exp.values.get(RATE)
    ceiling = context.catalog.advice["learning_rate_ceiling"].get(method)
    if rate is not None and ceiling is not None and rate >= ceiling:
        yield Problem(exp.location_of(RATE),
                      f"learning rate {exp.text_of(RATE)} is far above typical for `{method}` (at or above {ceiling!r})",
                      f"start at or below {ceiling!r} and raise it gradually")


@rule(codes.ALPHA_RANK_SCALE_UNUSUAL, "alpha-rank-scale-unusual", Severity.WARNING,
      "alpha / rank outside {advice:alpha_rank_scale.min}–{advice:alpha_rank_scale.max}")
def alpha_rank_scale_unusual(exp: ResolvedExperiment, context: RuleContext) -> Iterator[Problem]:
    """
    ## What it does
    Warns when `lora.alpha / lora.rank`, the scale applied to the adapter's update, is outside {advice:alpha_rank_scale.min}–{advice:alpha_rank_scale.max}.
    It points at alpha where alpha is written, else at the rank.

    ## Why is this bad?
    The scale multiplies every update: below {advice:alpha_rank_scale.min} the adapter barely changes the model (alpha 3 with rank
    12 already reduces the change to a quarter); above {advice:alpha_rank_scale.max} it acts like a much higher learning rate.

    ## Example
    ```tune
    experiment tickets {
      model  = "ibm/granite-3-1-8b-base"
      method = lora
      data { train = "data/train.jsonl" }
      lora {
        rank  = 64
        alpha = 8
      }
    }
    ```

    ## Use instead
    ```tune
    experiment tickets {
      model  = "ibm/granite-3-1-8b-base"
      method = lora
      data { train = "data/train.jsonl" }
      lora {
        rank  = 64
        alpha = 128
      }
    }
    ```

    ## Source
    watsonx.ai: Parameters for tuning foundation models (alpha divided by rank is the share of the weight
    change that is applied).
    """
    alpha, rank = exp.values.get(ALPHA), exp.values.get("lora.rank")
    if alpha is None or not rank or alpha <= 0 or rank < 0 or exp.values.get("method") not in LORA_METHODS:
        return
    limits = context.catalog.advice["alpha_rank_scale"]
    scale = alpha / rank
    if not limits["min"] <= scale <= limits["max"]:
        yield Problem(exp.location_of(ALPHA, "lora.rank"),
                      f"alpha / rank = {alpha} / {rank} = {scale:g}, outside {limits['min']:g}–{limits['max']:g}: "
                      f"the adapter's update is scaled by {scale:g}",
                      f"for rank {rank}, an alpha from {_ceil(rank * limits['min'])} to {rank * limits['max']:g} "
                      "(2 × rank is common)")


@rule(codes.FEW_OPTIMIZER_UPDATES, "few-optimizer-updates",
      Severity.WARNING, "Few optimizer updates for the training set")
def few_optimizer_updates(exp: ResolvedExperiment, context: RuleContext) -> Iterator[Problem]:
    """
    ## What it does
    With N, the count of valid records in the training file, and world = `nodes × gpus_per_node` (1 when
    unset), counts the batches per epoch, `ceil(N / (batch_size × world))`, and warns when
    `accumulate_steps` exceeds them, or when the updates of the whole run,
    `ceil(batches / accumulate_steps) × epochs`, are fewer than {advice:optimizer_updates.min_total}.

    ## Why is this bad?
    Batches times accumulate steps decide how many adjustments happen (900 examples at batch size 3 are
    300 batches; accumulating 5 of them makes 60 adjustments per epoch). With a small data set and large
    accumulation, the model is adjusted a handful of times and learns little.

    ## Example
    ```tune
    # file: data/train.jsonl
    {"input": "Refund my order", "output": "billing"}
    {"input": "The app crashes", "output": "technical"}
    # file: main.tune
    experiment tickets {
      model  = "ibm/granite-3-1-8b-base"
      method = lora
      data { train = "data/train.jsonl" }
      training { accumulate_steps = 4 }
    }
    ```

    ## Use instead
    ```tune
    # file: data/train.jsonl
    {"input": "Refund my order", "output": "billing"}
    {"input": "The app crashes", "output": "technical"}
    # file: main.tune
    experiment tickets {
      model  = "ibm/granite-3-1-8b-base"
      method = lora
      data { train = "data/train.jsonl" }
      training { batch_size = 1 }
    }
    ```

    ## Source
    watsonx.ai: Parameters for tuning foundation models (segmenting the training data; choosing the number
    of training cycles).
    """
    records = training_records(exp, context)
    batch, accumulate, epochs = (exp.values.get(f"training.{name}") for name in ("batch_size", "accumulate_steps", "epochs"))
    if not records or not batch or not accumulate or not epochs or batch < 1 or accumulate < 1 or epochs < 1:
        return
    world = max(1, exp.values.get("resources.nodes", 1) * exp.values.get("resources.gpus_per_node", 1))
    batches = _ceil(records / (batch * world))
    per_epoch = _ceil(batches / accumulate)
    gpus = f" × {world} GPUs" if world > 1 else ""
    counted = f"{records} examples / (batch {batch}{gpus}) = {batches} batches per epoch"
    where = exp.location_of("training.accumulate_steps", "training.batch_size", "training.epochs")
    minimum = context.catalog.advice["optimizer_updates"]["min_total"]
    if accumulate > batches:
        yield Problem(where, f"`accumulate_steps` is {accumulate}, more than the {counted}: the model is "
                      f"adjusted once per epoch, {epochs} times in all",
                      f"use `accumulate_steps` of at most {batches}, or a smaller batch size")
    elif per_epoch * epochs < minimum:
        yield Problem(where, f"only {per_epoch * epochs} optimizer updates in all: {counted}, "
                      f"ceil({batches} / {accumulate} accumulate steps) = {per_epoch} per epoch × {epochs} epochs",
                      f"aim for at least {minimum}: lower `accumulate_steps` or the batch size, or add examples")


@rule(codes.EPOCHS_FAR_ABOVE_DEFAULT, "epochs-far-above-default",
      Severity.WARNING, "Epochs more than {advice:epochs.factor} times the documented default")
def epochs_far_above_default(exp: ResolvedExperiment, context: RuleContext) -> Iterator[Problem]:
    """
    ## What it does
    Warns when `training.epochs` is more than {advice:epochs.factor} times the documented default for the model, method and
    (where the defaults depend on it) task.

    ## Why is this bad?
    Too many passes over the training data fit the model to it so closely that it no longer generalises
    to new data (overfitting).

    ## Example
    ```tune
    experiment tickets {
      model  = "meta-llama/llama-3-1-8b"
      method = lora
      data { train = "data/train.jsonl" }
      training { epochs = 20 }
    }
    ```

    ## Use instead
    ```tune
    experiment tickets {
      model  = "meta-llama/llama-3-1-8b"
      method = lora
      data { train = "data/train.jsonl" }
      training { epochs = 8 }
    }
    ```

    ## Source
    watsonx.ai: Parameters for tuning foundation models (default values by model; "if you set the number
    of epochs too high, you might overfit the model").
    """
    epochs, model, method = exp.values.get("training.epochs"), exp.model, exp.values.get("method")
    if epochs is None or model is None or method is None:
        return
    table = context.catalog.defaults_for(model.id, method, exp.values.get("task"))
    default = table.values.get("training.epochs") if table else None
    factor = context.catalog.advice["epochs"]["factor"]
    if default and epochs > factor * default:
        yield Problem(exp.location_of("training.epochs"),
                      f"{epochs} epochs is more than {factor} × the documented default ({default}) for "
                      f"{model.id} {method}{' ' + exp.values['task'] if table.task else ''}: risk of overfitting",
                      f"start from {default} epochs and watch the validation loss")


@rule(codes.EFFECTIVE_BATCH_LARGER_THAN_DATA, "effective-batch-larger-than-data",
      Severity.INFO, "Effective batch larger than the training set")
def effective_batch_larger_than_data(exp: ResolvedExperiment, context: RuleContext) -> Iterator[Problem]:
    """
    ## What it does
    Notes when the effective batch, `batch_size × accumulate_steps`, holds more examples than the training
    file has valid records.

    ## Why is this bad?
    Each update then averages over the whole (small) data set; with a small training set, use a smaller
    batch size so that each batch still holds enough examples and there are several updates per epoch.

    ## Example
    ```tune
    # file: data/train.jsonl
    {"input": "Refund my order", "output": "billing"}
    {"input": "The app crashes", "output": "technical"}
    # file: main.tune
    experiment tickets {
      model  = "ibm/granite-3-1-8b-base"
      method = lora
      data { train = "data/train.jsonl" }
    }
    ```

    ## Use instead
    ```tune
    # file: data/train.jsonl
    {"input": "Refund my order", "output": "billing"}
    {"input": "The app crashes", "output": "technical"}
    # file: main.tune
    experiment tickets {
      model  = "ibm/granite-3-1-8b-base"
      method = lora
      data { train = "data/train.jsonl" }
      training { batch_size = 1 }
    }
    ```

    ## Source
    watsonx.ai: Parameters for tuning foundation models ("if your training data set is small, specify a
    smaller batch size").
    """
    records = training_records(exp, context)
    batch, accumulate = exp.values.get("training.batch_size"), exp.values.get("training.accumulate_steps")
    if records and batch and accumulate and batch * accumulate > records:
        yield Problem(exp.location_of("training.batch_size", "training.accumulate_steps"),
                      f"the effective batch, {batch} × {accumulate} = {batch * accumulate} examples, is larger than "
                      f"the training set ({records} examples)", "use a smaller batch size or fewer accumulate steps")


@rule(codes.MAX_SEQ_LENGTH_UNSET, "max-seq-length-unset", Severity.INFO, "`max_seq_length` left unset")
def max_seq_length_unset(exp: ResolvedExperiment, context: RuleContext) -> Iterator[Problem]:
    """
    ## What it does
    Notes an experiment (not a preset) that leaves `training.max_seq_length` unset (not when its `extends`
    or an import failed: the value may be in what could not be read).

    ## Why is this bad?
    Each backend then falls back to its own default (TRL 1024, LLaMA-Factory 2048 via `cutoff_len`, ...),
    so the same file truncates examples differently on each. Set the smallest value that represents the
    use case: longer sequences make tuning slower.

    ## Example
    ```tune
    experiment tickets {
      model  = "ibm/granite-3-1-8b-base"
      method = lora
      data { train = "data/train.jsonl" }
    }
    ```

    ## Use instead
    ```tune
    experiment tickets {
      model  = "ibm/granite-3-1-8b-base"
      method = lora
      data { train = "data/train.jsonl" }
      training { max_seq_length = 1024 }
    }
    ```

    ## Source
    watsonx.ai: Parameters for tuning foundation models (setting token limits).
    """
    if not exp.is_preset and exp.complete and not exp.is_set("training.max_seq_length"):
        yield Problem(exp.name_location,
                      f"`training.max_seq_length` is unset for `{exp.experiment}`: each backend will use its own default",
                      "set `max_seq_length` in the `training` block")


@rule(codes.PROMPT_INITIALIZATION_ON_LARGE_MODEL, "prompt-initialization-on-large-model", Severity.INFO,
      "Prompt initialization set on a model over {billions:prompt_initialization.parameters_above} billion "
      "parameters")
def prompt_initialization_on_large_model(exp: ResolvedExperiment, context: RuleContext) -> Iterator[Problem]:
    """
    ## What it does
    Notes a written `prompt.init_method` on a model with more than {billions:prompt_initialization.parameters_above} billion parameters.

    ## Why is this bad?
    For models over {billions:prompt_initialization.parameters_above} billion parameters the initialization method matters less; time spent choosing an
    init text is better spent on the data.

    ## Example
    ```tune
    experiment tickets {
      model  = "ibm/granite-13b-instruct-v2"
      method = prompt_tuning
      task   = classification
      data { train = "data/train.jsonl" }
      prompt {
        init_method = text
        init_text   = "Classify the ticket."
      }
    }
    ```

    ## Use instead
    ```tune
    experiment tickets {
      model  = "google/flan-t5-xl"
      method = prompt_tuning
      task   = classification
      data { train = "data/train.jsonl" }
      prompt {
        init_method = text
        init_text   = "Classify the ticket."
      }
    }
    ```

    ## Source
    watsonx.ai: Parameters for tuning foundation models ("for models over ten billion parameters the
    prompt-initialization method matters less").
    """
    model = exp.model
    threshold = context.catalog.advice["prompt_initialization"]["parameters_above"]
    if model is not None and model.parameters and model.parameters > threshold and exp.written("prompt.init_method"):
        yield Problem(exp.location_of("prompt.init_method"),
                      f"{model.id} has {model.parameters / 1e9:g} billion parameters: the prompt initialization "
                      f"matters little above {threshold / 1e9:g} billion")


@rule(codes.GPU_MEMORY_EXCEEDED, "gpu-memory-exceeded",
      Severity.WARNING, "Estimated peak GPU memory above `resources.gpu_memory_gb`")
def gpu_memory_exceeded(exp: ResolvedExperiment, context: RuleContext) -> Iterator[Problem]:
    """
    ## What it does
    Estimates the peak GPU memory per GPU of each variant (shown by `tunespec show`) and warns when it is
    above `resources.gpu_memory_gb` (GPU memory as vendors state it: an "80 GB" A100 holds 80 GiB). The
    estimate needs the model's size and shape (catalog or declaration), the method, `batch_size` and
    `max_seq_length`, and counts exactly what the targets emit: `training.precision`,
    `training.gradient_checkpointing`, `training.optimizer` and `resources.strategy`.

    - weights: full fine-tuning trains fp32 master weights; LoRA and prompt tuning keep the frozen model in
      the training precision; qlora keeps the blocks' linear layers at 4 bits (with their quantization
      constants) and the embeddings and output layer in 16 bits;
    - trainable parameters (all of them for full; rank × (inputs + outputs) of each targeted module in each
      block for LoRA, with the model's real widths; virtual tokens × hidden for prompt tuning) are fp32, with
      an fp32 gradient and the optimizer's state (AdamW {advice:memory.optimizer_bytes.adamw} bytes, 8-bit AdamW {advice:memory.optimizer_bytes.adamw_8bit}, SGD none);
    - activations: with checkpointing {advice:memory.checkpoint_bytes}·s·b·h bytes per block kept plus {advice:memory.layer_bytes}·s·b·h for the block being
      recomputed, without it {advice:memory.layer_bytes}·s·b·h per block (s = max_seq_length, b = batch_size per GPU, h = hidden
      size; twice as much in fp32);
    - logits: batch × length × vocabulary, {advice:memory.logits_bytes.full} bytes each in the Hugging Face trainers, {advice:memory.logits_bytes.chunked} with torchtune's
      chunked loss (the largest of the variant's targets is reported);
    - sharding over `nodes × gpus_per_node` GPUs by `resources.strategy`: ddp none, ZeRO-2 gradients and
      optimizer, FSDP and ZeRO-3 everything (plus two gathered blocks);
    - overhead: the CUDA context and, for qlora, the 4-bit kernels' dequantization buffer.

    It lands within 15% of the QLoRA paper (65B on one 48 GB GPU), torchtune's published recipe memory
    and LLaMA-Factory's hardware table (the test table in tests/test_memory.py holds them with their
    sources). Sizes are printed in GiB (2^30 bytes).

    ## Why is this bad?
    An out-of-memory error comes after the model has loaded and the job has queued for a GPU: the most
    expensive place to learn that the batch was too large.

    ## Example
    ```tune
    experiment tickets {
      model  = "ibm/granite-3-1-8b-base"
      method = full
      data { train = "data/train.jsonl" }
      training { batch_size = 8  accumulate_steps = 1  learning_rate = 0.00001  epochs = 3  max_seq_length = 4096 }
      resources { gpu_memory_gb = 80 }
    }
    ```

    ## Use instead
    ```tune
    experiment tickets {
      model  = "ibm/granite-3-1-8b-base"
      method = full
      data { train = "data/train.jsonl" }
      training { batch_size = 2  accumulate_steps = 4  learning_rate = 0.00001  epochs = 3  max_seq_length = 4096 }
      resources { gpus_per_node = 8  gpu_memory_gb = 80 }
    }
    ```

    ## Source
    Rajbhandari et al., ZeRO (the bytes per trainable parameter of mixed-precision Adam); Korthikanti et al., Reducing Activation
    Recomputation; Dettmers et al., QLoRA; torchtune README (Memory and training speed); LLaMA-Factory
    README (Hardware Requirement); IBM Software Hub: Planning for foundation model tuning in IBM watsonx.ai.
    """
    limit = exp.values.get("resources.gpu_memory_gb")
    if limit is None:
        return
    found = estimate_for_targets(exp, context.catalog)
    if found is not None and found.total > limit * GIB:
        yield Problem(exp.name_location,
                      f"estimated peak GPU memory {found.describe()} is above `resources.gpu_memory_gb` = {limit}",
                      "lower `batch_size` (raise `accumulate_steps` to keep the effective batch), shorten "
                      "`max_seq_length`, use more GPUs, or use qlora")


RULES = [
    alpha_and_learning_rate_changed_together, learning_rate_far_above_typical, alpha_rank_scale_unusual,
    few_optimizer_updates, epochs_far_above_default, effective_batch_larger_than_data, max_seq_length_unset,
    prompt_initialization_on_large_model, gpu_memory_exceeded,
]


def _ceil(number: float) -> int:
    """math.ceil, the same for every finite number, without importing math (a shared library: 0.6M
    instructions of a cold lint's 147M, callgrind)."""
    return -int(-number // 1)
