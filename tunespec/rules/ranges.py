"""TS1xx — the documented ranges of watsonx.ai's tuning parameters.

One generic check walks the catalog's range table (`compiler/catalog/ranges.toml`); each rule is a small
declared function that names its field, so that its code, documentation and selection stay its own.
These are watsonx.ai's limits: a team that tunes elsewhere relaxes them in configuration, e.g.
`[tool.tunespec] severity = { TS101 = "warning" }`.
"""

from __future__ import annotations

from typing import Iterator

from tunespec import codes
from tunespec.compiler.resolve import ResolvedExperiment
from tunespec.diagnostics import Problem, Severity
from tunespec.rules.engine import RuleContext, rule

SOURCE = "watsonx.ai: Parameters for tuning foundation models"
RELAX = """These are the limits watsonx.ai documents for its tuning experiments. If you tune elsewhere, relax
the rule in configuration: `[tool.tunespec] severity = { CODE = "warning" }`."""


def outside_range(exp: ResolvedExperiment, context: RuleContext, path: str,
                  help: str | None = None) -> Iterator[Problem]:
    """The generic range check: the field's value against its range in the catalog."""
    value = exp.values.get(path)
    if value is None:
        return
    allowed = context.catalog.ranges[path]
    if allowed.contains(value):
        return
    yield Problem(exp.location_of(path),
                  f"`{path}` is {exp.text_of(path)}, outside the {'allowed' if allowed.rule else 'documented'} range "
                  f"{allowed.describe()}",
                  help or f"use a value in {allowed.describe()}")


@rule(codes.BATCH_SIZE_OUT_OF_RANGE, "batch-size-out-of-range",
      Severity.ERROR, "`training.batch_size` outside the documented 1–16")
def batch_size_out_of_range(exp: ResolvedExperiment, context: RuleContext) -> Iterator[Problem]:
    """
    ## What it does
    Checks that `training.batch_size` (labeled examples processed at once) is within 1–16.

    ## Why is this bad?
    watsonx.ai accepts batch sizes from 1 to 16, and each batch must fit in GPU memory. To learn from more
    examples per update, raise `accumulate_steps` instead.

    {relax}

    ## Example
    ```tune
    experiment tickets {
      model  = "ibm/granite-3-1-8b-base"
      method = lora
      data { train = "data/train.jsonl" }
      training { batch_size = 32 }
    }
    ```

    ## Use instead
    ```tune
    experiment tickets {
      model  = "ibm/granite-3-1-8b-base"
      method = lora
      data { train = "data/train.jsonl" }
      training {
        batch_size       = 8
        accumulate_steps = 4
      }
    }
    ```

    ## Source
    {source} (batch size: 1–16).
    """
    yield from outside_range(exp, context, "training.batch_size",
                             "use 1–16; for a larger effective batch raise `training.accumulate_steps`")


@rule(codes.ACCUMULATE_STEPS_OUT_OF_RANGE, "accumulate-steps-out-of-range", Severity.ERROR,
      "`training.accumulate_steps` outside the documented 1–128")
def accumulate_steps_out_of_range(exp: ResolvedExperiment, context: RuleContext) -> Iterator[Problem]:
    """
    ## What it does
    Checks that `training.accumulate_steps` (batches processed before the model is adjusted) is within
    1–128.

    ## Why is this bad?
    0 would never update the model; watsonx.ai accepts at most 128.

    {relax}

    ## Example
    ```tune
    experiment tickets {
      model  = "ibm/granite-3-1-8b-base"
      method = lora
      data { train = "data/train.jsonl" }
      training { accumulate_steps = 0 }
    }
    ```

    ## Use instead
    ```tune
    experiment tickets {
      model  = "ibm/granite-3-1-8b-base"
      method = lora
      data { train = "data/train.jsonl" }
      training { accumulate_steps = 1 }
    }
    ```

    ## Source
    {source} (accumulate steps: 1–128).
    """
    yield from outside_range(exp, context, "training.accumulate_steps")


@rule(codes.LEARNING_RATE_OUT_OF_RANGE, "learning-rate-out-of-range", Severity.ERROR,
      "`training.learning_rate` outside the documented 0.00001–0.5")
