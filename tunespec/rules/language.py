"""TS0xx — the language and the structure of a program.

Most of these are found while parsing, loading and resolving (the compiler reports them as findings);
they are declared here so that selection, severities and `tunespec rule` treat them like every rule.
TS011 runs on resolved experiments.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # (typing, for type checkers only, is not imported at run time)
    from typing import Iterator

from tunespec import codes
from tunespec.compiler.catalog import Catalog
from tunespec.compiler.resolve import DEFAULT_MAX_VARIANTS, MAX_VARIANTS_LIMIT, ResolvedExperiment
from tunespec.compiler.schema import EXPERIMENT_FIELDS, LORA_METHODS, REQUIRED_ALWAYS, REQUIRED_BY_METHOD
from tunespec.location import Location, Span
from tunespec.diagnostics import Problem, Severity
from tunespec.rules.engine import SCOPE_EXPERIMENT, RuleContext, compiler_rule, rule
from tunespec.spelling import listed

DESIGN = "tunespec README: The language in a page"

SYNTAX_ERROR = compiler_rule(codes.SYNTAX_ERROR, "syntax-error",
                             Severity.ERROR, "The file is not valid `.tune` syntax", """
    ## What it does
    Reports text that does not parse: what was found, what was expected there, and where, including an
    unclosed `{` or `[` at the end of the file.

    ## Why is this bad?
    Nothing in a file that does not parse can be checked or built; a file with a syntax error reports that
    and nothing else.

    ## Example
    ```tune
    experiment tickets {
      model = "ibm/granite-3-1-8b-base"
      training {
        batch_size 8
      }
    }
    ```

    ## Use instead
    ```tune
    experiment tickets {
      model = "ibm/granite-3-1-8b-base"
      training {
        batch_size = 8
      }
    }
    ```

    ## Source
    """ + DESIGN + " (values, declarations).")

UNKNOWN_FIELD = compiler_rule(codes.UNKNOWN_FIELD, "unknown-field", Severity.ERROR, "Unknown field or block", """
    ## What it does
    Reports a field or block name that the language does not have in that place, with the closest valid
    name as a did-you-mean.

    ## Why is this bad?
    A misspelt field is silently a different experiment: `learning_rte = 0.03` leaves the learning rate at
    its default. An unknown field is not the field it resembles, so that field stays unset.

    ## Example
    ```tune
    experiment tickets {
      model  = "ibm/granite-3-1-8b-base"
      method = lora
      data { train = "data/train.jsonl" }
      training { learning_rte = 0.00003 }
    }
    ```

    ## Use instead
    ```tune
    experiment tickets {
      model  = "ibm/granite-3-1-8b-base"
      method = lora
      data { train = "data/train.jsonl" }
      training { learning_rate = 0.00003 }
    }
    ```

    ## Source
    """ + DESIGN + " (fields).")

DUPLICATE_FIELD = compiler_rule(codes.DUPLICATE_FIELD, "duplicate-field",
                                Severity.ERROR, "A field or block is given twice in one body", """
    ## What it does
    Reports the second occurrence of a field in the same block, or of a block in the same body.

    ## Why is this bad?
    Which of the two values wins is a guess a reader should not have to make; the first one is used.

    ## Example
    ```tune
    experiment tickets {
      model  = "ibm/granite-3-1-8b-base"
      method = lora
      data { train = "data/train.jsonl" }
      training {
        epochs = 3
        epochs = 5
      }
    }
    ```

    ## Use instead
    ```tune
    experiment tickets {
      model  = "ibm/granite-3-1-8b-base"
      method = lora
      data { train = "data/train.jsonl" }
      training { epochs = 5 }
    }
    ```

    ## Source
    """ + DESIGN + " (fields).")

WRONG_TYPE = compiler_rule(codes.WRONG_TYPE, "wrong-type", Severity.ERROR, "A value of the wrong type", """
    ## What it does
    Reports a value whose type the field does not take: a string for `batch_size`, `2.5` for `epochs`, a
    quoted `"lora"` where the identifier `lora` is expected, a single string where a list is expected.

    ## Why is this bad?
    Backends disagree on how they coerce such values (or crash on them on the GPU machine); tunespec says
    what the field takes before anything runs. The value is then ignored by every other rule.

    ## Example
    ```tune
    experiment tickets {
      model  = "ibm/granite-3-1-8b-base"
      method = "lora"
      data { train = "data/train.jsonl" }
    }
    ```

    ## Use instead
    ```tune
    experiment tickets {
      model  = "ibm/granite-3-1-8b-base"
      method = lora
      data { train = "data/train.jsonl" }
    }
    ```

    ## Source
    """ + DESIGN + " (values and fields).")

UNKNOWN_VALUE = compiler_rule(codes.UNKNOWN_ENUM_VALUE, "unknown-enum-value",
                              Severity.ERROR, "An identifier the field does not accept", """
    ## What it does
    Reports an unknown value for `method`, `task` or `prompt.init_method` (and unknown methods in a model
    declaration), with a did-you-mean. `method = none`, watsonx.ai's name for full fine-tuning, suggests
    `full`.

    ## Why is this bad?
    An unknown method means no documented defaults and no method-specific checks can apply.

    ## Example
    ```tune
    experiment tickets {
      model  = "ibm/granite-3-1-8b-base"
      method = none
      data { train = "data/train.jsonl" }
      training { batch_size = 8  accumulate_steps = 1  learning_rate = 0.00001  epochs = 3 }
    }
    ```

    ## Use instead
    ```tune
    experiment tickets {
      model  = "ibm/granite-3-1-8b-base"
      method = full
      data { train = "data/train.jsonl" }
      training { batch_size = 8  accumulate_steps = 1  learning_rate = 0.00001  epochs = 3 }
    }
    ```

    ## Source
    """ + DESIGN + " (fields); watsonx.ai: Parameters for tuning foundation models (`type = none` is full fine tuning).")

BAD_IMPORT = compiler_rule(codes.BAD_IMPORT, "bad-import", Severity.ERROR, "An import that cannot be followed", """
    ## What it does
    Reports an `import` whose file is missing or unreadable, is not a `.tune` file, is written as an
    absolute path, or lies outside the project root (the nearest folder above the importing file that holds
    `pyproject.toml`, `tunespec.toml` or `.git`), saying which.

    ## Why is this bad?
    Experiments that extend presets from that file cannot be resolved; and an import that reaches outside
    the repository makes a checkout lint differently on every machine.

    ## Example
    ```tune
    import "common/missing.tune"
    ```

    ## Use instead
    ```tune
    # file: common/granite.tune
    preset granite_lora { model = "ibm/granite-3-1-8b-base" }
    # file: main.tune
    import "common/granite.tune"
    ```

    ## Source
    """ + DESIGN + " (declarations: `import`).")

IMPORT_CYCLE = compiler_rule(codes.IMPORT_CYCLE, "import-cycle",
                             Severity.ERROR, "Files import each other in a cycle", """
    ## What it does
    Reports the import that closes a cycle (walking the cycle from the file whose path sorts first), and
    names every file of it.

    ## Why is this bad?
    A cycle means two files each depend on the other; move what both need into a third file.

    ## Example
    ```tune
    # file: a.tune
    import "b.tune"
    # file: b.tune
    import "a.tune"
    ```

    ## Use instead
    ```tune
    # file: a.tune
    import "b.tune"
    # file: b.tune
    preset base { method = lora }
    ```

    ## Source
    """ + DESIGN + " (declarations: `extends`).")

UNKNOWN_BASE = compiler_rule(codes.UNKNOWN_BASE, "unknown-base",
                             Severity.ERROR, "`extends` names no preset or experiment in scope", """
    ## What it does
    Reports the name after `extends` when the file and the files it imports directly declare no such
    preset or experiment (with a did-you-mean), when it names a model declaration, or when a preset extends
    an experiment.

    ## Why is this bad?
    Nothing of the intended base applies. (When an import of the file failed, this is not reported: the
    base may be in the file that could not be imported.)

    ## Example
    ```tune
    preset granite_lora { model = "ibm/granite-3-1-8b-base"  method = lora }
    experiment tickets extends granit_lora { data { train = "data/train.jsonl" } }
    ```

    ## Use instead
    ```tune
    preset granite_lora { model = "ibm/granite-3-1-8b-base"  method = lora }
    experiment tickets extends granite_lora { data { train = "data/train.jsonl" } }
    ```

    ## Source
    """ + DESIGN + " (declarations: names are scoped per file).")

INHERITANCE_CYCLE = compiler_rule(codes.INHERITANCE_CYCLE, "inheritance-cycle",
                                  Severity.ERROR, "`extends` chains form a cycle", """
    ## What it does
    Reports an inheritance cycle (including a declaration that extends itself) once, at the `extends` that
    closes it, naming the whole cycle.

    ## Why is this bad?
    A cycle has no base to start merging from.

    ## Example
    ```tune
    preset a extends b { method = lora }
    preset b extends a { model = "ibm/granite-3-1-8b-base" }
    ```

    ## Use instead
    ```tune
    preset a { method = lora }
    preset b extends a { model = "ibm/granite-3-1-8b-base" }
    ```

    ## Source
    """ + DESIGN + " (resolution: `extends` chains).")

DUPLICATE_NAME = compiler_rule(codes.DUPLICATE_NAME, "duplicate-name",
                               Severity.ERROR, "Two declarations share a name", """
    ## What it does
    Reports a preset, experiment or model declaration whose name is already taken in the same scope (the
    file and the files it imports directly), and gives both places. When both come from imported files, it
    points at the import that brings in the second.

    ## Why is this bad?
    `extends` and `tunespec build` find declarations by name; two with one name make both ambiguous. The
    first one is used.

    ## Example
    ```tune
    preset base { method = lora }
    preset base { method = full }
    ```

    ## Use instead
    ```tune
    preset lora_base { method = lora }
    preset full_base { method = full }
    ```

    ## Source
    """ + DESIGN + " (declarations: presets, experiments and model declarations share one namespace).")

INVALID_SWEEP = compiler_rule(codes.INVALID_SWEEP, "invalid-sweep",
                              Severity.ERROR, "A sweep that cannot be expanded", """
    ## What it does
    Reports a sweep that is empty, nested, on a block or a list field, lists a value twice, lists two
    values that make one variant name (`"a/b"` and `"a_b"`: names keep letters, digits and `. _ + -`), or
    makes more variants than `max-variants` ({default_variants} by default; `[tool.tunespec] max-variants` raises it, to
    at most {max_variants}).

    ## Why is this bad?
    Each combination of swept values is one training job; an accidental cartesian product of thousands of
    jobs is a budget, not a typo.

    ## Example
    ```tune
    experiment tickets {
      model  = "ibm/granite-3-1-8b-base"
      method = lora
      data { train = "data/train.jsonl" }
      lora { target_modules = sweep [["q_proj"], ["v_proj"]] }
    }
    ```

    ## Use instead
    ```tune
    experiment tickets {
      model  = "ibm/granite-3-1-8b-base"
      method = lora
      data { train = "data/train.jsonl" }
      lora { rank = sweep [8, 16] }
    }
    ```

    ## Source
    """.replace("{default_variants}", str(DEFAULT_MAX_VARIANTS)).replace("{max_variants}", f"{MAX_VARIANTS_LIMIT:,}")
    + DESIGN + " (resolution: sweeps).")

UNKNOWN_MODEL = compiler_rule(codes.UNKNOWN_MODEL, "unknown-model",
                              Severity.WARNING, "The model is neither in the catalog nor declared", """
    ## What it does
    Warns when `model` names a model that the built-in catalog does not know (ids and aliases match
    case-insensitively) and no `model "ID" { }` declaration in scope declares.

    ## Why is this bad?
    Model-aware checks (context window, layer names, quantization, documented defaults) are skipped for
    it. Declare the model to get them back.

    ## Example
    ```tune
    experiment tickets {
      model  = "acme/falcon-mini"
      method = full
      data { train = "data/train.jsonl" }
      training { batch_size = 8  accumulate_steps = 1  learning_rate = 0.00001  epochs = 3 }
    }
    ```

    ## Use instead
    ```tune
    model "acme/falcon-mini" { family = llama  context_window = 4096 }
    experiment tickets {
      model  = "acme/falcon-mini"
      method = full
      data { train = "data/train.jsonl" }
      training { batch_size = 8  accumulate_steps = 1  learning_rate = 0.00001  epochs = 3 }
    }
    ```

    ## Source
    """ + DESIGN + " (model declarations); the model catalog, `tunespec/compiler/catalog/models.toml`.")

UNREADABLE_FILE = compiler_rule(codes.UNREADABLE_FILE, "unreadable-file",
                                Severity.ERROR, "The file is not UTF-8, unreadable, or not a file", """
    ## What it does
    Reports, at line 1, column 1, a path that cannot be read as a `.tune` file: it does not exist, is a
    directory or a pipe, cannot be opened, or is not UTF-8 (the message gives the first bad byte's place).

    ## Why is this bad?
    Nothing in it can be checked. A BOM and `\\r\\n` line ends are accepted; other encodings are not.

    ## Example
    ```text
    A file saved as Latin-1: "# caf\\xe9" — byte 0xe9 is not UTF-8.
    ```

    ## Use instead
    ```text
    Save the file as UTF-8.
    ```

    ## Source
    """ + DESIGN + " (values: UTF-8 text).")


@rule(codes.INCOMPLETE_EXPERIMENT, "incomplete-experiment", Severity.ERROR,
      "An experiment lacks a required value that has no documented default", scope=SCOPE_EXPERIMENT)
def incomplete_experiment(variants: list[ResolvedExperiment], context: RuleContext) -> Iterator[Problem]:
    """
    ## What it does
    After inheritance and documented defaults, checks that an experiment has every value a tuning job
    needs: `model`, `method`, `data.train`, `training.batch_size`, `training.accumulate_steps`,
    `training.learning_rate` and `training.epochs`; for lora and qlora also `lora.rank`, `lora.alpha`,
    `lora.dropout` and `lora.target_modules`; for prompt tuning `prompt.init_method`. One finding, at the
    experiment's name, lists everything missing (across all its variants). When the model is unknown
    (TS013), the finding follows TS013: it points at the end of the `model` value and names it as the cause.

    Documented defaults fill in what they can: LoRA on granite-3-1-8b-base and llama-3-1-8b, prompt tuning
    on flan-t5-xl-3b, and prompt tuning on granite-13b-instruct-v2 once `task` is set. Presets need not be
    complete and are not checked. An experiment whose `extends` or imports failed is not reported, and a
    value with an error counts as set.

    ## Why is this bad?
    A backend fills a missing value with its own default, and backends disagree: the same file would train
    differently on each.

    ## Example
    ```tune
    experiment tickets {
      model  = "mistralai/Mistral-7B-v0.1"
      method = lora
      data { train = "data/train.jsonl" }
    }
    ```

    ## Use instead
    ```tune
    experiment tickets {
      model  = "mistralai/Mistral-7B-v0.1"
      method = lora
      data { train = "data/train.jsonl" }
      training { batch_size = 8  accumulate_steps = 1  learning_rate = 0.0001  epochs = 3 }
      lora { rank = 8  alpha = 16  dropout = 0.05  target_modules = ["q_proj", "v_proj"] }
    }
    ```

    ## Source
    tunespec README: The language in a page, resolution ("nothing else is invented"); watsonx.ai: Parameters for tuning
    foundation models (the documented defaults).
    """
    first = variants[0]
    if first.is_preset or not first.complete:
        return
    missing: dict[str, None] = {}
    for exp in variants:
        for path in required_fields(exp):
            if not exp.is_set(path):
                missing[path] = None
    if missing:
        ordered = [path for path in EXPERIMENT_FIELDS if path in missing]
        fields = ", ".join(f"`{path}`" for path in ordered)
        where, why = first.name_location, "no documented default"
        if first.model is None and first.written_by_itself("model"):
            # The unknown model (TS013) is the cause: report this knock-on after it, at the end of its value.
            written = first.location_of("model")
            span = written.span
            where = Location(written.path,
                             Span(span.end_line, span.end_column - 1, span.end_line, span.end_column))
            why = f"no documented default: model `{first.values['model']}` is unknown, see {codes.UNKNOWN_MODEL}"
        yield Problem(where, f"experiment `{first.experiment}` lacks {fields} ({why})",
                      _missing_help(first, ordered, context.catalog))


def required_fields(exp: ResolvedExperiment) -> tuple[str, ...]:
    method = exp.values.get("method")
    return REQUIRED_ALWAYS + REQUIRED_BY_METHOD.get(method, ())


def _missing_help(exp: ResolvedExperiment, missing: list[str], catalog: Catalog) -> str:
    method = exp.values.get("method")
    tasks = catalog.default_tasks(exp.model.id, method) if exp.model is not None and method else []
    if tasks and not exp.is_set("task"):
        return f"set `task` ({listed(tasks, 'or')}) to get the documented defaults"
    if method in LORA_METHODS or method == "prompt_tuning":
        return "set them in the experiment or a preset it extends; only some models have documented defaults"
    return "set them in the experiment or in a preset it extends"


RULES = [
    SYNTAX_ERROR, UNKNOWN_FIELD, DUPLICATE_FIELD, WRONG_TYPE, UNKNOWN_VALUE, BAD_IMPORT, IMPORT_CYCLE,
    UNKNOWN_BASE, INHERITANCE_CYCLE, DUPLICATE_NAME, incomplete_experiment, INVALID_SWEEP, UNKNOWN_MODEL,
    UNREADABLE_FILE,
]
