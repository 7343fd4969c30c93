"""The hand-written YAML emitter: whatever the value, PyYAML reads back exactly that value."""

from __future__ import annotations

import math

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tunespec.templates import yamltext

TEXT = st.text(st.characters(blacklist_categories=["Cs"]))
SCALARS = st.one_of(TEXT, st.integers(), st.floats(allow_nan=False), st.booleans(), st.none(),
                    st.sampled_from(["yes", "no", "null", "~", "1e-05", "0x10", "- a", "? b", "# c", "&d", "*e",
                                     "!!python/object:os.system", "{{ x }}", "a: b", "---", "...", "\u2028", "\ufeff",
                                     "line\n", "two\nlines", "trailing \n", " lead\n", "\n", "a\n\n"]))
KEYS = st.one_of(st.from_regex(r"[A-Za-z_][A-Za-z0-9_./-]{0,10}", fullmatch=True), TEXT)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(KEYS, inner, max_size=4)), max_leaves=12)


def loaded(text: str):
    return yaml.safe_load(text)


@settings(max_examples=400, deadline=None)
@given(VALUES)
def test_flow_values_read_back_exactly(value):
    assert loaded(f"key: {yamltext.flow(value)}\n") == {"key": value}


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(KEYS, VALUES, min_size=1, max_size=5))
def test_block_documents_read_back_exactly(document):
    assert loaded(yamltext.block(document) + "\n") == document


@given(st.floats(allow_nan=False))
def test_floats_stay_floats(value):
    back = loaded(yamltext.scalar(value))
    assert isinstance(back, float) and (back == value or (math.isinf(value) and back == value))


def test_multi_line_ascii_is_a_literal_block():
    assert yamltext.block({"config": "{\n  \"a\": 1\n}\n"}) == 'config: |\n  {\n    "a": 1\n  }'


# The emitter as it was before `flow` told the IR's types apart by `type` and `block` wrote into one list:
# the fast ways must give the same text for every value, of the IR's types or not (tuples, subclasses).
def _earlier_flow(value):
    if isinstance(value, dict):
        return "{" + ", ".join(f"{yamltext.key(k)}: {_earlier_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_earlier_flow(item) for item in value) + "]"
    return yamltext.scalar(value)


def _earlier_block_lines(value, indent):
    pad = " " * indent
    lines = []
    if isinstance(value, dict) and value:
        for name, item in value.items():
            lines.extend(_earlier_entry(f"{pad}{yamltext.key(name)}:", item, indent))
    elif isinstance(value, (list, tuple)) and value:
        for item in value:
            lines.extend(_earlier_entry(f"{pad}-", item, indent))
    else:
        lines.append(pad + _earlier_flow(value))
    return lines


def _earlier_entry(head, item, indent):
    if isinstance(item, (dict, list, tuple)) and item:
        return [head, *_earlier_block_lines(item, indent + 2)]
    if isinstance(item, str) and yamltext.literal_block(item):
        return [f"{head} {yamltext._literal_header(item)}", *yamltext._literal_lines(item, indent + 2)]
    return [f"{head} {_earlier_flow(item)}"]


class _Text(str):
    pass


class _Number(int):
    pass


class _Mapping(dict):
    pass


ODD_SCALARS = st.one_of(SCALARS, TEXT.map(_Text), st.integers().map(_Number))
ANY_VALUES = st.recursive(ODD_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.lists(inner, max_size=3).map(tuple),
    st.dictionaries(KEYS, inner, max_size=4), st.dictionaries(KEYS, inner, max_size=3).map(_Mapping)), max_leaves=14)


@settings(max_examples=600, deadline=None)
@given(ANY_VALUES, st.integers(min_value=0, max_value=4))
def test_the_fast_emitter_writes_what_the_earlier_one_wrote(value, indent):
    assert yamltext.flow(value) == _earlier_flow(value)
    assert yamltext.block(value, indent) == "\n".join(_earlier_block_lines(value, indent))
