"""TS1xx — the documented ranges of watsonx.ai's tuning parameters.

One generic check walks the catalog's range table (`compiler/catalog/ranges.toml`). A row with a `declares`
table is a rule of its own, generated here: its code (from `tunespec/codes.py`), severity, summary and
documentation, with an example that breaks the range and one that keeps it, all from the row. The rules
that need more than a range (a percentage's help, the model's context window, several rows, a sum) are
written below, their numbers filled from the catalog too. These are watsonx.ai's limits: a team that tunes
elsewhere relaxes them in configuration, e.g. `[tool.tunespec] severity = { TS101 = "warning" }`.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # (typing, for type checkers only, is not imported at run time)
    from typing import Callable, Iterator

from tunespec import codes
from tunespec.compiler.catalog import Catalog, Range, load_catalog
from tunespec.compiler.resolve import ResolvedExperiment
from tunespec.diagnostics import Problem, Severity
from tunespec.rules.engine import SCOPE_VARIANT, Rule, RuleContext, catalog_value, rule

RELAX = """These are the limits watsonx.ai documents for its tuning experiments. If you tune elsewhere, relax
the rule in configuration: `[tool.tunespec] severity = { CODE = "warning" }`."""
RELAXED_SOURCE = "watsonx-params"  # rows from this source get the paragraph above
EXAMPLE = """```tune
experiment tickets {{
  model  = "{model}"
  method = {method}
  data {{ train = "data/train.jsonl" }}
  {body}
}}
```"""
# The experiment the generated examples complete, unless a row names its own model and method.
EXAMPLE_MODEL = "ibm/granite-3-1-8b-base"
EXAMPLE_METHOD = "lora"


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







@rule(codes.LORA_DROPOUT_OUT_OF_RANGE, "lora-dropout-out-of-range",
      Severity.ERROR, "`lora.dropout` is not a fraction in {range:lora.dropout}")
def lora_dropout_out_of_range(exp: ResolvedExperiment, context: RuleContext) -> Iterator[Problem]:
    """
    ## What it does
    Checks that `lora.dropout` is a fraction in {range:lora.dropout}. A value between 1 and 100 was probably meant as a
    percentage, and the help says so (`20` → did you mean 0.2?).

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


@rule(codes.MAX_SEQ_LENGTH_OUT_OF_RANGE, "max-seq-length-out-of-range", Severity.ERROR,
      "`training.max_seq_length` below {min:training.max_seq_length} or above the model's context window")
def max_seq_length_out_of_range(exp: ResolvedExperiment, context: RuleContext) -> Iterator[Problem]:
    """
    ## What it does
    Checks that `training.max_seq_length` (input plus output tokens) is at least {min:training.max_seq_length} and no larger than the
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



@rule(codes.TRAINING_SETTING_OUT_OF_RANGE, "training-setting-out-of-range", Severity.ERROR,
      "A training setting (warmup, weight decay, eval/save/logging steps) outside its range")
def training_setting_out_of_range(exp: ResolvedExperiment, context: RuleContext) -> Iterator[Problem]:
    """
    ## What it does
    Checks the settings of how a run trains against their ranges in the catalog: `warmup_steps` and
    `weight_decay` not negative, `warmup_ratio` a fraction in {range:training.warmup_ratio}, and `eval_steps`, `save_steps`
    and `logging_steps` at least {min:training.eval_steps}.

    ## Why is this bad?
    The trainers reject these only after the job has started (a negative warmup, a ratio of 3), or
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


def range_rule(allowed: Range, catalog: Catalog) -> Rule:
    """The rule a row of ranges.toml declares."""
    row = allowed.declares
    known: dict[str, str] = {}

    # Made when a message or the docs first need them: writing the numbers imports `decimal`, which cost
    # every cold lint 1.5 ms (5M instructions) when the rules were declared.
    def words() -> dict[str, str]:
        """The field and its range as the docs write them."""
        if not known:
            known["field"] = allowed.field
            known.update((kind, catalog_value(kind, allowed.field, catalog)) for kind in ("range", "min", "max"))
        return known

    meaning = f" ({row['meaning']})" if "meaning" in row else ""
    what = row.get("what", "Checks that `{field}`" + meaning + " is within {range}.")
    name = row["name"]
    code = getattr(codes, name.upper().replace("-", "_"))

    def doc() -> str:
        sections = ["## What it does", what.format(**words()), "", "## Why is this bad?", row["why"].format(**words()), ""]
        if allowed.source == RELAXED_SOURCE:
            sections += [RELAX.replace("CODE", code), ""]
        model, method = row.get("example_model", EXAMPLE_MODEL), row.get("example_method", EXAMPLE_METHOD)
        sections += ["## Example", EXAMPLE.format(model=model, method=method, body=row["example"]), "",
                     "## Use instead", EXAMPLE.format(model=model, method=method, body=row["fix"]), "", "## Source"]
        if "source_text" in row:
            sections.append(row["source_text"])
        else:
            cited = row.get("cited", row.get("label", allowed.field) + ": {range}").format(**words())
            sections.append(f"{catalog.sources[allowed.source]['title']} ({cited}).")
        return "\n".join(sections)

    summary = row.get("summary", "`{field}` outside the documented {range}")
    help = (lambda: row["help"].format(**words())) if "help" in row else None
    return Rule(code, name, Severity(row["severity"]), lambda: summary.format(**words()), doc,
                _range_check(allowed.field, help), SCOPE_VARIANT)


def _range_check(field: str, help: Callable[[], str] | None) -> Callable:
    def check(exp: ResolvedExperiment, context: RuleContext) -> Iterator[Problem]:
        for problem in outside_range(exp, context, field):
            yield problem if help is None else problem.replace(help=help())

    return check


def _fill_docs(*rules) -> list:
    """The docstrings share the relax-in-config paragraph and the source line."""
    def filled(item: Rule) -> str:
        title = load_catalog().sources[RELAXED_SOURCE]["title"]
        return item.doc.replace("{relax}", RELAX.replace("CODE", item.code)).replace("{source}", title)

    return [item.replace(doc_source=lambda item=item: filled(item)) for item in rules]


def _declared_ranges() -> list[Rule]:
    catalog = load_catalog()
    return [range_rule(allowed, catalog) for allowed in catalog.ranges.values() if allowed.declares]


RULES = _declared_ranges() + _fill_docs(
    lora_dropout_out_of_range, max_seq_length_out_of_range, token_split_exceeds_max_seq_length,
    training_setting_out_of_range,
)
