"""Completion: where the cursor is, read from the text before it, and what may be written there.

A buffer being typed rarely parses, so the place is found by scanning the text up to the cursor for the
brackets it is inside (which declaration, which block, which list) and the token before it (`=`,
`extends`), not by the parser. What may be written comes from the language's own tables: the fields of
`tunespec/compiler/schema.py` (a field added there is offered at once), their allowed values, the catalog's
models, the targets, and the names the file can see.
"""

from __future__ import annotations

import re

from tunespec.compiler.catalog import load_catalog
from tunespec.compiler.schema import BLOCK_ORDER, EXPERIMENT_FIELDS, MODEL_FIELDS, FieldSpec, Kind, fields_in
from tunespec.record import Factory, Record
from tunespec.server.documents import Analysis

KEYWORDS = ("import", "preset", "experiment", "model")

_TOKEN = re.compile(r'''
    (?P<long>"""(?:[^"]|"(?!""))*(?:"""|\Z))
  | (?P<string>"(?:[^"\\\n]|\\.)*"?)
  | (?P<comment>\#[^\n]*)
  | (?P<name>[A-Za-z_][A-Za-z0-9_-]*)
  | (?P<number>-?[0-9][A-Za-z0-9_.+-]*)
  | (?P<punct>[{}\[\]=,])
  | (?P<space>\s+)
  | (?P<other>.)
''', re.X)


class Token(Record):
    kind: str
    text: str
    start: int
    end: int


class Frame(Record):
    """A bracket the cursor is inside: a declaration's body, a block's, or a list (with its field)."""

    kind: str  # "decl", "block" or "list"
    name: str = ""  # the declaration's kind, the block's name, the list's field name
    declared: str = ""  # for a declaration: its name


class Context(Record):
    """Where the cursor is, and the span of text a completion replaces (the word being typed)."""

    kind: str  # "top", "member", "value", "extends" or "none"
    start: int
    end: int
    decl: str = ""  # "experiment", "preset" or "model"
    declared: str = ""  # the declaration's name
    block: str = ""
    field: str = ""  # for a value: the field's dotted path
    frames: list = Factory(list)


def tokens(text: str) -> list[Token]:
    return [Token(m.lastgroup, m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text)
            if m.lastgroup != "space"]


def context_at(text: str, offset: int) -> Context:
    """The context of a completion at `offset` (an index into `text`)."""
    found = tokens(text[:offset])
    start, end = offset, offset
    if found and found[-1].end == offset:
        last = found[-1]
        if last.kind in ("comment", "long", "other", "number") or (last.kind == "string" and _closed(last.text)):
            return Context("none", start, end)
        if last.kind in ("name", "string"):
            found.pop()
            start = last.start
            if last.kind == "string" and text[offset:offset + 1] == '"':
                end = offset + 1  # the quote an editor closed by itself is replaced too
    frames = _frames(found)
    significant = [token for token in found if token.kind != "comment"]
    previous = significant[-1].text if significant else ""
    declaration = next((frame for frame in reversed(frames) if frame.kind == "decl"), None)
    if declaration is None:
        if previous == "extends":
            return Context("extends", start, end)
        return Context("none" if previous in KEYWORDS else "top", start, end)
    block = next((frame.name for frame in reversed(frames) if frame.kind == "block"), "")
    common = dict(decl=declaration.name, declared=declaration.declared, block=block, frames=frames)
    if frames[-1].kind == "list":
        return Context("value", start, end, field=_path(block, frames[-1].name, declaration.name), **common)
    if previous == "sweep" and len(significant) > 1:
        significant.pop()
        previous = significant[-1].text
    if previous == "=" and len(significant) > 1:
        return Context("value", start, end, field=_path(block, significant[-2].text, declaration.name), **common)
    return Context("member", start, end, **common)


def _closed(string: str) -> bool:
    return len(string) > 1 and string.endswith('"') and not string.endswith('\\"')


def _path(block: str, name: str, decl: str) -> str:
    return f"{block}.{name}" if block and decl != "model" else name


def _frames(found: list[Token]) -> list[Frame]:
    """The brackets open at the end of `found`, outermost first."""
    frames: list[Frame] = []
    header: list[Token] = []  # the tokens since the last bracket or top-level declaration keyword
    for index, token in enumerate(found):
        if token.kind == "comment":
            continue
        if token.text == "{":
            if not frames:
                keyword = next((t.text for t in header if t.text in KEYWORDS[1:]), "experiment")
                names = [t.text.strip('"') for t in header if t.kind in ("name", "string") and t.text not in KEYWORDS]
                frames.append(Frame("decl", keyword, names[0] if names else ""))
            else:
                frames.append(Frame("block", header[-1].text if header else ""))
            header = []
        elif token.text == "}":
            while frames and frames[-1].kind == "list":
                frames.pop()
            if frames:
                frames.pop()
            header = []
        elif token.text == "[" and frames:
            before = [t for t in found[:index] if t.kind != "comment"]
            field = before[-2].text if len(before) > 1 and before[-1].text == "=" else \
                (before[-3].text if len(before) > 2 and before[-1].text == "sweep" else "")
            inherited = frames[-1].name if frames[-1].kind == "list" else field
            frames.append(Frame("list", inherited))
        elif token.text == "]":
            if frames and frames[-1].kind == "list":
                frames.pop()
        else:
            if not frames and token.text in KEYWORDS:
                header = []
            header.append(token)
    return frames


