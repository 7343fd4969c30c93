"""TS4xx — training data: the files `data.train` and `data.validation` name, read once per run.

Only local files are read; URIs (`s3://`, `cos://`, `hf://`, `https://`) are skipped, and so are these
rules when no file is set. A malformed file (TS402) gets no other data findings.
"""

from __future__ import annotations

from pathlib import Path
TYPE_CHECKING = False
if TYPE_CHECKING:  # (typing, for type checkers only, is not imported at run time)
    from typing import Iterator

from tunespec import codes
from tunespec.compiler.resolve import ResolvedExperiment
from tunespec.diagnostics import Problem, Severity
from tunespec.rules.datafiles import DataFiles, DataScan
from tunespec.rules.engine import RuleContext, rule

DATA_FIELDS = ("data.train", "data.validation")
MB = 1_000_000  # the catalog gives file sizes in MB, as watsonx.ai does (decimal megabytes)


def data_files(context: RuleContext) -> DataFiles:
    """The run's data files, planned from the variants being checked (so that each file is read once for
    all the field names they ask for): a lint checks one declaration's variants at a time, and a file that
    a later declaration asks other field names of is read again (as one a later batch asks is)."""
    files = context.cache.get("data files")
    if files is None:
        limits = context.catalog.advice["data"]
        files = context.cache["data files"] = DataFiles((), limits["tokens_per_word"], limits["max_file_mb"] * MB,
                                                        context.shared.setdefault("data scans", {}))
    if files.planned is not context.resolved:
        files.plan(context.resolved, [(path, exp.values.get("data.input_field", "input"),
                                       exp.values.get("data.output_field", "output"))
                                      for exp in context.resolved for path in exp.local_files.values()])
    return files


def scans(exp: ResolvedExperiment, context: RuleContext) -> Iterator[tuple[str, Path, DataScan]]:
    for field in DATA_FIELDS:
        path = exp.local_files.get(field)
        if path is not None:
            yield field, path, data_files(context).scan(path)


def training_records(exp: ResolvedExperiment, context: RuleContext) -> int | None:
    """N, the count of valid records in the training file; None when it cannot be counted."""
    path = exp.local_files.get("data.train")
    if path is None:
        return None
    stats = data_files(context).scan(path).stats(*_fields(exp))
    return stats.valid if stats is not None else None


def _fields(exp: ResolvedExperiment) -> tuple[str, str]:
    return exp.values.get("data.input_field", "input"), exp.values.get("data.output_field", "output")


def _shown(exp: ResolvedExperiment, field: str) -> str:
    return exp.values[field]


@rule(codes.DATA_FILE_MISSING, "data-file-missing", Severity.WARNING, "A data file does not exist")
def data_file_missing(exp: ResolvedExperiment, context: RuleContext) -> Iterator[Problem]:
    """
    ## What it does
    Warns when the local file `data.train` or `data.validation` names does not exist (or is not a file).
    Paths are relative to the `.tune` file that writes them.

    ## Why is this bad?
    The job would fail when it starts, after waiting for its GPU. (A warning, not an error: the data may be
    produced by an earlier step of the pipeline.)

    ## Example
    ```tune
    experiment tickets {
      model  = "ibm/granite-3-1-8b-base"
      method = lora
      data { train = "data/missing.jsonl" }
    }
    ```

    ## Use instead
    ```tune
    # file: data/train.jsonl
    {"input": "Refund my order", "output": "billing"}
    # file: main.tune
    experiment tickets {
      model  = "ibm/granite-3-1-8b-base"
      method = lora
      data { train = "data/train.jsonl" }
    }
    ```

    ## Source
    watsonx.ai: Data formats for tuning foundation models.
    """
    for field, path, scan in scans(exp, context):
        if scan.problem:
            yield Problem(exp.location_of(field), f"`{_shown(exp, field)}` {scan.problem}",
                          "paths are relative to the .tune file that writes them")


