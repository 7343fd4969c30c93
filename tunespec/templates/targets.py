"""Targets as data: each folder under `tunespec/templates/` declares, in `target.toml`, the files it writes,
the methods it can run, the fields it can express, the values it requires and what it documents as
deprecated. TS501–TS504 are derived from these declarations here; no template holds an `if` for them.

This module does not import Jinja2: `lint` reads the declarations to check the targets an experiment
names, and must stay fast.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path
TYPE_CHECKING = False
if TYPE_CHECKING:  # (typing, for type checkers only, is not imported at run time)
    from typing import Any, Iterable, Iterator, Mapping

from tunespec import codes
from tunespec.compiler.catalog import load_catalog
from tunespec.compiler.resolve import DATA_PATH_FIELDS, ResolvedExperiment
from tunespec.compiler.schema import is_uri
from tunespec.diagnostics import Finding, Severity
from tunespec.files import read_regular
from tunespec.record import Factory, Record

BUILTIN = Path(__file__).parent
DECLARATION = "target.toml"
# Values tunespec keeps for itself (labels, estimates, the list of targets): no backend is expected to
# express them, so leaving them out is not a loss worth a TS501.
TUNESPEC_ONLY = {"targets", "description", "task", "resources.gpu_memory_gb"}
_UNSET = object()  # (no value a target assumes for a field)


class TargetFile(Record):
    template: str
    output: str
    format: str  # json, yaml, python, shell
    when: dict = Factory(dict)  # IR path -> the values for which the file is written (e.g. a DeepSpeed config)

    def applies(self, spec: dict) -> bool:
        """Whether this variant gets the file: every `when` path of the IR's spec holds one of its values."""
        for path, values in self.when.items():
            value: Any = spec
            for part in path.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            if value not in values:
                return False
        return True


class Target(Record):
    name: str
    summary: str
    folder: Path
    files: list
    methods: tuple
    expresses: dict  # method -> set of IR fields ("all" applies to every method)
    requires: dict  # method -> list of IR fields
    implicit: dict  # IR field -> the value a backend assumes when it is not expressed
    deprecated: dict  # method -> what the backend documents
    removed: dict  # method -> the date (ISO) from which the backend no longer runs it
    constraints: dict
    checks: dict  # output file -> {emitted dotted path: IR path with optional |transform}
    method_checks: dict  # method -> output file -> checks that hold only for that method
    values: dict = Factory(dict)  # method or "all" -> IR field -> {"only" | "never": [values], "why", "when"?}
    unique: list = Factory(list)  # IR expressions (as in checks) whose value two variants of a build may not share
    data: dict = Factory(dict)  # anything else the templates read (e.g. torchtune's builders per model)
    sandboxed: bool = False  # a user's --template-dir target: rendered in Jinja2's sandbox
    source: str = ""

    __extra_slots__ = ("_per_method", "_outputs")

    def can_express(self, method: str | None, field: str) -> bool:
        expressible = self.expressible(method)
        return expressible is None or field in expressible

    def expressible(self, method: str | None) -> frozenset | None:
        """The fields the target expresses for `method` (None: every field)."""
        return self.for_method(method)[2]

    def limited_fields(self, method: str | None) -> list[str]:
        """The fields with a `[values]` limit for all methods or for `method`, sorted."""
        return self.for_method(method)[1]

    def required(self, method: str | None) -> list[str]:
        return self.for_method(method)[0]

    @property
    def outputs(self) -> str:
        """The files it writes, as TS501 lists them (once per target: TS501 is the commonest finding of a
        build, 6,000 of the benchmark's)."""
        try:
            return self._outputs
        except AttributeError:
            self._outputs = ", ".join(file.output for file in self.files)
            return self._outputs

    def for_method(self, method: str | None) -> tuple:
        """(required, limited_fields, expressible, read) of `method`, worked out once per method and taken in
        one lookup: TS5xx asks for them for every variant and target, nine targets each in a build. `read`:
        the fields whose values TS501–TS504 read besides the set fields it cannot express (`_reusable`)."""
        try:
            return self._per_method[method]
        except AttributeError:
            self._per_method = {}
        except KeyError:
            pass
        required = [*self.requires.get("all", ()), *self.requires.get(method or "", ())]
        limits = [(field, limit) for scope in ("all", method or "") for field, limit in self.values.get(scope, {}).items()]
        read = {"method", "model", *required, *(field for field, _ in limits),
                *(path for _, limit in limits for path in limit.get("when", {}))}
        if self.constraints:
            read.update(("resources.volume", "lora.target_modules", "lora.resolved_target_modules", *DATA_PATH_FIELDS))
        found = self._per_method[method] = (
            required, sorted({field for field, _ in limits}),
            None if "*" in self.expresses.get("all", ()) else
            frozenset(self.expresses.get("all", ())) | frozenset(self.expresses.get(method or "", ())),
            frozenset(read))
        return found

    def value_limit(self, values: Mapping[str, Any], field: str) -> dict | None:
        """The `[values]` limit (for the experiment's method or all) that the experiment's value of the field
        breaks, else None. `values` are the experiment's resolved values; a limit with `when` holds only where
        each of its fields has one of the values listed (LLaMA-Factory's chat template on input/output data)."""
        value, method = values.get(field), values.get("method")
        if value is None:
            return None
        for scope in ("all", method or ""):
            limit = self.values.get(scope, {}).get(field)
            if limit is None or any(values.get(path) not in allowed for path, allowed in limit.get("when", {}).items()):
                continue
            if ("only" in limit and value not in limit["only"]) or value in limit.get("never", ()):
                return {**limit, "scope": scope}
        return None



