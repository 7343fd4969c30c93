"""The Pygments lexer (`tunespec/pygments_lexer.py`, entry point `tune`): every shipped `.tune` text lexes
without an error token, each kind of token is told apart, and what the grammar rejects is an error."""

from __future__ import annotations

import re

import pytest

from tests.conftest import REPO
from tests.editor_samples import LONG, LONG_ESCAPES, LONG_NUMBERS, TUNE_FILES

pygments = pytest.importorskip("pygments", reason="the pygments extra (tunespec[pygments]) is not installed")

from hypothesis import given, settings, strategies as st  # noqa: E402
from pygments.lexers import find_lexer_class_for_filename, get_lexer_by_name  # noqa: E402
from pygments.token import Comment, Error, Keyword, Name, Number, Operator, Punctuation, String  # noqa: E402

from tunespec.pygments_lexer import TuneLexer  # noqa: E402

README_BLOCKS = re.findall(r"```tune\n(.*?)```", (REPO / "README.md").read_text(encoding="utf-8"), re.S)


def tokens(text: str) -> list[tuple]:
    return list(TuneLexer(stripnl=False).get_tokens(text))  # Pygments drops leading blank lines by default


def test_the_entry_point_finds_the_lexer_by_name_and_by_file_name():
    assert isinstance(get_lexer_by_name("tune"), TuneLexer)
    assert find_lexer_class_for_filename("experiments/tickets.tune") is TuneLexer


@pytest.mark.parametrize("path", TUNE_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_example_and_fixture_lexes_without_an_error_token(path):
    text = path.read_text(encoding="utf-8")
    found = tokens(text)
    assert [value for kind, value in found if kind in Error] == []
    assert "".join(value for _, value in found) == text if text.endswith("\n") else text + "\n"


def test_the_readmes_tune_blocks_lex_without_an_error_token():
    assert README_BLOCKS
    for block in README_BLOCKS:
        assert [value for kind, value in tokens(block) if kind in Error] == []


def test_every_kind_of_token_appears_in_the_examples():
    kinds = {kind for path in TUNE_FILES for kind, _ in tokens(path.read_text(encoding="utf-8"))}
    for expected in (Keyword.Declaration, Keyword.Namespace, Keyword, Keyword.Constant, Name.Class, Name.Attribute,
                     Name.Tag, Name.Constant, String.Double, Number.Integer, Number.Float, Comment.Single,
                     Comment.Special, Operator, Punctuation):
        assert expected in kinds, expected


def test_long_strings_escapes_and_numbers():
    found = tokens(LONG)
    assert [value for kind, value in found if kind in Error] == []
    long = next(index for index, (_, value) in enumerate(found) if value == '"""')
    closing = next(index for index in range(long + 1, len(found)) if found[index][1] == '"""')
    inside = found[long:closing + 1]
    assert all(kind in String for kind, _ in inside)
    assert "".join(value for _, value in inside).count("\n") == 2  # one token run over three lines
    assert [value for kind, value in found if kind is String.Escape] == LONG_ESCAPES
    assert [value for kind, value in found if kind in Number] == LONG_NUMBERS
    assert ("model" in [v for k, v in tokens('model "acme/x" {}\n') if k is Keyword.Declaration])
    assert ("model" in [v for k, v in tokens('experiment e { model = "x" }\n') if k is Name.Attribute])
    assert [v for k, v in tokens("experiment e { targets = [fms-hf-tuning, import-ish] }\n") if k is Name.Constant] \
        == ["fms-hf-tuning", "import-ish"]


@pytest.mark.parametrize("text, bad", [
    ("experiment e { seed = 8b }\n", "8b"),
    ("experiment e { seed = 1. }\n", "1."),
    ("experiment e { task: lora }\n", ":"),
    ("experiment e { task = 'lora' }\n", "'"),
    ('experiment e { description = "bad \\x escape" }\n', "\\x"),
    ('experiment e { description = "unterminated\n}\n', "\n"),
])
def test_what_the_grammar_rejects_is_an_error_token(text, bad):
    assert bad in [value for kind, value in tokens(text) if kind in Error]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(list('ab_-"#{}[]=,.:\\ \n09eE+') + ["import", "model", '"""', "é"]), max_size=60))
def test_any_text_lexes_to_itself(pieces):
    text = "".join(pieces)
    expected = text if text.endswith("\n") else text + "\n"
    assert "".join(value for _, value in tokens(text)) == expected
