"""TS5xx — targets: what a backend cannot express, cannot run, documents as deprecated, or needs.

The findings are derived from each target's declaration (`tunespec/templates/<target>/target.toml`) by the
targets stage, for the targets `build` writes and, in `lint`, the targets an experiment or the
configuration names; these declarations give them their codes, documentation and selection.
"""

from __future__ import annotations

from tunespec import codes
from tunespec.diagnostics import Severity
from tunespec.rules.engine import SCOPE_TARGETS, Rule, dedent

FIELD_DROPPED = Rule(codes.TARGET_CANNOT_EXPRESS_FIELD, "target-cannot-express-field", Severity.WARNING,
                     "The target cannot express a field that is set", dedent("""
    ## What it does
    For each target an experiment is built for (its `targets`, `--target`, or `[tool.tunespec] targets`),
    warns about every field with a value that the target's declaration says it cannot express: that value
    is dropped from the job spec. It points at the value, or at the experiment's name when the value is a
    documented default. Values a backend assumes anyway (one node; `input` and `output` columns) and
    tunespec's own labels (`description`, `task`, `targets`, `gpu_memory_gb`) are not reported. It also
    warns about a value, set or a default, that a target expresses for some values only (its declaration's
    `[values]`, with what the spec does instead, possibly only together with another field's value):
    torchtune and Axolotl keep full fine-tuning in fp32 rather than train bf16 weights with no fp32 copy,
    torchtune has no fp16 and warms up no constant schedule (transformers' `constant` ignores warmup),
    Axolotl turns a one-step warmup into two, LLaMA-Factory formats input/output records with its `fewshot`
    template and so with no named chat template.

    ## Why is this bad?
    The job would silently run without it: torchtune's recipes have no validation set, watsonx.ai prompt
    tuning has no single sequence length, Axolotl has no prompt tuning fields; or it would run otherwise than
    the experiment says, and the same experiment would train differently on another target.

    ## Example
    ```tune
    experiment tickets {
      model   = "meta-llama/llama-3-1-8b"
      method  = lora
      targets = [torchtune]
      data {
        train      = "data/train.jsonl"
        validation = "data/validation.jsonl"
      }
    }
    ```

    ## Use instead
    ```tune
    experiment tickets {
      model   = "meta-llama/llama-3-1-8b"
      method  = lora
      targets = [torchtune]
      data { train = "data/train.jsonl" }
    }
    ```

    ## Source
    The backends' own sources at the versions `tunespec targets` names (torchtune 0.6.1 recipes: no validation
    dataset); `tunespec targets` prints what each target expresses.
    """), scope=SCOPE_TARGETS)

METHOD_UNSUPPORTED = Rule(codes.TARGET_CANNOT_RUN_METHOD, "target-cannot-run-method", Severity.ERROR,
                          "The target cannot run this method or model", dedent("""
    ## What it does
    Reports, at the experiment's name, a target that cannot run the experiment: its method is not one the
    target runs (prompt tuning on Axolotl, LLaMA-Factory or torchtune), or the model is not one it can
    load: torchtune has a builder per model; watsonx.ai runs qlora only on quantized models; torchtune's
    qlora cannot start from a GPTQ checkpoint; fms-hf-tuning, Kubeflow (which runs fms-hf-tuning), Axolotl,
    LLaMA-Factory and torchtune load causal language models only, so not encoder-decoder models such as
    flan-t5; and every target built on Hugging Face libraries needs a Hugging Face checkpoint (`hf_id`) or
    a local `path`, which watsonx.ai's own models (granite-13b-instruct-v2, llama-3-1-70b-gptq) do not
    have. The declarations say which target needs what. `build` writes nothing for that target.

    ## Why is this bad?
    The job spec would be rejected by the backend, or worse, run something else.

    ## Example
    ```tune
    experiment tickets {
      model   = "google/flan-t5-xl"
      method  = prompt_tuning
      targets = [axolotl]
      data { train = "data/train.jsonl" }
    }
    ```

    ## Use instead
    ```tune
    experiment tickets {
      model   = "google/flan-t5-xl"
      method  = prompt_tuning
      targets = [peft]
      data { train = "data/train.jsonl" }
      prompt { num_virtual_tokens = 20 }
    }
    ```

    ## Source
    Axolotl 0.19.0 and LLaMA-Factory 0.9.5 have no prompt tuning; torchtune 0.6.1 builders;
    fms-hf-tuning 3.2.2 loads with `AutoModelForCausalLM`; watsonx.ai: Parameters for tuning foundation
    models (qlora only for quantized models).
    """), scope=SCOPE_TARGETS)

