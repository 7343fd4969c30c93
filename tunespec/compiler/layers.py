"""From the body of one declaration to a checked layer of settings (TS002–TS005, TS012).

A layer is what one preset, experiment or model declaration writes, keyed by dotted field path.
A value with an error is recorded as *invalid*: it counts as set (no TS011 for it) and is otherwise
ignored, so no rule reasons about a value already reported as wrong ("No cascades", RULES.md).
"""

from __future__ import annotations

import re
TYPE_CHECKING = False
if TYPE_CHECKING:  # (typing, for type checkers only, is not imported at run time)
    from typing import Any

from tunespec import codes
from tunespec.record import Factory, Record
from tunespec.compiler.ast import (
    Assignment, Block, Bool, Ident, ListValue, Number, Str, Sweep, Value, members_of, source_text, type_name,
)
from tunespec.compiler.loader import DeclRef
from tunespec.compiler.names import variant_token
from tunespec.compiler.schema import BLOCK_ORDER, EXPERIMENT_FIELDS, MODEL_FIELDS, FieldSpec, Kind, fields_in
from tunespec.diagnostics import Finding
from tunespec.location import Location
from tunespec.spelling import did_you_mean


class Provenance(Record):
    """Where a resolved value came from: a place in a file, or a catalog or language default."""

    location: Location | None = None
    declaration: str | None = None  # "preset granite_lora"
    origin: str | None = None  # "catalog: ibm/granite-3-1-8b-base lora default", "default", ...
    swept: bool = False
    text: str | None = None  # the value as written (`1e-5`), for messages

    def __str__(self) -> str:
        if self.location is None:
            return self.origin or "default"
        notes = [note for note in (self.declaration, "sweep" if self.swept else None) if note]
        return f"{self.location} ({', '.join(notes)})" if notes else str(self.location)


class Setting(Record):
    """A valid value written for one field: for a sweep, `value` is the tuple of its values."""

    path: str
    value: Any
    node: Value
    owner: DeclRef
    made: dict = Factory(dict)  # provenance by sweep index, made once and shared by every variant

    @property
    def swept(self) -> bool:
        return isinstance(self.node, Sweep)

    @property
    def location(self) -> Location:
        return self.owner.file.location(self.node.span)

    def provenance(self, index: int | None = None) -> Provenance:
        """Where the value (or, for a sweep, its element `index`) was written; made once, shared by variants."""
        found = self.made.get(index)
        if found is None:
            node = self.node if index is None else self.node.items[index]
            owner = f"{self.owner.decl.kind} {self.owner.decl.name.value}"
            found = Provenance(self.owner.file.location(node.span), owner, swept=index is not None,
                               text=source_text(node))
            self.made[index] = found
        return found


class Layer(Record):
    owner: DeclRef
    settings: dict[str, Setting] = Factory(dict)
    invalid: dict[str, Location] = Factory(dict)
    blocks: dict[str, Location] = Factory(dict)
    findings: list[Finding] = Factory(list)


def build_layer(owner: DeclRef) -> Layer:
    """Check a declaration's body against the language's fields and collect what it sets."""
    layer = Layer(owner)
    builder = _LayerBuilder(layer, MODEL_FIELDS if owner.decl.kind == "model" else EXPERIMENT_FIELDS)
    builder.members(members_of(owner.decl, owner.file.text), "")
    return layer


