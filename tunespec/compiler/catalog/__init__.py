"""The model catalog and the documented facts, from the TOML files beside this module.

A new model or a changed range is a data change: code asks the catalog, never a literal.
"""

from __future__ import annotations

from functools import lru_cache
TYPE_CHECKING = False
if TYPE_CHECKING:  # (typing, for type checkers only, is not imported at run time)
    from typing import Any
from tunespec.record import Factory, Record


class Family(Record):
    name: str
    layers: tuple[str, ...]
    default_targets: tuple[str, ...] | None
    decoder_only: bool | None
    module_widths: dict[str, str]
    sources: dict[str, str]
    ratios: dict[str, float] = Factory(dict)
    output_layer: str | None = None
    layers_hint: str | None = None  # the layer names in words, for a family whose names are unusual (T5)


class ModelInfo(Record):
    """What model-aware checks and targets know of a model (catalog entry or `model "ID" { }`)."""

    id: str
    hf_id: str | None  # None: no Hugging Face checkpoint (the Hugging Face based targets refuse it)
    watsonx_id: str
    family: str | None
    layers: tuple[str, ...] | None
    default_targets: tuple[str, ...] | None
    decoder_only: bool | None
    context_window: int | None
    context_window_soft: bool = False
    parameters: float | None = None
    hidden_size: int | None = None
    num_layers: int | None = None
    vocab_size: int | None = None
    intermediate_size: int | None = None
    num_attention_heads: int | None = None
    num_key_value_heads: int | None = None
    tie_word_embeddings: bool = False
    path: str | None = None  # a local folder with the weights, relative to the build root (declared models)
    instruction_tuned: bool = False
    quantized: bool = False
    methods: tuple[str, ...] | None = None
    aliases: tuple[str, ...] = ()
    output_layer: str | None = None  # the family's output layer (`lm_head`): a linear layer all-linear leaves out
    module_widths: dict[str, str] = Factory(dict)  # module name -> "hidden + query", from the family
    ratios: dict[str, float] = Factory(dict)  # family stand-ins for dimensions the model does not give
    sources: dict[str, str] = Factory(dict)
    declared_at: str | None = None  # "path:line:col" for a `model "ID" { }` declaration

    @property
    def origin(self) -> str:
        return f'model "{self.id}" at {self.declared_at}' if self.declared_at else f"catalog: {self.id}"

    def dimensions(self) -> dict[str, float] | None:
        """`hidden`, `query`, `key_value` and `intermediate` widths; None without a hidden size."""
        hidden = self.hidden_size
        if hidden is None:
            return None
        heads = self.num_attention_heads
        head_size = hidden / heads if heads else None
        key_value = (self.num_key_value_heads * head_size if self.num_key_value_heads and head_size
                     else hidden * self.ratios.get("key_value", 1))
        intermediate = self.intermediate_size or hidden * self.ratios.get("intermediate", 4)
        return {"hidden": hidden, "query": hidden, "key_value": key_value, "intermediate": intermediate}

    def module_width(self, name: str) -> float | None:
        """Inputs + outputs of the linear module `name` in one block (summed when it occurs twice)."""
        formula = self.module_widths.get(name)
        dimensions = self.dimensions()
        if formula is None or dimensions is None:
            return None
        return _evaluate_width(formula, dimensions)


class Range(Record):
    field: str
    min: float | None
    max: float | None
    min_exclusive: bool
    max_exclusive: bool
    source: str
    rule: str | None = None  # the name of a rule that checks several rows; None: the field's own rule
    declares: dict | None = None  # the rule generated from this row (name, severity, its documentation)

    def contains(self, value: float) -> bool:
        if self.min is not None and (value < self.min or (self.min_exclusive and value == self.min)):
            return False
        if self.max is not None and (value > self.max or (self.max_exclusive and value == self.max)):
            return False
        return True

    def describe(self) -> str:
        """The allowed values in words, as RULES.md writes them: "1–16", "[0, 1)", "> 0", "≥ 1"."""
        if self.min is not None and self.max is not None:
            if not self.min_exclusive and not self.max_exclusive:
                return f"{_number(self.min)}–{_number(self.max)}"
            left = "(" if self.min_exclusive else "["
            right = ")" if self.max_exclusive else "]"
            return f"{left}{_number(self.min)}, {_number(self.max)}{right}"
        if self.min is not None:
            return f"{'>' if self.min_exclusive else '≥'} {_number(self.min)}"
        return f"{'<' if self.max_exclusive else '≤'} {_number(self.max)}"


class DefaultTable(Record):
    model: str
    method: str
    task: str | None
    values: dict[str, Any]
    source: str

    @property
    def label(self) -> str:
        task = f" {self.task}" if self.task else ""
        return f"catalog: {self.model} {self.method}{task} default"


def _evaluate_width(formula: str, dimensions: dict[str, float]) -> float:
    """"hidden + 2 * key_value": a sum of dimensions, each with an optional whole multiplier."""
    total = 0.0
    for term in formula.split("+"):
        factor, _, name = term.strip().rpartition("*")
        total += (int(factor) if factor.strip() else 1) * dimensions[name.strip()]
    return total


