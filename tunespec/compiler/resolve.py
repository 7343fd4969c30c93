"""Resolution (DESIGN.md §1.4): inherit along `extends`, expand sweeps, fill documented defaults.

The result is one `ResolvedExperiment` per variant: the values of the IR, where each came from, and
what rules need to point at the place a value was written. Findings carry the name of the first
experiment (in file order) that they concern.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
TYPE_CHECKING = False
if TYPE_CHECKING:  # (typing, for type checkers only, is not imported at run time)
    from typing import Any, Iterator

from tunespec import codes
from tunespec.record import Factory, Record
from tunespec.compiler.ast import ListValue
from tunespec.compiler.catalog import Catalog, ModelInfo, load_catalog
from tunespec.compiler.defaults import run_defaults
from tunespec.compiler.layers import Layer, Provenance, Setting, build_layer
from tunespec.spelling import did_you_mean
from tunespec.compiler.lineage import Lineage
from tunespec.compiler.loader import DeclRef, Program, SourceFile
from tunespec.compiler.names import variant_name
from tunespec.compiler.schema import EXPERIMENT_FIELDS, LANGUAGE_DEFAULTS, is_uri
from tunespec.diagnostics import Finding
from tunespec.location import Location
from tunespec.printable import encodable

DEFAULT_MAX_VARIANTS = 256
# The ceiling of `max-variants`: each variant is a training job, and a file of sweeps that asks for more is
# a mistake (and would take the memory of that many resolved experiments). Sweeps are counted, never
# expanded, past whichever limit is lower.
MAX_VARIANTS_LIMIT = 10_000
DATA_PATH_FIELDS = ("data.train", "data.validation")


class Written(Record):
    """A value one declaration writes: for a sweep, `value` is the tuple of its values."""

    value: Any
    location: Location
    swept: bool


class DeclarationWrites(Record):
    """What one declaration along an experiment's `extends` chain writes of some fields, and what its bases
    alone give them. `key` is the same for every experiment that extends the declaration (the id of its
    syntax node, which lives as long as the file: a lint drops lineages, whose ids may then be reused)."""

    key: int
    kind: str  # "preset" or "experiment"
    name: str
    own: bool  # the experiment's own declaration, not one of its bases
    written: dict  # path -> Written, for the fields it writes
    inherited: dict  # path -> the value its bases give (None where they give none)


class ResolvedExperiment(Record):
    """One variant of an experiment (or of a preset, which is checked but never built).

    Rules and targets ask it questions — a value, where it was written (`location_of`, `elements_of`),
    who wrote it (`written_by_itself`, `writes_along_extends`), a sweep (`sweep_of`) — rather than read the
    syntax tree behind `settings`, `sweeps` and `lineage`, which are the resolver's.
    """

    name: str
    ref: DeclRef
    values: dict[str, Any]
    provenance: dict[str, Provenance]
    variant: dict[str, Any] = Factory(dict)
    invalid: dict[str, Location] = Factory(dict)
    model: ModelInfo | None = None
    lineage: Lineage | None = None  # the declaration and its bases along `extends`, child first
    sweeps: dict[str, Setting] = Factory(dict)
    settings: dict[str, Setting] = Factory(dict)  # what was written (after inheritance), shared by variants
    blocks: dict[str, Location] = Factory(dict)
    local_files: dict[str, Path] = Factory(dict)
    complete: bool = True  # False when `extends` or an import failed: TS011 does not apply
    source: str = ""  # the declaring file, relative to the root

    @property
    def experiment(self) -> str:
        return self.ref.decl.name.value

    @property
    def is_preset(self) -> bool:
        return self.ref.decl.kind == "preset"

    @property
    def name_location(self) -> Location:
        return self.ref.location

    def get(self, path: str, default: Any = None) -> Any:
        return self.values.get(path, default)

    def is_set(self, path: str) -> bool:
        """Set by the experiment or a default, validly or not (an invalid value counts as set)."""
        return path in self.values or path in self.invalid

    def written(self, path: str) -> bool:
        provenance = self.provenance.get(path)
        return provenance is not None and provenance.location is not None

    def text_of(self, path: str) -> str:
        """The value as the user wrote it (`1e-5`), else as Python prints it."""
        provenance = self.provenance.get(path)
        if provenance is not None and provenance.text is not None:
            return provenance.text
        return repr(self.values.get(path))

    def location_of(self, *paths: str) -> Location:
        """Where a diagnostic about these fields points: the first one written, else the name."""
        for path in paths:
            if self.written(path):
                return self.provenance[path].location
        return self.name_location

    def changed_from(self, other: "ResolvedExperiment") -> set[str] | None:
        """The fields whose value (as shown: 1, 1.0 and True are equal, but messages show them apart) or
        provenance differ from `other`'s, another variant of the same declaration; None when more than
        fields differ (the model, the invalid values, which fields are set or in which order). A target
        check that reads none of these fields finds for this variant what it found for `other`."""
        values, provenance, other_values, other_provenance = self.values, self.provenance, other.values, other.provenance
        if self.model is not other.model or self.invalid != other.invalid or list(values) != list(other_values) \
                or list(provenance) != list(other_provenance):
            return None
        changed = {path for path, value in values.items() if not _shown_alike(value, other_values[path])}
        changed.update(path for path, origin in provenance.items()
                       if origin is not other_provenance[path] and origin != other_provenance[path])
        return changed

    @property
    def declaration_key(self) -> int:
        """The same for every variant of one declaration."""
        return id(self.ref.decl)

    def with_targets(self, names: list[str]) -> "ResolvedExperiment":
        """The variant as if it named `names`: `--target` replaces what the experiment wrote, so nothing
        may point at its own `targets` any more."""
        values = dict(self.values)
        values["targets"] = list(names)
        settings = {path: setting for path, setting in self.settings.items() if path != "targets"}
        return self.replace(values=values, settings=settings)

    def declarations(self) -> Iterator[tuple[int, Location]]:
        """Each declaration the variant is made from, child first along `extends`: a key that every
        experiment extending the same declaration shares (so an answer about it can be reused), and the
        place the whole declaration spans."""
        for node in self.lineage or ():
            yield id(node.ref.decl), Location(node.ref.file.display, node.ref.decl.span)

    def block_location(self, block: str) -> Location | None:
        """Where a block (`lora`, `prompt`) was written, by the experiment or a base; None if nowhere."""
        return self.blocks.get(block)

    def elements_of(self, path: str) -> list[tuple[Any, Location]]:
        """Each element of the list value of `path` with the place it was written; every element at
        `location_of(path)` when the list was not written as a list (a default)."""
        values = self.values.get(path)
        if values is None:
            return []
        setting = self.settings.get(path)
        if setting is None or not isinstance(setting.node, ListValue):
            where = self.location_of(path)
            return [(value, where) for value in values]
        file = setting.owner.file
        places = [file.location(item.span) for item in setting.node.items]
        where = self.location_of(path)
        return [(value, places[index] if index < len(places) else where) for index, value in enumerate(values)]

    def written_by_itself(self, path: str) -> bool:
        """Whether the experiment's own declaration wrote the value (not a base, not a default)."""
        setting = self.settings.get(path)
        return setting is not None and setting.owner.decl is self.ref.decl

    def is_language_default(self, path: str) -> bool:
        """Whether the value is tunespec's own default (not written, not a documented catalog default)."""
        provenance = self.provenance.get(path)
        return provenance is not None and provenance.location is None and \
            (provenance.origin or "").startswith("default")

    def fields_with_provenance(self) -> Iterator[str]:
        """Every field with a value or a recorded origin, in the order the resolver recorded them."""
        return iter(self.provenance)

    def sweep_of(self, path: str) -> Written | None:
        """The sweep of `path` (its values and where it was written), if the experiment sweeps it."""
        setting = self.sweeps.get(path)
        return Written(setting.value, setting.location, True) if setting is not None else None

    def writes_along_extends(self, *paths: str) -> Iterator[DeclarationWrites]:
        """For each declaration along `extends`, child first: which of `paths` it writes, and what its
        bases alone give them."""
        for node in self.lineage or ():
            settings = node.layer.settings
            merged = node.base.merged if node.base is not None else {}
            owner = node.ref.decl
            yield DeclarationWrites(
                key=id(owner), kind=owner.kind, name=owner.name.value, own=owner is self.ref.decl,
                written={path: Written(settings[path].value, settings[path].location, settings[path].swept)
                         for path in paths if path in settings},
                inherited={path: merged[path].value if path in merged else None for path in paths})