class _LayerBuilder:
    def __init__(self, layer: Layer, table: dict[str, FieldSpec]) -> None:
        self.layer = layer
        self.table = table
        self.is_model = table is MODEL_FIELDS
        self.first_seen: dict[str, Assignment] = {}  # (a node: its name's span is made only when needed)

    def report(self, code: str, node_span, message: str, help: str | None = None) -> None:
        self.layer.findings.append(Finding(code, self.layer.owner.file.location(node_span), message, help))

    def members(self, members, block: str) -> None:
        for member in members:
            if isinstance(member, Block):
                self.block(member, block)
            else:
                self.assignment(member, block)

    def block(self, node: Block, parent: str) -> None:
        if parent or self.is_model or node.name not in BLOCK_ORDER:
            self.unknown_block(node, parent)
            return
        here = self.layer.owner.file.location(node.name_span)
        if node.name in self.layer.blocks:
            self.report(codes.DUPLICATE_FIELD, node.name_span,
                        f"block `{node.name}` is given twice in this body (first at {self.layer.blocks[node.name]})",
                        "merge the two blocks into one")
        else:
            self.layer.blocks[node.name] = here
        self.members(node.members, node.name)

    def unknown_block(self, node: Block, parent: str) -> None:
        if parent:
            self.report(codes.UNKNOWN_FIELD, node.name_span, f"unknown block `{node.name}` inside `{parent}`: blocks do not nest")
            return
        known = () if self.is_model else BLOCK_ORDER
        path = node.name
        if path in self.table:
            message = f"`{node.name}` is a field, not a block"
            help = f"write `{node.name} = ...`"
        else:
            message = f"unknown block `{node.name}`"
            help = did_you_mean(node.name, known)
        self.report(codes.UNKNOWN_FIELD, node.name_span, message, help)

    def assignment(self, node: Assignment, block: str) -> None:
        path = f"{block}.{node.name}" if block else node.name
        spec = self.table.get(path)
        if spec is None:
            self.unknown_field(node, block, path)
            return
        if path in self.first_seen:
            where = "in this block" if block else "in this body"
            first = self.layer.owner.file.location(self.first_seen[path].name_span)
            self.report(codes.DUPLICATE_FIELD, node.name_span, f"`{path}` is given twice {where} (first at {first})",
                        "remove one of them")
            return
        self.first_seen[path] = node
        value = self.check(spec, node.value)
        if value is _INVALID:
            self.layer.invalid[path] = self.layer.owner.file.location(node.value.span)
        else:
            self.layer.settings[path] = Setting(path, value, node.value, self.layer.owner)

    def unknown_field(self, node: Assignment, block: str, path: str) -> None:
        if not block and not self.is_model and node.name in BLOCK_ORDER:
            kind = codes.INVALID_SWEEP if isinstance(node.value, Sweep) else codes.WRONG_TYPE
            message = (f"cannot sweep `{node.name}`: it is a block" if kind == codes.INVALID_SWEEP
                       else f"`{node.name}` is a block, not a field")
            self.report(kind, node.value.span, message, f"write `{node.name} {{ ... }}`")
            return
        where = f"in `{block}`" if block else ("in a model declaration" if self.is_model else "")
        message = f"unknown field `{node.name}` {where}".rstrip()
        help = did_you_mean(node.name, fields_in(block, self.table))
        if help is None:
            home = [spec.block for spec in self.table.values() if spec.name == node.name and spec.block != block]
            if home:
                help = f"`{node.name}` belongs in the `{home[0]}` block" if home[0] else f"`{node.name}` belongs at the top of the body"
        self.report(codes.UNKNOWN_FIELD, node.name_span, message, help)

    # --- values -------------------------------------------------------------------------------------

    def check(self, spec: FieldSpec, node: Value) -> Any:
        if isinstance(node, Sweep):
            return self.sweep(spec, node)
        if spec.kind.is_list:
            return self.list_value(spec, node)
        return self.scalar(spec, node)

    def sweep(self, spec: FieldSpec, node: Sweep) -> Any:
        if self.is_model:
            self.report(codes.INVALID_SWEEP, node.span, "sweeps are not allowed in a model declaration")
            return _INVALID
        if spec.kind.is_list:
            self.report(codes.INVALID_SWEEP, node.span, f"cannot sweep `{spec.path}`: sweeps apply to single values, not lists",
                        "write one experiment per list, or sweep a scalar field")
            return _INVALID
        if not node.items:
            self.report(codes.INVALID_SWEEP, node.span, f"the sweep of `{spec.path}` is empty", "list at least one value")
            return _INVALID
        values = []
        for item in node.items:
            if isinstance(item, Sweep):
                self.report(codes.INVALID_SWEEP, item.span, "sweeps cannot be nested", "list the values in one sweep")
                values.append(_INVALID)
                continue
            values.append(self.scalar(spec, item))
        if _INVALID in values:
            return _INVALID
        return self.distinct(spec, node, values)

    def distinct(self, spec: FieldSpec, node: Sweep, values: list) -> Any:
        seen: dict[Any, int] = {}
        tokens: dict[str, int] = {}
        for index, value in enumerate(values):
            key = (type(value) is bool, value)
            if key in seen:
                self.report(codes.INVALID_SWEEP, node.items[index].span,
                            f"the sweep of `{spec.path}` lists {source_text(node.items[index])} twice",
                            "each value makes one variant; remove the repeat")
                return _INVALID
            seen[key] = index
            token = variant_token(value)
            if token in tokens:
                first = node.items[tokens[token]]
                self.report(codes.INVALID_SWEEP, node.items[index].span,
                            f"the sweep of `{spec.path}` lists {source_text(first)} and {source_text(node.items[index])}, "
                            f"which make one variant name (`{spec.name}-{token}`): the second would overwrite the first",
                            "variant names keep letters, digits and `. _ + -`; make the values differ in those")
                return _INVALID
            tokens[token] = index
        return tuple(values)

    def list_value(self, spec: FieldSpec, node: Value) -> Any:
        if not isinstance(node, ListValue):
            example = f'["{node.value}"]' if isinstance(node, (Str, Ident)) else "[...]"
            self.report(codes.WRONG_TYPE, node.span, f"`{spec.path}` must be {spec.kind.words}, found {type_name(node)}",
                        f"write `{spec.name} = {example}`")
            return _INVALID
        element = Kind.STRING if spec.kind is Kind.STRING_LIST else Kind.IDENT
        item_spec = FieldSpec(spec.path, element, spec.choices, spec.aliases)
        values = [self.scalar(item_spec, item, in_list=True) for item in node.items]
        return _INVALID if _INVALID in values else values

    def scalar(self, spec: FieldSpec, node: Value, in_list: bool = False) -> Any:
        kind = spec.kind
        if kind is Kind.STRING and isinstance(node, Str):
            return node.value
        if kind is Kind.INT and isinstance(node, Number) and isinstance(node.value, int):
            return node.value
        if kind is Kind.FLOAT and isinstance(node, Number):
            return float(node.value)
        if kind is Kind.NUMBER and isinstance(node, Number):
            return node.value
        if kind is Kind.BOOL and isinstance(node, Bool):
            return node.value
        if kind is Kind.IDENT and isinstance(node, Ident):
            return self.choice(spec, node)
        what = f"each element of `{spec.path}`" if in_list else f"`{spec.path}`"
        self.report(codes.WRONG_TYPE, node.span, f"{what} must be {kind.words}, found {type_name(node)} ({source_text(node)})",
                    _type_help(spec, node))
        return _INVALID

    def choice(self, spec: FieldSpec, node: Ident) -> Any:
        if spec.choices is None or node.value in spec.choices:
            return node.value
        aliases = dict(spec.aliases)
        if node.value in aliases:
            help = (f"did you mean `{aliases[node.value]}`? watsonx.ai calls it `{node.value}`; "
                    f"tunespec writes `{spec.name} = {aliases[node.value]}`")
        else:
            help = did_you_mean(node.value, spec.choices) or f"choose one of: {', '.join(spec.choices)}"
        self.report(codes.UNKNOWN_ENUM_VALUE, node.span, f"unknown {spec.name} `{node.value}`", help)
        return _INVALID


_INVALID = object()
IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_-]*"  # compiled by `re` when a help needs it


def _type_help(spec: FieldSpec, node: Value) -> str | None:
    if spec.kind is Kind.IDENT and isinstance(node, Str):
        return f"write `{node.value}` without quotes" if re.fullmatch(IDENTIFIER, node.value) else None
    if spec.kind is Kind.STRING and isinstance(node, (Ident, Number, Bool)):
        return f'write "{source_text(node)}" in double quotes'
    if spec.kind in (Kind.INT, Kind.FLOAT, Kind.NUMBER) and isinstance(node, Str):
        return f"write the number without quotes: `{node.value}`" if _looks_numeric(node.value) else None
    if spec.kind is Kind.INT and isinstance(node, Number):
        return "write a whole number"
    if spec.kind is Kind.BOOL:
        return "write `true` or `false`"
    return None


def _looks_numeric(text: str) -> bool:
    try:
        float(text.replace("_", ""))
    except ValueError:
        return False
    return True
