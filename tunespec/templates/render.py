"""Rendering a target for one resolved variant, and proving the result before anything is written.

Every user value reaches a template through a filter that serialises it for the file's language (`json`,
`yaml`, `py`, `sh`), never by pasting text. Templates run with `StrictUndefined`; a user's
`--template-dir` targets run in Jinja2's `SandboxedEnvironment`. As black re-checks its own output, each
rendered file of every target, built-in or not, is parsed back by one verifier (`verify_compiled`) and the
values the declaration's `checks` name are compared with the IR: a mismatch is an internal error, never a
written file. JSON is read with `json.loads`; YAML is composed by PyYAML's safe loader (libyaml's, when
PyYAML has it), building only the checked values (`_YamlNodes`); Python with `ast.parse`, the part of a
script every variant shares parsed once per run (`_python_data`); shell scripts are split into commands
and words by a POSIX shell's quoting rules (`_shell_commands`, held to `shlex.split` by a property test).
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import math
import os
import re
import shlex
from pathlib import PurePosixPath
from typing import Any

import jinja2
import yaml

from tunespec.compiler.ir import run_folder_of, variant_inputs
from tunespec.compiler.resolve import ResolvedExperiment
from tunespec.templates import yamltext
from tunespec.templates.compiled import CompiledTemplates
from tunespec.templates.memo import remembered
from tunespec.templates.targets import BUILTIN, RenderError, Target


# libyaml's loader when PyYAML has it (the same values, many times faster); output never depends on it.
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR_TAG = "tag:yaml.org,2002:str"


class _VerifyingLoader(YAML_LOADER):
    """The safe loader, remembering the tag each plain scalar resolves to. Resolution is a function of the
    scalar's text alone when it is plain (the safe loader has no path resolvers; a plain scalar is resolved
    with `implicit[0]` true, whatever `implicit[1]`), and libyaml calls back into Python's regular
    expressions for every scalar: a build's files repeat the same keys and values thousands of times.
    libyaml's composer calls `descend_resolver` and `ascend_resolver` around every node, and `resolve` for
    every node without a tag: the first two do nothing here, and `resolve` tells a scalar by its text (a
    sequence's or mapping's value is None). Composing the 2,802 YAML files over 1,024 characters of the
    benchmark's fresh build: 0.195 s -> 0.183 s of CPU (median of 7)."""

    _resolved: dict[str, str] = {}

    def descend_resolver(self, _node: Any, _index: Any) -> None:
        """Nothing to track: path resolvers are the only users of the path, and the safe loader has none."""

    def ascend_resolver(self) -> None:
        """Nothing to track (as `descend_resolver`)."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        if value is None:  # a sequence or a mapping
            return super().resolve(kind, value, implicit)
        if not implicit[0]:  # quoted or a block: a string, as the base resolver says
            return _STR_TAG
        tag = self._resolved.get(value)
        if tag is None:
            tag = super().resolve(kind, value, implicit)
            if len(value) <= 64:
                if len(self._resolved) > 50_000:
                    self._resolved.clear()
                self._resolved[value] = tag
        return tag


class VerificationError(Exception):
    """A rendered file that does not parse back to what was meant: a bug, never written."""


# --- filters: values into the languages of the files ----------------------------------------------------

def to_yaml(value: Any) -> str:
    """A YAML flow value (scalar, list or mapping), safe to place after `key: ` or `- `."""
    return yamltext.flow(value)


def to_yaml_block(value: Any) -> str:
    """A whole YAML document in block style (the IR target, the Kubeflow ConfigMap)."""
    return yamltext.block(value)


def to_json(value: Any, indent: int | None = None) -> str:
    """`json.dumps(value, ensure_ascii=False, indent=indent)`. With an indent, json's encoder is its
    pure-Python one (a fifth of a build's rendering once): here the layout is made by `_indented` and
    every scalar and key by the C encoder, with the same text (a property test holds them equal)."""
    if indent is None:
        return json.dumps(value, ensure_ascii=False)
    return _indented(value, " " * indent, "\n")


_scalar_json = json.JSONEncoder(ensure_ascii=False).encode
_json_string = json.encoder.encode_basestring  # json's own (C) string encoder, as `encode` uses for a str
_INFINITY = float("inf")


def _json_scalar(value: Any) -> str:
    """What `_scalar_json(value)` gives, written as json's encoders write each kind (`JSONEncoder.encode`
    builds a new C encoder for every number: a tenth of rendering the JSON files)."""
    kind = type(value)
    if kind is str:
        return _json_string(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if kind is int:
        return int.__repr__(value)
    if kind is float:
        if value != value:
            return "NaN"
        if value == _INFINITY or value == -_INFINITY:
            return "Infinity" if value > 0 else "-Infinity"
        return float.__repr__(value)
    return _scalar_json(value)


def _indented(value: Any, step: str, newline: str) -> str:
    """`value` in JSON laid out with `step` per level, `newline` starting each line at this depth. The IR's
    own types are told apart by `type` first, before any `isinstance` (a fifth of writing the JSON files
    went to `isinstance` chains and generators)."""
    kind = type(value)
    if kind is str:
        return _json_string(value)
    if kind in _JSON_SCALARS:
        return _json_scalar(value)
    if kind is dict or isinstance(value, dict):
        if not value:
            return "{}"
        inner = newline + step
        items = []
        for key, item in value.items():
            if type(key) is not str:  # json's own key conversions (numbers, booleans, None)
                return json.dumps(value, ensure_ascii=False, indent=len(step)).replace("\n", newline)
            items.append(_json_string(key) + ": " + _indented(item, step, inner))
        return "{" + inner + ("," + inner).join(items) + newline + "}"
    if kind is list or isinstance(value, (list, tuple)):
        if not value:
            return "[]"
        inner = newline + step
        return "[" + inner + ("," + inner).join([_indented(item, step, inner) for item in value]) + newline + "]"
    if isinstance(value, str):
        return _json_string(value)
    return _json_scalar(value)


_JSON_SCALARS = frozenset((int, float, bool, type(None)))


def to_python(value: Any) -> str:
    """A Python literal (`ast.literal_eval` gives the value back)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise RenderError(f"{value!r} has no Python literal")
    return repr(value)


