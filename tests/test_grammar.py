"""The grammar and the AST: every form of DESIGN.md §1.1–§1.2, spans, and syntax errors in words."""

from __future__ import annotations

import pytest

from tunespec.compiler.ast import (
    AstBuilder, Block, Bool, Declaration, Ident, Import, ListValue, Number, Span, Sweep, parse_module,
)
from tunespec.grammar import SyntaxProblem
from tunespec.grammar import parser as grammar_parser
from tests.conftest import REPO
from tunespec.grammar.compile import LARK_VERSION, build_lark, grammar_digest, reference_parse, stored_form, tables_data
from tunespec.grammar.lalr import lex

# Lark is a development extra (`pip install '.[grammar]'`, which .ci/run installs): the tests that compare
# the runtime with Lark, or remake the tables with it, need it; nothing else does.
try:
    import lark as _lark
except ImportError:
    _lark = None
needs_lark = pytest.mark.skipif(_lark is None, reason="Lark is not installed (the `grammar` extra): "
                                "the tables cannot be remade or compared with Lark's own parser")


def parse(text: str):
    return parse_module(text, "t.tune")


def value_of(text: str):
    """The value of `x` in `experiment e { x = TEXT }`."""
    module = parse(f"experiment e {{ x = {text} }}")
    return module.declarations[0].members[0].value


def outcome(text: str):
    """What our runtime makes of `text`: the AST, or that it is an error."""
    try:
        return parse_module(text, "t.tune").items
    except SyntaxProblem:
        return "error"


def reference_outcome(text: str):
    """The same from Lark's own parser, feeding the same AST builder."""
    from lark.exceptions import UnexpectedInput

    try:
        return reference_parse(text, AstBuilder())
    except (UnexpectedInput, SyntaxProblem):
        return "error"


def problem(text: str) -> SyntaxProblem:
    with pytest.raises(SyntaxProblem) as caught:
        parse(text)
    return caught.value


# --- declarations -----------------------------------------------------------------------------------

def test_every_declaration_form():
    module = parse('''
import "common/granite.tune"
preset base { method = lora }
preset child extends base { }
experiment run extends child { model = "x" }
model "acme/m" { family = llama }
''')
    kinds = [type(item).__name__ if isinstance(item, Import) else item.kind for item in module.items]
    assert kinds == ["Import", "preset", "preset", "experiment", "model"]
    assert module.imports[0].path.value == "common/granite.tune"
    child = module.declarations[1]
    assert child.extends.value == "base" and child.extends.span == Span(4, 22, 4, 26)
    assert module.declarations[3].name.value == "acme/m"


def test_model_is_a_field_name_inside_bodies():
    member = parse('experiment e { model = "ibm/granite-3-1-8b-base" }').declarations[0].members[0]
    assert member.name == "model" and member.value.value == "ibm/granite-3-1-8b-base"


def test_blocks_hold_assignments_with_spans():
    decl = parse("experiment e {\n  training {\n    batch_size = 8\n  }\n}").declarations[0]
    block = decl.members[0]
    assert isinstance(block, Block) and block.name == "training" and block.name_span == Span(2, 3, 2, 11)
    assignment = block.members[0]
    assert assignment.name_span == Span(3, 5, 3, 15)
    assert assignment.value == Number(8, Span(3, 18, 3, 19), "8")


def test_empty_file_and_comments_only():
    assert parse("").items == []
    module = parse("# only a comment\n\n# another\n")
    assert module.items == [] and [c.text for c in module.comments] == ["# only a comment", "# another"]


def test_comments_are_collected_with_positions_and_not_inside_strings():
    module = parse('experiment e { a = "# not a comment" # real\n}')
    assert [(c.text, c.span.line, c.span.column) for c in module.comments] == [("# real", 1, 38)]


# --- values -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("8", 8), ("10_000", 10000), ("0.05", 0.05), ("1e-5", 1e-5), ("3.0E-4", 3.0e-4), ("1_000.5", 1000.5),
    ("-3", -3), ("-1e-5", -1e-5), ("1e+3", 1000.0), ("0", 0),
])
def test_numbers(text, expected):
    value = value_of(text)
    assert isinstance(value, Number) and value.value == expected and value.raw == text
    assert type(value.value) is type(expected)


