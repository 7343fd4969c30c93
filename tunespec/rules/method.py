"""TS2xx — method and model consistency: what Axolotl, LLaMA-Factory and PEFT report only once a GPU job
has started (a layer name that matches nothing, LoRA on a GPTQ checkpoint), or never (a `lora` block that a
full fine-tune silently ignores).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # (typing, for type checkers only, is not imported at run time)
    from typing import Iterator

from tunespec import codes
from tunespec.spelling import did_you_mean
from tunespec.compiler.resolve import ResolvedExperiment
from tunespec.compiler.schema import LORA_METHODS
from tunespec.diagnostics import Problem, Severity
from tunespec.rules.engine import RuleContext, rule



@rule(codes.LORA_BLOCK_WITHOUT_LORA, "lora-block-without-lora",
      Severity.ERROR, "A `lora` block on an experiment that is not LoRA")
def lora_block_without_lora(exp: ResolvedExperiment, context: RuleContext) -> Iterator[Problem]:
    """
    ## What it does
    Reports a `lora` block (written in the experiment or a preset it extends) when the resolved `method`
    is neither `lora` nor `qlora`.

    ## Why is this bad?
    Every value in the block is ignored by a full fine-tune or prompt tuning: the rank you chose is not
    the rank you think you ran.

    ## Example
    ```tune
    experiment tickets {
      model  = "mistralai/Mistral-7B-v0.1"
      method = full
      data { train = "data/train.jsonl" }
      training { batch_size = 4  accumulate_steps = 4  learning_rate = 0.00001  epochs = 3 }
      lora { rank = 16 }
    }
    ```

    ## Use instead
    ```tune
    experiment tickets {
      model  = "mistralai/Mistral-7B-v0.1"
      method = full
      data { train = "data/train.jsonl" }
      training { batch_size = 4  accumulate_steps = 4  learning_rate = 0.00001  epochs = 3 }
    }
    ```

    ## Source
    watsonx.ai: Parameters for tuning foundation models ("LoRA fine-tuning only" parameters).
    """
    method = exp.values.get("method")
    block = exp.block_location("lora")
    if method is not None and method not in LORA_METHODS and block is not None:
        yield Problem(block, f"a `lora` block on a `{method}` experiment: its values are ignored",
                      "remove the block, or set `method = lora`")


@rule(codes.PROMPT_BLOCK_WITHOUT_PROMPT_TUNING, "prompt-block-without-prompt-tuning", Severity.ERROR,
      "A `prompt` block on an experiment that is not prompt tuning")
def prompt_block_without_prompt_tuning(exp: ResolvedExperiment, context: RuleContext) -> Iterator[Problem]:
    """
    ## What it does
    Reports a `prompt` block when the resolved `method` is not `prompt_tuning`.

    ## Why is this bad?
    The initialization and the virtual tokens are ignored by LoRA and fine-tuning: a leftover from a
    prompt-tuning preset, most often.

    ## Example
    ```tune
    experiment tickets {
      model  = "ibm/granite-3-1-8b-base"
      method = lora
      data { train = "data/train.jsonl" }
      prompt { init_method = random }
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
    watsonx.ai: Parameters for tuning foundation models (prompt tuning parameters).
    """
    method = exp.values.get("method")
    block = exp.block_location("prompt")
    if method is not None and method != "prompt_tuning" and block is not None:
        yield Problem(block, f"a `prompt` block on a `{method}` experiment: its values are ignored",
                      "remove the block, or set `method = prompt_tuning`")


@rule(codes.INIT_TEXT_IGNORED, "init-text-ignored",
      Severity.WARNING, "`prompt.init_text` with `init_method = random`")
def init_text_ignored(exp: ResolvedExperiment, context: RuleContext) -> Iterator[Problem]:
    """
    ## What it does
    Warns when `prompt.init_text` is set but the initialization method is `random` (written, or the
    documented default).

    ## Why is this bad?
    The text is used only when the method is `text`; with `random` it is silently ignored.

    ## Example
    ```tune
    experiment tickets {
      model  = "google/flan-t5-xl"
      method = prompt_tuning
      data { train = "data/train.jsonl" }
      prompt { init_text = "Classify the ticket." }
    }
    ```

    ## Use instead
    ```tune
    experiment tickets {
      model  = "google/flan-t5-xl"
      method = prompt_tuning
      data { train = "data/train.jsonl" }
      prompt {
        init_method = text
        init_text   = "Classify the ticket."
      }
    }
    ```

    ## Source
    watsonx.ai: Parameters for tuning foundation models (initialization text, used when the method is text).
    """
    if exp.values.get("prompt.init_text") is not None and exp.values.get("prompt.init_method") == "random":
        yield Problem(exp.location_of("prompt.init_text"),
                      "`prompt.init_text` is ignored: `prompt.init_method` is `random`",
                      "set `init_method = text`, or remove the text")


@rule(codes.INIT_TEXT_MISSING, "init-text-missing", Severity.ERROR, "`init_method = text` without `init_text`")
def init_text_missing(exp: ResolvedExperiment, context: RuleContext) -> Iterator[Problem]:
    """
    ## What it does
    Reports `prompt.init_method = text` when no `prompt.init_text` is set.

    ## Why is this bad?
    Text initialization needs the text; PEFT raises a `ValueError` when the job starts.

    ## Example
    ```tune
    experiment tickets {
      model  = "google/flan-t5-xl"
      method = prompt_tuning
      data { train = "data/train.jsonl" }
      prompt { init_method = text }
    }
    ```

    ## Use instead
    ```tune
    experiment tickets {
      model  = "google/flan-t5-xl"
      method = prompt_tuning
      data { train = "data/train.jsonl" }
      prompt {
        init_method = text
        init_text   = "Classify the support ticket."
      }
    }
    ```

    ## Source
    watsonx.ai: Parameters for tuning foundation models ("if the initialization method is text, you must
    add the initialization text"); PEFT `PromptTuningConfig`.
    """
    if exp.values.get("prompt.init_method") == "text" and not exp.is_set("prompt.init_text"):
        yield Problem(exp.location_of("prompt.init_method"),
                      "`prompt.init_method` is `text` but no `prompt.init_text` is set",
                      "add `init_text = \"...\"` to the `prompt` block")


