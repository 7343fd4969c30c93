"""`tunespec fmt`: the canonical layout, comments kept, idempotent, meaning unchanged, bad input untouched."""

from __future__ import annotations

import hashlib
import os
import random
import stat

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import EXAMPLES
from tests.test_properties import programs
from tunespec.cli import main
from tunespec.compiler.ast import parse_module
from tunespec.format import format_text, formatted_or_raise, signature
from tunespec.grammar import SyntaxProblem


def fmt(text: str) -> str:
    return format_text(text)


def test_examples_are_formatted(capsys):
    assert main(["fmt", "--check", str(EXAMPLES)]) == 0
    assert "0 files would be reformatted" in capsys.readouterr().out


def test_canonical_layout():
    source = ('import "b.tune"\nimport "a.tune"\npreset p { model="x"\n method =  lora\n\n\n\n'
              ' training { batch_size=8 learning_rate = 1e-5 } lora { target_modules=["q_proj","v_proj",] } }\n'
              'experiment e extends p {}\n')
    assert fmt(source) == (
        'import "b.tune"\n'
        'import "a.tune"\n'
        "\n"
        "preset p {\n"
        '  model  = "x"\n'
        "  method = lora\n"
        "\n"
        "  training {\n"
        "    batch_size    = 8\n"
        "    learning_rate = 1e-5\n"
        "  }\n"
        "  lora {\n"
        '    target_modules = ["q_proj", "v_proj"]\n'
        "  }\n"
        "}\n"
        "\n"
        "experiment e extends p {}\n")


def test_numbers_and_strings_are_kept_as_written():
    source = 'experiment e {\n  a = 1_000\n  b = 3.0E-4\n  c = "caf\\u00e9 \\"q\\""\n  d = """\nraw \\n text"""\n}\n'
    assert fmt(source) == source


def test_long_lists_break_one_element_a_line():
    names = ", ".join(f'"layer_{i:02d}_name"' for i in range(8))
    out = fmt(f"experiment e {{\n  lora {{ target_modules = [{names}] }}\n}}\n")
    assert '    target_modules = [\n      "layer_00_name",\n' in out and '      "layer_07_name",\n    ]\n' in out
    assert all(len(line) <= 100 for line in out.splitlines())


def test_comments_stay_where_they_were():
    source = ("# file header\n\n# about p\npreset p {  # after the brace\n  # leading\n  seed = 1  # trailing\n\n"
              "  targets = [\n    yaml,  # the IR\n    # peft next\n    peft,\n  ]\n  # dangling\n}  # closing\n\n# the end\n")
    assert fmt(source) == source


def test_alignment_runs_break_at_blank_lines_blocks_and_comments():
    source = ("experiment e {\n  model = \"x\"\n  method = lora\n\n  task = generation\n  # why\n"
              "  seed = 1\n  description = \"d\"\n}\n")
    assert fmt(source) == ("experiment e {\n  model  = \"x\"\n  method = lora\n\n  task = generation\n  # why\n"
                           "  seed        = 1\n  description = \"d\"\n}\n")


def test_blank_lines_are_collapsed_and_trimmed_inside_bodies():
    assert fmt("experiment e {\n\n\n  seed = 1\n\n\n\n  task = generation\n\n}\n") == \
        "experiment e {\n  seed = 1\n\n  task = generation\n}\n"


def test_empty_file_and_comment_only_file():
    assert fmt("") == ""
    assert fmt("# only\n\n\n# comments\n") == "# only\n\n# comments\n"


# --- properties ------------------------------------------------------------------------------------------

@st.composite
def commented_programs(draw) -> str:
    """Generated valid programs with comments put at the end of random lines and on lines of their own."""
    lines = draw(programs()).split("\n")
    rng = random.Random(draw(st.integers(0, 10**6)))
    out = []
    for line in lines:
        if rng.random() < 0.3:
            out.append(f"# own line {rng.randint(0, 99)}")
        out.append(line + (f"  # end {rng.randint(0, 99)}" if rng.random() < 0.3 and line.strip() else ""))
    return "\n".join(out) + "\n"


