"""The fast ways `build` reads its files back (and writes a folder's path into them) agree with the slow,
obvious ones.

`_shell_commands` must split each line as `shlex.split` does, `_python_data` (a cached skeleton plus the
SPEC literal) must accept and reject exactly the scripts `ast.parse` does, with the same data, and the
YAML verifier, which builds only the checked values, must find what a full `yaml.load_all` holds.
"""

from __future__ import annotations

import ast
import shlex

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.conftest import GOLDEN
from tunespec.templates.render import (_follow, _python_data, _python_spec, _shell_commands, _shell_readable, _spec_literal,
                                       VerificationError, _YamlNodes, parse_back, verify_compiled)

SHELLISH = st.text(alphabet=" \t\r'\"\\abc;|&$()=-/.", max_size=40)


@settings(max_examples=2000, deadline=None)
@given(SHELLISH | st.text(max_size=40).filter(lambda text: "\n" not in text and "#" not in text))
def test_the_words_of_one_line_are_those_of_shlex_split(line):
    """(A line break ends a command, and `#` may start a comment: the tests below are about those.)"""
    try:
        expected = shlex.split(line)
    except ValueError:
        with pytest.raises(ValueError):
            _shell_commands(line)
        return
    assert [word for command in _shell_commands(line) for word in command] == expected


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


SCRIPTISH = st.text(alphabet=" \t\r\n'\"\\#ab;$", max_size=60)


def _reads(text: str) -> bool:
    try:
        _shell_commands(text)
    except ValueError:
        return False
    return True


@settings(max_examples=3000, deadline=None)
@given(SCRIPTISH | st.text(max_size=60))
def test_a_script_is_readable_exactly_when_its_commands_can_be_split(text):
    """`_shell_readable` (one regular expression) says what `_shell_commands` says: comments at the start
    of a word only, quotes inside them not counted, a backslash before a line break joining lines."""
    assert _shell_readable(text) == _reads(text)


@pytest.mark.parametrize("text, readable", [
    ("echo 'a\nb' # it's\n", True), ("echo a#'b\n", False), ("\\\n# it's\n", True), ("a\\\n#'\n", False),
    ('echo "a\\"b"', True), ('echo "a\\\\"b"', False), ("echo \\", False), ("", True)])
def test_readable_scripts(text, readable):
    assert _shell_readable(text) is readable is _reads(text)


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


SPEC_LINES = ['    "a": 1,', '    "a": 2,', '    "b": [', "        1,", "    ],", "    ]", "    }", '    "c": {', '        "d": None,',
              "    },", "    # a comment,", '    "e": 1  # no comma,', '    "f": """x', '    y""",', '    "g": 1, \\',
              '    "h": (', "    1)", '    "i": x,', '    "j": \'a\' "b",', '    "k": {**{}},', "", "    0: 0", '    "l": 1,,']
# Dicts written a line per item, a level or two deep (read a part of the inner display at a time), and near misses.
NESTED_LINES = ['    "t": {', '        "u": 1,', '        "u": 2,', '        "v": {', '            "w": [1],', '        },',
                "        },,", "        }", '        # c {', '        "x": """y', '    "t":{', '    "t": { # {', "    }, ",
                '        "z": 1, \\', "        0: 0,", '    "t1": {}', '        "d": None,']



@st.composite
def nested_spec_lines(draw):
    """SPEC lines with dicts written a line per item, mostly well formed, now and then a line of either list."""
    lines: list[str] = []

    def block(indent: str, depth: int) -> None:
        for _ in range(draw(st.integers(min_value=0, max_value=3))):
            kind = draw(st.sampled_from(["item"] * 3 + ["nested"] * (2 if depth < 2 else 0) + ["noise"]))
            if kind == "item":
                lines.append(indent + draw(st.sampled_from(['"u": 1,', '"u": 2,', '"w": [1],', '"d": None,', "# c {",
                                                            '"x": (1,', '"z": 1, \\', '"y": 1'])))
            elif kind == "nested":
                lines.append(indent + '"' + draw(st.sampled_from(["t", "u", "v"])) + '": {')
                block(indent + "    ", depth + 1)
                lines.append(indent + draw(st.sampled_from(["},"] * 4 + ["}", "},,", "}, "])))
            else:
                lines.append(draw(st.sampled_from(SPEC_LINES + NESTED_LINES)))

    block("    ", 0)
    return lines


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(SPEC_LINES), max_size=8) | st.lists(st.sampled_from(SPEC_LINES + NESTED_LINES * 2),
                                                                    max_size=12) | nested_spec_lines())