@rule(codes.DATA_NOT_JSON, "data-not-json", Severity.ERROR, "A data file is not JSON (an array) or JSONL")
def data_not_json(exp: ResolvedExperiment, context: RuleContext) -> Iterator[Problem]:
    """
    ## What it does
    Reads the data file as a JSON array (when it starts with `[`) or as JSONL (one JSON object per line,
    blank lines allowed) and reports the first line that is not: invalid JSON, not UTF-8, a JSON number or
    string instead of an object, an empty file, or a line too long to be one example. A malformed file gets
    no other data findings.

    ## Why is this bad?
    The backend stops at the first line it cannot parse, after the job has started.

    ## Example
    ```tune
    # file: data/train.jsonl
    {"input": "Refund my order", "output": "billing"}
    {"input": "The app crashes", "output": "technical"
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
    }
    ```

    ## Source
    watsonx.ai: Data formats for tuning foundation models (JSON or JSONL).
    """
    for field, path, scan in scans(exp, context):
        if scan.malformed:
            yield Problem(exp.location_of(field), f"`{_shown(exp, field)}` is not JSON or JSONL: {scan.malformed}",
                          "each line must be one JSON object, or the file one JSON array of objects")


@rule(codes.DATA_RECORD_FIELDS, "data-record-fields",
      Severity.ERROR, "A record lacks the input or output field, or it is not a string")
def data_record_fields(exp: ResolvedExperiment, context: RuleContext) -> Iterator[Problem]:
    """
    ## What it does
    Checks that every record has the input and output fields (`data.input_field` and
    `data.output_field`, by default `input` and `output`) as strings; reports the first record that does
    not, and how many do not.

    ## Why is this bad?
    Each example needs exactly one input and one output string; backends drop or crash on the others.

    ## Example
    ```tune
    # file: data/train.jsonl
    {"input": "Refund my order", "output": "billing"}
    {"prompt": "The app crashes", "output": "technical"}
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
    }
    ```

    ## Source
    watsonx.ai: Data formats for tuning foundation models ("each example must include one input and
    output pair").
    """
    for field, path, scan in scans(exp, context):
        stats = scan.stats(*_fields(exp))
        if stats is not None and stats.invalid:
            total = stats.valid + stats.invalid
            yield Problem(exp.location_of(field),
                          f"`{_shown(exp, field)}`: {stats.first_invalid}; {stats.invalid} of {total} records "
                          "are like that", "set `data.input_field` / `data.output_field` if the data names them "
                          "differently")


@rule(codes.EXAMPLES_LONGER_THAN_MAX_SEQ_LENGTH, "examples-longer-than-max-seq-length", Severity.WARNING,
      "Examples likely longer than `max_seq_length`")
def examples_longer_than_max_seq_length(exp: ResolvedExperiment, context: RuleContext) -> Iterator[Problem]:
    """
    ## What it does
    Estimates each example's length at {advice:data.tokens_per_word} tokens per word of input plus output and counts the examples
    longer than `training.max_seq_length`.

    ## Why is this bad?
    Longer examples are truncated: with a limit of 300, only the first 300 tokens of a 1,000-token input
    are used, and the output may be cut off entirely.

    ## Example
    ```tune
    # file: data/train.jsonl
    {"input": "Please look into the duplicate charge on my card from last Tuesday and refund it", "output": "billing"}
    # file: main.tune
    experiment tickets {
      model  = "ibm/granite-3-1-8b-base"
      method = lora
      data { train = "data/train.jsonl" }
      training { max_seq_length = 8 }
    }
    ```

    ## Use instead
    ```tune
    # file: data/train.jsonl
    {"input": "Please look into the duplicate charge on my card from last Tuesday and refund it", "output": "billing"}
    # file: main.tune
    experiment tickets {
      model  = "ibm/granite-3-1-8b-base"
      method = lora
      data { train = "data/train.jsonl" }
      training { max_seq_length = 256 }
    }
    ```

    ## Source
    watsonx.ai: Parameters for tuning foundation models (examples longer than the maximum sequence length
    are truncated); watsonx.ai: Data formats for tuning foundation models (256 tokens are about 130–170
    words).
    """
    limit = exp.values.get("training.max_seq_length")
    if not limit:
        return
    rate = context.catalog.advice["data"]["tokens_per_word"]
    for field, path, scan in scans(exp, context):
        stats = scan.stats(*_fields(exp))
        longer = stats.longer_than(limit) if stats is not None else 0
        if longer:
            yield Problem(exp.location_of(field),
                          f"`{_shown(exp, field)}`: {longer} of {stats.valid} examples are likely longer than "
                          f"`max_seq_length` ({limit} tokens, estimated at {rate:g} tokens per word of input and output) "
                          "and will be truncated", "raise `max_seq_length`, or shorten those examples")


