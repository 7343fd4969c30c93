"""TS215–TS217 — how a run trains: settings that contradict each other, which every trainer rejects only
once the job has started (Hugging Face's `TrainingArguments` raises in `__post_init__`, after the model
and the data have been loaded onto the GPU machine).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # (typing, for type checkers only, is not imported at run time)
    from typing import Iterator

from tunespec import codes
from tunespec.compiler.resolve import ResolvedExperiment
from tunespec.diagnostics import Problem, Severity
from tunespec.rules.engine import RuleContext, rule

HF_SOURCE = "Hugging Face transformers: `TrainingArguments.__post_init__` (training_args.py)"


@rule(codes.WARMUP_STEPS_AND_RATIO, "warmup-steps-and-ratio",
      Severity.ERROR, "Both `warmup_steps` and `warmup_ratio` are set")
def warmup_steps_and_ratio(exp: ResolvedExperiment, context: RuleContext) -> Iterator[Problem]:
    """
    ## What it does
    Reports an experiment that sets both `training.warmup_steps` and `training.warmup_ratio`.

    ## Why is this bad?
    They say the same thing two ways. Axolotl refuses the pair; the Hugging Face trainers silently let
    `warmup_steps` win, so the ratio you read in the experiment is not the one that trains.

    ## Example
    ```tune
    experiment tickets {
      model  = "ibm/granite-3-1-8b-base"
      method = lora
      data { train = "data/train.jsonl" }
      training {
        warmup_steps = 100
        warmup_ratio = 0.03
      }
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
    Axolotl: `warmup_steps` and `warmup_ratio` cannot both be set (its config validation); Hugging Face
    transformers: `get_warmup_steps` prefers `warmup_steps`.
    """
    if exp.is_set("training.warmup_steps") and exp.is_set("training.warmup_ratio"):
        yield Problem(exp.location_of("training.warmup_ratio", "training.warmup_steps"),
                      "both `warmup_steps` and `warmup_ratio` are set; the trainers read only one of them",
                      "keep one: `warmup_ratio` (a fraction of the training steps) or `warmup_steps`")


@rule(codes.CADENCE_STEPS_MISSING, "cadence-steps-missing",
      Severity.ERROR, "`eval_strategy` or `save_strategy` is `steps` without a step count")
def cadence_steps_missing(exp: ResolvedExperiment, context: RuleContext) -> Iterator[Problem]:
    """
    ## What it does
    Reports `training.eval_strategy = steps` without `training.eval_steps`, and `training.save_strategy =
    steps` without `training.save_steps`.

    ## Why is this bad?
    Every 0 steps is meaningless: each backend falls back to a default of its own (the Hugging Face
    trainers evaluate as often as they log; others every 500 steps), so the same experiment would evaluate
    or save at different points on different backends.

    ## Example
    ```tune
    experiment tickets {
      model  = "ibm/granite-3-1-8b-base"
      method = lora
      data {
        train      = "data/train.jsonl"
        validation = "data/val.jsonl"
      }
      training { eval_strategy = steps }
    }
    ```

    ## Use instead
    ```tune
    experiment tickets {
      model  = "ibm/granite-3-1-8b-base"
      method = lora
      data {
        train      = "data/train.jsonl"
        validation = "data/val.jsonl"
      }
      training {
        eval_strategy = steps
        eval_steps    = 50
      }
    }
    ```

    ## Source
    {source}: `eval_steps` defaults to `logging_steps` when the strategy is `steps`.
    """
    for kind in ("eval", "save"):
        strategy, steps = f"training.{kind}_strategy", f"training.{kind}_steps"
        if exp.values.get(strategy) == "steps" and not exp.is_set(steps):
            yield Problem(exp.location_of(strategy),
                          f"`{kind}_strategy = steps` needs `{kind}_steps`, which is unset",
                          f"set `training.{kind}_steps`, or use `{kind}_strategy = epoch`")


@rule(codes.EVALUATION_WITHOUT_VALIDATION_DATA, "evaluation-without-validation-data",
      Severity.ERROR, "Evaluation asked for without `data.validation`")
def evaluation_without_validation_data(exp: ResolvedExperiment, context: RuleContext) -> Iterator[Problem]:
    """
    ## What it does
    Reports `training.eval_strategy` set to `epoch` or `steps` on an experiment without
    `data.validation`.

    ## Why is this bad?
    There is nothing to evaluate on: the Hugging Face trainers raise "You have set `args.eval_strategy` to
    epoch but you didn't pass an `eval_dataset`" once the job has started. (Left unset, `eval_strategy`
    follows the data: every epoch with a validation set, never without.)

    ## Example
    ```tune
    experiment tickets {
      model  = "ibm/granite-3-1-8b-base"
      method = lora
      data { train = "data/train.jsonl" }
      training { eval_strategy = epoch }
    }
    ```

    ## Use instead
    ```tune
    experiment tickets {
      model  = "ibm/granite-3-1-8b-base"
      method = lora
      data {
        train      = "data/train.jsonl"
        validation = "data/val.jsonl"
      }
      training { eval_strategy = epoch }
    }
    ```

    ## Source
    {source}.
    """
    strategy = exp.values.get("training.eval_strategy")
    if strategy in ("epoch", "steps") and exp.written("training.eval_strategy") and not exp.is_set("data.validation"):
        yield Problem(exp.location_of("training.eval_strategy"),
                      f"`eval_strategy = {strategy}` but `data.validation` is unset: there is nothing to evaluate on",
                      "set `data.validation`, or leave `eval_strategy` unset")


def _fill_docs(*rules) -> list:
    return [item.replace(doc_source=lambda item=item: item.doc.replace("{source}", HF_SOURCE)) for item in rules]


RULES = _fill_docs(warmup_steps_and_ratio, cadence_steps_missing, evaluation_without_validation_data)