@rule(codes.PROMPT_TUNING_DEPRECATED, "prompt-tuning-deprecated", Severity.WARNING, "Prompt tuning is deprecated")
def prompt_tuning_deprecated(exp: ResolvedExperiment, context: RuleContext) -> Iterator[Problem]:
    """
    ## What it does
    Warns on `method = prompt_tuning`.

    ## Why is this bad?
    watsonx.ai documents prompt tuning as deprecated and to be removed in a future release; plan the move
    to LoRA fine-tuning.

    ## Example
    ```tune
    experiment tickets {
      model  = "google/flan-t5-xl"
      method = prompt_tuning
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
    watsonx.ai: Parameters for tuning foundation models ("prompt tuning is deprecated and will be removed").
    """
    if exp.values.get("method") == "prompt_tuning":
        yield Problem(exp.location_of("method"),
                      "prompt tuning is deprecated on watsonx.ai and will be removed in a future release",
                      "plan the move to `method = lora`")


@rule(codes.QLORA_ON_UNQUANTIZED_MODEL, "qlora-on-unquantized-model",
      Severity.WARNING, "`method = qlora` on a model that is not quantized")
def qlora_on_unquantized_model(exp: ResolvedExperiment, context: RuleContext) -> Iterator[Problem]:
    """
    ## What it does
    Warns on `method = qlora` for a model the catalog (or its declaration) does not mark as quantized.

    ## Why is this bad?
    watsonx.ai runs QLoRA only on quantized models (such as {models:qlora}), so there the job is
    refused. Other backends (PEFT, Axolotl, LLaMA-Factory, fms-hf-tuning) quantize the model to 4-bit NF4
    while loading it, the QLoRA paper's recipe: that works, but it is a different model than the one named.

    ## Example
    ```tune
    experiment tickets {
      model  = "mistralai/Mistral-7B-v0.1"
      method = qlora
      data { train = "data/train.jsonl" }
    }
    ```

    ## Use instead
    ```tune
    experiment tickets {
      model  = "meta-llama/llama-3-1-70b-gptq"
      method = qlora
      data { train = "data/train.jsonl" }
    }
    ```

    ## Source
    watsonx.ai: Parameters for tuning foundation models ("qlora: only for quantized models"); Dettmers et
    al., QLoRA (4-bit NormalFloat quantization at load time).
    """
    if exp.values.get("method") == "qlora" and exp.model is not None and not exp.model.quantized:
        yield Problem(exp.location_of("method"),
                      f"`qlora` on {exp.model.id}, which is not quantized: watsonx.ai runs qlora only on quantized "
                      "models; other backends will quantize it to 4-bit NF4 while loading",
                      context.catalog.quantized_help("`method = lora`"))


