"""Which model a config trains: a catalog model when its id, an alias or its Hugging Face id matches
(case-insensitively), else a `model "ID" { }` declaration with what the config says about it, else just the
id (lint then reports TS013, which is true: tunespec knows nothing about it)."""

from __future__ import annotations

import re
from typing import Any

from tunespec.compiler.catalog import ModelInfo, load_catalog
from tunespec.importer.draft import Draft, ModelDraft, Unexpressible, model_entry

# Hugging Face architecture names (config.json `architectures`, Axolotl's `model_type`) of the families the
# catalog describes; other architectures get no family rather than a guess.
ARCHITECTURES = {
    "llamaforcausallm": "llama",
    "mistralforcausallm": "mistral",
    "qwen2forcausallm": "qwen2",
    "graniteforcausallm": "granite",
    "gptbigcodeforcausallm": "gpt_bigcode",
    "t5forconditionalgeneration": "t5",
}
# A GPTQ checkpoint says so in its name on the Hub (`...-GPTQ`, `...-GPTQ-INT4`); configs that train LoRA on
# one (LLaMA-Factory's) say nothing else about it.
GPTQ_NAME = re.compile(r"gptq", re.I)


def catalog_model(name: str) -> ModelInfo | None:
    """The catalog model whose id, alias or Hugging Face id is `name` (case-insensitively)."""
    catalog = load_catalog()
    found = catalog.find_model(name)
    if found is not None:
        return found
    lowered = name.lower()
    for model in catalog.models.values():
        if model.hf_id is not None and model.hf_id.lower() == lowered:
            return model
    return None


def looks_local(name: str) -> bool:
    """A folder on disk rather than a Hub id (`org/name` or `name`)."""
    return name.startswith(("/", "./", "../", "~")) or name.count("/") > 1 or name in (".", "..")


def set_model(draft: Draft, written: str, origin: str, facts: dict[str, tuple[Any, str]] | None = None) -> None:
    """`model` from the id or folder the config loads. `facts`: model field -> (value, origin) that the
    config states (family, quantized, ...), for a declaration when the catalog lacks the model."""
    facts = dict(facts or {})
    if looks_local(written):
        name = written.rstrip("/").rsplit("/", 1)[-1] or "local-model"
        facts["path"] = (draft.place(written), origin)
        model = ModelDraft(name, f"{origin}: a local folder, declared below")
    else:
        found = catalog_model(written)
        if found is not None:
            shown = "" if found.id == written else f" ({written})"
            draft.model = ModelDraft(found.id, f"{origin}{shown}: in the catalog")
            return
        if GPTQ_NAME.search(written) and "quantized" not in facts:
            facts["quantized"] = (True, "the name says GPTQ")
        model = ModelDraft(written, origin)
    declared = {}
    for field, (value, why) in facts.items():
        try:
            declared[field] = model_entry(field, value, why)
        except Unexpressible:
            continue
    draft.model = model.replace(declared=declared, declare=bool(declared))


def quantized(draft: Draft) -> bool:
    """Whether the model the draft trains is a quantized checkpoint (catalog or declared)."""
    if draft.model is None:
        return False
    if draft.model.declare:
        entry = draft.model.declared.get("quantized")
        return bool(entry and entry.value)
    found = catalog_model(draft.model.id)
    return bool(found and found.quantized)


def family_of_architecture(name: Any) -> str | None:
    return ARCHITECTURES.get(name.lower()) if isinstance(name, str) else None