def _shown_alike(value: Any, other: Any) -> bool:
    return value is other or (type(value) is type(other) and value == other and repr(value) == repr(other))


class Resolver:
    def __init__(self, program: Program, catalog: Catalog | None = None, root: Path | None = None,
                 max_variants: int = DEFAULT_MAX_VARIANTS, overrides: dict | None = None) -> None:
        self.program = program
        self.overrides = overrides or {}  # path -> Setting from `--set` (compiler.overrides), over every experiment
        self.catalog = catalog or load_catalog()
        self.root = (root or program.cwd).absolute()
        self.max_variants = min(max_variants, MAX_VARIANTS_LIMIT)
        self.findings: list[tuple[Finding, str | None]] = []
        self._layers: dict[int, Layer] = {}
        self._lineages: dict[int, Lineage] = {}
        self._declared_models: dict[int, ModelInfo] = {}
        self._models: dict[tuple, ModelInfo | None] = {}
        self._placed: dict[tuple, tuple[Path, str]] = {}
        # A file's path as the IR writes it, worked out once per file rather than per declaration: every
        # variant holds it, and a lint keeps it for TS015 to the end of the run (a 10 MB file: 21,000
        # copies; 10,000 files: a copy each of the string its path is shown by, which `_source` shares).
        self._sources: dict[int, str] = {}

    def report(self, finding: Finding, experiment: str | None) -> None:
        self.findings.append((finding, experiment))

    # --- entry point ---------------------------------------------------------------------------------

    def resolve_roots(self) -> list[ResolvedExperiment]:
        """Experiments of the root files in file order, then their presets; model declarations checked."""
        return [exp for variants in self.declarations() for exp in variants]

    def declarations(self, forget: bool = False) -> Iterator[list[ResolvedExperiment]]:
        """The variants of each declaration of the root files, one declaration at a time, in the order of
        `resolve_roots` (which is this, flattened); model declarations are checked after the last.

        With `forget`, what the resolver made for a declaration that nothing `extends` (its layer and
        lineage) is dropped once the caller has its variants, so that a lint holds one declaration's
        variants at a time, not a whole file's (a 10 MB file: 35 bytes per source byte less); and so is its
        body, unless another batch may read the file (an imported file is kept for the run): nothing reads
        it again, and the findings a file's declarations make then take the place of its syntax tree
        (peak memory of a 10 MB file: 15.3 bytes per source byte before, 13.6 after)."""
        refs = [DeclRef(decl, source) for source in self.program.roots if source.module
                for decl in source.module.declarations]
        extended = self._extended_names() if forget else set()
        for kind in ("experiment", "preset"):
            for ref in refs:
                if ref.decl.kind == kind:
                    yield self.resolve(ref)
                    if forget and ref.decl.name.value not in extended:
                        self._layers.pop(id(ref.decl), None)
                        self._lineages.pop(id(ref.decl), None)
                        if id(ref.file) not in self.program.shared_ids:
                            ref.decl.members = ()
        for ref in refs:
            if ref.decl.kind == "model":
                self.declared_model(ref)
        for source in self.program.roots:
            self.program.scope(source)

    def _extended_names(self) -> set[str]:
        """Every name some declaration of the program `extends` (a declaration of another name is nobody's
        base, so its layer and lineage serve only its own variants)."""
        return {decl.extends.value for source in self.program.files.values() if source.module
                for decl in source.module.declarations if decl.extends is not None}

    def resolve(self, ref: DeclRef) -> list[ResolvedExperiment]:
        name = ref.decl.name.value
        lineage = self.lineage(ref, name)
        merged = lineage.merged
        if self.overrides and ref.decl.kind == "experiment":
            merged = {**merged, **self.overrides}
        sweeps = {path: merged[path] for path in EXPERIMENT_FIELDS if path in merged and merged[path].swept}
        if not self._variant_count_ok(sweeps, name):
            return []
        base = _Base(ref, lineage, merged, lineage.invalid, lineage.blocks, sweeps,
                     lineage.followed and lineage.complete, self._source(ref.file))
        for path in EXPERIMENT_FIELDS:
            setting = merged.get(path)
            if setting is not None and path not in sweeps:
                base.values[path] = setting.value
                base.provenance[path] = setting.provenance()
        choices = [dict(zip(sweeps, choice))
                   for choice in itertools.product(*(range(len(s.value)) for s in sweeps.values()))]
        names = [variant_name(name, {path: sweeps[path].value[index] for path, index in choice.items()})
                 for choice in choices]
        return [self._variant(base, choice, variant) for choice, variant in zip(choices, names)]

    def _source(self, file: SourceFile) -> str:
        found = self._sources.get(id(file))
        if found is None:
            found = encodable(_relative(file.path, self.root))
            found = self._sources[id(file)] = file.display if found == file.display else found
        return found

    # --- declarations, chains, layers ---------------------------------------------------------------

    def layer(self, ref: DeclRef, experiment: str | None) -> Layer:
        key = id(ref.decl)
        if key not in self._layers:
            self._layers[key] = build_layer(ref)
            for finding in self._layers[key].findings:
                self.report(finding, experiment)
        return self._layers[key]

    def lineage(self, ref: DeclRef, experiment: str) -> Lineage:
        """The declaration's lineage, made once per declaration (and shared by all that extend it).

        The walk up `extends` stops at the first declaration whose lineage is known, at the root of the
        chain, at a base that cannot be followed (TS008) or at a cycle (TS009: the cycle's last member
        gets no base); the nodes are then made from the top down. A loop, not a recursion."""
        found = self._lineages.get(id(ref.decl))
        if found is not None:
            return found
        path, position, top, followed = [ref], {id(ref.decl): 0}, None, True
        current = ref
        while current.decl.extends is not None:
            base = current.decl.extends
            scope = self.program.scope(current.file)
            target = scope.names.get(base.value)
            problem = self._extends_problem(current, target, scope.complete)
            if problem is not None:
                if problem:
                    message, help = problem
                    self.report(Finding(codes.UNKNOWN_BASE, current.file.location(base.span), message, help), experiment)
                followed = False
                break
            top = self._lineages.get(id(target.decl))
            if top is not None:
                break
            if id(target.decl) in position:
                self._report_cycle(path[position[id(target.decl)]:], experiment)
                followed = False
                break
            position[id(target.decl)] = len(path)
            path.append(target)
            current = target
        for index in range(len(path) - 1, -1, -1):
            link = path[index]
            top = Lineage(link, self.layer(link, experiment), top, followed or index < len(path) - 1,
                          self.program.scope(link.file).complete)
            self._lineages[id(link.decl)] = top
        return top

    def _extends_problem(self, current: DeclRef, target: DeclRef | None, scope_complete: bool):
        """None when `target` may be extended; () to stop quietly; else (message, help) for TS008."""
        base = current.decl.extends.value
        if target is None:
            if not scope_complete:
                return ()  # the base may be in the import that failed, which is reported already
            names = [n for n, r in self.program.scope(current.file).names.items() if r.decl.kind != "model"]
            return (f"`{base}` is not a preset or experiment declared in this file or the files it imports",
                    did_you_mean(base, names) or "declare it, or import the file that declares it")
        if target.decl.kind == "model":
            return f"`{base}` is a model declaration; only presets and experiments can be extended", None
        if current.decl.kind == "preset" and target.decl.kind == "experiment":
            return (f"preset `{current.decl.name.value}` cannot extend the experiment `{base}`",
                    f"a preset may extend only presets; make `{base}` a preset")
        return None

    def _report_cycle(self, cycle: list[DeclRef], experiment: str) -> None:
        start = min(range(len(cycle)), key=lambda i: (cycle[i].file.display, cycle[i].decl.name.span.line,
                                                      cycle[i].decl.name.span.column))
        ordered = cycle[start:] + cycle[:start]
        closing = ordered[-1]
        names = " → ".join(ref.decl.name.value for ref in (*ordered, ordered[0]))
        self.report(Finding(codes.INHERITANCE_CYCLE, closing.file.location(closing.decl.extends.span),
                            f"inheritance cycle: {names}", "remove one `extends` of the cycle"), experiment)

    def declared_model(self, ref: DeclRef) -> ModelInfo:
        key = id(ref.decl)
        if key not in self._declared_models:
            layer = self.layer(ref, None)
            model = _model_from_layer(ref, layer, self.catalog)
            if model.path is not None and not os.path.isabs(model.path):
                local = Path(os.path.normpath(ref.file.path.parent / model.path))
                model = model.replace(path=_relative(local, self.root))
            self._declared_models[key] = model
        return self._declared_models[key]

    # --- one variant ---------------------------------------------------------------------------------

    def _variant_count_ok(self, sweeps: dict[str, Setting], experiment: str) -> bool:
        count = 1
        for setting in sweeps.values():
            count *= len(setting.value)
            if count > self.max_variants:
                total = 1  # (not math.prod: see `ast._INFINITIES`)
                for each in sweeps.values():
                    total *= len(each.value)
                self.report(Finding(
                    codes.INVALID_SWEEP, setting.location,
                    f"the sweeps of `{experiment}` make {total} variants, more than max-variants ({self.max_variants})",
                    "sweep fewer values, split the experiment, or raise `max-variants` in [tool.tunespec] "
                    f"(at most {MAX_VARIANTS_LIMIT})",
                ), experiment)
                return False
        return True

    def _variant(self, base: "_Base", choice: dict[str, int], name: str) -> ResolvedExperiment:
        values = dict(base.values)
        provenance = dict(base.provenance)
        for path, index in choice.items():
            setting = base.sweeps[path]
            values[path] = setting.value[index]
            provenance[path] = setting.provenance(index)
        exp = ResolvedExperiment(
            name=name, ref=base.ref, values=values, provenance=provenance,
            variant={path: values[path] for path in choice}, invalid=dict(base.invalid), lineage=base.lineage,
            sweeps=base.sweeps, settings=base.merged, blocks=base.blocks, complete=base.complete,
            source=base.source,
        )
        exp.model = self._model(exp, base, base.ref.decl.name.value)
        self._apply_defaults(exp)
        self._place_data_files(exp, base)
        _resolve_target_modules(exp)
        exp.values = {path: exp.values[path] for path in VALUE_ORDER if path in exp.values}
        return exp

    def _model(self, exp: ResolvedExperiment, base: "_Base", experiment: str) -> ModelInfo | None:
        name = exp.values.get("model")
        if name is None:
            return None
        key = (name, id(exp.ref.file), id(self._owner_file(base, "model", exp)))
        if key not in self._models:
            self._models[key] = self._find_model(exp, base, experiment, name)
        return self._models[key]

    def _find_model(self, exp: ResolvedExperiment, base: "_Base", experiment: str, name: str) -> ModelInfo | None:
        visible = list(self._visible_models(exp.ref.file, self._owner_file(base, "model", exp)))
        for ref in visible:
            if ref.decl.name.value.lower() == name.lower():
                return self.declared_model(ref)
        info = self.catalog.find_model(name)
        if info is None:
            where = exp.provenance["model"].location or exp.name_location
            candidates = self.catalog.model_names() + [ref.decl.name.value for ref in visible]
            help = did_you_mean(name, candidates)
            help = f"{help} Or declare it: `model \"{name}\" {{ family = ... }}`" if help else (
                f'declare it with `model "{name}" {{ family = ... }}` to enable model-aware checks')
            self.report(Finding(codes.UNKNOWN_MODEL, where, f"model `{name}` is not in the catalog and not declared: "
                                "model-aware rules are skipped", help), experiment)
        return info

    def _is_override(self, path: str, setting: Setting) -> bool:
        """Whether `setting` is the `--set` of `path` (which no file wrote)."""
        return self.overrides.get(path) is setting

    def _owner_file(self, base: "_Base", path: str, exp: ResolvedExperiment):
        """The file that wrote `path`: the experiment's own for a value set on the command line."""
        setting = base.merged[path]
        return exp.ref.file if self._is_override(path, setting) else setting.owner.file

    def _visible_models(self, *files) -> Iterator[DeclRef]:
        """Model declarations in scope where the experiment is declared and where `model` was written."""
        for source in dict.fromkeys(files):
            for ref in self.program.scope(source).names.values():
                if ref.decl.kind == "model":
                    yield ref

    def _apply_defaults(self, exp: ResolvedExperiment) -> None:
        method = exp.values.get("method")
        if exp.model is not None and method is not None:
            table = self.catalog.defaults_for(exp.model.id, method, exp.values.get("task"))
            if table is not None:
                for path, value in table.values.items():
                    if not exp.is_set(path):
                        exp.values[path] = list(value) if isinstance(value, list) else value
                        exp.provenance[path] = _default(table.label)
        for path, value in LANGUAGE_DEFAULTS.items():
            if not exp.is_set(path):
                exp.values[path] = value
                exp.provenance[path] = _default("default")
        if not exp.is_set("output_dir"):
            exp.values["output_dir"] = f"runs/{exp.experiment}"
            exp.provenance["output_dir"] = _default("default: runs/<experiment name>")
        for path, value, origin in run_defaults(exp.values, exp.model, exp.is_set):
            exp.values[path] = value
            exp.provenance[path] = _default(origin)

    def _place_data_files(self, exp: ResolvedExperiment, base: "_Base") -> None:
        """Data paths are written relative to their file; the IR holds them relative to the root."""
        for path in DATA_PATH_FIELDS:
            value = exp.values.get(path)
            if value is None or is_uri(value):
                continue
            if self._is_override(path, base.merged[path]):  # --set: relative to the current folder
                folder = self.program.cwd
            else:
                folder = base.merged[path].owner.file.path.parent
            key = (str(folder), value)
            if key not in self._placed:
                local = Path(os.path.normpath(folder / value))
                self._placed[key] = (local, _relative(local, self.root))
            exp.local_files[path], exp.values[path] = self._placed[key]