@rule(codes.LORA_ON_QUANTIZED_MODEL, "lora-on-quantized-model",
      Severity.ERROR, "`method = lora` or `full` on a quantized model")
def lora_on_quantized_model(exp: ResolvedExperiment, context: RuleContext) -> Iterator[Problem]:
    """
    ## What it does
    Reports `method = lora` or `method = full` on a model marked as quantized.

    ## Why is this bad?
    LoRA applies only to models that are not quantized, and a quantized checkpoint's 4-bit weights cannot
    be fine-tuned directly; QLoRA is the method for them.

    ## Example
    ```tune
    experiment tickets {
      model  = "meta-llama/llama-3-1-70b-gptq"
      method = lora
      data { train = "data/train.jsonl" }
    }
    ```

    ## Use instead
    ```tune
    experiment tickets {
      model  = "meta-llama/llama-3-1-70b-gptq"
      method = qlora
      data { train = "data/train.jsonl" }
    }
    ```

    ## Source
    watsonx.ai: Parameters for tuning foundation models ("lora: only for non-quantized models").
    """
    method = exp.values.get("method")
    if method in ("lora", "full") and exp.model is not None and exp.model.quantized:
        yield Problem(exp.location_of("method"),
                      f"`{method}` on {exp.model.id}, which is quantized: only `qlora` can tune it",
                      "set `method = qlora`")


@rule(codes.UNKNOWN_TARGET_MODULE, "unknown-target-module",
      Severity.ERROR, "A `target_modules` name that is not a layer of the model")
def unknown_target_module(exp: ResolvedExperiment, context: RuleContext) -> Iterator[Problem]:
    """
    ## What it does
    Checks each name of `lora.target_modules` against the linear layers of the model's architecture, with
    a did-you-mean (for a family whose names are unusual, such as T5, it says them). `all-linear` is checked by TS209
    and TS210.

    ## Why is this bad?
    PEFT matches names against module paths; a name that matches nothing fails the job after the model is
    loaded onto the GPU ("Target modules ... not found in the base model").

    ## Example
    ```tune
    experiment tickets {
      model  = "ibm/granite-3-1-8b-base"
      method = lora
      data { train = "data/train.jsonl" }
      lora { target_modules = ["q_proj", "value_proj"] }
    }
    ```

    ## Use instead
    ```tune
    experiment tickets {
      model  = "ibm/granite-3-1-8b-base"
      method = lora
      data { train = "data/train.jsonl" }
      lora { target_modules = ["q_proj", "v_proj"] }
    }
    ```

    ## Source
    watsonx.ai: Parameters for tuning foundation models (layer names by architecture); the transformers
    modelling files of each architecture (catalog).
    """
    model = exp.model
    if model is None or not model.layers or exp.values.get("method") not in LORA_METHODS:
        return
    for name, where in exp.elements_of("lora.target_modules"):
        if name == "all-linear" or name in model.layers or name == model.output_layer:
            continue
        help = did_you_mean(name, model.layers)
        family = context.catalog.families.get(model.family or "")
        if family is not None and family.layers_hint:
            help = f"{help + ' ' if help else ''}{family.layers_hint}"
        yield Problem(where, f"`{name}` is not a linear layer of {model.id} ({model.family or 'declared'}: "
                      f"{', '.join(model.layers)})", help)