def test_a_spec_read_a_part_at_a_time_is_what_reading_it_whole_gives(lines):
    """Parts seen before are not parsed again, whatever came before them: the answers (a value, or the
    error) are the whole literal's, for well-formed parts and broken ones alike."""
    def whole():
        return ast.literal_eval("\n".join(["{", *lines, "}"]))

    try:
        expected = whole()
    except (SyntaxError, ValueError) as error:
        with pytest.raises(type(error)):
            _spec_literal(lines)
        return
    found = _spec_literal(lines)
    assert found == expected and list(found) == list(expected)


YAMLISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4) | st.integers(), inner, max_size=3),
    max_leaves=12)
PATHS = st.lists(st.sampled_from(["0", "1", "a", "", "b", "|json", "|yaml", "2"]), max_size=4)


@settings(max_examples=500, deadline=None)
@given(st.lists(YAMLISH, min_size=0, max_size=3), PATHS, st.booleans())
def test_the_yaml_verifier_finds_what_a_full_load_holds(documents, parts, omegaconf):
    import yaml

    text = yaml.safe_dump_all(documents, default_flow_style=None)
    format = "omegaconf" if omegaconf else "yaml"
    assert _YamlNodes(text, omegaconf).follow(parts) == _follow(parse_back(text, format), parts)


@pytest.mark.parametrize("text", ["a: 1\na: 2\n", "base: &b {x: 1}\nc:\n  <<: *b\n  y: 2\n", "1: x\n'1': y\n",
                                  "--- {a: '{\"k\": [1]}'}\n--- [x]\n", "a: !!str 1\n", "",
                                  "a: &x {b: [1, 2.5, null, true]}\nc: *x\n", "a: 2001-12-14\n", "=: 1\na: 2\n",
                                  "a: !!set {x, y}\n", "a: !!omap [x: 1]\n", "a: {1: {2: x}}\n"])
def test_the_yaml_verifier_handles_duplicates_merges_and_documents_in_strings(text):
    for parts in (["a"], ["c", "x"], ["c", "y"], ["1"], ["0", "a", "|json", "k", "0"], ["1", "0"], []):
        assert _YamlNodes(text, False).follow(parts) == _follow(parse_back(text, "yaml"), parts)


def test_a_small_yaml_text_seen_before_is_composed_once_and_still_compared_with_each_ir(monkeypatch):
    from tunespec.templates import render

    composed = []

    class Counting(render._YamlNodes):
        def __init__(self, text, omegaconf):
            composed.append(text)
            super().__init__(text, omegaconf)

    monkeypatch.setattr(render, "_YamlNodes", Counting)
    monkeypatch.setattr(render, "_composed", {})
    text = "num_processes: 2\nmixed_precision: 'no'\n"
    checks = [("num_processes", ["num_processes"], lambda ir: ir["n"]),
              ("mixed_precision", ["mixed_precision"], lambda ir: ir["precision"])]
    verify_compiled(text, "yaml", checks, {"n": 2, "precision": "no"}, "a")
    verify_compiled(text, "yaml", checks, {"n": 2, "precision": "no"}, "b")
    with pytest.raises(VerificationError, match="`num_processes` is 2 after parsing back, not 3"):
        verify_compiled(text, "yaml", checks, {"n": 3, "precision": "no"}, "c")
    with pytest.raises(VerificationError, match="`mixed_precision` is 'no' after parsing back, not False"):
        verify_compiled(text, "yaml", checks, {"n": 2, "precision": False}, "d")
    assert composed == [text]
    big = "a: 1\n" + "#" * render._SMALL_YAML + "\n"  # a text past the bound is composed every time
    for _ in range(2):
        verify_compiled(big, "yaml", [("a", ["a"], lambda ir: 1)], {}, "e")
    assert composed == [text, big, big]
    verify_compiled(text, "omegaconf", checks, {"n": 2, "precision": "no"}, "f")  # read another way: its own entry
    assert composed == [text, big, big, text]


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.tuples(inner) | st.dictionaries(
        st.text(max_size=4) | st.integers() | st.booleans() | st.none(), inner, max_size=3),
    max_leaves=15)


@settings(max_examples=1000, deadline=None)
@given(JSONISH, st.integers(min_value=0, max_value=4))
def test_the_json_filter_indents_as_json_dumps_does(value, indent):
    import json

    from tunespec.templates.render import to_json

    assert to_json(value, indent) == json.dumps(value, ensure_ascii=False, indent=indent)


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet="a./\\", max_size=12))
@example("../../..")
@example("../a/..")
@example("./a")
@example("a/.")
@example("a/./b")
@example(".")
@example("..")
@example(".a/b..")
def test_a_folder_is_shown_as_pure_posix_path_shows_it(path):
    from pathlib import PurePosixPath

    from tunespec.templates.render import _posix

    assert _posix(path) == PurePosixPath(path).as_posix()


