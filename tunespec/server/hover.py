"""What hovering shows, as Markdown: a field's facts and resolved values, a rule's page.

Nothing here is written twice: the range, defaults and sources come from the catalog the rules read, the
resolved values and their origins from `tunespec show`'s rows, a rule's page from `tunespec rule`'s.
"""

from __future__ import annotations

from tunespec import codes
from tunespec.compiler.catalog import load_catalog
from tunespec.compiler.schema import BLOCK_ORDER, EXPERIMENT_FIELDS, LANGUAGE_DEFAULTS, MODEL_FIELDS, fields_in
from tunespec.rules import REGISTRY
from tunespec.rules.docs import page
from tunespec.server.documents import Analysis, Place

MAX_VARIANTS_SHOWN = 8


def hover_text(analysis: Analysis, place: Place) -> str | None:
    if place.kind == "rule":
        return page(REGISTRY.rules[place.name])
    if place.kind == "field":
        return field_text(analysis, place)
    if place.kind == "block" and place.decl.kind != "model" and place.name in BLOCK_ORDER:
        names = ", ".join(f"`{name}`" for name in fields_in(place.name))
        return f"**block `{place.name}`**: {names}"
    return None


def field_text(analysis: Analysis, place: Place) -> str:
    """The field's type and allowed values, its documented range and defaults with their sources, and the
    value each variant of the declaration resolves to, with its origin."""
    if place.decl.kind == "model":
        spec = MODEL_FIELDS.get(place.name)
        return f"**`{place.name}`** (model declaration): " + (spec.kind.words if spec else "not a field of a model")
    spec = EXPERIMENT_FIELDS.get(place.name)
    if spec is None:
        return f"**`{place.name}`**: not a field of the language ({codes.UNKNOWN_FIELD})"
    head = f"**`{spec.path}`**: {spec.kind.words}"
    if spec.choices:
        head += ", one of " + ", ".join(f"`{choice}`" for choice in spec.choices)
    sections = [head, *_documented(spec.path)]
    resolved = _resolved(analysis, place)
    if resolved:
        sections.append("Resolved (as `tunespec show` prints it):\n\n" + "\n".join(resolved))
    return "\n\n".join(sections)


def _documented(path: str) -> list[str]:
    catalog = load_catalog()
    out, sources = [], []
    found = catalog.ranges.get(path)
    if found is not None:
        out.append(f"Documented range: **{found.describe()}**")
        sources.append(found.source)
    if path in LANGUAGE_DEFAULTS:
        out.append(f"Default: `{_value(LANGUAGE_DEFAULTS[path])}` (the language's)")
    tables = [table for table in catalog.defaults if path in table.values]
    if tables:
        out.append("Documented defaults: " + ", ".join(
            f"`{_value(table.values[path])}` ({table.label.removeprefix('catalog: ').removesuffix(' default')})"
            for table in tables))
        sources += [table.source for table in tables]
    if sources:
        out.append("Source: " + "; ".join(catalog.source_title(key) for key in dict.fromkeys(sources)))
    return out


def _resolved(analysis: Analysis, place: Place) -> list[str]:
    """`show`'s rows of the field (and of what derives from it, such as the model's facts) per variant;
    once when every variant has the same."""
    from tunespec.show import rows

    variants = [exp for exp in analysis.result.resolved if exp.ref.decl is place.decl]
    block, _, name = place.name.rpartition(".")
    derived = f"{block}.resolved_{name}" if block else f"resolved_{name}"
    found = []
    for exp in variants[:MAX_VARIANTS_SHOWN]:
        mine = [(field, value, origin) for field, value, origin in rows(exp)
                if field in (place.name, derived) or field.startswith(place.name + ".")]
        found.append(mine or [(place.name, "not set", "no value written and no documented default")])
    if all(mine == found[0] for mine in found):
        return [f"- `{field}` = `{value}` — {origin}" for field, value, origin in found[0]] if found else []
    lines = []
    for exp, mine in zip(variants, found):
        lines.append(f"- variant `{exp.name}`:")
        lines += [f"  - `{field}` = `{value}` — {origin}" for field, value, origin in mine]
    if len(variants) > MAX_VARIANTS_SHOWN:
        lines.append(f"- and {len(variants) - MAX_VARIANTS_SHOWN} more variants (`tunespec show` lists them all)")
    return lines


def _value(value) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)
