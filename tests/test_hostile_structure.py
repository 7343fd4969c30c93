"""Hostile structure: deep, long, huge and circular inputs get a diagnostic or a result, never a RecursionError
or a hang. (The benchmark measures the time of a realistic 10 MB file; here each shape is run once.)"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tunespec.cli import main

DEPTH = 100_000


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "internal error" not in err, err
    return code, out, err


@pytest.fixture
def deep(project):
    nested = "[" * DEPTH + '"q_proj"' + "]" * DEPTH
    project.write("deep.tune", f'experiment e {{\n  model = "ibm/granite-3-1-8b-base"\n  method = lora\n'
                               f"  lora {{ target_modules = {nested} }}\n}}\n")
    return project


@pytest.mark.parametrize("command", [["lint"], ["show"], ["fmt", "--check"], ["fmt"], ["build", "--out", "out"]])
def test_a_list_nested_100000_deep_is_one_syntax_error_for_every_command(deep, capsys, command):
    before = (deep.root / "deep.tune").read_bytes()
    code, out, err = run(capsys, *command, "deep.tune")
    assert code == 1
    assert "lists nested more than 100 deep" in out + err
    assert (deep.root / "deep.tune").read_bytes() == before
    assert not (deep.root / "out").exists()


def test_the_nesting_error_points_at_the_outermost_bracket_past_the_limit(deep, capsys):
    code, out, _ = run(capsys, "lint", "--format", "github", "deep.tune")
    column = len("  lora { target_modules = ") + DEPTH - 100  # 1-based column of the 101st innermost `[`
    assert f"line=4,col={column}" in out.replace(" ", "").replace("::error", "")


def test_a_list_nested_100_deep_is_a_type_error_and_fmt_keeps_it(project, capsys):
    nested = "[" * 100 + "1" + "]" * 100
    project.write("hundred.tune", f"experiment e {{\n  seed = {nested}\n}}\n")
    code, out, _ = run(capsys, "lint", "hundred.tune")
    assert code == 1 and "TS004" in out and "TS001" not in out
    assert run(capsys, "fmt", "hundred.tune")[0] in (0, 1)
    assert run(capsys, "fmt", "--check", "hundred.tune")[1].startswith("0 files would be reformatted")


@pytest.mark.slow
def test_100000_declarations_in_one_file(project, capsys):
    project.write("many.tune", "".join(f"preset p{index} {{ seed = {index} }}\n" for index in range(100_000)))
    code, out, _ = run(capsys, "lint", "--jobs", "1", "many.tune")
    assert code == 0 and "All checks passed" in out


@pytest.mark.slow
def test_a_10_mb_file(project, capsys):
    text = "x" * 6_000_000
    body = "".join(f"# comment line {index}\n" for index in range(200_000))
    project.write("big.tune", f'{body}experiment e {{\n  description = """{text}"""\n  seed = 1\n}}\n')
    assert (project.root / "big.tune").stat().st_size > 10_000_000
    code, out, _ = run(capsys, "lint", "--jobs", "1", "big.tune")
    assert code == 1 and "TS011" in out
    assert run(capsys, "fmt", "--check", "big.tune")[0] in (0, 1)


def test_an_import_chain_of_1000_files(project, capsys):
    for index in range(1000):
        following = f'import "a{index + 1}.tune"\n' if index < 999 else ""
        project.write(f"chain/a{index}.tune", f"{following}preset p{index} {{ seed = {index} }}\n")
    code, out, _ = run(capsys, "lint", "--jobs", "1", "chain/a0.tune")
    assert code == 0
    code, out, _ = run(capsys, "lint", "--jobs", "1", "chain")
    assert code == 0 and "1000 files" in out


def test_an_import_cycle_of_1000_files_is_reported_once(project, capsys):
    for index in range(1000):
        project.write(f"cycle/c{index}.tune", f'import "c{(index + 1) % 1000}.tune"\npreset q{index} {{ seed = 1 }}\n')
    code, out, _ = run(capsys, "lint", "--jobs", "2", "cycle")
    assert code == 1 and out.count("TS007") == 1
    assert "import cycle: cycle/c0.tune → cycle/c1.tune" in out


def test_self_extends_and_a_long_extends_chain(project, capsys):
    chain = ["preset p0 { seed = 1 }"] + [f"preset p{i} extends p{i - 1} {{ seed = {i} }}" for i in range(1, 1000)]
    project.write("extends.tune", "\n".join(chain + ["experiment e extends p999 { method = lora }",
                                                     "experiment s extends s { method = lora }"]) + "\n")
    code, out, _ = run(capsys, "lint", "--jobs", "1", "extends.tune")
    assert code == 1
    assert "TS009" in out and "inheritance cycle: s → s" in out


# --- memory per byte of source (issue 11, item 10) ------------------------------------------------------

PEAK_PROGRAM = """
import resource, sys
from tunespec.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
try:  # this program's own peak; ru_maxrss keeps the parent's from before the exec
    peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