@settings(max_examples=300, deadline=None)
@given(commented_programs())
def test_fmt_is_idempotent_and_keeps_meaning_and_every_comment(text):
    try:
        before = parse_module(text, "t")
    except SyntaxProblem:
        return  # a generated string the language rejects (a lone surrogate); the parser tests cover it
    out = formatted_or_raise(text)
    assert fmt(out) == out
    assert signature(parse_module(out, "t")) == signature(before)
    assert sorted(c.text.rstrip() for c in parse_module(out, "t").comments) == sorted(
        c.text.rstrip() for c in before.comments)


EXAMPLE_TEXTS = [path.read_text(encoding="utf-8") for path in sorted(EXAMPLES.rglob("*.tune"))]


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(EXAMPLE_TEXTS), st.integers(0, 10**6))
def test_fmt_of_reshuffled_whitespace_gives_back_the_canonical_example(text, seed):
    """Collapse and spread the whitespace of a (formatted) example at random: fmt restores it."""
    rng = random.Random(seed)
    mangled = []
    for line in text.split("\n"):
        stripped = line.strip()
        mangled.append(" " * rng.randint(0, 6) + stripped.replace(" = ", rng.choice(["=", " = ", "   =  "]), 1))
        if rng.random() < 0.2 and stripped and not stripped.startswith("#"):
            mangled.append("")
    result = fmt("\n".join(mangled))
    assert signature(parse_module(result, "t")) == signature(parse_module(text, "t"))
    assert fmt(result) == result


# --- the command on files --------------------------------------------------------------------------------

def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_fmt_rewrites_and_check_and_diff_do_not(project, capsys):
    path = project.write("a.tune", 'experiment e { seed=1 }\n')
    assert main(["fmt", "--check", "a.tune"]) == 1
    assert "would reformat a.tune" in capsys.readouterr().out
    assert main(["fmt", "--diff", "a.tune"]) == 1
    assert "+  seed = 1" in capsys.readouterr().out and path.read_text() == 'experiment e { seed=1 }\n'
    assert main(["fmt", "a.tune"]) == 0
    assert path.read_text() == "experiment e {\n  seed = 1\n}\n"
    assert main(["fmt", "--check", "a.tune"]) == 0


def test_syntax_error_is_reported_and_the_file_left_untouched(project, capsys):
    path = project.write("bad.tune", "experiment e {\n  seed = \n")
    before = digest(path)
    assert main(["fmt", "bad.tune"]) == 1
    assert "bad.tune:2:9: TS001 error" in capsys.readouterr().out and digest(path) == before


def test_non_utf8_file_is_reported_and_left_untouched(project, capsys):
    path = project.root / "latin.tune"
    path.write_bytes(b"# caf\xe9\npreset p { }\n")
    before = digest(path)
    assert main(["fmt", "latin.tune"]) == 1
    assert "TS014" in capsys.readouterr().out and digest(path) == before


def test_read_only_file_is_reported_and_left_untouched(project, capsys):
    path = project.write("ro.tune", "experiment e { seed=1 }\n")
    path.chmod(stat.S_IRUSR | stat.S_IRGRP)
    before = digest(path)
    try:
        assert main(["fmt", "ro.tune"]) == 2
    finally:
        path.chmod(0o644)
    assert "read-only" in capsys.readouterr().err and digest(path) == before


def test_fmt_keeps_the_file_mode(project):
    path = project.write("x.tune", "experiment e { seed=1 }\n")
    path.chmod(0o640)
    assert main(["fmt", "x.tune"]) == 0
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640


def test_carriage_returns_before_a_line_end_are_part_of_it(project):
    """Found by the fuzz harness: `\r\r\n` inside a triple-quoted string was read as `\r` and a line end,
    which fmt wrote back as `\r\n`, which the next read took for a plain line end: fmt twice changed the
    file twice, and the string's value with it."""
    path = project.root / "w.tune"
    path.write_bytes(b'experiment e {\r\r\n  description = """a\r\r\nb\rc"""\r\n}\r\n')
    assert main(["fmt", "w.tune"]) == 0
    formatted = path.read_bytes()
    assert formatted == b'experiment e {\n  description = """a\nb\rc"""\n}\n'
    assert main(["fmt", "--check", "w.tune"]) == 0 and path.read_bytes() == formatted


def test_crlf_and_bom_become_canonical(project):
    path = project.root / "w.tune"
    path.write_bytes(b"\xef\xbb\xbfexperiment e {\r\n  seed = 1\r\n}\r\n")
    assert main(["fmt", "w.tune"]) == 0
    assert path.read_bytes() == b"experiment e {\n  seed = 1\n}\n"
