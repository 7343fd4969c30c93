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