class _Base(Record):
    """What all variants of one declaration share."""

    ref: DeclRef
    lineage: Lineage
    merged: dict[str, Setting]
    invalid: dict[str, Location]
    blocks: dict[str, Location]
    sweeps: dict[str, Setting]
    complete: bool
    source: str
    values: dict[str, Any] = Factory(dict)  # what every variant shares, in field order
    provenance: dict[str, Provenance] = Factory(dict)


# The language's field order, with the derived `lora.resolved_target_modules` after `target_modules`.
VALUE_ORDER = {path: index for index, path in enumerate(
    field for path in EXPERIMENT_FIELDS
    for field in ((path, "lora.resolved_target_modules") if path == "lora.target_modules" else (path,)))}


def _resolve_target_modules(exp: ResolvedExperiment) -> None:
    """`lora.resolved_target_modules`: the layer names the adapters go on, when the model says."""
    targets = exp.values.get("lora.target_modules")
    model = exp.model
    if targets is None or model is None:
        return
    if targets == ["all-linear"]:
        resolved = model.layers
    elif not targets:
        resolved = model.default_targets
    elif "all-linear" in targets:
        resolved = None
    else:
        resolved = tuple(targets)
    if resolved is not None:
        exp.values["lora.resolved_target_modules"] = list(resolved)
        exp.provenance["lora.resolved_target_modules"] = Provenance(
            origin=f"lora.target_modules on {model.origin} ({model.family or 'unknown'} layers)")


