"""The rule registry: every code of the catalog is declared once, documented, and its examples work."""

from __future__ import annotations

import re

import pytest

from tunespec.compiler.catalog import load_catalog
from tunespec.config import Config
from tunespec.rules import REGISTRY
from tunespec.rules.engine import DOC_HEADINGS, SCOPE_COMPILER, SCOPE_ENGINE, SCOPE_RUN, SCOPE_TARGETS

# The codes RULES.md assigns to the language (TS0xx) and the documented ranges (TS1xx).
CATALOG_CODES = ([f"TS{n:03d}" for n in range(1, 15)] + [f"TS{n}" for n in range(101, 111)]
                 + [f"TS{n}" for n in range(201, 214)] + [f"TS{n}" for n in range(301, 310)]
                 + [f"TS{n}" for n in range(401, 407)] + [f"TS{n}" for n in range(501, 505)] + ["TS901"])
# Rules whose example cannot be written as text (a file that is not UTF-8).
TEXT_ONLY_EXAMPLES = {"TS014"}
RULES = list(REGISTRY)


def test_every_catalog_code_is_declared():
    assert [r.code for r in RULES if r.code in CATALOG_CODES] == CATALOG_CODES


@pytest.mark.parametrize("item", RULES, ids=lambda r: r.code)
def test_rule_declaration_is_complete(item):
    assert re.fullmatch(r"TS\d{3}", item.code)
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", item.name)
    assert item.summary and "\n" not in item.summary and not item.summary.endswith(".")
    positions = [item.doc.find(heading) for heading in DOC_HEADINGS]
    assert all(p >= 0 for p in positions) and positions == sorted(positions), item.doc
    assert (item.check is None) == (item.scope in (SCOPE_COMPILER, SCOPE_ENGINE, SCOPE_TARGETS, SCOPE_RUN))


def _blocks(doc: str, heading: str) -> list[str]:
    section = doc.split(heading, 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```tune\n(.*?)```", section, re.S)


def _write_example(project, block: str) -> list[str]:
    """Write an example (several files when it has `# file: NAME` lines); return the files to lint."""
    parts = re.split(r"^# file: (\S+)\n", block, flags=re.M)
    if len(parts) == 1:
        project.write("example.tune", block)
        return ["example.tune"]
    for name, text in zip(parts[1::2], parts[2::2]):
        project.write(name, text)
    return [name for name in parts[1::2] if name.endswith(".tune")]


@pytest.mark.parametrize("item", [r for r in RULES if r.code not in TEXT_ONLY_EXAMPLES], ids=lambda r: r.code)
def test_documented_example_triggers_and_fix_does_not(project, item):
    [example] = _blocks(item.doc, "## Example")
    [fix] = _blocks(item.doc, "## Use instead")
    example_codes = project.codes(*_write_example(project, example), config=Config())
    assert item.code in example_codes
    for leftover in [*project.root.glob("**/*.tune"), *project.root.glob("**/*.json*")]:
        leftover.unlink()
    assert item.code not in project.codes(*_write_example(project, fix), config=Config())


def test_text_only_examples_are_exactly_the_ones_that_cannot_be_text():
    for code in TEXT_ONLY_EXAMPLES:
        doc = REGISTRY.rules[code].doc
        assert "```text" in doc and "```tune" not in doc


@pytest.mark.parametrize("code, field", [
    ("TS101", "training.batch_size"), ("TS102", "training.accumulate_steps"), ("TS103", "training.learning_rate"),
    ("TS104", "training.epochs"), ("TS105", "lora.rank"), ("TS106", "lora.dropout"),
])
def test_range_docs_state_the_catalogs_range(code, field):
    allowed = load_catalog().ranges[field].describe()
    assert allowed in REGISTRY.rules[code].summary and allowed in REGISTRY.rules[code].doc


def test_every_fact_in_the_catalog_names_a_known_source():
    catalog = load_catalog()
    used = [r.source for r in catalog.ranges.values()] + [d.source for d in catalog.defaults]
    used += [s for m in catalog.models.values() for s in m.sources.values()]
    used += [s for f in catalog.families.values() for s in f.sources.values()]
    assert used and set(used) <= set(catalog.sources)


def test_catalog_holds_every_model_and_alias_of_the_facts():
    catalog = load_catalog()
    for name, model_id in [
        ("ibm/granite-3-1-8b-base", "ibm/granite-3-1-8b-base"), ("granite-3-1-8b-base", "ibm/granite-3-1-8b-base"),
        ("IBM-Granite/Granite-3.1-8B-Base", "ibm/granite-3-1-8b-base"), ("llama-3-1-8b", "meta-llama/llama-3-1-8b"),
        ("meta-llama/Llama-3.1-8B", "meta-llama/llama-3-1-8b"), ("flan-t5-xl-3b", "google/flan-t5-xl"),
        ("ibm/granite-13b-instruct-v2", "ibm/granite-13b-instruct-v2"), ("mistralai/Mistral-7B-v0.1", "mistralai/Mistral-7B-v0.1"),
        ("Qwen/Qwen2.5-7B", "Qwen/Qwen2.5-7B"), ("meta-llama/llama-3-1-70b-gptq", "meta-llama/llama-3-1-70b-gptq"),
    ]:
        assert catalog.find_model(name).id == model_id
    assert catalog.find_model("llama-3-1-70b-gptq").quantized
    assert catalog.find_model("flan-t5-xl").context_window_soft
    assert catalog.families["t5"].layers == ("q", "k", "v", "o", "wi_0", "wi_1", "wo")
    assert catalog.families["gpt_bigcode"].default_targets == ("c_attn",)


def test_catalog_snapshot_is_current():
    """`python -m tunespec.compiler.catalog.snapshot_build` must be run after editing the TOML files."""
    from tunespec.compiler.catalog.snapshot import DATA
    from tunespec.compiler.catalog.snapshot_build import read_toml

    assert DATA == read_toml()