# Plain scalars of every kind the safe resolver tells apart (and texts near them), written plain, quoted,
# as keys and in flow collections, with explicit tags now and then.
SCALARISH = st.sampled_from(["1", "-2", "0x1F", "0o17", "017", "1_000", "+3", "1.5", ".5", "1e3", "1.0e+3", ".inf",
                             "-.Inf", ".nan", "NaN", "true", "False", "yes", "no", "on", "null", "~", "Null", "",
                             "2001-12-14", "1:20", "0b101", "a", "0.1.2", "=", "<<", "x y"]) | \
    st.text(alphabet="0123456789.+-_eEx:abfnlstru~ ", max_size=8)
TAGS = st.sampled_from(["", "", "", "!!str ", "!!int ", "!!float ", "!!bool ", "!!null ", "! "])


@st.composite
def yaml_texts(draw):
    def scalar():
        text = draw(SCALARISH)
        return draw(TAGS) + draw(st.sampled_from([text, repr(text), '"' + text + '"']))
    lines = []
    for _ in range(draw(st.integers(min_value=0, max_value=6))):
        lines.append(draw(st.sampled_from(["{}: {}", "- {}", "{}: [{}, {}]", "{}: {{a: {}}}", "{}:\n  - {}"]))
                     .format(*(scalar() for _ in range(3))))
    return "\n".join(lines) + "\n"


def _shape(node):
    """A composed node as plain data: its kind, tag and text, or its items' shapes."""
    import yaml

    if isinstance(node, yaml.ScalarNode):
        return ("scalar", node.tag, node.value, node.style)
    if isinstance(node, yaml.SequenceNode):
        return ("seq", node.tag, [_shape(item) for item in node.value])
    return ("map", node.tag, [(_shape(key), _shape(value)) for key, value in node.value])


def _load(text, loader):
    import yaml

    try:
        return [_shape(node) for node in yaml.compose_all(text, Loader=loader)]
    except yaml.YAMLError as error:
        return type(error).__name__


@settings(max_examples=1500, deadline=None)
@given(yaml_texts())
def test_the_verifying_loader_composes_what_the_safe_loader_composes(text):
    """The verifying loader's own `resolve` (remembered tags, a scalar told by its text) and its path
    callbacks that do nothing give every node the tag, text and style the safe loader gives it, for texts
    seen for the first time and again (the memo's hits)."""
    from tunespec.templates import render

    expected = _load(text, render.YAML_LOADER)
    assert _load(text, render._VerifyingLoader) == expected
    assert _load(text, render._VerifyingLoader) == expected


@settings(max_examples=1500, deadline=None)
@given(SCALARISH, st.sampled_from(["str", "int", "float", "bool", "null", "timestamp", "binary"]))
def test_a_remembered_scalar_value_is_what_the_safe_constructor_builds(text, name):
    """`_scalar_value`, built once per tag and text, is the safe constructor's value of the node, type
    included, or its error (_NotPlain for a tag it leaves to the constructor), the first time and from
    its memo."""
    import math

    import yaml

    from tunespec.templates import render

    def outcome(build):
        try:
            return build(yaml.ScalarNode(f"tag:yaml.org,2002:{name}", text))
        except Exception as error:  # (whatever the constructor raises for a text it cannot read)
            return type(error)

    expected = outcome(render.YAML_LOADER("").construct_object)
    if name not in ("str", "int", "float", "bool", "null"):
        expected = render._NotPlain
    for _ in range(2):
        found = outcome(render._scalar_value)
        assert type(found) is type(expected)
        assert found == expected or (isinstance(found, float) and math.isnan(found) and math.isnan(expected))


class _Text(str):
    pass


class _Mapping(dict):
    pass


ODD_JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6) | st.text(max_size=4).map(_Text),
    lambda inner: st.lists(inner, max_size=3) | st.tuples(inner) | st.dictionaries(
        st.text(max_size=4) | st.integers(), inner, max_size=3).map(_Mapping) | st.dictionaries(
        st.text(max_size=4), inner, max_size=3),
    max_leaves=15)


@settings(max_examples=500, deadline=None)
@given(ODD_JSONISH, st.integers(min_value=0, max_value=4))
def test_the_json_filter_indents_values_of_other_types_as_json_dumps_does(value, indent):
    """(`_indented` tells the IR's own types apart by `type` first; subclasses take the general way.)"""
    import json

    from tunespec.templates.render import to_json

    assert to_json(value, indent) == json.dumps(value, ensure_ascii=False, indent=indent)
