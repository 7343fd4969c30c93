"""`tunespec show`: each resolved variant, every value with where it came from."""

from __future__ import annotations

import json
from typing import Any

from tunespec.compiler.catalog import load_catalog
from tunespec.compiler.ir import document, provenance_document
from tunespec.compiler.memory import PARTS, estimate_for_targets
from tunespec.compiler.resolve import ResolvedExperiment
from tunespec.printable import encodable, printable

MODEL_FACTS = ("hf_id", "path", "watsonx_id", "family", "decoder_only", "quantized", "context_window")


def _value(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def rows(exp: ResolvedExperiment) -> list[tuple[str, str, str]]:
    """(field, value, origin) for every resolved value, model facts included."""
    out = []
    origins = provenance_document(exp)
    for path, value in exp.values.items():
        out.append((path, _value(value), origins.get(path, "")))
        if path == "model":
            model = document(exp)["spec"]["model"]
            origin = exp.model.origin if exp.model else "as written (model not in the catalog)"
            out.extend((f"model.{key}", _value(model[key]), origin) for key in MODEL_FACTS if key in model)
    memory = estimate_for_targets(exp, load_catalog())
    if memory is not None:
        out.append(("estimated peak GPU memory", memory.describe(), "estimate (tunespec rule TS309)"))
    return out


def memory_document(exp: ResolvedExperiment) -> dict[str, Any] | None:
    memory = estimate_for_targets(exp, load_catalog())
    if memory is None:
        return None
    parts = {part: round(getattr(memory, part)) for part in PARTS}
    return {"bytes_per_gpu": round(memory.total), "gpus": memory.gpus, "parts": parts,
            "trainable_parameters": round(memory.trainable_parameters)}


def render_text(variants: list[ResolvedExperiment]) -> str:
    blocks = []
    for exp in variants:
        table = rows(exp)
        header = f"{exp.name}  (experiment {exp.experiment}, {exp.source})"
        if exp.variant:
            header += "  variant: " + ", ".join(f"{k} = {_value(v)}" for k, v in exp.variant.items())
        width_field = max((len(r[0]) for r in table), default=0)
        width_value = min(max((len(r[1]) for r in table), default=0), 48)
        lines = [printable(header)]
        lines += [printable(f"  {name:<{width_field}}  {value:<{width_value}}  {origin}".rstrip())
                  for name, value, origin in table]
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks) if blocks else "No experiments found.\n"


def render_json(variants: list[ResolvedExperiment]) -> str:
    items = [{"ir": document(exp), "provenance": provenance_document(exp), "memory_estimate": memory_document(exp)}
             for exp in variants]
    return json.dumps(_encodable(items), indent=2, ensure_ascii=False) + "\n"


def _encodable(data: Any) -> Any:
    """Paths hold the bytes of file names that are not UTF-8 as lone surrogates: written as `\\xNN`."""
    if isinstance(data, str):
        return encodable(data)
    if isinstance(data, dict):
        return {key: _encodable(value) for key, value in data.items()}
    if isinstance(data, list):
        return [_encodable(value) for value in data]
    return data