def learning_rate_out_of_range(exp: ResolvedExperiment, context: RuleContext) -> Iterator[Problem]:
    """
    ## What it does
    Checks that `training.learning_rate` is within 0.00001–0.5.

    ## Why is this bad?
    Below the range the model barely learns from the data; above it, it does not learn gradually enough
    to generalise. A common slip is one zero too many or too few (`1e-6` for `1e-5`).

    {relax}

    ## Example
    ```tune
    experiment tickets {
      model  = "ibm/granite-3-1-8b-base"
      method = lora
      data { train = "data/train.jsonl" }
      training { learning_rate = 1e-6 }
    }
    ```

    ## Use instead
    ```tune
    experiment tickets {
      model  = "ibm/granite-3-1-8b-base"
      method = lora
      data { train = "data/train.jsonl" }
      training { learning_rate = 1e-5 }
    }
    ```

    ## Source
    {source} (learning rate: 0.00001–0.5).
    """
    yield from outside_range(exp, context, "training.learning_rate")


@rule(codes.EPOCHS_OUT_OF_RANGE, "epochs-out-of-range",
      Severity.ERROR, "`training.epochs` outside the documented 1–50")
def epochs_out_of_range(exp: ResolvedExperiment, context: RuleContext) -> Iterator[Problem]:
    """
    ## What it does
    Checks that `training.epochs` (passes over the training data) is within 1–50.

    ## Why is this bad?
    Zero epochs train nothing; many passes over a small data set overfit it, and watsonx.ai accepts at
    most 50.

    {relax}

    ## Example
    ```tune
    experiment tickets {
      model  = "ibm/granite-3-1-8b-base"
      method = lora
      data { train = "data/train.jsonl" }
      training { epochs = 100 }
    }
    ```

    ## Use instead
    ```tune
    experiment tickets {
      model  = "ibm/granite-3-1-8b-base"
      method = lora
      data { train = "data/train.jsonl" }
      training { epochs = 10 }
    }
    ```

    ## Source
    {source} (number of epochs: 1–50).
    """
    yield from outside_range(exp, context, "training.epochs")


@rule(codes.LORA_RANK_OUT_OF_RANGE, "lora-rank-out-of-range",
      Severity.ERROR, "`lora.rank` outside the documented 1–64")
def lora_rank_out_of_range(exp: ResolvedExperiment, context: RuleContext) -> Iterator[Problem]:
    """
    ## What it does
    Checks that `lora.rank` is within 1–64.

    ## Why is this bad?
    The documentation says "the maximum is 64". A higher rank trains more parameters and slows the job;
    use a higher rank only when the task is new to the model.

    {relax}

    ## Example
    ```tune
    experiment tickets {
      model  = "ibm/granite-3-1-8b-base"
      method = lora
      data { train = "data/train.jsonl" }
      lora { rank = 128 }
    }
    ```

    ## Use instead
    ```tune
    experiment tickets {
      model  = "ibm/granite-3-1-8b-base"
      method = lora
      data { train = "data/train.jsonl" }
      lora { rank = 64 }
    }
    ```

    ## Source
    {source} (rank: "the maximum is 64").
    """
    yield from outside_range(exp, context, "lora.rank")


@rule(codes.LORA_DROPOUT_OUT_OF_RANGE, "lora-dropout-out-of-range",
      Severity.ERROR, "`lora.dropout` is not a fraction in [0, 1)")
def lora_dropout_out_of_range(exp: ResolvedExperiment, context: RuleContext) -> Iterator[Problem]:
    """
    ## What it does
    Checks that `lora.dropout` is a fraction in [0, 1). A value between 1 and 100 was probably meant as a
    percentage, and the help says so (`10` → did you mean 0.1?).

    ## Why is this bad?
    Dropout is "a fraction, e.g. 0.1 for 10%"; a dropout of 1 or more zeroes every adapter weight.

    {relax}

    ## Example
    ```tune
    experiment tickets {
      model  = "ibm/granite-3-1-8b-base"
      method = lora
      data { train = "data/train.jsonl" }
      lora { dropout = 10 }
    }
    ```

    ## Use instead
    ```tune
    experiment tickets {
      model  = "ibm/granite-3-1-8b-base"
      method = lora
      data { train = "data/train.jsonl" }
      lora { dropout = 0.1 }
    }
    ```

    ## Source
    {source} (dropout: a fraction, 0.1 for 10%).
    """
    value = exp.values.get("lora.dropout")
    help = None
    if value is not None and 1 < value <= 100:
        help = f"did you mean {_fraction(value / 100)} ({exp.text_of('lora.dropout')}/100)? dropout is a fraction"
    yield from outside_range(exp, context, "lora.dropout", help)


