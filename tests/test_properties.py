"""Property tests: no text, no mutation of the examples, no generated program makes tunespec raise."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import EXAMPLES
from tests.test_grammar import needs_lark, outcome, reference_outcome
from tunespec.api import run_lint
from tunespec.compiler.ast import Number, Str, parse_module
from tunespec.config import Config
from tunespec.diagnostics import Diagnostic
from tunespec.grammar import SyntaxProblem

EXAMPLE_TEXTS = [path.read_bytes() for path in sorted(EXAMPLES.glob("**/*.tune"))]
FIXTURES = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def lint_bytes(folder: Path, data: bytes) -> list[Diagnostic]:
    (folder / "fuzz.tune").write_bytes(data)
    return run_lint(["fuzz.tune"], Config()).diagnostics


@FIXTURES
@given(st.text())
def test_any_text_lints_without_raising(project, text):
    diagnostics = lint_bytes(project.root, text.encode("utf-8", "surrogatepass"))
    assert all(isinstance(d, Diagnostic) and d.line >= 1 and d.column >= 1 for d in diagnostics)


@FIXTURES
@given(st.binary(max_size=400))
def test_any_bytes_lint_without_raising(project, data):
    lint_bytes(project.root, data)


@st.composite
def mutated_example(draw) -> bytes:
    data = bytearray(draw(st.sampled_from(EXAMPLE_TEXTS)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "delete", "truncate", "duplicate", "insert"]))
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "delete":
            del data[at: at + draw(st.integers(1, 12))]
        elif kind == "truncate":
            del data[at:]
        elif kind == "duplicate":
            data[at:at] = data[at: at + draw(st.integers(1, 40))]
        else:
            data[at:at] = draw(st.text(max_size=6)).encode("utf-8", "surrogatepass")
    return bytes(data)


@FIXTURES
@given(mutated_example())
def test_mutated_examples_lint_without_raising(project, data):
    lint_bytes(project.root, data)


# --- generated valid programs -------------------------------------------------------------------------

NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,8}", fullmatch=True).filter(
    lambda n: n not in {"import", "experiment", "preset", "model", "extends", "sweep", "true", "false"})
SCALARS = st.one_of(
    st.integers(-10**6, 10**6).map(str),
    st.floats(allow_nan=False, allow_infinity=False, width=32).map(repr).filter(lambda t: "e" in t or "." in t),
    st.text(max_size=12).map(json.dumps),
    st.sampled_from(["true", "false", "lora", "all-linear"]),
)


@st.composite
def programs(draw) -> str:
    lines = []
    for index in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["preset", "experiment"]))
        members = []
        for _ in range(draw(st.integers(0, 4))):
            value = draw(SCALARS)
            if draw(st.booleans()):
                value = "[" + ", ".join(draw(st.lists(SCALARS, max_size=3))) + "]"
            members.append(f"  {draw(NAMES)} = {value}")
        lines.append(f"{kind} d{index} {{\n" + "\n".join(members) + "\n}")
    return "\n".join(lines)


@needs_lark
@settings(max_examples=200, deadline=None)
@given(st.one_of(programs(), mutated_example().map(lambda data: data.decode("utf-8", "replace"))))
def test_runtime_and_lark_agree_on_generated_and_mutated_programs(text):
    assert outcome(text) == reference_outcome(text)


@settings(max_examples=200, deadline=None)
@given(programs())
def test_generated_programs_parse_and_spans_cover_the_raw_text(text):
    try:
        module = parse_module(text, "gen.tune")
    except SyntaxProblem as problem:  # only a lone surrogate (`"\ud800"`), which is not a character
        assert "surrogate" in problem.message
        return
    lines = text.split("\n")
    for decl in module.declarations:
        for member in decl.members:
            value = member.value
            if isinstance(value, (Number, Str)) and value.span.line == value.span.end_line:
                written = lines[value.span.line - 1][value.span.column - 1: value.span.end_column - 1]
                assert written == value.raw
