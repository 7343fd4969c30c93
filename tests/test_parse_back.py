"""The fast ways `build` reads its files back agree with the slow, obvious ones.

`_shell_words` must split exactly as `shlex.split`, and `_python_data` (a cached skeleton plus the SPEC
literal) must accept and reject exactly the scripts `ast.parse` does, with the same data.
"""

from __future__ import annotations

import ast
import shlex

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import GOLDEN
from tunespec.templates.render import _python_data, _python_spec, _shell_commands, _shell_words

SHELLISH = st.text(alphabet=" \t\r\n'\"\\abc#;|&$()=-/.", max_size=40)


@settings(max_examples=2000, deadline=None)
@given(SHELLISH | st.text(max_size=40))
def test_shell_words_split_as_shlex_does(line):
    try:
        expected = shlex.split(line)
    except ValueError:
        with pytest.raises(ValueError):
            _shell_words(line)
        return
    assert _shell_words(line) == expected


LINE = st.text(alphabet=" \t'\"\\abc;|&$()=-/.", max_size=30)


@settings(max_examples=1000, deadline=None)
@given(st.lists(LINE, max_size=5))
def test_shell_commands_are_the_lines_split_as_shlex_does(lines):
    """Without comments and quotes across lines, a script's commands are its lines, each `shlex.split`."""
    try:
        expected = [words for words in map(shlex.split, lines) if words]
    except ValueError:
        return
    assert _shell_commands("\n".join(lines)) == expected


def test_shell_commands_keep_a_quoted_line_break_in_its_word_and_skip_comments():
    script = "#!/bin/sh\n# a comment\nset -eu\n  # indented\ntune download 'acme/x\ny' --to a#b # c\nexec x\n"
    assert _shell_commands(script) == [["set", "-eu"], ["tune", "download", "acme/x\ny", "--to", "a#b"], ["exec", "x"]]
    with pytest.raises(ValueError):
        _shell_commands("echo 'never closed\nexit\n")


SCRIPTS = sorted(GOLDEN.glob("all-targets/*/peft/train.py"))


REJECTED = "rejected"  # a SyntaxError, or a SPEC that is not a literal (ValueError): both fail verification


def slow(text: str):
    try:
        return _python_spec(ast.parse(text))
    except (SyntaxError, ValueError):
        return REJECTED


def fast(text: str):
    try:
        return _python_data(text)
    except (SyntaxError, ValueError):
        return REJECTED


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.parent.parent.name)
def test_the_skeleton_check_reads_each_golden_script_as_ast_parse_does(path):
    text = path.read_text(encoding="utf-8")
    assert fast(text) == slow(text) != REJECTED


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::SyntaxWarning")  # damaged escapes
@settings(max_examples=300, deadline=None)
@given(st.sampled_from(SCRIPTS), st.integers(min_value=0), st.sampled_from(["delete", "insert", "duplicate"]),
       st.sampled_from(['"', "'", "(", ")", "{", "}", ",", ":", "\\", "#", "\n", " ", "x", '"""']))
def test_a_damaged_script_is_judged_as_ast_parse_judges_it(path, where, how, piece):
    text = path.read_text(encoding="utf-8")
    where %= len(text)
    if how == "delete":
        damaged = text[:where] + text[where + 1:]
    elif how == "insert":
        damaged = text[:where] + piece + text[where:]
    else:
        damaged = text[:where] + text[where:where + 20] + text[where:]
    assert fast(damaged) == slow(damaged)
