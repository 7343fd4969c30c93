"""The JSON Schema of the IR document (DESIGN.md §1.5), derived from the language's fields so that the two
cannot drift apart. `tunespec schema` prints it; the `yaml` and `json` targets' output validates against it.
"""

from __future__ import annotations

from typing import Any

from tunespec.compiler.ir import API_VERSION, KIND
from tunespec.compiler.schema import BLOCK_ORDER, EXPERIMENT_FIELDS, FieldSpec, Kind

TYPES = {Kind.STRING: "string", Kind.INT: "integer", Kind.FLOAT: "number", Kind.NUMBER: "number",
         Kind.BOOL: "boolean", Kind.IDENT: "string"}


def field_schema(spec: FieldSpec) -> dict[str, Any]:
    if spec.kind.is_list:
        item: dict[str, Any] = {"type": "string"}
        if spec.choices:
            item["enum"] = list(spec.choices)
        return {"type": "array", "items": item}
    schema: dict[str, Any] = {"type": TYPES[spec.kind]}
    if spec.choices:
        schema["enum"] = list(spec.choices)
    return schema


def _closed(properties: dict[str, Any], required: list[str] = ()) -> dict[str, Any]:
    schema = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = list(required)
    return schema


MODEL = _closed({
    "id": {"type": "string"}, "hf_id": {"type": "string"}, "path": {"type": "string"},
    "watsonx_id": {"type": "string"}, "family": {"type": "string"}, "decoder_only": {"type": "boolean"},
    "quantized": {"type": "boolean"}, "context_window": {"type": "integer"},
}, ["id", "watsonx_id"])


def ir_schema() -> dict[str, Any]:
    blocks: dict[str, dict[str, Any]] = {block: {} for block in BLOCK_ORDER}
    top: dict[str, Any] = {}
    for path, spec in EXPERIMENT_FIELDS.items():
        if spec.block:
            blocks[spec.block][spec.name] = field_schema(spec)
        elif path != "model":
            top[path] = field_schema(spec)
    blocks["lora"]["resolved_target_modules"] = {"type": "array", "items": {"type": "string"}}
    spec_properties = {"model": MODEL, **top, **{block: _closed(fields) for block, fields in blocks.items()}}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://tunespec.invalid/schemas/tunespec-v1.json",
        "title": "tunespec resolved experiment (IR)",
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "additionalProperties": False,
        "properties": {
            "apiVersion": {"const": API_VERSION},
            "kind": {"const": KIND},
            "metadata": _closed({
                "name": {"type": "string", "pattern": "^[A-Za-z0-9._+-]+$"},
                "experiment": {"type": "string"},
                "source": {"type": "string"},
                "variant": {"type": "object"},
            }, ["name", "experiment", "source", "variant"]),
            "spec": _closed(spec_properties, ["output_dir"]),
        },
    }