@rule(codes.ALL_LINEAR_NOT_DECODER_ONLY, "all-linear-not-decoder-only",
      Severity.WARNING, "`all-linear` on a model that is not decoder-only")
def all_linear_not_decoder_only(exp: ResolvedExperiment, context: RuleContext) -> Iterator[Problem]:
    """
    ## What it does
    Warns on `target_modules = ["all-linear"]` for an encoder-decoder model such as flan-t5.

    ## Why is this bad?
    watsonx.ai documents `all-linear` for decoder-only models. PEFT also applies it to T5 (every linear
    layer but the output layer), so on other backends it runs, but the result differs from watsonx.ai's.

    ## Example
    ```tune
    model "acme/t5-large" { family = t5  methods = [lora] }
    experiment tickets {
      model  = "acme/t5-large"
      method = lora
      data { train = "data/train.jsonl" }
      training { batch_size = 8  accumulate_steps = 1  learning_rate = 0.0001  epochs = 3 }
      lora { rank = 8  alpha = 16  dropout = 0.05  target_modules = ["all-linear"] }
    }
    ```

    ## Use instead
    ```tune
    model "acme/t5-large" { family = t5  methods = [lora] }
    experiment tickets {
      model  = "acme/t5-large"
      method = lora
      data { train = "data/train.jsonl" }
      training { batch_size = 8  accumulate_steps = 1  learning_rate = 0.0001  epochs = 3 }
      lora { rank = 8  alpha = 16  dropout = 0.05  target_modules = ["q", "v"] }
    }
    ```

    ## Source
    watsonx.ai: Parameters for tuning foundation models ("this option works with all decoder-only
    models"); PEFT `_maybe_include_all_linear_layers`.
    """
    model = exp.model
    if model is None or model.decoder_only is not False or exp.values.get("method") not in LORA_METHODS:
        return
    example = list(model.default_targets or (model.layers or ())[:2])
    for name, where in exp.elements_of("lora.target_modules"):
        if name == "all-linear":
            yield Problem(where, f"`all-linear` on {model.id}, which is not decoder-only: watsonx.ai documents "
                          "it for decoder-only models (PEFT takes every linear layer but the output layer)",
                          f"name the layers instead, e.g. {example}" if example else "name the layers instead")


@rule(codes.ALL_LINEAR_WITH_OTHER_NAMES, "all-linear-with-other-names",
      Severity.ERROR, "`all-linear` together with other names")
def all_linear_with_other_names(exp: ResolvedExperiment, context: RuleContext) -> Iterator[Problem]:
    """
    ## What it does
    Reports `all-linear` in a `target_modules` list that also names layers.

    ## Why is this bad?
    `all-linear` already means every linear layer; PEFT recognises it only as the single string
    `"all-linear"`, so in a list with other names it becomes a module name that matches nothing.

    ## Example
    ```tune
    experiment tickets {
      model  = "ibm/granite-3-1-8b-base"
      method = lora
      data { train = "data/train.jsonl" }
      lora { target_modules = ["all-linear", "q_proj"] }
    }
    ```

    ## Use instead
    ```tune
    experiment tickets {
      model  = "ibm/granite-3-1-8b-base"
      method = lora
      data { train = "data/train.jsonl" }
      lora { target_modules = ["all-linear"] }
    }
    ```

    ## Source
    watsonx.ai: Parameters for tuning foundation models (target modules); PEFT `LoraConfig.target_modules`
    (only the string "all-linear" selects all linear layers).
    """
    elements = exp.elements_of("lora.target_modules")
    if len(elements) > 1:
        for name, where in elements:
            if name == "all-linear":
                yield Problem(where, "`all-linear` together with other layer names",
                              'write `target_modules = ["all-linear"]` alone, or list the layers')


@rule(codes.LORA_ON_INSTRUCTION_TUNED_MODEL, "lora-on-instruction-tuned-model",
      Severity.INFO, "`method = lora` on an instruction-tuned model")