METHOD_DEPRECATED = Rule(codes.TARGET_METHOD_DEPRECATED, "target-method-deprecated", Severity.WARNING,
                         "The target documents this method as deprecated or removed", dedent("""
    ## What it does
    Warns at `method` when the target's documentation deprecates the method: on watsonx.ai prompt tuning
    is deprecated, fine tuning with LoRA and QLoRA is deprecated with removal on 2026-09-10, and full fine
    tuning is not available on the SaaS service. From the documented removal date on (the target's
    declaration holds it) it is an error, and `build` writes nothing for that target. The date is today's,
    or the one `SOURCE_DATE_EPOCH` gives, for reproducible runs.

    ## Why is this bad?
    The job may stop being accepted; plan the move before it does. After the removal date it is refused.

    ## Example
    ```tune
    experiment tickets {
      model   = "google/flan-t5-xl"
      method  = prompt_tuning
      task    = classification
      targets = [watsonx]
      data { train = "data/train.jsonl" }
    }
    ```

    ## Use instead
    ```tune
    experiment tickets {
      model   = "google/flan-t5-xl"
      method  = prompt_tuning
      task    = classification
      targets = [peft]
      data { train = "data/train.jsonl" }
      prompt { num_virtual_tokens = 20 }
    }
    ```

    ## Source
    watsonx.ai: Methods for tuning foundation models; ibm-watsonx-ai 1.8.1 (`FineTuner` refuses SaaS since
    10 Sep 2026).
    """), scope=SCOPE_TARGETS)

VALUE_REQUIRED = Rule(codes.TARGET_NEEDS_VALUE, "target-needs-value", Severity.ERROR,
                      "The target needs a value that is unset, or data it can read", dedent("""
    ## What it does
    Reports, at the experiment's name, a value the target requires and the experiment leaves unset:
    `resources.image` for Kubeflow, `task` for watsonx.ai, `prompt.num_virtual_tokens` for prompt tuning
    with PEFT; and `resources.volume` for Kubeflow when a data path is a local file (the pods see the
    repository's files only through a mounted volume). It also reports, at the path, a data URI of a scheme
    the target cannot read (its declaration's `data_uri_schemes`): LLaMA-Factory's `dataset_info.json`
    names local files and Hugging Face Hub datasets (`hf://org/name`), not `s3://`, `cos://` or `https://`.

    ## Why is this bad?
    The backend has no usable default for it, or cannot load the data: the job spec could not run.

    ## Example
    ```tune
    experiment tickets {
      model   = "ibm/granite-3-1-8b-base"
      method  = lora
      targets = [kubeflow]
      data { train = "data/train.jsonl" }
    }
    ```

    ## Use instead
    ```tune
    experiment tickets {
      model   = "ibm/granite-3-1-8b-base"
      method  = lora
      targets = [kubeflow]
      data { train = "data/train.jsonl" }
      resources {
        image  = "registry.example.com/fms-hf-tuning:3.2.2"
        volume = "tuning"
      }
    }
    ```

    ## Source
    kubeflow/trainer v1.9.4: the PyTorchJob webhook requires a container image; PEFT `PromptTuningConfig` needs
    `num_virtual_tokens`; watsonx.ai's prompt tuning requires `task_id`; LLaMA-Factory 0.9.5
    `data/parser.py` (`file_name`, `hf_hub_url`).
    """), scope=SCOPE_TARGETS)

RULES = [FIELD_DROPPED, METHOD_UNSUPPORTED, METHOD_DEPRECATED, VALUE_REQUIRED]
