"""The `.tune` text of an import: every value with a comment naming the key it came from, what was not
imported as comments at the top, all in `tunespec fmt`'s canonical layout (the formatter has the last word).
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from typing import Any

from tunespec.compiler.schema import BLOCK_ORDER, EXPERIMENT_FIELDS, MODEL_FIELDS, FieldSpec, Kind
from tunespec.importer.draft import Draft, Entry
from tunespec.importer.reader import Lost

SHOWN = 60  # characters of a value shown in a comment


def write(draft: Draft, lost: list[Lost], source: str, title: str) -> str:
    from tunespec.format import format_text

    lines = [comment(f"Imported by `tunespec import` from {title}: {source}"),
             "# Each value's comment names the key it came from."]
    if lost:
        lines.append("#")
        lines += [comment(f"not imported: {item.name} = {shown(item.value)}: {item.reason}") for item in lost]
    if draft.notes:
        lines += ["#", *(comment(note) for note in draft.notes)]
    lines.append("")
    if draft.model is not None and draft.model.declare:
        lines.append(f"model {string(draft.model.id)} {{")
        for field, entry in sorted(draft.model.declared.items(), key=lambda item: list(MODEL_FIELDS).index(item[0])):
            lines.append(assignment(MODEL_FIELDS[field], entry, "  "))
        lines += ["}", ""]
    lines.append(f"experiment {draft.name} {{")
    lines += _body(draft)
    lines.append("}")
    return format_text("\n".join(lines) + "\n")


def _body(draft: Draft) -> list[str]:
    lines = []
    if draft.model is not None:
        lines.append(assignment(EXPERIMENT_FIELDS["model"], Entry(draft.model.id, draft.model.origin), "  "))
    for path, spec in EXPERIMENT_FIELDS.items():
        if not spec.block and path != "model" and path in draft.fields:
            lines.append(assignment(spec, draft.fields[path], "  "))
    for block in BLOCK_ORDER:
        inside = [assignment(spec, draft.fields[path], "    ") for path, spec in EXPERIMENT_FIELDS.items()
                  if spec.block == block and path in draft.fields]
        if inside:
            lines += ["", f"  {block} {{", *inside, "  }"]
    return lines


def assignment(spec: FieldSpec, entry: Entry, indent: str) -> str:
    return f"{indent}{spec.name} = {literal(spec, entry.value)}  {comment(entry.origin)}"


def literal(spec: FieldSpec, value: Any) -> str:
    if spec.kind.is_list:
        item = Kind.IDENT if spec.kind is Kind.IDENT_LIST else Kind.STRING
        return "[" + ", ".join(_scalar(item, element) for element in value) + "]"
    return _scalar(spec.kind, value)


def _scalar(kind: Kind, value: Any) -> str:
    if kind is Kind.BOOL:
        return "true" if value else "false"
    if kind is Kind.IDENT:
        return value
    if kind is Kind.STRING:
        return string(value)
    if isinstance(value, float):
        assert math.isfinite(value)
        return repr(value)
    return str(value)


def string(text: str) -> str:
    """A `.tune` string literal: JSON's escapes, and \\u escapes for what would be invisible or unsafe in a
    file (control and format characters, line separators, lone surrogates)."""
    quoted = json.dumps(text, ensure_ascii=False)
    return "".join(_escaped(char) if _hidden(char) else char for char in quoted)


def _escaped(char: str) -> str:
    """`\\uXXXX`, as a UTF-16 surrogate pair beyond the Basic Multilingual Plane (as JSON writes it)."""
    return json.dumps(char)[1:-1] if ord(char) > 0xFFFF else f"\\u{ord(char):04x}"


def _hidden(char: str) -> bool:
    return unicodedata.category(char) in ("Cc", "Cf", "Cs", "Zl", "Zp") and char != "\n"


def comment(text: str) -> str:
    """`# text` on one line: line breaks and other invisible characters become spaces."""
    return "# " + re.sub(r"\s+", " ", "".join(" " if _hidden(c) else c for c in text)).strip()


def shown(value: Any) -> str:
    """A value as a comment shows it: JSON, shortened to `{...}` / `[...]` when long."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = str(value)
    if len(text) <= SHOWN:
        return text
    if isinstance(value, dict):
        return "{...}"
    if isinstance(value, list):
        return "[...]"
    return text[:SHOWN - 3] + "..."