def to_shell(value: Any) -> str:
    return shlex.quote(str(value))


# OmegaConf (torchtune's reader) resolves `${...}` in every string it is asked for. It reads `\${` as a
# literal `${`, and an even run of backslashes before `${` as half as many backslashes and then a real
# interpolation; backslashes anywhere else, and strings without `${`, are left as they are (OmegaConf 2.1
# to 2.4; the tests hold both functions to it, and to OmegaConf itself where it is installed).
_INTERPOLATION = re.compile(r"(\\*)\$\{")


class Interpolation(str):
    """A string OmegaConf would resolve rather than read: never equal to what it was meant to be."""

    def __eq__(self, other: object) -> bool:
        return False

    def __ne__(self, other: object) -> bool:
        return True

    __hash__ = str.__hash__


def omegaconf_escaped(value: Any) -> Any:
    """`value` with every `${` written so that OmegaConf reads it as text (strings inside lists and
    mappings too): the backslashes before it doubled, and one more."""
    if isinstance(value, str):
        if "${" not in value:
            return value
        return _INTERPOLATION.sub(lambda match: "\\" * (2 * len(match.group(1)) + 1) + "${", value)
    if isinstance(value, list):
        return [omegaconf_escaped(item) for item in value]
    if isinstance(value, dict):
        return {key: omegaconf_escaped(item) for key, item in value.items()}
    return value