def _model_from_layer(ref: DeclRef, layer: Layer, catalog: Catalog) -> ModelInfo:
    values = {path: setting.value for path, setting in layer.settings.items()}
    family = catalog.families.get(values.get("family"))
    model_id = ref.decl.name.value

    def listed(name: str, inherited):
        return tuple(values[name]) if name in values else inherited

    return ModelInfo(
        id=model_id,
        hf_id=values.get("hf_id", model_id),
        watsonx_id=values.get("watsonx_id", model_id),
        path=values.get("path"),
        family=values.get("family"),
        layers=listed("layers", family.layers if family else None),
        default_targets=listed("default_targets", family.default_targets if family else None),
        module_widths=dict(family.module_widths) if family else {},
        ratios=dict(family.ratios) if family else {},
        output_layer=family.output_layer if family else None,
        decoder_only=values.get("decoder_only", family.decoder_only if family else None),
        context_window=values.get("context_window"),
        parameters=values.get("parameters"),
        hidden_size=values.get("hidden_size"),
        num_layers=values.get("num_layers"),
        vocab_size=values.get("vocab_size"),
        intermediate_size=values.get("intermediate_size"),
        num_attention_heads=values.get("num_attention_heads"),
        num_key_value_heads=values.get("num_key_value_heads"),
        instruction_tuned=values.get("instruction_tuned", False),
        quantized=values.get("quantized", False),
        methods=listed("methods", None),
        declared_at=str(ref.location),
    )


def _relative(path: Path, root: Path) -> str:
    return Path(os.path.relpath(path, root)).as_posix()


_defaults: dict[str, Provenance] = {}


def _default(origin: str) -> Provenance:
    """The provenance of a default, one object per origin for every variant it fills (a sweep of 10,000
    variants would otherwise hold 10,000 copies of each): provenances are never changed once made."""
    found = _defaults.get(origin)
    if found is None:
        if len(_defaults) > 10_000:  # origins name models and tasks: bounded in practice, bounded here
            _defaults.clear()
        found = _defaults[origin] = Provenance(origin=origin)
    return found