# --- what may be written -------------------------------------------------------------------------------

class Candidate(Record):
    label: str
    kind: str  # "field", "block", "value", "model", "keyword", "reference"
    insert: str
    detail: str = ""


def candidates(context: Context, analysis: Analysis | None) -> list[Candidate]:
    if context.kind == "top":
        return [Candidate(word, "keyword", word) for word in KEYWORDS]
    if context.kind == "extends":
        return _bases(analysis)
    if context.kind == "member":
        return _members(context)
    if context.kind == "value":
        return _values(context, analysis)
    return []


def _members(context: Context) -> list[Candidate]:
    if context.decl == "model":
        return [Candidate(spec.path, "field", spec.path, spec.kind.words) for spec in MODEL_FIELDS.values()]
    if context.block and context.block not in BLOCK_ORDER:
        return []
    out = []
    for name in fields_in(context.block):
        if not context.block and name in BLOCK_ORDER:
            out.append(Candidate(name, "block", name, "block: " + ", ".join(fields_in(name))))
        else:
            spec = EXPERIMENT_FIELDS[f"{context.block}.{name}" if context.block else name]
            out.append(Candidate(name, "field", name, _describe(spec)))
    return out


def _describe(spec: FieldSpec) -> str:
    found = load_catalog().ranges.get(spec.path)
    return spec.kind.words + (f", documented range {found.describe()}" if found is not None else "")


def _values(context: Context, analysis: Analysis | None) -> list[Candidate]:
    table = MODEL_FIELDS if context.decl == "model" else EXPERIMENT_FIELDS
    spec = table.get(context.field)
    if spec is None:
        return []
    if spec.choices:
        return [Candidate(choice, "value", choice, spec.path) for choice in spec.choices]
    if spec.kind is Kind.BOOL:
        return [Candidate(word, "value", word, spec.path) for word in ("true", "false")]
    if table is MODEL_FIELDS:
        if spec.path == "family":
            return [Candidate(name, "value", name, "catalog family") for name in load_catalog().families]
        return []
    if spec.path == "model":
        return _models(analysis)
    if spec.path == "targets":
        from tunespec.templates.targets import all_targets

        return [Candidate(name, "value", name, target.summary) for name, target in all_targets([]).items()]
    if spec.path == "lora.target_modules":
        return _modules(context, analysis)
    return []


def _models(analysis: Analysis | None) -> list[Candidate]:
    """The catalog's ids and aliases, and the models the file declares or imports."""
    out = []
    for info in load_catalog().models.values():
        detail = f"catalog: {info.family or 'model'}" + (f", {info.parameters / 1e9:g}B parameters"
                                                         if info.parameters else "")
        out.append(Candidate(info.id, "model", _quoted(info.id), detail))
        out += [Candidate(alias, "model", _quoted(alias), f"alias of {info.id}") for alias in info.aliases]
    for name, ref in _scope(analysis).items():
        if ref.decl.kind == "model":
            out.append(Candidate(name, "model", ref.decl.name.raw or _quoted(name), f"declared at {ref.location}"))
    return out


def _modules(context: Context, analysis: Analysis | None) -> list[Candidate]:
    """`all-linear` and the layer names of the declaration's model, as resolved."""
    layers: list[str] = []
    for exp in analysis.result.resolved if analysis is not None else ():
        if exp.experiment == context.declared and exp.model is not None and exp.model.layers:
            layers = list(exp.model.layers)
            break
    return [Candidate(name, "value", _quoted(name), "lora.target_modules") for name in ("all-linear", *layers)]


def _bases(analysis: Analysis | None) -> list[Candidate]:
    return [Candidate(name, "reference", name, f"{ref.decl.kind} at {ref.location}")
            for name, ref in _scope(analysis).items() if ref.decl.kind in ("preset", "experiment")]


def _scope(analysis: Analysis | None) -> dict:
    if analysis is None or analysis.source is None or analysis.module is None:
        return {}
    return analysis.result.program.scope(analysis.source).names


def _quoted(text: str) -> str:
    import json

    return json.dumps(text, ensure_ascii=False)