def _fraction(value: float) -> str:
    return f"{value:.6g}"


@rule(codes.LORA_ALPHA_NOT_POSITIVE, "lora-alpha-not-positive", Severity.ERROR, "`lora.alpha` is not positive")
def lora_alpha_not_positive(exp: ResolvedExperiment, context: RuleContext) -> Iterator[Problem]:
    """
    ## What it does
    Checks that `lora.alpha` is greater than 0.

    ## Why is this bad?
    Alpha / rank is the fraction of the adapter's weight change that is applied (alpha 2 with rank 8
    applies 1/4); an alpha of 0 or less applies nothing, or the change reversed.

    {relax}

    ## Example
    ```tune
    experiment tickets {
      model  = "ibm/granite-3-1-8b-base"
      method = lora
      data { train = "data/train.jsonl" }
      lora { alpha = 0 }
    }
    ```

    ## Use instead
    ```tune
    experiment tickets {
      model  = "ibm/granite-3-1-8b-base"
      method = lora
      data { train = "data/train.jsonl" }
      lora { alpha = 16 }
    }
    ```

    ## Source
    {source} (alpha: positive; alpha / rank is the scale applied).
    """
    yield from outside_range(exp, context, "lora.alpha", "alpha must be positive; 2 × rank is common")


@rule(codes.MAX_SEQ_LENGTH_OUT_OF_RANGE, "max-seq-length-out-of-range", Severity.ERROR,
      "`training.max_seq_length` below 1 or above the model's context window")
def max_seq_length_out_of_range(exp: ResolvedExperiment, context: RuleContext) -> Iterator[Problem]:
    """
    ## What it does
    Checks that `training.max_seq_length` (input plus output tokens) is at least 1 and no larger than the
    model's context window. For a model whose window the catalog marks as soft (T5 uses relative
    positions, so 512 is the length it was trained with, not a hard limit) it is a warning.

    ## Why is this bad?
    Tokens beyond the context window cannot be attended to: the backend truncates or fails. Set the
    smallest value that still represents the use case; longer sequences make tuning slower.

    {relax}

    ## Example
    ```tune
    experiment tickets {
      model  = "ibm/granite-13b-instruct-v2"
      method = prompt_tuning
      task   = classification
      data { train = "data/train.jsonl" }
      training { max_seq_length = 16384 }
      prompt { init_method = random }
    }
    ```

    ## Use instead
    ```tune
    experiment tickets {
      model  = "ibm/granite-13b-instruct-v2"
      method = prompt_tuning
      task   = classification
      data { train = "data/train.jsonl" }
      training { max_seq_length = 1024 }
      prompt { init_method = random }
    }
    ```

    ## Source
    {source} (max sequence length: input + output tokens, longer examples are truncated); the context
    windows come from the models' configuration files (catalog).
    """
    yield from outside_range(exp, context, "training.max_seq_length")
    value = exp.values.get("training.max_seq_length")
    model = exp.model
    if value is None or model is None or model.context_window is None or value <= model.context_window:
        return
    if not context.catalog.ranges["training.max_seq_length"].contains(value):
        return
    soft = model.context_window_soft
    note = " (a soft limit: the model uses relative positions, so longer inputs run but were not trained for)" \
        if soft else ""
    yield Problem(exp.location_of("training.max_seq_length"),
                  f"`training.max_seq_length` is {exp.text_of('training.max_seq_length')}, above the context "
                  f"window of {model.id} ({model.context_window} tokens){note}",
                  f"use at most {model.context_window}", Severity.WARNING if soft else None)


@rule(codes.TOKEN_SPLIT_EXCEEDS_MAX_SEQ_LENGTH, "token-split-exceeds-max-seq-length", Severity.ERROR,
      "`max_input_tokens + max_output_tokens` exceeds `max_seq_length`")
