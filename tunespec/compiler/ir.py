"""The IR document (DESIGN.md §1.5): what the `yaml` / `json` targets emit and templates read.

Plain data with a fixed key order, built from a `ResolvedExperiment`; unset optional fields are left out.
"""

from __future__ import annotations

import posixpath
TYPE_CHECKING = False
if TYPE_CHECKING:  # (typing, for type checkers only, is not imported at run time)
    from typing import Any

from tunespec.compiler.resolve import ResolvedExperiment
from tunespec.compiler.schema import BLOCK_ORDER, EXPERIMENT_FIELDS, SPEC_ORDER, is_uri

API_VERSION = "tunespec/v1"
KIND = "TuningExperiment"


def model_document(exp: ResolvedExperiment) -> dict[str, Any] | None:
    written = exp.values.get("model")
    if written is None:
        return None
    info = exp.model
    if info is None:
        return {"id": written, "hf_id": written, "watsonx_id": written}
    document: dict[str, Any] = {"id": info.id}
    if info.hf_id is not None:
        document["hf_id"] = info.hf_id
    if info.path is not None:
        document["path"] = info.path
    document["watsonx_id"] = info.watsonx_id
    facts = {"family": info.family, "decoder_only": info.decoder_only, "quantized": info.quantized,
             "context_window": info.context_window}
    document.update({key: value for key, value in facts.items() if value is not None})
    return document


def _block_fields() -> dict[str, list[tuple[str, str]]]:
    """Each block's fields (path, key within the block), in EXPERIMENT_FIELDS' order: found once, not by
    scanning every field for every block of every variant (a fifth of an up-to-date build's variant
    digests)."""
    fields: dict[str, list[tuple[str, str]]] = {}
    for path in EXPERIMENT_FIELDS:
        block, dot, key = path.partition(".")
        if dot:
            fields.setdefault(block, []).append((path, key))
    return fields


_BLOCK_FIELDS = _block_fields()


def block_document(exp: ResolvedExperiment, block: str) -> dict[str, Any]:
    values = exp.values
    document = {key: values[path] for path, key in _BLOCK_FIELDS.get(block, ()) if path in values}
    if block == "lora" and "lora.resolved_target_modules" in exp.values:
        document["resolved_target_modules"] = exp.values["lora.resolved_target_modules"]
    return document


def spec_document(exp: ResolvedExperiment) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    for key in SPEC_ORDER:
        if key == "model":
            value = model_document(exp)
        elif key in BLOCK_ORDER:
            value = block_document(exp, key) or None
        else:
            value = exp.values.get(key)
        if value is not None:
            spec[key] = value
    return spec


def run_folder(exp: ResolvedExperiment) -> str:
    """Where the variant's training runs write: `<output_dir>/<variant name>`, one folder per target below
    it. Every variant and target gets a folder of its own, so that no run resumes from another's checkpoint."""
    return run_folder_of(exp.values.get("output_dir"), exp.name, exp.experiment)


def variant_inputs(exp: ResolvedExperiment, ir: dict[str, Any] | None = None) -> tuple:
    """All that rendering reads of a variant: its IR document (`ir`, when the caller has made it), name,
    experiment, source file and run folder. The build's stamp digests exactly this (`stamp.variant_digest`)
    and the templates' context is made from it (`render.variant_context`), so the two cannot drift."""
    return (document(exp) if ir is None else ir, exp.name, exp.experiment, exp.source, run_folder(exp))


def run_folder_of(output_dir: str | None, variant: str, experiment: str) -> str:
    """`run_folder` from the values the IR document holds (spec.output_dir, metadata.name, .experiment)."""
    output_dir = output_dir or f"runs/{experiment}"
    if is_uri(output_dir):
        return f"{output_dir.rstrip('/')}/{variant}"
    return posixpath.normpath(posixpath.join(output_dir, variant))


def document(exp: ResolvedExperiment) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {
            "name": exp.name,
            "experiment": exp.experiment,
            "source": exp.source,
            "variant": dict(exp.variant),
        },
        "spec": spec_document(exp),
    }


def provenance_document(exp: ResolvedExperiment) -> dict[str, str]:
    """Where each value of the IR came from, keyed by its dotted path in `spec`."""
    return {path: str(provenance) for path, provenance in exp.provenance.items()}