def lora_on_instruction_tuned_model(exp: ResolvedExperiment, context: RuleContext) -> Iterator[Problem]:
    """
    ## What it does
    Notes `method = lora` on a model marked as instruction-tuned.

    ## Why is this bad?
    The documentation says LoRA is best for models that are not instruction-tuned: tuning a base model
    keeps the adaptation from fighting the instruction tuning.

    ## Example
    ```tune
    model "acme/chat-7b" { family = llama  instruction_tuned = true }
    experiment tickets {
      model  = "acme/chat-7b"
      method = lora
      data { train = "data/train.jsonl" }
      training { batch_size = 8  accumulate_steps = 1  learning_rate = 0.0001  epochs = 3 }
      lora { rank = 8  alpha = 16  dropout = 0.05  target_modules = ["q_proj", "v_proj"] }
    }
    ```

    ## Use instead
    ```tune
    model "acme/base-7b" { family = llama }
    experiment tickets {
      model  = "acme/base-7b"
      method = lora
      data { train = "data/train.jsonl" }
      training { batch_size = 8  accumulate_steps = 1  learning_rate = 0.0001  epochs = 3 }
      lora { rank = 8  alpha = 16  dropout = 0.05  target_modules = ["q_proj", "v_proj"] }
    }
    ```

    ## Source
    watsonx.ai: Parameters for tuning foundation models ("lora: best for models that are not instruction-tuned").
    """
    if exp.values.get("method") == "lora" and exp.model is not None and exp.model.instruction_tuned:
        yield Problem(exp.location_of("method"),
                      f"LoRA on {exp.model.id}, an instruction-tuned model: LoRA works best on models that are not",
                      "consider the model's base (not instruction-tuned) version")


@rule(codes.METHOD_NOT_LISTED_FOR_MODEL, "method-not-listed-for-model",
      Severity.WARNING, "The model is not documented for this method")
def method_not_listed_for_model(exp: ResolvedExperiment, context: RuleContext) -> Iterator[Problem]:
    """
    ## What it does
    Warns when the catalog (or the model's declaration) lists the methods a model can be tuned with and
    the experiment's method is not among them. Models with no such list are not checked.

    ## Why is this bad?
    watsonx.ai tunes each model with specific methods only (prompt tuning: {models:prompt_tuning}; LoRA:
    {models:lora}; QLoRA: {models:qlora}).

    ## Example
    ```tune
    experiment tickets {
      model  = "ibm/granite-13b-instruct-v2"
      method = full
      data { train = "data/train.jsonl" }
      training { batch_size = 8  accumulate_steps = 1  learning_rate = 0.00001  epochs = 3 }
    }
    ```

    ## Use instead
    ```tune
    experiment tickets {
      model  = "ibm/granite-13b-instruct-v2"
      method = prompt_tuning
      task   = classification
      data { train = "data/train.jsonl" }
      prompt { init_method = random }
    }
    ```

    ## Source
    watsonx.ai: Methods for tuning foundation models (which model tunes with which method).
    """
    model = exp.model
    method = exp.values.get("method")
    if model is not None and model.methods is not None and method is not None and method not in model.methods:
        if not model.methods:  # a model declaration with `methods = []`
            yield Problem(exp.name_location, f"{model.id} is declared with no methods (`methods = []`)",
                          "list the methods the model can be tuned with in its declaration")
            return
        yield Problem(exp.name_location,
                      f"{model.id} is documented for {', '.join(model.methods)}, not `{method}`",
                      f"use `method = {model.methods[0]}`, or a model documented for `{method}`")


@rule(codes.NO_DEFAULT_TARGET_MODULES, "no-default-target-modules", Severity.ERROR,
      "`target_modules = []` on an architecture with no known default")