@pytest.mark.parametrize("text, help", [
    ("1__000", "underscores go only between digits"), ("1_", "underscores go only between digits"),
    ("_1", None), ("1.", "write `1.0`"), ("8b", "numbers are written like"), ("1e", "numbers are written like"),
])
def test_malformed_numbers(text, help):
    if text == "_1":  # an identifier, which is a value too
        assert value_of(text) == Ident("_1", Span(1, 20, 1, 22), "_1")
        return
    error = problem(f"experiment e {{ x = {text} }}")
    assert error.message == f"`{text}` is not a number" and (error.line, error.column) == (1, 20)
    assert help in error.help


def test_the_number_check_without_re_answers_as_the_documented_pattern():
    """`number_shaped` (which spares a cold lint compiling NUMBER_SHAPE) against the pattern itself, on every
    string of up to six characters made of digits, `_`, `.`, `e`, `E`, signs and letters."""
    import itertools
    import re

    from tunespec.compiler.ast import NUMBER_SHAPE, number_shaped

    pattern = re.compile(NUMBER_SHAPE)
    for size in range(7):
        for chars in itertools.product("0-_.eE+x" if size == 6 else "09-_.eE+x٣", repeat=size):
            text = "".join(chars)
            assert number_shaped(text) == bool(pattern.fullmatch(text)), text


def test_leading_dot_is_not_a_number():
    error = problem("experiment e { x = .5 }")
    assert error.message == "`.5` is not a number" and error.help == "write `0.5`"
    assert (error.line, error.column) == (1, 20)


def test_huge_number_is_a_syntax_problem_not_infinity():
    assert problem("experiment e { x = 1e999 }").message == "number `1e999` is too large"


def test_booleans_identifiers_and_strings():
    assert value_of("true") == Bool(True, Span(1, 20, 1, 24), "true")
    assert value_of("false").value is False
    assert value_of("all-linear") == Ident("all-linear", Span(1, 20, 1, 30), "all-linear")
    assert value_of('"a b"').value == "a b"


@pytest.mark.parametrize("raw, expected", [
    (r'"q\"uote"', 'q"uote'), (r'"back\\slash"', "back\\slash"), (r'"sl\/ash"', "sl/ash"),
    (r'"\b\f\n\r\t"', "\b\f\n\r\t"), (r'"\u00e9"', "é"), (r'"\uD83D\uDE00"', "\U0001F600"),
])
def test_string_escapes_are_jsons(raw, expected):
    assert value_of(raw).value == expected


def test_invalid_escape_points_at_the_backslash():
    error = problem(r'experiment e { x = "ab\qc" }')
    assert error.message == "invalid escape `\\q` in a string" and (error.line, error.column) == (1, 23)


def test_lone_surrogate_is_not_a_character():
    error = problem(r'experiment e { x = "\uD800" }')
    assert "surrogate" in error.message and (error.line, error.column) == (1, 21)


def test_bad_unicode_escape():
    assert "four hexadecimal digits" in problem(r'experiment e { x = "\u12" }').message


def test_triple_quoted_strings_are_literal():
    value = value_of('"""\nline one\n  "quoted" and ""two""\nno \\n escape"""')
    assert value.value == 'line one\n  "quoted" and ""two""\nno \\n escape'
    assert value.span == Span(1, 20, 4, 16)


def test_triple_quoted_string_keeps_text_without_leading_newline():
    assert value_of('"""same line"""').value == "same line"


def test_lists_with_trailing_commas_across_lines():
    value = value_of('[\n  "q_proj",\n  "v_proj",\n]')
    assert isinstance(value, ListValue) and [item.value for item in value.items] == ["q_proj", "v_proj"]
    assert [item.span.line for item in value.items] == [2, 3]
    assert value_of("[]").items == ()