class TargetError(Exception):
    """A target folder that cannot be used: one line for the user, exit 2."""


class RenderError(Exception):
    """A template that cannot be rendered (syntax, an undefined value, a sandbox violation): one line.
    (Declared here, not in `render`, so that a build with nothing to render need not import Jinja2 to
    catch it.)"""


def load_target(folder: Path, sandboxed: bool = False) -> Target:
    """The target declared in `folder`'s target.toml (a user's: the built-in ones come from their snapshot)."""
    import tomllib

    path = folder / DECLARATION
    try:
        data = tomllib.loads(read_regular(path).decode("utf-8"))
    except OSError as error:
        raise TargetError(f"{path}: cannot read the target declaration: {(error.strerror or str(error)).lower()}") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise TargetError(f"{path}: invalid target declaration: {error}") from None
    return target_from(data, folder, sandboxed)


def target_from(data: dict, folder: Path, sandboxed: bool = False) -> Target:
    """The target of a declaration's `data` (read from `folder`'s target.toml, or its snapshot), checked."""
    path = folder / DECLARATION
    try:
        files = [TargetFile(f["template"], f["output"], f["format"], dict(f.get("when", {}))) for f in data["files"]]
        target = Target(
            name=data.get("name", folder.name), summary=data["summary"], folder=folder, files=files,
            methods=tuple(data["methods"]),
            expresses={key: set(values) for key, values in data.get("expresses", {}).items()},
            requires={key: list(values) for key, values in data.get("requires", {}).items()},
            implicit=dict(data.get("implicit", {})), deprecated=dict(data.get("deprecated", {})),
            removed={method: str(day) for method, day in data.get("removed", {}).items()},
            constraints=dict(data.get("constraints", {})), values=dict(data.get("values", {})),
            checks=dict(data.get("checks", {})),
            method_checks=dict(data.get("method_checks", {})), unique=list(data.get("unique", [])),
            data=dict(data.get("data", {})), sandboxed=sandboxed, source=data.get("source", ""),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise TargetError(f"{path}: invalid target declaration: missing or malformed {error}") from None
    problem = _name_problem(target.name)
    if problem:
        raise TargetError(f"{path}: invalid target declaration: `name` {problem}")
    outputs: set[str] = set()
    for file in target.files:
        for key, value in (("output", file.output), ("template", file.template)):
            problem = _relative_path_problem(value)
            if problem:
                raise TargetError(f"{path}: invalid target declaration: `{key}` {problem}")
        if file.output in outputs:
            raise TargetError(f"{path}: invalid target declaration: two files have the `output` {file.output!r}")
        outputs.add(file.output)
        if file.format not in FORMATS:
            raise TargetError(f"{path}: unknown format `{file.format}` for {file.output} ({', '.join(FORMATS)})")
        if not (folder / file.template).is_file():
            raise TargetError(f"{path}: template `{file.template}` not found in {folder}")
    return target


FORMATS = ("json", "yaml", "omegaconf", "python", "shell")  # omegaconf: YAML that OmegaConf reads, resolving `${`
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")
_UNSAFE_CHARACTER = re.compile(r"[\x00-\x1f\x7f\\:*?\"<>|]")


def _name_problem(name: object) -> str | None:
    """A target's name is one folder of every variant's output (`out/<variant>/<target>/`): a plain name."""
    if not isinstance(name, str) or not _SAFE_NAME.fullmatch(name) or name in (".", ".."):
        return (f"{name!r} is not a plain name (letters, digits and `.`, `_`, `+`, `-`; it names a folder inside "
                "each variant's)")
    return None


def _relative_path_problem(value: object) -> str | None:
    """Why `value` is not a relative path that stays inside its folder: the files a target writes go into
    the variant's folder and nowhere else, and its templates come from the target's folder."""
    if not isinstance(value, str) or not value:
        return f"{value!r} must be a relative path inside the target's folder"
    parts = value.split("/")
    if value.startswith(("/", "~")) or any(part in ("", ".", "..") for part in parts) \
            or _UNSAFE_CHARACTER.search(value):
        return (f"{value!r} must be a relative path inside the folder, written with `/` and without `..`, `.`, "
                "empty parts or control characters")
    return None


@lru_cache(maxsize=1)
def builtin_targets() -> dict[str, Target]:
    """The targets shipped in this folder, from the snapshot of their declarations (`snapshot_build.py`
    keeps it current): a lint of an experiment that names targets reads them without `tomllib`."""
    from tunespec.templates.snapshot import DECLARATIONS

    return {target.name: target for target in (target_from(data, BUILTIN / name) for name, data in DECLARATIONS.items())}


def all_targets(template_dirs: Iterable[str | os.PathLike] = ()) -> dict[str, Target]:
    """The built-in targets and those of `--template-dir` folders (each folder a target, or a folder of them)."""
    targets = dict(builtin_targets())
    for given in template_dirs:
        folder = Path(given)
        if not folder.is_dir():
            raise TargetError(f"template folder `{given}` does not exist or is not a folder")
        folders = [folder] if (folder / DECLARATION).is_file() else sorted(
            p for p in folder.iterdir() if (p / DECLARATION).is_file())
        if not folders:
            raise TargetError(f"template folder `{given}` holds no {DECLARATION}")
        for sub in folders:
            target = load_target(sub, sandboxed=True)
            targets[target.name] = target
    return targets


# --- TS501–TS504 ---------------------------------------------------------------------------------------

def target_findings(exp: ResolvedExperiment, target: Target, set_fields: list[str] | None = None) -> Iterator[Finding]:
    """TS501–TS504 of one variant for one target; `set_fields` is `_set_fields(exp)`, when the caller
    checks the variant against several targets."""
    method = exp.values.get("method")
    if method is None:
        return
    if method not in target.methods:
        yield Finding(codes.TARGET_CANNOT_RUN_METHOD, exp.name_location,
                      f"`{target.name}` cannot run `{method}` (it runs {', '.join(target.methods)})",
                      "choose another target for this experiment, or another method")
        return
    problem = _constraint_problem(exp, target)
    if problem:
        yield Finding(codes.TARGET_CANNOT_RUN_METHOD, exp.name_location, problem[0], problem[1])
        return
    if method in target.removed and today() >= target.removed[method]:
        yield Finding(codes.TARGET_METHOD_DEPRECATED, exp.location_of("method"),
                      f"`{target.name}` no longer runs `{method}`: removed on {target.removed[method]} "
                      f"({target.deprecated.get(method, 'documented removal')})",
                      "move the experiment to another target", severity=Severity.ERROR)
    elif method in target.deprecated:
        yield Finding(codes.TARGET_METHOD_DEPRECATED, exp.location_of("method"), f"`{target.name}`: {target.deprecated[method]}",
                      "plan the move to another method or target")
    required, limited, expressible, _ = target.for_method(method)
    missing = [field for field in required if not exp.is_set(field)]
    if missing:
        yield Finding(codes.TARGET_NEEDS_VALUE, exp.name_location,
                      f"`{target.name}` needs {', '.join(f'`{f}`' for f in missing)}, which is unset",
                      "set it in the experiment or a preset it extends")
    # (each check below is a generator, made and run for every variant and target even when it cannot
    # find anything: asked first whether it can, a build's TS5xx checks of nine targets cost less)
    constraints = target.constraints
    if constraints.get("local_paths_need_volume"):
        yield from _local_paths_without_volume(exp, target)
    if constraints.get("data_uri_schemes") is not None:
        yield from _unreadable_uris(exp, target)
    if constraints.get("lora_layer_groups"):
        yield from _partial_layer_groups(exp, target)
    if limited:
        yield from _inexpressible_values(exp, target, method)
    if expressible is None:
        return
    fields = _set_fields(exp) if set_fields is None else set_fields
    for field in [field for field in fields if field not in expressible]:
        if exp.values[field] != target.implicit.get(field, _UNSET):
            yield Finding(codes.TARGET_CANNOT_EXPRESS_FIELD, exp.location_of(field),
                          f"`{target.name}` cannot express `{field}` ({_shown(exp.values[field])}): it is dropped "
                          f"from {target.outputs}",
                          "leave it out for this target, or choose a target that can express it")


def _inexpressible_values(exp: ResolvedExperiment, target: Target, method: str) -> Iterator[Finding]:
    """TS501 for a value, set or a default, that a target expresses only for some values (torchtune has no
    fp16; Axolotl cannot keep fp32 master weights under autocast): its declaration says what it emits instead."""
    for field in target.limited_fields(method):
        limit = target.value_limit(exp.values, field)
        if limit is None:
            continue
        fix = f"set `{field}` to {' or '.join(_shown(v) for v in limit['only'])}" if "only" in limit else \
            f"set `{field}` to another value"
        where = "".join(f" with `{path}` = {_shown(exp.values.get(path))}" for path in limit.get("when", {}))
        yield Finding(codes.TARGET_CANNOT_EXPRESS_FIELD, exp.location_of(field),
                      f"`{target.name}` cannot express `{field}` = {_shown(exp.values[field])}"
                      f"{f' for {method}' if limit['scope'] == method else ''}{where}: {limit['why']}",
                      f"{fix}, or choose another target")


def _local_paths_without_volume(exp: ResolvedExperiment, target: Target) -> Iterator[Finding]:
    """A job that runs in a cluster sees local files only through a mounted volume (TS504)."""
    if not target.constraints.get("local_paths_need_volume") or exp.is_set("resources.volume"):
        return
    local = [path for path in DATA_PATH_FIELDS if isinstance(exp.values.get(path), str) and not is_uri(exp.values[path])]
    if local:
        yield Finding(codes.TARGET_NEEDS_VALUE, exp.name_location,
                      f"`{target.name}` runs in a cluster and cannot read the local "
                      f"{' and '.join(f'`{p}`' for p in local)} without `resources.volume`",
                      "set `resources.volume` (a PersistentVolumeClaim holding the data, mounted at "
                      "`resources.mount_path`), or give the data as URIs")


def _unreadable_uris(exp: ResolvedExperiment, target: Target) -> Iterator[Finding]:
    """A data URI of a scheme the target cannot read (TS504): its declaration's `data_uri_schemes`, where it
    has one, lists those it can (LLaMA-Factory: Hugging Face Hub datasets)."""
    schemes = target.constraints.get("data_uri_schemes")
    if schemes is None:
        return
    for path in DATA_PATH_FIELDS:
        value = exp.values.get(path)
        if isinstance(value, str) and is_uri(value) and not value.startswith(tuple(schemes)):
            yield Finding(codes.TARGET_NEEDS_VALUE, exp.location_of(path),
                          f"`{target.name}` cannot read `{path}` = {_shown(value)}: it reads local files and "
                          f"{', '.join(f'`{scheme}`' for scheme in schemes)} URIs",
                          "give the data as a local file (or a listed URI), or choose another target")


def today() -> str:
    """The date removal dates are compared with (ISO); SOURCE_DATE_EPOCH fixes it for reproducible runs (a
    date in UTC). `time` gives the dates `datetime` would, without importing it: 1.3 ms of a build's
    serial start, as every build with a target that removes a method asks for the date before it forks."""
    import time

    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.strip().isdigit():
        return time.strftime("%Y-%m-%d", time.gmtime(int(epoch)))
    return time.strftime("%Y-%m-%d", time.localtime())


def _partial_layer_groups(exp: ResolvedExperiment, target: Target) -> Iterator[Finding]:
    """Layers a target adapts only together (torchtune's feed-forward): naming some of them means all."""
    groups = target.constraints.get("lora_layer_groups", ())
    layers = set(exp.values.get("lora.resolved_target_modules") or ()) if groups else set()
    for group in groups:
        named = layers & set(group)
        if named and named != set(group):
            yield Finding(codes.TARGET_CANNOT_EXPRESS_FIELD, exp.location_of("lora.target_modules"),
                          f"`{target.name}` adapts {', '.join(group)} only all together: it cannot express targeting "
                          f"just {', '.join(sorted(named))}, and will target all {len(group)}",
                          "name all of them, or none")


def _set_fields(exp: ResolvedExperiment) -> Iterator[str]:
    """Fields with a value the experiment (or a documented default) chose: not tunespec's own defaults."""
    for field in exp.fields_with_provenance():
        if field in TUNESPEC_ONLY or field not in exp.values or field == "lora.resolved_target_modules":
            continue
        if exp.is_language_default(field):
            continue
        yield field


def _constraint_problem(exp: ResolvedExperiment, target: Target) -> tuple[str, str] | None:
    rules = target.constraints
    if not rules:
        return None
    method = exp.values.get("method")
    model = exp.model
    if method == "qlora" and model is not None:
        if rules.get("qlora_needs_quantized_model") and not model.quantized:
            return (f"`{target.name}` runs qlora only on quantized models, and {model.id} is not",
                    load_catalog().quantized_help("another target"))
        if rules.get("qlora_needs_unquantized_model") and model.quantized:
            return (f"`{target.name}` quantizes 16-bit weights itself and cannot train the already-quantized {model.id}",
                    "use the model's 16-bit checkpoint, or another target")
    if rules.get("decoder_only") and model is not None and model.decoder_only is False:
        return (f"`{target.name}` trains decoder-only (causal) language models, and {model.id} is an encoder-decoder model",
                "use a target that runs encoder-decoder models (peft), or a decoder-only model")
    if rules.get("needs_hf_id") and model is not None and model.hf_id is None and model.path is None:
        return (f"`{target.name}` loads models from the Hugging Face Hub, and {model.id} has no Hugging Face checkpoint",
                f'declare the checkpoint: `model "{model.id}" {{ hf_id = "..." }}` or `path = "..."`, or choose another target')
    if "models" in rules:
        known = {name.lower() for name in rules["models"]}
        if model is None or model.id.lower() not in known:
            name = model.id if model else exp.values.get("model", "this model")
            return (f"`{target.name}` has no model builder for {name}: it supports {', '.join(rules['models'])}",
                    "choose another target for this model")
    return None


def _shown(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else f'"{value}"'
    return text if len(text) <= 40 else text[:37] + "..."


def unknown_target_findings(exp: ResolvedExperiment, known: Iterable[str]) -> Iterator[Finding]:
    """TS005 for names in `targets` that no target has (at the element, where the list was written)."""
    from tunespec.spelling import did_you_mean

    known = list(known)
    for name, where in exp.elements_of("targets"):
        if name in known:
            continue
        yield Finding(codes.UNKNOWN_ENUM_VALUE, where, f"unknown target `{name}`",
                      did_you_mean(name, known) or f"the targets are: {', '.join(sorted(known))}")


def findings_for(resolved: list[ResolvedExperiment], default_targets: list[str] | None,
                 targets: dict[str, Target], memo: dict | None = None,
                 override: list[str] | None = None) -> Iterator[tuple[Finding, str]]:
    """TS5xx (and TS005 for unknown names) for every experiment variant and the targets it names, or
    `override` (`--target`) names in its place; `memo` keeps them for `build`, which refuses a target on
    its TS5xx errors (see `memo_key`).

    A sweep's variants mostly differ in values no target check reads (a learning rate that every target
    expresses): a variant's findings for a target are then its declaration's first variant's (`_reusable`),
    not worked out again (the benchmark's build: 2 of 3 variants)."""
    known = override is None or all(name in targets for name in override)
    first: dict[int, tuple] = {}  # declaration key -> (its first variant, {target name: its findings})
    for exp in resolved:
        if exp.is_preset:
            continue
        if not known:  # (TS005 must not point at what the experiment wrote: the variant as if it named them)
            exp = exp.with_targets(override)
        experiment, named = exp.experiment, exp.values.get("targets") if override is None else override
        if named and not all(name in targets for name in named):  # (TS005 looks for the places of each name)
            yield from ((f, experiment) for f in unknown_target_findings(exp, targets))
        earlier = first.get(exp.declaration_key)
        if earlier is None:
            earlier = first[exp.declaration_key] = (exp, {})
        changed = exp.changed_from(earlier[0]) if earlier[0] is not exp else None
        set_fields = None
        for name in named or default_targets or ():
            if name in targets:
                target = targets[name]
                found = earlier[1].get(name) if changed is not None and _reusable(target, exp, changed) else None
                if found is None:
                    set_fields = list(_set_fields(exp)) if set_fields is None else set_fields
                    found = list(target_findings(exp, target, set_fields))
                    if earlier[0] is exp:
                        earlier[1][name] = found
                if memo is not None:
                    memo[memo_key(exp, name)] = found
                for finding in found:
                    yield finding, experiment


def _reusable(target: Target, exp: ResolvedExperiment, changed: set[str]) -> bool:
    """Whether the variant's TS501–TS504 for `target` are those of its declaration's first variant, from
    which it differs in the `changed` fields: when the checks read none of them (`Target.for_method`),
    and the target expresses each (TS501 names the value of a set field it cannot express)."""
    _, _, expressible, read = target.for_method(exp.values.get("method"))
    return all(field not in read and (expressible is None or field in expressible) for field in changed)


def memo_key(exp: ResolvedExperiment, target: str) -> tuple:
    return (exp.declaration_key, exp.name, target)