def no_default_target_modules(exp: ResolvedExperiment, context: RuleContext) -> Iterator[Problem]:
    """
    ## What it does
    Reports `target_modules = []` ("the defaults the architecture specifies") on a model whose architecture
    has no known default, such as a declared model of an unknown family without `default_targets`.

    ## Why is this bad?
    PEFT looks the default up by architecture and fails for an unknown one.

    ## Example
    ```tune
    model "acme/falcon-mini" { family = falcon }
    experiment tickets {
      model  = "acme/falcon-mini"
      method = lora
      data { train = "data/train.jsonl" }
      training { batch_size = 8  accumulate_steps = 1  learning_rate = 0.0001  epochs = 3 }
      lora { rank = 8  alpha = 16  dropout = 0.05  target_modules = [] }
    }
    ```

    ## Use instead
    ```tune
    model "acme/falcon-mini" { family = falcon  layers = ["query_key_value", "dense"]  default_targets = ["query_key_value"] }
    experiment tickets {
      model  = "acme/falcon-mini"
      method = lora
      data { train = "data/train.jsonl" }
      training { batch_size = 8  accumulate_steps = 1  learning_rate = 0.0001  epochs = 3 }
      lora { rank = 8  alpha = 16  dropout = 0.05  target_modules = [] }
    }
    ```

    ## Source
    watsonx.ai: Parameters for tuning foundation models (`[]`: the defaults the architecture specifies);
    PEFT `TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING`.
    """
    model = exp.model
    if (exp.values.get("lora.target_modules") == [] and model is not None and model.default_targets is None
            and exp.values.get("method") in LORA_METHODS):
        yield Problem(exp.location_of("lora.target_modules"),
                      f"`target_modules = []` means the architecture's default, and {model.id} "
                      f"({model.family or 'unknown family'}) has none",
                      "name the layers, or declare `default_targets` in the model declaration")


@rule(codes.LORA_ON_OUTPUT_LAYER, "lora-on-output-layer",
      Severity.WARNING, "`target_modules` names the output layer (`lm_head`)")
def lora_on_output_layer(exp: ResolvedExperiment, context: RuleContext) -> Iterator[Problem]:
    """
    ## What it does
    Warns when `lora.target_modules` names the model's output layer (`lm_head`), which `all-linear` leaves
    out on purpose.

    ## Why is this bad?
    PEFT and fms-hf-tuning accept it, so it is not an error; but the output layer maps the hidden size to the
    whole vocabulary, so its adapter adds rank × (hidden + vocabulary) parameters (a 128K vocabulary makes it
    larger than the adapters of all attention layers together), and adapting it rarely helps a fine-tune.
    Tied input and output embeddings make it change the input embedding too.

    ## Example
    ```tune
    experiment tickets {
      model  = "meta-llama/llama-3-1-8b"
      method = lora
      data { train = "data/train.jsonl" }
      lora { target_modules = ["q_proj", "v_proj", "lm_head"] }
    }
    ```

    ## Use instead
    ```tune
    experiment tickets {
      model  = "meta-llama/llama-3-1-8b"
      method = lora
      data { train = "data/train.jsonl" }
      lora { target_modules = ["q_proj", "v_proj"] }
    }
    ```

    ## Source
    watsonx.ai: Parameters for tuning foundation models (`all-linear`: every linear layer except the output
    layer); PEFT `LoraConfig.target_modules`; fms-hf-tuning `target_modules`.
    """
    model = exp.model
    if model is None or model.output_layer is None or exp.values.get("method") not in LORA_METHODS:
        return
    for name, where in exp.elements_of("lora.target_modules"):
        if name == model.output_layer:
            yield Problem(where, f"`{name}` is the output layer of {model.id}: its adapter maps the hidden "
                          "size to the whole vocabulary, and `all-linear` leaves it out",
                          f"leave `{name}` out unless you mean to adapt the output layer")


RULES = [
    lora_block_without_lora, prompt_block_without_prompt_tuning, init_text_ignored, init_text_missing,
    prompt_tuning_deprecated, qlora_on_unquantized_model, lora_on_quantized_model, unknown_target_module,
    all_linear_not_decoder_only, all_linear_with_other_names, lora_on_instruction_tuned_model,
    method_not_listed_for_model, no_default_target_modules, lora_on_output_layer,
]