def omegaconf_read(text: str) -> str:
    """The string OmegaConf gives for `text` (an `Interpolation` when it would resolve something)."""
    if "${" not in text:
        return text
    if any(len(match.group(1)) % 2 == 0 for match in _INTERPOLATION.finditer(text)):
        return Interpolation(text)
    return _INTERPOLATION.sub(lambda match: "\\" * (len(match.group(1)) // 2) + "${", text)


def comment(text: str) -> str:
    """A one-line comment body: line breaks and other control characters replaced, so it stays a comment."""
    return re.sub(r"[\x00-\x1f\x7f\u0085\u2028\u2029]", " ", str(text))


def peft_targets(lora: dict) -> Any:
    """PEFT's `target_modules`: the string "all-linear" (a list would name a module called all-linear),
    else the layer names (for `[]`, the architecture's defaults)."""
    targets = lora.get("target_modules")
    if targets == ["all-linear"]:
        return "all-linear"
    return lora.get("resolved_target_modules", targets) if targets == [] else targets


def listed_targets(lora: dict) -> Any:
    """A list of layer names (["all-linear"] kept as a list, as fms-hf-tuning and watsonx.ai take it)."""
    targets = lora.get("target_modules")
    return lora.get("resolved_target_modules", targets) if targets == [] else targets


def comma_targets(lora: dict) -> str:
    """LLaMA-Factory's `lora_target`: comma-separated names, or `all`."""
    targets = lora.get("target_modules") or lora.get("resolved_target_modules") or []
    return "all" if targets == ["all-linear"] else ",".join(targets)


def dns_label(name: str) -> str:
    """A DNS-1035 label (Kubernetes object names): lower-case letters, digits and `-`, at most 63.

    A name that is one already is kept; any other gets a digest of itself after its readable part, so
    that names the mapping makes alike (`tickets_v2`, `Tickets_V2`) stay apart: one job would otherwise
    replace another in the cluster. (A build also refuses two variants of one name: `unique` in
    kubeflow's target.toml.)"""
    label = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-") or "experiment"
    if not label[0].isalpha():
        label = "t-" + label
    if label == name and len(label) <= 63:
        return label
    digest = hashlib.sha1(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{label[:54].rstrip('-')}-{digest}"


def output_folder(run_folder: str, target: str, mount: str | None = None) -> str:
    """The trainer's output folder of one variant and target: `<output_dir>/<variant>/<target>`
    (`compiler.ir.run_folder` and the target's name). Each variant × target writes its own: a trainer that
    finds another's checkpoint in its folder resumes from it (LLaMA-Factory after peft trained 0 steps and
    overwrote its adapter). On a cluster volume (`mount`, the kubeflow target's), a relative folder is on the
    volume."""
    return on_volume(f"{run_folder}/{target}", mount)


def on_volume(path: str, mount: str | None) -> str:
    """A path as a pod sees it: a relative path is under the volume's mount path; absolute paths and URIs
    stay as written."""
    if not mount or "://" in path or path.startswith("/"):
        return path
    return str(PurePosixPath(mount, path))


def volume_mount(spec: dict[str, Any], target: Target) -> str | None:
    """The mount path relative paths are under, for a target that runs on a cluster volume (its
    declaration says `on_volume`) when the experiment names one; else None."""
    resources = spec.get("resources", {})
    if not target.data.get("on_volume") or not resources.get("volume"):
        return None
    return resources.get("mount_path")


# tunespec's optimizers by the names of transformers' `optim` (OptimizerNames, the same in 4.55 and 5.x).
HF_OPTIMIZERS = {"adamw": "adamw_torch", "adamw_8bit": "adamw_bnb_8bit", "paged_adamw": "paged_adamw_32bit",
                 "paged_adamw_8bit": "paged_adamw_8bit", "sgd": "sgd", "adafactor": "adafactor"}
TORCH_DTYPES = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}


def hf_report_to(trackers: list | None) -> Any:
    """transformers' `report_to` for training.report_to: the trackers, or "none" for none (an empty list
    would do for TrainingArguments, but "none" is what every backend's documentation writes)."""
    return list(trackers) if trackers else "none"


def model_source(model: dict, mount: str | None = None) -> str:
    """Where a target loads the model from: a declared local `path` (relative to the build root, or on the
    cluster volume), else its Hugging Face id."""
    if model.get("path"):
        return on_volume(model["path"], mount)
    return model.get("hf_id", model.get("id"))


def world_size(resources: dict) -> int:
    return resources.get("nodes", 1) * resources.get("gpus_per_node", 1)


def accelerate_distributed(resources: dict) -> str:
    """accelerate's `distributed_type` for resources.strategy (DDP on one process is no distribution)."""
    strategy = resources.get("strategy", "ddp")
    if strategy == "ddp":
        return "MULTI_GPU" if world_size(resources) > 1 else "NO"
    return "FSDP" if strategy == "fsdp" else "DEEPSPEED"


def zero_stage(strategy: str) -> Any:
    """The ZeRO stage of a DeepSpeed strategy (absent for the others)."""
    return {"deepspeed_zero2": 2, "deepspeed_zero3": 3}.get(strategy, _ABSENT)


# tunespec's named chat templates by the names of LLaMA-Factory's (data/template.py); other names pass as given.
LLAMA_FACTORY_TEMPLATES = {"llama3": "llama3", "chatml": "chatml", "mistral": "mistral", "qwen2": "qwen",
                           "granite": "granite3"}


def hub_dataset(path: str) -> Any:
    """The Hugging Face Hub dataset an `hf://` data path names (`hf://org/name` -> `org/name`); absent for
    any other path."""
    return path[len("hf://"):] if path.startswith("hf://") else _ABSENT


def llama_factory_template(name: str) -> Any:
    """LLaMA-Factory's `template` for data.chat_template: none for `model` (it reads the tokenizer's own)."""
    return _ABSENT if name == "model" else LLAMA_FACTORY_TEMPLATES.get(name, name)


# data.chat_template by the names of Axolotl 0.19's (utils/schemas/enums.py ChatTemplate).
AXOLOTL_CHAT_TEMPLATES = {"model": "tokenizer_default", "llama3": "llama3", "chatml": "chatml", "mistral": "mistral_v1",
                          "qwen2": "qwen_25"}

TRANSFORMS = {
    "float": float,
    "axolotl_chat_template": lambda name: AXOLOTL_CHAT_TEMPLATES.get(name, "tokenizer_default"),
    "negated": lambda value: not value,
    "llama_factory_template": llama_factory_template,
    "hub_dataset": hub_dataset,
    "nodes": lambda resources: resources.get("nodes", 1),
    "world_size": world_size,
    "accelerate_distributed": accelerate_distributed,
    "accelerate_precision": {"bf16": "bf16", "fp16": "fp16", "fp32": "no"}.__getitem__,
    "zero_stage": zero_stage,
    "hf_optimizer": HF_OPTIMIZERS.__getitem__,
    "hf_report_to": hf_report_to,
    "torch_dtype": TORCH_DTYPES.__getitem__,
    "is_bf16": lambda precision: precision == "bf16",
    "is_fp16": lambda precision: precision == "fp16",
    "peft_targets": peft_targets,
    "listed_targets": listed_targets,
    "comma_targets": comma_targets,
    "upper": lambda value: str(value).upper(),
    "dns_label": dns_label,
}
# Transforms of checks that depend on where the run is placed: (value, IR document, target) -> expected.
PLACED_TRANSFORMS = {
    "output_folder": lambda value, ir, target: output_folder(
        run_folder_of(value, ir["metadata"]["name"], ir["metadata"]["experiment"]), target.name,
        volume_mount(ir["spec"], target)),
    "on_volume": lambda value, ir, target: on_volume(value, volume_mount(ir["spec"], target)),
    "model_source": lambda value, ir, target: model_source(value, volume_mount(ir["spec"], target)),
    "unless_messages": lambda value, ir, target: _ABSENT if ir["spec"]["data"].get("format") == "messages" else value,
    "for_messages": lambda value, ir, target: value if ir["spec"]["data"].get("format") == "messages" else _ABSENT,
    # the warmup a schedule runs: none for `constant`, which ignores it as transformers' does (TS501 when set)
    "warmup_of_schedule": lambda value, ir, target: 0 if ir["spec"]["training"].get("scheduler") == "constant" else value,
    "declared_scheduler": lambda value, ir, target: target.data["schedulers"][value],
    # input/output records take `fewshot` whatever the chat template (TS501 when one is named)
    "llama_factory_template_for_data": lambda value, ir, target: (
        llama_factory_template(value) if ir["spec"]["data"].get("format") == "messages" else "fewshot"),
}
FILTERS = {"json": to_json, "yaml": to_yaml, "yaml_block": to_yaml_block, "py": to_python, "sh": to_shell,
           "comment": comment, **TRANSFORMS}


# --- environments --------------------------------------------------------------------------------------

# auto_reload off: templates do not change during a run, and checking costs a stat per file rendered
_OPTIONS = dict(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
                autoescape=False, auto_reload=False)
_COMPILED = CompiledTemplates(_OPTIONS)  # the built-in templates' compiled code, in the project's cache


_DICT_ATTRIBUTES = frozenset(dir(dict))  # all that `getattr` finds on a dict (its class's and object's)


_C_FUNCTION = type(len)  # a function or bound method written in C: dict.get, dict.update, str.startswith


class _BuiltinContext(jinja2.runtime.Context):
    """The built-in templates' context: a call of a C function (`training.get(...)`, `config.update(...)`;
    34,000 of the 36,000 calls in the benchmark's fresh build) goes to it at once. Jinja2 first asks whether
    the callable wants the context, the evaluation context or the environment passed in (`pass_context`
    and the like set an attribute, which a C function cannot hold): 2.2 µs against 0.4 µs a call. Any other
    callable is asked as Jinja2 asks it."""

    def call(__self, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # (Jinja2's names: `self` may be a keyword)
        if type(__obj) is not _C_FUNCTION:
            return super().call(__obj, *args, **kwargs)
        kwargs.pop("_block_vars", None)
        kwargs.pop("_loop_vars", None)
        try:
            return __obj(*args, **kwargs)
        except StopIteration:  # (as Jinja2 says it)
            return __self.environment.undefined(
                "value was undefined because a callable raised a StopIteration exception")


class _BuiltinEnvironment(jinja2.Environment):
    """The built-in targets' environment: `spec.training` on a dict looks the key up at once. Jinja2 tries
    the attribute first and catches the AttributeError (0.42 µs against 0.06 µs, for about 100,000
    lookups in the benchmark's fresh build); a dict's attributes are its class's, so a name that is not
    one of them is a key or undefined, as Jinja2 would find (a property test holds the two alike)."""

    context_class = _BuiltinContext

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


def environment(target: Target, omegaconf: bool = False) -> jinja2.Environment:
    """The environment a target's templates render in; for a file OmegaConf reads (`format = "omegaconf"`)
    the YAML filters escape interpolations. A built-in target's templates are loaded compiled from the
    project's cache when the run keeps them there (`keep_compiled_templates`)."""
    if target.sandboxed:
        # (imported here: only a --template-dir target needs the sandbox, and with it `traceback`; a build of
        # built-in targets saves its import, 2 ms of CPU in each worker)
        from tunespec.templates.sandbox import BudgetedSandbox, ConfinedLoader

        env = BudgetedSandbox(loader=ConfinedLoader(str(target.folder)), **_OPTIONS)
    else:
        # built-in targets may include each other's templates (kubeflow wraps fms-hf-tuning's config)
        env = _BuiltinEnvironment(loader=jinja2.FileSystemLoader([str(target.folder), str(BUILTIN)]),
                                  bytecode_cache=_COMPILED, **_OPTIONS)
    env.filters.update(FILTERS)
    if omegaconf:
        env.filters.update(yaml=lambda value: to_yaml(omegaconf_escaped(value)),
                           yaml_block=lambda value: to_yaml_block(omegaconf_escaped(value)))
    return env


_environments: dict[tuple, jinja2.Environment] = {}


def keep_compiled_templates(cache_root: str | os.PathLike | None) -> None:
    """Load and keep compiled built-in templates in the cache of the project at `cache_root` (a build
    with a cache), or not (None: `--no-cache`), from now on in this process."""
    if cache_root is None:
        _COMPILED.keep_in(None)
    else:
        from tunespec.cache import folder_of

        _COMPILED.keep_in(os.path.join(folder_of(cache_root), "jinja2"))


def _environment_for(target: Target, format: str) -> jinja2.Environment:
    key = (str(target.folder), target.sandboxed, format == "omegaconf")
    if key not in _environments:
        _environments[key] = environment(target, format == "omegaconf")
    return _environments[key]


# --- the context every template sees ---------------------------------------------------------------------

def variant_context(exp: ResolvedExperiment, inputs: tuple | None = None) -> dict[str, Any]:
    """What templates read about the variant: its inputs (`ir.variant_inputs`, when the caller has made
    them; the stamp digests the same tuple) and a few facts derived from them (made once per variant and
    shared by its targets)."""
    ir, name, experiment, source, run = variant_inputs(exp) if inputs is None else inputs
    spec = ir["spec"]
    resources = spec.get("resources", {})
    nodes, per_node = resources.get("nodes", 1), resources.get("gpus_per_node", 1)
    model = spec.get("model", {})
    return {
        "ir": ir, "spec": spec, "name": name, "experiment": experiment, "source": source,
        "header": f"Generated by tunespec from {comment(source)} (experiment {experiment}); do not edit.",
        "model": model, "method": spec.get("method"), "task": spec.get("task"),
        "description": spec.get("description"),
        "data": spec.get("data", {}), "training": spec.get("training", {}), "lora": spec.get("lora", {}),
        "prompt": spec.get("prompt", {}), "resources": resources,
        "output_dir": spec.get("output_dir"), "run_folder": run, "seed": spec.get("seed"),
        "quantized": bool(model.get("quantized")), "decoder_only": model.get("decoder_only", True) is not False,
        "nodes": nodes, "gpus_per_node": per_node, "gpus": nodes * per_node,
    }


# The globals of a built-in target's environment (what `jinja2.Environment` starts with: `range`, `dict`,
# `namespace`, ...). A user's sandboxed environment has its own (a safe `range`), so they are only merged for
# built-in targets.
_BUILTIN_GLOBALS = dict(jinja2.defaults.DEFAULT_NAMESPACE)


def context(exp: ResolvedExperiment, target: Target, folder: str, to_root: str = ".",
            variant: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything a target's templates see. `folder` is where the files go, relative to the root that
    paths in the IR are relative to; `to_root` leads back from there. For a built-in target the
    environment's globals are in it too, under the values (as `Template.render` would put them), so that
    each of its templates renders in it as it is (`_render_builtin`)."""
    if variant is None:
        variant = variant_context(exp)
    values = dict(variant) if target.sandboxed else {**_BUILTIN_GLOBALS, **variant}
    values["folder"] = _posix(folder)
    values["to_root"] = _posix(to_root)
    values["target"] = target.data
    values["relative_to_folder"] = lambda path: relative_to(path, folder)
    mount = volume_mount(values["spec"], target)
    values["output_folder"] = output_folder(values["run_folder"], target.name, mount)  # this target's trainer output
    values["data_path"] = lambda path: on_volume(path, mount)
    values["model_source"] = model_source(values["model"], mount)
    return values


def _posix(path: str) -> str:
    """`PurePosixPath(path).as_posix()`, which a path a build gives (normalised, on a system whose separator
    is `/`) already is: a fresh build asks for 11,208 of them (1 % of its time). A `..` part is kept as it
    is (the way back to the root is one: `../../..`); an empty or a `.` part is not."""
    if os.sep == "/" and path and "//" not in path and not path.endswith("/") and "." not in path.split("/"):
        return path
    return PurePosixPath(path).as_posix()


def relative_to(path: str, folder: str) -> str:
    """`path` (relative to the root) as seen from `folder` (also relative to the root)."""
    return PurePosixPath(os.path.relpath(path, folder)).as_posix()


# --- render and verify ---------------------------------------------------------------------------------

def render_target(exp: ResolvedExperiment, target: Target, folder: str, to_root: str = ".",
                  variant: dict[str, Any] | None = None) -> dict[str, str]:
    """{file name: text} of one target for one variant, each file verified. `variant` is the variant's
    `variant_context`, when the caller renders several targets of it."""
    values = context(exp, target, folder, to_root, variant)
    rendered: dict[str, str] = {}
    for file in target.files:
        if not file.applies(values["spec"]):
            continue
        env = _environment_for(target, file.format)
        text = _render_user(env, target, file.template, values) if target.sandboxed else \
            _render_builtin(env, target, file.template, values)
        checks = compiled_checks(target, file.output, values["method"])
        verify_compiled(text, file.format, checks, values["ir"], f"{target.name}/{file.output}")
        rendered[file.output] = text
    return rendered


def _render_builtin(env: jinja2.Environment, target: Target, template: str, values: dict[str, Any]) -> str:
    """A built-in template: tunespec's own code, so anything but a template error is a bug.

    `values` is the target's `context`, which holds the environment's globals: the template renders in it
    as it is (a shared context: templates never change the values they are given, `set` writes to the
    context's own variables). `Template.render` would copy it twice per file, with the globals: 2.2 µs
    against 1.0 µs for a 40-key context and an empty template, 11,613 times in the benchmark's fresh build."""
    found = _template(env, template)
    try:
        return env.concat(found.root_render_func(found.new_context(values, shared=True)))  # type: ignore[attr-defined]
    except jinja2.TemplateError as error:
        where = f", line {error.lineno}" if getattr(error, "lineno", None) else ""
        raise RenderError(f"target `{target.name}`, {template}{where}: {error.message or error}") from None
    except Exception:  # (what `Template.render` does: the traceback is rewritten to the template's lines)
        env.handle_exception()
        raise  # (handle_exception always raises)


_templates: dict[tuple, jinja2.Template] = {}


def _template(env: jinja2.Environment, name: str) -> jinja2.Template:
    """A built-in template, loaded once per run (environments live as long as the run), its globals in a
    plain dict: Jinja2 keeps them in a ChainMap over the environment's, which every new context reads key
    by key in Python (with `get_template`'s cache check, a sixth of rendering the benchmark's files).
    Nothing changes the globals during a run."""
    key = (id(env), name)
    found = _templates.get(key)
    if found is None:
        found = _templates[key] = env.get_template(name)
        found.globals = dict(found.globals)
    return found


def _render_user(env: jinja2.Environment, target: Target, template: str, values: dict[str, Any]) -> str:
    """A `--template-dir` template: within its time budget, and whatever it raises is a template error
    (one line naming the template file and line, exit 2), not an internal error of tunespec."""
    from tunespec.templates.sandbox import render_within_budget, template_error

    folder = str(target.folder)
    try:
        return render_within_budget(env.get_template(template), values, folder)
    except Exception as error:  # the user's code: any failure is theirs to fix, and said so
        raise RenderError(template_error(error, target.name, template, folder)) from None


def unique_names(target: Target, ir: dict[str, Any]) -> tuple:
    """(target, value) of each of the target's `unique` expressions, for the variant's IR."""
    return tuple((target.name, _compile_expected(expression)(ir)) for expression in target.unique)


_checks: dict[tuple, list] = {}


def compiled_checks(target: Target, output: str, method: str | None) -> list[tuple]:
    """The checks of one output file (and method) with their paths split once per run."""
    key = (str(target.folder), target.name, output, method)
    found = _checks.get(key)
    if found is None:
        checks = {**target.checks.get(output, {}), **target.method_checks.get(method, {}).get(output, {})}
        found = _checks[key] = [(emitted, _split_path(emitted), _compile_expected(expected, target))
                                for emitted, expected in checks.items()]
    return found


def parse_back(text: str, format: str) -> Any:
    """The data a rendered file holds, read the way its consumer reads it: `json.loads`, PyYAML's safe
    loader (libyaml's when PyYAML has it), `ast.parse` (through `_python_data`) and a POSIX shell's
    quoting rules (`_shell_commands`)."""
    if format == "json":
        return json.loads(text)
    if format in ("yaml", "omegaconf"):
        documents = list(yaml.load_all(text, Loader=YAML_LOADER))
        data = documents[0] if len(documents) == 1 else documents
        return _omegaconf_strings(data) if format == "omegaconf" else data
    if format == "python":
        return _python_data(text)
    return _shell_commands(text)


def _omegaconf_strings(data: Any) -> Any:
    """Parsed YAML as OmegaConf presents it: each string read with `omegaconf_read`."""
    if isinstance(data, str):
        return omegaconf_read(data)
    if isinstance(data, list):
        return [_omegaconf_strings(item) for item in data]
    if isinstance(data, dict):
        return {key: _omegaconf_strings(value) for key, value in data.items()}
    return data


_SPEC_OPENING, _SPEC_CLOSING = "SPEC = {", "}"
_skeletons: dict[str, Any] = {}  # skeleton -> (the module parsed, or its SyntaxError; whether it can judge)


def _python_data(text: str) -> Any:
    """What `_python_spec(ast.parse(text))` gives, a tenth of the time for a script whose values are in a
    `SPEC = {...}` literal (one line per value: `repr` never spans lines) and in comment lines above it.

    The rest of such a script, its skeleton, is the same for every variant of a method. So the skeleton —
    the text with the literal replaced by `SPEC = None` and the comment lines above it emptied to `#` — is
    parsed once per run with `ast.parse`, and the literal alone with `ast.literal_eval`. The file parses
    exactly when both do, provided the skeleton shows that the replaced lines stand between statements:
    `SPEC = None` is a statement of its own line, and no statement spans an emptied comment line (a line
    inside a string would be string content, not a comment). Any other script, and any skeleton that
    cannot judge, is parsed whole.
    """
    lines = text.split("\n")
    try:
        start = lines.index(_SPEC_OPENING)
        end = lines.index(_SPEC_CLOSING, start)
    except ValueError:
        return _python_spec(ast.parse(text))
    head = ["#" if line.startswith("#") else line for line in lines[:start]]
    skeleton = "\n".join(head + ["SPEC = None"] + lines[end + 1:])
    found = _skeletons.get(skeleton)
    if found is None:
        try:
            parsed = ast.parse(skeleton)
        except SyntaxError as error:
            parsed = error
        found = _skeletons[skeleton] = (parsed, _can_judge(parsed, head, start + 1))
    parsed, sound = found
    if not sound:  # the skeleton alone cannot judge (a damaged string around SPEC, a comment in a string)
        return _python_spec(ast.parse(text))
    return {"SPEC": _spec_literal(lines[start + 1:end])}


_SENTINEL = "0: 0}"
_spec_items: dict[str, dict | None] = {}  # a part of a SPEC literal -> the items it holds (None: not on its own)


def _spec_literal(lines: list[str]) -> dict:
    """`ast.literal_eval` of `{`, `lines`, `}` (one per line), a part at a time: each top-level key as
    the templates write it (`    "name": ...`) starts a part, and a part seen before is not parsed again
    (the variants of a sweep, and the experiments of a project, share most of their SPEC: parsing it was a
    third of verifying `train.py`).

    A part is taken on its own only when it parses followed by one more item (`{`, part, `0: 0}`) into a
    dict display whose last item is that one: then the part is whole items, each ended by a comma, at
    depth 0 and outside any string at its end, so that the parts written one after another between braces
    are the whole display, and its value is their items in order (a later equal key replacing an earlier
    one's value, as `dict.update` does). Anything else is read whole, as before."""
    value = _display_items(lines, '    "')
    return ast.literal_eval("\n".join(["{", *lines, "}"])) if value is None else value


def _display_items(lines: list[str], key_start: str) -> dict | None:
    """The items of the dict display `{`, `lines`, `}` read a part at a time (`_spec_literal`), a part
    starting at each line that starts with `key_start`; None when a part is not whole items."""
    parts: list[list[str]] = [[]]
    for line in lines:
        if line.startswith(key_start) and parts[-1]:
            parts.append([])
        parts[-1].append(line)
    value: dict = {}
    for part in parts:
        items = remembered(_spec_items, "\n".join(part), lambda text: _nested_items(part, key_start, text))
        if items is None:
            return None
        value.update(items)
    return value


_NESTED_HEAD = re.compile(r'( *)"([A-Za-z0-9_]+)": \{')


def _nested_items(part: list[str], key_start: str, text: str) -> dict | None:
    """The items of one part (`text`, its lines `part`). A key whose value is a dict display written a line
    per item, `"name": {`, its items one level deeper, `},` (the training arguments of every variant,
    which differ in a line or two), is read a part of that display at a time as well: when those inner
    parts are whole items, `{` and they and `}` are one display, so the part is the one item `"name": `
    that display, ended by a comma at depth 0 outside any string (whole items, as `_spec_literal` needs).
    Either way the answer is `_part_items(text)`'s, so one memo serves parts of every depth. Parsing a
    variant's whole training part was 41 us, three quarters of verifying a `train.py` whose other parts
    were seen before."""
    head = _NESTED_HEAD.fullmatch(part[0]) if len(part) >= 2 else None
    indent = key_start[:-1]
    if head is not None and head.group(1) == indent and part[-1] == indent + "},":
        inner = _display_items(part[1:-1], indent + '    "')
        if inner is not None:
            return {head.group(2): inner}
    return _part_items(text)


def _part_items(text: str) -> dict | None:
    """The items of one part of a SPEC literal, or None when it is not whole items."""
    count = text.count("\n") + 1  # (its lines)
    try:
        display = ast.parse("\n".join(["{", text, _SENTINEL]), mode="eval").body
    except SyntaxError:
        return None
    if not isinstance(display, ast.Dict) or not display.keys or display.keys[-1] is None:
        return None
    last = display.keys[-1]
    if last.lineno != count + 2 or last.col_offset != 0:  # (the sentinel's own place: line 1 is the brace)
        return None
    try:
        items = ast.literal_eval(ast.Dict(keys=display.keys[:-1], values=display.values[:-1]))
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    return items if isinstance(items, dict) else None


def _can_judge(parsed: Any, head: list[str], spec_line: int) -> bool:
    if isinstance(parsed, SyntaxError):
        return False
    spans = [(node.lineno, node.end_lineno) for node in parsed.body]
    if not any(isinstance(node, ast.Assign) and node.lineno == node.end_lineno == spec_line
               and isinstance(node.value, ast.Constant) and node.value.value is None
               and [getattr(t, "id", None) for t in node.targets] == ["SPEC"] for node in parsed.body):
        return False
    emptied = [number for number, line in enumerate(head, 1) if line == "#"]
    return not any(first <= number <= last for number in emptied for first, last in spans)


# One piece of a POSIX shell word as shlex reads it (posix mode, whitespace_split, no comments): plain
# characters, a single-quoted string, a double-quoted one (where a backslash escapes only `"` and `\`),
# or a backslash and the character it escapes; or the blanks between words.
_SHELL_PIECE = re.compile(r"""([^ \t\r\n'"\\]+)|'([^']*)'|"((?:[^"\\]|\\.)*)"|\\(.)|([ \t\r\n]+)""", re.S)
_DOUBLE_QUOTED_ESCAPE = re.compile(r'\\(["\\])')


# A whole script that `_shell_commands` reads without error, in one match: blanks, a backslash before a line
# break (which joins lines, starting no word), a comment at the start of a word, or a word of the pieces
# above. Possessive, so that a quote never closed fails at once rather than by backtracking.
_SHELL_SCRIPT = re.compile(r"""(?:[ \t\r\n]++|\\\n|\#[^\n]*+|(?:[^ \t\r\n'"\\]++|'[^']*+'|"(?:[^"\\]|\\.)*+"|\\.)++)*+""",
                           re.S)


_SHELL_UNREADABLE = "no closing quotation, or a backslash escaping nothing"


def _shell_readable(text: str) -> bool:
    """Whether `_shell_commands(text)` reads `text` without a ValueError: for a script none of whose words
    is checked (the built-in targets' `run.sh`), a tenth of the time of splitting it (a test holds the two
    to each other)."""
    return _SHELL_SCRIPT.fullmatch(text) is not None


def _shell_commands(text: str) -> list[list[str]]:
    """The words of each command of a script, as a POSIX shell splits them: a line break outside quotes
    ends a command, `#` at the start of a word starts a comment, and a quoted word may span lines (a
    value with a line break, a folder named so, quoted by `shlex.quote`). One regular expression reads
    a piece at a time, a tenth of the time `shlex` takes character by character; a property test holds
    each line's words to what `shlex.split` makes of it."""
    commands: list[list[str]] = []
    words: list[str] = []
    word: list[str] | None = None
    position, size = 0, len(text)
    while position < size:
        if word is None and text[position] == "#":
            end = text.find("\n", position)
            position = size if end < 0 else end
            continue
        piece = _SHELL_PIECE.match(text, position)
        if piece is None:
            raise ValueError(_SHELL_UNREADABLE)
        plain, single, double, escaped, blank = piece.groups()
        position = piece.end()
        if blank is not None or escaped == "\n":  # a backslash before a line break joins the lines
            if word is not None and blank is not None:
                words.append("".join(word))
                word = None
            if blank is not None and "\n" in blank and words:
                commands.append(words)
                words = []
            continue
        if word is None:
            word = []
        word.append(plain if plain is not None else single if single is not None else
                    _DOUBLE_QUOTED_ESCAPE.sub(r"\1", double) if double is not None else escaped)
    if word is not None:
        words.append("".join(word))
    if words:
        commands.append(words)
    return commands


def _python_spec(tree: ast.Module) -> Any:
    """The literal assigned to `SPEC` at the top of a generated script (the data the script runs with)."""
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "SPEC" for t in node.targets):
            return {"SPEC": ast.literal_eval(node.value)}
    return {}


def verify_compiled(text: str, format: str, checks: list[tuple], ir: dict[str, Any], label: str) -> None:
    """Parse `text` back as its consumer would and compare the value at each checked path with the IR.
    YAML is composed into nodes by libyaml (when PyYAML has it) and only the checked values are built
    into Python objects: the whole file is parsed, the rest is never constructed. A shell script none of
    whose words is checked is only read through (`_shell_readable`)."""
    def unparsable(error: Exception) -> VerificationError:
        return VerificationError(f"{label} does not parse back as {format}: {error}")

    if format == "shell" and not checks:
        if not _shell_readable(text):
            raise unparsable(ValueError(_SHELL_UNREADABLE))
        return
    try:
        if format in ("yaml", "omegaconf"):
            follow = _yaml_follow(text, format == "omegaconf")
        else:
            follow = functools.partial(_follow, parse_back(text, format))
    except (ValueError, SyntaxError, yaml.YAMLError) as error:
        raise unparsable(error) from None
    for emitted_path, emitted_parts, expected_of in checks:
        expected = expected_of(ir)
        if expected is _ABSENT:
            continue
        try:
            actual = follow(emitted_parts)
        except (ValueError, yaml.YAMLError) as error:
            raise unparsable(error) from None
        if actual != expected or type(actual) is not type(expected):
            raise VerificationError(f"{label}: `{emitted_path}` is {actual!r} after parsing back, not {expected!r}")


# Small YAML files composed this run, by text: a sweep's variants render many byte-identical small files
# (peft's and fms-hf-tuning's accelerate.yaml: 288 of the 792 YAML files of the benchmark's 60-file build are
# 48 texts). The same text composes to the same nodes, so each is composed once and its checked values are
# still built and compared with each variant's IR. Bounded: only texts up to _SMALL_YAML characters, and
# the memo is emptied when it holds _KEPT_YAML of them.
_SMALL_YAML, _KEPT_YAML = 1024, 256
_composed: dict[tuple[str, bool], Any] = {}


def _yaml_follow(text: str, omegaconf: bool) -> Any:
    """`_YamlNodes(text, omegaconf).follow`, composed once for a small text seen before."""
    if len(text) > _SMALL_YAML:
        return _YamlNodes(text, omegaconf).follow
    return remembered(_composed, (text, omegaconf), lambda key: _YamlNodes(*key).follow, _KEPT_YAML)


_MERGE_TAG = "tag:yaml.org,2002:merge"
_SEQ_TAG, _MAP_TAG = "tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"


class _NotPlain(Exception):
    """A YAML node that only PyYAML's own constructor builds as it should."""


# The safe constructor's functions for plain scalar values: each returns its value at once (no generator, no
# recursion), so a checked scalar is built without `construct_document`.
_SCALAR_CONSTRUCTORS = {f"tag:yaml.org,2002:{name}": _VerifyingLoader.yaml_constructors[f"tag:yaml.org,2002:{name}"]
                        for name in ("str", "int", "float", "bool", "null")}
_scalar_values: dict[tuple[str, str], Any] = {}  # (tag, text) -> the value its constructor builds


def _scalar_value(node: Any) -> Any:
    """What the safe constructor builds from a scalar node of a plain scalar tag (_NotPlain for another
    tag). Each of those constructors reads only the node's tag and text and builds an immutable value, so
    a value built once stands for every node of that tag and text: a build's files repeat the same numbers
    and flags thousands of times, and `construct_yaml_int` alone is a Python function of a dozen steps."""
    if node.tag == _STR_TAG:  # construct_yaml_str's value (construct_scalar's: the text), two calls fewer
        return node.value
    return remembered(_scalar_values, (node.tag, node.value), _construct_scalar)


def _construct_scalar(key: tuple[str, str]) -> Any:
    tag, text = key
    constructor = _SCALAR_CONSTRUCTORS.get(tag)
    if constructor is None:
        raise _NotPlain
    return constructor(YAML_LOADER(""), yaml.ScalarNode(tag, text))


class _YamlNodes:
    """A YAML stream composed into nodes (what `yaml.load_all` reads, before it builds objects): the
    documents of the stream, which `follow` walks by mapping key and list index, building only the value
    a path ends at. It gives what `_follow(parse_back(text, format), parts)` gives: one document stands
    for the stream, keys match only string keys (the last of equal ones), and a merge key or a document
    inside a string (`|json`, `|yaml`) builds that value and goes on in Python objects.

    Why nodes and not libyaml's event stream (`get_event`, no composer): measured on the YAML files of a
    fresh build of the benchmark's 60 files (792 files, 867 kB; CPU, best of 5), composing the nodes costs
    0.044 s, reading the events alone 0.032 s and reading them with a type dispatch and the resolver's
    memoised tag per plain scalar 0.039 s, before any path is tracked or checked value built (which the
    nodes' walk does in the rest of the whole verification's 0.065 s): the walk in Python costs what the
    composer in C saves, so the composer stays. That build takes 0.39 s of CPU (in-process, --jobs 1)."""

    def __init__(self, text: str, omegaconf: bool) -> None:
        self.loader = _VerifyingLoader(text)
        self.omegaconf = omegaconf
        self.keys: dict[int, dict | None] = {}  # id(mapping node) -> {string key: value node}; None: a merge
        try:
            documents = []
            while self.loader.check_node():
                documents.append(self.loader.get_node())
        finally:
            self.loader.dispose()
        self.root = documents[0] if len(documents) == 1 else documents

    def build(self, node: Any) -> Any:
        if type(node) is yaml.ScalarNode and node.tag in _SCALAR_CONSTRUCTORS:
            data = _scalar_value(node)  # what construct_document gives, without its per-document bookkeeping
            return omegaconf_read(data) if self.omegaconf and isinstance(data, str) else data
        if isinstance(node, list):
            data = [self.loader.construct_document(item) for item in node]
        else:
            try:
                data = self._plain(node, set())
            except (_NotPlain, RecursionError):
                data = self.loader.construct_document(node)
        return _omegaconf_strings(data) if self.omegaconf else data

    def _plain(self, node: Any, above: set) -> Any:
        """What `construct_document` builds from a tree of plain scalars, lists and mappings, built by
        the same scalar constructors without its bookkeeping (the `yaml` target checks a whole document:
        a tenth of verifying the benchmark's YAML). Raises _NotPlain at anything else — another tag, a
        merge or a value key, an unhashable key, a node inside itself — which `construct_document` builds
        (as it does a tree too deep to walk by recursion)."""
        kind = type(node)
        if kind is yaml.ScalarNode:
            return _scalar_value(node)
        if id(node) in above:
            raise _NotPlain
        above.add(id(node))
        if kind is yaml.SequenceNode and node.tag == _SEQ_TAG:
            data: Any = [self._plain(item, above) for item in node.value]
        elif kind is yaml.MappingNode and node.tag == _MAP_TAG:
            data = {}
            for key_node, value_node in node.value:
                key = self._plain(key_node, above)
                if type(key_node) is not yaml.ScalarNode:  # a list or mapping as a key: unhashable
                    raise _NotPlain
                data[key] = self._plain(value_node, above)
        else:
            raise _NotPlain
        above.discard(id(node))
        return data

    def _keys(self, node: Any) -> dict | None:
        """The mapping's values by string key (the last of equal keys, as a built dict keeps), made once;
        None when it has a merge key, which only building the mapping resolves."""
        found = self.keys.get(id(node), _ABSENT)
        if found is _ABSENT:
            found = {}
            for key, value in node.value:
                if key.tag == _MERGE_TAG:
                    found = None
                    break
                if key.tag == _STR_TAG and isinstance(key, yaml.ScalarNode):
                    found[key.value] = value
            self.keys[id(node)] = found
        return found

    def follow(self, parts: list[str]) -> Any:
        node = self.root
        for index, part in enumerate(parts):
            if isinstance(node, list) or isinstance(node, yaml.SequenceNode):
                items = node if isinstance(node, list) else node.value
                if part.isdigit() and int(part) < len(items):
                    node = items[int(part)]
                    continue
                if part not in ("|json", "|yaml"):
                    return _ABSENT
            elif isinstance(node, yaml.MappingNode) and part not in ("|json", "|yaml"):
                keys = self._keys(node)
                if keys is None:
                    return _follow(self.build(node), parts[index:])
                node = keys.get(part, _ABSENT)
                if node is _ABSENT:
                    return _ABSENT
                continue
            return _follow(self.build(node), parts[index:])
        return self.build(node)


_ABSENT = object()


def _compile_expected(expression: str, target: Target | None = None):
    if expression.startswith("="):
        literal = json.loads(expression[1:])
        return lambda ir: literal
    path, _, transform = expression.partition("|")
    from_top = path.startswith("@")
    parts = _split_path(path[1:] if from_top else path)
    placed = PLACED_TRANSFORMS.get(transform)
    if placed is not None and target is None:
        raise VerificationError(f"the check `{expression}` needs the target it belongs to")
    apply = None if placed is not None or not transform else TRANSFORMS[transform]

    def expected(ir: dict[str, Any]) -> Any:
        value = _follow(ir if from_top else ir["spec"], parts)
        if value is _ABSENT:
            return value
        if placed is not None:
            return placed(value, ir, target)
        return value if apply is None else apply(value)

    return expected


def _follow(data: Any, parts: list[str]) -> Any:
    for part in parts:
        if part in ("|json", "|yaml"):  # a document held in a string (a ConfigMap's files)
            try:
                data = json.loads(data) if part == "|json" else yaml.load(data, Loader=YAML_LOADER)
            except (TypeError, ValueError, yaml.YAMLError):
                return _ABSENT
            continue
        if isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        elif isinstance(data, dict) and part in data:
            data = data[part]
        else:
            return _ABSENT
    return data


def _split_path(path: str) -> list[str]:
    parts = re.findall(r'"([^"]*)"|(\|json|\|yaml)|([^."|]+)', path)
    return [quoted or marker or plain for quoted, marker, plain in parts]