@rule(codes.DATA_SET_SIZE, "data-set-size", Severity.WARNING,
      "Too few or too many examples, or a file over {advice:data.max_file_mb} MB")
def data_set_size(exp: ResolvedExperiment, context: RuleContext) -> Iterator[Problem]:
    """
    ## What it does
    Warns when the training file has fewer than {advice:data.min_examples} valid examples or, for prompt tuning, more than {advice:data.max_examples_prompt_tuning};
    and when either data file is larger than {advice:data.max_file_mb} MB. (The example counts apply to the training file: a
    validation set is expected to be smaller.)

    ## Why is this bad?
    watsonx.ai allows {advice:data.min_examples}–{advice:data.max_examples_prompt_tuning} examples for prompt tuning (100–1,000 recommended) and files of at most
    {advice:data.max_file_mb} MB; below {advice:data.min_examples} examples no method learns much.

    ## Example
    ```tune
    # file: data/train.jsonl
    {"input": "Refund my order", "output": "billing"}
    # file: main.tune
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
      data { train = "s3://bucket/tickets/train.jsonl" }
    }
    ```

    ## Source
    watsonx.ai: Data formats for tuning foundation models ({advice:data.min_examples}–{advice:data.max_examples_prompt_tuning} examples; files up to {advice:data.max_file_mb} MB).
    """
    limits = context.catalog.advice["data"]
    for field, path, scan in scans(exp, context):
        if scan.problem or scan.malformed:
            continue
        if scan.size > limits["max_file_mb"] * MB:
            yield Problem(exp.location_of(field), f"`{_shown(exp, field)}` is {scan.size / MB:.0f} MB, over "
                          f"the {limits['max_file_mb']} MB limit" + (" (too large to check its records)"
                                                                    if scan.too_big_to_read else ""),
                          "split the data, or keep only the most useful examples")
            continue
        stats = scan.stats(*_fields(exp))
        if field != "data.train" or stats is None or (stats.invalid and not stats.valid):
            continue  # with no valid record at all, TS403 has said what there is to say
        maximum = limits["max_examples_prompt_tuning"]
        if stats.valid < limits["min_examples"]:
            yield Problem(exp.location_of(field), f"`{_shown(exp, field)}` has {stats.valid} examples, fewer "
                          f"than {limits['min_examples']}", "add examples: 100 to 1,000 are recommended")
        elif exp.values.get("method") == "prompt_tuning" and stats.valid > maximum:
            yield Problem(exp.location_of(field), f"`{_shown(exp, field)}` has {stats.valid} examples, more "
                          f"than the {maximum:,} prompt tuning accepts", f"keep the most representative {maximum:,}")


@rule(codes.VALIDATION_IS_TRAINING, "validation-is-training",
      Severity.WARNING, "The validation file is the training file")
def validation_is_training(exp: ResolvedExperiment, context: RuleContext) -> Iterator[Problem]:
    """
    ## What it does
    Warns when `data.validation` names the same file as `data.train`.

    ## Why is this bad?
    Validation on the training data measures memorisation, not generalisation: the loss keeps falling
    while the model overfits.

    ## Example
    ```tune
    experiment tickets {
      model  = "ibm/granite-3-1-8b-base"
      method = lora
      data {
        train      = "data/train.jsonl"
        validation = "data/../data/train.jsonl"
      }
    }
    ```

    ## Use instead
    ```tune
    experiment tickets {
      model  = "ibm/granite-3-1-8b-base"
      method = lora
      data {
        train      = "data/train.jsonl"
        validation = "data/validation.jsonl"
      }
    }
    ```

    ## Source
    watsonx.ai: Data formats for tuning foundation models ("a set to use for training and a separate,
    smaller set to use for testing").
    """
    train, validation = exp.local_files.get("data.train"), exp.local_files.get("data.validation")
    if train is not None and train == validation:
        yield Problem(exp.location_of("data.validation"),
                      f"`data.validation` is the training file (`{exp.values['data.train']}`)",
                      "hold out a separate validation set")


RULES = [
    data_file_missing, data_not_json, data_record_fields, examples_longer_than_max_seq_length, data_set_size,
    validation_is_training,
]