def token_split_exceeds_max_seq_length(exp: ResolvedExperiment, context: RuleContext) -> Iterator[Problem]:
    """
    ## What it does
    When `training.max_input_tokens`, `training.max_output_tokens` and `training.max_seq_length` are all
    set, checks that the input and output limits fit in the sequence length.

    ## Why is this bad?
    The maximum sequence length is the maximum input tokens plus the output tokens allowed for each
    prompt; a split that does not add up leaves one of the limits a fiction.

    ## Example
    ```tune
    experiment tickets {
      model  = "google/flan-t5-xl"
      method = prompt_tuning
      data { train = "data/train.jsonl" }
      training {
        max_seq_length    = 512
        max_input_tokens  = 448
        max_output_tokens = 128
      }
    }
    ```

    ## Use instead
    ```tune
    experiment tickets {
      model  = "google/flan-t5-xl"
      method = prompt_tuning
      data { train = "data/train.jsonl" }
      training {
        max_seq_length    = 512
        max_input_tokens  = 384
        max_output_tokens = 128
      }
    }
    ```

    ## Source
    {source} (max sequence length = max input tokens + max output tokens).
    """
    total = exp.values.get("training.max_seq_length")
    inputs = exp.values.get("training.max_input_tokens")
    outputs = exp.values.get("training.max_output_tokens")
    if total is None or inputs is None or outputs is None or inputs + outputs <= total:
        return
    yield Problem(exp.location_of("training.max_input_tokens"),
                  f"`max_input_tokens + max_output_tokens` is {inputs} + {outputs} = {inputs + outputs}, "
                  f"more than `max_seq_length` ({total})",
                  f"lower them to add up to at most {total}, or raise `max_seq_length`")


@rule(codes.NUM_VIRTUAL_TOKENS_BELOW_ONE, "num-virtual-tokens-below-one",
      Severity.ERROR, "`prompt.num_virtual_tokens` below 1")
def num_virtual_tokens_below_one(exp: ResolvedExperiment, context: RuleContext) -> Iterator[Problem]:
    """
    ## What it does
    Checks that `prompt.num_virtual_tokens`, the length of the tuned soft prompt, is at least 1.

    ## Why is this bad?
    A prompt of no virtual tokens has nothing to tune; PEFT rejects it.

    ## Example
    ```tune
    experiment tickets {
      model  = "google/flan-t5-xl"
      method = prompt_tuning
      data { train = "data/train.jsonl" }
      prompt { num_virtual_tokens = 0 }
    }
    ```

    ## Use instead
    ```tune
    experiment tickets {
      model  = "google/flan-t5-xl"
      method = prompt_tuning
      data { train = "data/train.jsonl" }
      prompt { num_virtual_tokens = 20 }
    }
    ```

    ## Source
    Hugging Face PEFT: `PromptTuningConfig.num_virtual_tokens` must be set to a positive count.
    """
    yield from outside_range(exp, context, "prompt.num_virtual_tokens")


@rule(codes.TRAINING_SETTING_OUT_OF_RANGE, "training-setting-out-of-range", Severity.ERROR,
      "A training setting (warmup, weight decay, eval/save/logging steps) outside its range")
def training_setting_out_of_range(exp: ResolvedExperiment, context: RuleContext) -> Iterator[Problem]:
    """
    ## What it does
    Checks the settings of how a run trains against their ranges in the catalog: `warmup_steps` and
    `weight_decay` not negative, `warmup_ratio` a fraction in [0, 1), and `eval_steps`, `save_steps`
    and `logging_steps` at least 1.

    ## Why is this bad?
    The trainers reject these only after the job has started (a negative warmup, a ratio of 1.5), or
    divide by them (a step count of 0).

    ## Example
    ```tune
    experiment tickets {
      model  = "ibm/granite-3-1-8b-base"
      method = lora
      data { train = "data/train.jsonl" }
      training { warmup_ratio = 3 }
    }
    ```

    ## Use instead
    ```tune
    experiment tickets {
      model  = "ibm/granite-3-1-8b-base"
      method = lora
      data { train = "data/train.jsonl" }
      training { warmup_ratio = 0.03 }
    }
    ```

    ## Source
    Hugging Face transformers: `TrainingArguments` (warmup_ratio is a fraction of the training steps).
    """
    for path, allowed in context.catalog.ranges.items():
        if allowed.rule == training_setting_out_of_range.name:
            yield from outside_range(exp, context, path)


def _fill_docs(*rules) -> list:
    """The docstrings share the relax-in-config paragraph and the source line."""
    filled = []
    for item in rules:
        doc = item.doc.replace("{relax}", RELAX.replace("CODE", item.code)).replace("{source}", SOURCE)
        filled.append(item.replace(doc=doc))
    return filled


RULES = _fill_docs(
    batch_size_out_of_range, accumulate_steps_out_of_range, learning_rate_out_of_range, epochs_out_of_range,
    lora_rank_out_of_range, lora_dropout_out_of_range, lora_alpha_not_positive, max_seq_length_out_of_range,
    token_split_exceeds_max_seq_length, num_virtual_tokens_below_one, training_setting_out_of_range,
)