except OSError:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(peak * 1024, file=sys.stderr)
"""


def peak_memory(cwd, *argv: str) -> int:
    """Peak resident memory (bytes: Linux's VmHWM) of one tunespec command in a fresh interpreter."""
    import subprocess
    import sys

    from tests.conftest import REPO

    done = subprocess.run([sys.executable, "-c", PEAK_PROGRAM, *argv], cwd=cwd, capture_output=True, text=True,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    return int(done.stderr.strip().splitlines()[-1])


LONG_STRINGS = {"plain": ('"', "a"), "escapes": ('"', "\\n"), "unicode escapes": ('"', "\\u00e9"),
                "non-ASCII": ('"', "日本"), "long string with quotes": ('"""', '"a')}


@pytest.mark.parametrize("quote, unit", LONG_STRINGS.values(), ids=list(LONG_STRINGS))
def test_a_long_string_costs_a_few_bytes_of_memory_per_byte(project, quote, unit):
    """A 4 MB string once took 350 bytes of memory per byte (the string pattern's repeated group kept a
    frame per character in the regular expression engine): lint's peak memory above an empty file's
    stays within 10 bytes per byte of the file."""
    def write(size: int) -> int:
        body = unit * (size // len(unit.encode()))
        text = f'experiment e {{\n  model = "ibm/granite-3-1-8b-base"\n  description = {quote}{body}{quote}\n}}\n'
        project.write("long.tune", text)
        return len(text.encode())

    write(0)
    base = peak_memory(project.root, "lint", "--jobs", "1", "long.tune")
    size = write(4_000_000)
    peak = peak_memory(project.root, "lint", "--jobs", "1", "long.tune")
    assert (peak - base) / size <= 10, f"{(peak - base) / size:.1f} bytes per byte"


MANY_DECLARATIONS = """experiment e{index} {{
  model       = "ibm/granite-3-1-8b-base"
  method      = lora
  description = "experiment number {index}"
  data {{ train = "data/train.jsonl" }}

  training {{
    batch_size     = 16
    learning_rate  = sweep [2e-05, 0.0001]
    max_seq_length = 2048
  }}

  lora {{
    rank  = 32
    alpha = 32
  }}
}}
"""


@pytest.mark.slow
def test_a_file_of_many_declarations_is_never_held_as_a_whole_tree(project):
    """A large file is parsed in outline for a lint, each declaration's body parsed again as it is
    checked (issue 14): its syntax tree, about 8 bytes per source byte, is never all held. With nothing
    to report, lint's peak memory above an empty file's is its text, the declarations' outlines and the
    output claims (5 bytes per byte); holding the tree made it 10.5."""
    (project.root / "data" / "train.jsonl").write_text('{"input": "a", "output": "b"}\n')
    project.write("empty.tune", "")
    base = peak_memory(project.root, "lint", "--jobs", "1", "--select", "TS0", "empty.tune")
    text = "".join(MANY_DECLARATIONS.format(index=index) for index in range(10_000))
    project.write("many.tune", text)
    peak = peak_memory(project.root, "lint", "--jobs", "1", "--select", "TS0", "many.tune")
    assert (peak - base) / len(text) <= 7, f"{(peak - base) / len(text):.1f} bytes per byte"


# --- max-variants (issue 11, item 17) ---------------------------------------------------------------------

SIX_SWEEPS = "experiment e {\n" + "".join(
    f"  {field} = sweep [{', '.join(str(value) for value in range(1, 101))}]\n"
    for field in ("seed",)) + "  training {\n" + "".join(
    f"    {field} = sweep [{', '.join(str(value) for value in range(1, 101))}]\n"
    for field in ("batch_size", "accumulate_steps", "epochs", "max_seq_length", "max_input_tokens")) + "  }\n}\n"


def test_max_variants_has_a_documented_ceiling(project, capsys):
    (project.root / "tunespec.toml").write_text(f"max-variants = {2 ** 63 - 1}\n")
    project.write("six.tune", SIX_SWEEPS)
    code, out, err = main(["lint", "six.tune"]), *capsys.readouterr()
    assert code == 2 and err.count("\n") == 1 and "max-variants" in err and "10000" in err.replace(",", "")


def test_sweeps_are_counted_before_they_are_expanded_whatever_the_setting(project, capsys):
    """Through the API a Config is not validated: 10**12 variants are still counted, not made."""
    from tunespec.api import run_lint
    from tunespec.config import Config

    project.write("six.tune", SIX_SWEEPS)
    diagnostics = run_lint(["six.tune"], Config(max_variants=2 ** 63 - 1)).diagnostics
    [message] = [d.message for d in diagnostics if d.code == "TS012"]
    assert "1000000000000 variants" in message and "10000" in message


# --- deep nesting in data files and blocks (issue 11, item 13) -------------------------------------------

@pytest.mark.parametrize("shape", ["jsonl", "array", "jsonl-object"])
def test_json_nested_thousands_deep_in_a_data_file_is_ts402(project, capsys, shape):
    deep = "[" * 5000 + "]" * 5000
    if shape == "jsonl":
        text = '{"input": "a", "output": "b"}\n' + deep + "\n"
    elif shape == "array":
        text = '[{"input": "a", "output": "b"}, ' + deep + "]\n"
    else:
        text = '{"input": "a", "output": ' + '{"x": ' * 5000 + "1" + "}" * 5000 + "}\n"
    (project.root / "data" / "deep.jsonl").write_text(text)
    project.write("t.tune", 'experiment e {\n  model = "ibm/granite-3-1-8b-base"\n  method = lora\n'
                            '  data { train = "data/deep.jsonl" }\n}\n')
    code, out, _ = run(capsys, "lint", "--select", "TS4", "t.tune")
    assert code == 1 and "TS402" in out and "nested too deep" in out, out


@pytest.mark.parametrize("command", [["lint"], ["show"], ["fmt", "--check"], ["fmt"], ["build", "--out", "out"]])
def test_blocks_nested_500_deep_are_one_syntax_error_for_every_command(project, capsys, command):
    nested = "".join(f"b{index} {{\n" for index in range(500)) + "x = 1\n" + "}\n" * 500
    project.write("blocks.tune", f"experiment e {{\n{nested}}}\n")
    before = (project.root / "blocks.tune").read_bytes()
    code, out, err = run(capsys, *command, "blocks.tune")
    assert code == 1 and "blocks nested more than 100 deep" in out + err
    assert (project.root / "blocks.tune").read_bytes() == before


def test_blocks_nested_100_deep_are_unknown_fields_and_fmt_keeps_them(project, capsys):
    nested = "".join(f"b{index} {{\n" for index in range(99)) + "x = 1\n" + "}\n" * 99
    project.write("blocks.tune", f"experiment e {{\n{nested}}}\n")
    code, out, _ = run(capsys, "lint", "blocks.tune")
    assert code == 1 and "TS002" in out and "TS001" not in out
    assert run(capsys, "fmt", "blocks.tune")[0] == 0
    assert run(capsys, "fmt", "--check", "blocks.tune")[1].startswith("0 files would be reformatted")


# --- JSON array data files are streamed (issue 11, item 15) -----------------------------------------------

JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
                           | st.text(max_size=12),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
                           max_leaves=12)


def streamed(text: str, chunk: int):
    import io

    from tunespec.rules import datafiles

    datafiles.CHUNK_BYTES = chunk
    stream = datafiles._ArrayStream(io.BytesIO(text.encode("utf-8")))
    try:
        return [value for _, value in stream.elements()]
    except datafiles._Malformed:
        return "malformed"


@settings(max_examples=400, deadline=None)
@given(st.lists(JSON_VALUES, max_size=8), st.sampled_from(["", " ", "\n  ", "\t\r\n"]), st.integers(1, 40),
       st.integers(0, 300))
def test_a_streamed_array_is_what_json_loads_reads(values, blank, chunk, cut):
    """Whatever the chunk size (a number, a string or white space cut at its edge), the elements are those
    of `json.loads`; and a text cut short or doubled is malformed for both."""
    import json

    from tunespec.rules import datafiles

    original = datafiles.CHUNK_BYTES
    try:
        text = "[" + blank + ("," + blank).join(json.dumps(value) for value in values) + blank + "]" + blank
        assert streamed(text, chunk) == json.loads(text)
        broken = text[:cut] if cut < len(text) else text + text
        try:
            expected = json.loads(broken)
        except ValueError:
            expected = "malformed"
        assert streamed(broken, chunk) == expected
    finally:
        datafiles.CHUNK_BYTES = original


def test_a_large_json_array_is_read_in_constant_memory(project):
    """30 MB of records: lint's peak memory grows by a few megabytes, not by the file (once 4 bytes a byte)."""
    import json

    record = json.dumps({"input": "my invoice is wrong and nobody answers " * 4, "output": "billing"})
    project.write("t.tune", 'experiment e {\n  model = "ibm/granite-3-1-8b-base"\n  method = lora\n'
                            '  data { train = "data/big.json" }\n  training { max_seq_length = 512 }\n}\n')
    (project.root / "data" / "big.json").write_text("[" + record + "]\n")
    base = peak_memory(project.root, "lint", "--jobs", "1", "t.tune")
    count = 30_000_000 // len(record)
    (project.root / "data" / "big.json").write_text("[\n" + ",\n".join([record] * count) + "\n]\n")
    peak = peak_memory(project.root, "lint", "--jobs", "1", "t.tune")
    assert peak - base < 20 * 2**20, f"{(peak - base) / 2**20:.0f} MB more for a 30 MB array"


# --- a long `extends` chain is resolved in linear time (issue 11, item 16) ----------------------------------

def extends_chain(project, depth: int) -> str:
    chain = ["preset p0 { seed = 1  lora { alpha = 8 }  training { learning_rate = 1e-4 } }"]
    chain += [f"preset p{i} extends p{i - 1} {{ seed = {i}  lora {{ alpha = {8 + i % 3} }}  "
              f"training {{ learning_rate = {1 + i % 3}e-4 }} }}" for i in range(1, depth)]
    chain.append(f"experiment e extends p{depth - 1} {{ method = lora }}")
    project.write(f"chain{depth}.tune", "\n".join(chain) + "\n")
    return f"chain{depth}.tune"


@pytest.mark.slow
def test_a_deep_extends_chain_takes_time_linear_in_its_depth(project, capsys, monkeypatch):
    """Every preset of the chain is resolved and checked; a list of bases per preset and a merge of them
    made that quadratic (a 10,000-deep chain took 93 s). Four times the depth: well under 16 times the time.
    Both chains are parsed in outline, as a large file is (the deeper one is large enough), so that the
    ratio is the resolution's, not the price of the outline's second parse."""
    import time

    from tunespec.compiler import loader

    monkeypatch.setattr(loader, "OUTLINE_SIZE", 0)

    def seconds(depth: int) -> float:
        name = extends_chain(project, depth)
        best = float("inf")
        for _ in range(2):
            started = time.perf_counter()
            run(capsys, "lint", "--jobs", "1", name)
            best = min(best, time.perf_counter() - started)
        return best

    shallow, deep = seconds(1500), seconds(6000)
    assert deep / shallow < 8, f"{deep / shallow:.1f} times the time for 4 times the depth"


def test_every_declaration_of_a_deep_chain_reports_what_it_writes_once(project, capsys):
    name = extends_chain(project, 3000)
    code, out, _ = run(capsys, "lint", "--jobs", "1", "--format", "json", name)
    import json

    found = json.loads(out)
    ts301 = [d for d in found if d["code"] == "TS301"]
    assert len(ts301) == 2999 and len({(d["line"], d["column"]) for d in ts301}) == 2999


# --- imports shared by many batches are read, parsed and walked once per run (issue 11, item 20) -----------

def test_an_import_chain_spread_over_many_batches_reads_each_file_once(project, capsys, monkeypatch):
    """Each batch of 64 files loads what its files import: the rest of the chain. Once each file was read
    and parsed once per batch (1,000 files 20 s, 2,000 files 65 s); now once per run."""
    from tunespec.compiler import ast as ast_module
    from tunespec.compiler import loader

    count = 400
    for index in range(count):
        following = f'import "a{index + 1}.tune"\n' if index < count - 1 else ""
        project.write(f"chain/a{index}.tune", f"{following}preset p{index} {{ seed = {index} }}\n")
    parsed, made = [], []
    original_parse, original_file = ast_module.parse_text, loader.SourceFile

    def counting_parse(text, builder):
        parsed.append(text)
        return original_parse(text, builder)

    def counting_file(*args, **kwargs):
        made.append(args[0])
        return original_file(*args, **kwargs)

    monkeypatch.setattr(ast_module, "parse_text", counting_parse)
    monkeypatch.setattr(loader, "SourceFile", counting_file)
    code, out, _ = run(capsys, "lint", "--jobs", "1", "chain")
    assert code == 0 and f"{count} files" in out
    assert len(parsed) == count and len(made) == count, (len(parsed), len(made))


def test_a_blocks_depth_is_worked_out_from_its_members():
    from tunespec.compiler.ast import parse_module

    module = parse_module("experiment e {\n  a { b { c { x = 1 } } y = 2 }\n  d { z = 3 }\n}\n", "e.tune")
    a, d = module.declarations[0].members
    assert (a.depth, a.members[0].depth, d.depth) == (3, 2, 1)


def test_lists_and_sweeps_hold_their_span_as_numbers_and_compare_by_value():
    from tunespec.compiler.ast import ListValue, Sweep, parse_module
    from tunespec.location import Span

    text = "experiment e {\n  x = sweep [1, [2]]\n}\n"
    sweep = parse_module(text, "e.tune").declarations[0].members[0].value
    assert type(sweep) is Sweep and not isinstance(sweep, ListValue)
    assert (sweep.span, sweep.depth) == (Span(2, 7, 2, 21), 2)
    inner = sweep.items[1]
    assert inner == ListValue(inner.items, Span(2, 17, 2, 20)) and inner.span == Span(2, 17, 2, 20)
    assert sweep == parse_module(text, "e.tune").declarations[0].members[0].value


def test_a_string_keeps_its_text_as_written_whether_held_or_worked_out():
    from tunespec.compiler.ast import parse_module

    text = 'experiment e {\n  a = "x"\n  b = "q\\"z\\u00e9"\n  c = ""\n  d = """\nlong"""\n}\n'
    values = [member.value for member in parse_module(text, "e.tune").declarations[0].members]
    assert [v.raw for v in values] == ['"x"', '"q\\"z\\u00e9"', '""', '"""\nlong"""']
    assert [v.value for v in values] == ["x", 'q"zé', "", "long"]
    assert [v._raw for v in values] == [None, '"q\\"z\\u00e9"', None, '"""\nlong"""']  # held only when needed
    assert values[3].span.end_line == 6