def test_sweep_elements_have_their_own_spans():
    value = value_of("sweep [1e-5,\n 3e-5]")
    assert isinstance(value, Sweep) and value.span == Span(1, 20, 2, 7)
    assert [item.span for item in value.items] == [Span(1, 27, 1, 31), Span(2, 2, 2, 6)]


def test_crlf_and_bom_are_the_callers_job_but_crlf_text_still_parses():
    decl = parse("experiment e {\n  a = 1\n}\n").declarations[0]
    assert isinstance(decl, Declaration)


# --- syntax errors in words -------------------------------------------------------------------------

@pytest.mark.parametrize("text, message, place", [
    ("experiment x {\n  batch_size 8\n}", "expected `=` after `batch_size`, found `8`", (2, 14)),
    ("experiment x {\n  a = 1\n", "unclosed `{` opened at 1:14", (2, 8)),
    ("experiment x {\n  l = [1,\n", "unclosed `[` opened at 2:7", (2, 10)),
    # the indentation shows which block lost its `}` (issue 12), not the outermost one brackets blame
    ("experiment x {\n  training {\n    a = 8\n  lora {\n    rank = 8\n  }\n}\n",
     "unclosed `{` of `training` opened at 2:12: line 4 is back at its indentation without closing it", (2, 12)),
    ("experiment x {\n  training { a = 8 }\n  lora {\n    rank = 8\n}\n",
     "unclosed `{` of `lora` opened at 3:8: line 5 is back at its indentation without closing it", (3, 8)),
    ("experiment import {}", "`import` is a reserved word and cannot be used as a name here", (1, 12)),
    ("experiment x { a = sweep }", "expected `[` after `sweep`, found `}`", (1, 26)),
    ("experiment x { sweep = 1 }", "`sweep` is a reserved word and cannot be used as a name here", (1, 16)),
    ("x = 1", "expected a declaration (`import`, `preset`, `experiment` or `model`), found `x`", (1, 1)),
    ("experiment x { a = [1 2] }", "expected `,` or `]` after `1` in a list, found `2`", (1, 23)),
    ('experiment x { a = "abc }', 'unterminated string: no closing `"` on this line', (1, 20)),
    ('experiment x { a = """abc', 'unterminated `"""` string', (1, 20)),
    ("experiment x { a: 1 }", "unexpected character `:`", (1, 17)),
    ("experiment x { a = 1 } }", "unexpected `}`: there is no open `{` to close", (1, 24)),
    ("experiment x extends { }", "expected a name after `extends`, found `{`", (1, 22)),
    ("preset", "expected a name, found end of file", (1, 7)),
    ("experiment x { a = sweep 1 }", "expected `[` after `sweep`, found `1`", (1, 26)),
    ("experiment x { a = 'b' }", "strings are written in double quotes", (1, 20)),
    ("experiment x {\n a = \"x\" \x00 }", "unexpected character `\\x00`", (2, 10)),
])
def test_syntax_errors_say_what_was_found_and_expected(text, message, place):
    error = problem(text)
    assert error.message.startswith(message)
    if place:
        assert (error.line, error.column) == place


def test_missing_equals_has_a_help_that_shows_the_fix():
    assert problem("experiment x {\n  batch_size 8\n}").help == "write `batch_size = 8`"


def test_field_at_top_level_explains_where_fields_go():
    assert "inside a `preset` or `experiment`" in problem("batch_size = 8").help


# --- the precompiled parser ---------------------------------------------------------------------------

def test_precompiled_tables_are_of_the_current_grammar():
    """`python -m tunespec.grammar.compile` must be run after editing tune.lark."""
    from tunespec.grammar import tables

    assert tables.GRAMMAR_DIGEST == grammar_digest()


@needs_lark
def test_the_shipped_tables_are_what_the_pinned_lark_makes_of_the_grammar():
    """The same lexer, rules and states (numbered alike: Lark's numbering varies with the hash seed), in
    the run-time form (`lalr.runtime_form`) that tables.py stores."""
    from tunespec.grammar import tables

    assert _lark.__version__ == LARK_VERSION
    assert tables.TABLES == stored_form(tables_data())