def number_text(value: float) -> str:
    """A number as the documentation writes it: `0.00001`, `0.25`, `10,000` (not `1e-05`, `10000.0`)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value:,}" if isinstance(value, int) and value >= 10_000 else _number(value)


def _number(value: float) -> str:
    """`0.00001`, not `1e-05`: ranges are shown as the documentation writes them."""
    from decimal import Decimal

    return format(Decimal(repr(value)).normalize(), "f")


class Catalog:
    def __init__(self, models: dict, families: dict, ranges: dict, defaults: list, sources: dict,
                 advice: dict | None = None):
        self.families = {name: _family(name, data) for name, data in families.items()}
        self.models: dict[str, ModelInfo] = {}
        self._by_name: dict[str, ModelInfo] = {}
        for model_id, data in models.items():
            info = self._model(model_id, data)
            self.models[model_id] = info
            for name in (model_id, *info.aliases):
                self._by_name[name.lower()] = info
        self.ranges = {name: _range(name, data) for name, data in ranges.items()}
        self.defaults = [DefaultTable(d["model"], d["method"], d.get("task"), d["values"], d["source"])
                         for d in defaults]
        self.sources = sources
        self.advice = advice or {}

    def _model(self, model_id: str, data: dict) -> ModelInfo:
        family = self.families.get(data.get("family"))
        return ModelInfo(
            id=model_id,
            hf_id=data.get("hf_id"),
            watsonx_id=data.get("watsonx_id", model_id),
            family=data.get("family"),
            layers=family.layers if family else None,
            default_targets=family.default_targets if family else None,
            decoder_only=data.get("decoder_only", family.decoder_only if family else None),
            context_window=data.get("context_window"),
            context_window_soft=data.get("context_window_soft", False),
            parameters=data.get("parameters"),
            hidden_size=data.get("hidden_size"),
            num_layers=data.get("num_layers"),
            vocab_size=data.get("vocab_size"),
            intermediate_size=data.get("intermediate_size"),
            num_attention_heads=data.get("num_attention_heads"),
            num_key_value_heads=data.get("num_key_value_heads"),
            tie_word_embeddings=data.get("tie_word_embeddings", False),
            instruction_tuned=data.get("instruction_tuned", False),
            quantized=data.get("quantized", False),
            methods=tuple(data["methods"]) if "methods" in data else None,
            aliases=tuple(data.get("aliases", ())),
            module_widths=dict(family.module_widths) if family else {},
            ratios=dict(family.ratios) if family else {},
            output_layer=family.output_layer if family else None,
            sources=dict(data.get("sources", {})),
        )

    def default_tasks(self, model_id: str, method: str) -> list[str]:
        """The tasks for which the model has documented defaults with the method, when it has them only
        per task (prompt tuning on granite-13b-instruct-v2); empty otherwise."""
        tables = [table for table in self.defaults if table.model == model_id and table.method == method]
        if not tables or any(table.task is None for table in tables):
            return []
        return [table.task for table in tables]

    def quantized_example(self) -> str | None:
        """A quantized model of the catalog, to name in a help (the first, in the catalog's order)."""
        return next((model.id for model in self.models.values() if model.quantized), None)

    def quantized_help(self, otherwise: str) -> str:
        """A help that offers a quantized model (naming one when the catalog has one), or `otherwise`."""
        example = self.quantized_example()
        return f"use a quantized model (e.g. {example}), or {otherwise}" if example else f"use a quantized model, or {otherwise}"

    def find_model(self, name: str) -> ModelInfo | None:
        return self._by_name.get(name.lower())

    def model_names(self) -> list[str]:
        """Every id and alias, for did-you-mean."""
        return sorted({n for m in self.models.values() for n in (m.id, *m.aliases)})

    def defaults_for(self, model_id: str, method: str, task: str | None) -> DefaultTable | None:
        for table in self.defaults:
            if table.model == model_id and table.method == method and table.task in (None, task):
                return table
        return None

    def source_title(self, key: str) -> str:
        source = self.sources.get(key, {})
        title = source.get("title", key)
        return f"{title} ({source['url']})" if "url" in source else title


def _family(name: str, data: dict) -> Family:
    targets = data.get("default_targets")
    return Family(name, tuple(data["layers"]), tuple(targets) if targets is not None else None,
                  data.get("decoder_only"), dict(data.get("module_widths", {})), dict(data.get("sources", {})),
                  dict(data.get("ratios", {})), data.get("output_layer"), data.get("layers_hint"))


def _range(name: str, data: dict) -> Range:
    return Range(name, data.get("min"), data.get("max"), data.get("min_exclusive", False),
                 data.get("max_exclusive", False), data["source"], data.get("rule"), data.get("declares"))


@lru_cache(maxsize=1)
def load_catalog() -> Catalog:
    """The catalog, from the snapshot of the TOML files (`snapshot_build.py` keeps it current)."""
    from tunespec.compiler.catalog.snapshot import DATA

    return Catalog(
        models=DATA["models"],
        families=DATA["families"],
        ranges=DATA["ranges"],
        defaults=DATA["defaults"]["defaults"],
        sources=DATA["sources"],
        advice=DATA["advice"],
    )