def test_run_time_does_not_depend_on_lark_and_the_grammar_extra_pins_the_version_the_tables_are_made_with():
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert not [dep for dep in project["dependencies"] if dep.lower().startswith("lark")]
    assert project["optional-dependencies"]["grammar"] == [f"lark=={LARK_VERSION}"]


@needs_lark
def test_runtime_parses_the_examples_exactly_as_lark_does():
    for path in sorted((REPO / "examples").glob("**/*.tune")) + sorted((REPO / "tests" / "cases").glob("**/*.tune")):
        text = path.read_text(encoding="utf-8")
        assert outcome(text) == reference_outcome(text), path


@needs_lark
def test_runtime_lexes_exactly_as_lark_does():
    lark_parser = build_lark()
    text = (REPO / "examples" / "experiments" / "tickets.tune").read_text(encoding="utf-8")
    ours = [(t.type, t.value, t.line, t.column, t.end_line, t.end_column) for t in lex(grammar_parser.tables(), text)]
    theirs = [(t.type, t.value, t.line, t.column, t.end_line, t.end_column) for t in lark_parser.lex(text)]
    assert ours == theirs


# --- the lexer's pattern, as written before it was shortened ------------------------------------------

# The scanner and the white space as tables.py held them until the pattern was written with fewer groups
# (`lalr.runtime_form`): the same tokens, found the same way, must come of the pattern now shipped.
EARLIER_SKIP = "(?>(?:(?:[ \t\x0c\r\n]+))*)"
EARLIER_SCANNER = EARLIER_SKIP + (
    '(?:(?P<LONG_STRING>"""[^"]*+(?:"(?!"")[^"]*+)*+""")'
    '|(?P<NUMBER>-?[0-9][0-9_]*(\\.[0-9_]*)?([eE][+-]?[0-9_]*)?[A-Za-z0-9_.]*)'
    '|(?P<STRING>"[^"\\\\\n]*+(?:\\\\[^\n][^"\\\\\n]*+)*+")'
    '|(?P<NAME>[A-Za-z_][A-Za-z0-9_-]*)'
    '|(?P<COMMENT>#[^\n]*)'
    '|(?P<COMMA>,)'
    '|(?P<EQUAL>=)'
    '|(?P<LBRACE>\\{)'
    '|(?P<LSQB>\\[)'
    '|(?P<RBRACE>\\})'
    '|(?P<RSQB>\\]))')


def _scanned(scanner, skip, text: str) -> list[tuple]:
    """What the lexer's loop reads of `text` with these patterns: each token's kind and span, then where
    the blanks after the last token end."""
    found, position = [], 0
    while (match := scanner.match(text, position)) is not None:
        found.append((match.lastgroup, match.span(match.lastgroup)))
        position = match.end()
    return [*found, skip.match(text, position).end()]


def _both_ways(text: str) -> None:
    import re

    from tunespec.grammar.tables import TABLES

    now = _scanned(re.compile(TABLES["scanner"]), re.compile(TABLES["skip"]), text)
    assert now == _scanned(re.compile(EARLIER_SCANNER), re.compile(EARLIER_SKIP), text)


def test_the_shortened_pattern_lexes_every_example_and_fixture_as_the_earlier_one():
    paths = sorted((REPO / "examples").glob("**/*.tune")) + sorted((REPO / "tests" / "cases").glob("**/*.tune"))
    assert len(paths) > 50
    for path in paths:
        _both_ways(path.read_text(encoding="utf-8"))


def test_the_shortened_pattern_lexes_any_text_as_the_earlier_one():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    pieces = st.sampled_from(["1", "0_0", ".", "e", "E", "-", "+", "_", "a", "Z", "#", '"', '"""', "\\", "\n",
                              " ", "\t", "\f", "\r", ",", "=", "{", "}", "[", "]", "x-y", "1.5e-3", "é", "\x00"])

    @settings(max_examples=2000, deadline=None)
    @given(st.lists(pieces, max_size=30).map("".join) | st.text(max_size=30))
    def check(text):
        _both_ways(text)

    check()
