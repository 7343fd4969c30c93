"""TS4xx on real data files, generated in a temporary folder; each file read once; bounded memory."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import REPO, granite, lint_source, write_training_data
from tunespec.config import Config

EVERYTHING = Config()


def with_data(train: str = "data/t.jsonl", validation: str | None = None, body: str = "") -> str:
    data = f'train = "{train}"' + (f'  validation = "{validation}"' if validation else "")
    return granite(body).replace('data { train = "data/train.jsonl" }', f"data {{ {data} }}")


def data_findings(project, source: str, code: str | None = None):
    diagnostics = [d for d in lint_source(project, source, config=EVERYTHING) if d.code.startswith("TS4")]
    return [d for d in diagnostics if code is None or d.code == code]


def write(project, name: str, content: bytes | str) -> None:
    path = project.root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))


# --- TS401 ---------------------------------------------------------------------------------------------

def test_ts401_missing_file_points_at_the_value(project):
    [d] = data_findings(project, with_data("data/nope.jsonl"))
    assert (d.code, d.line, d.column) == ("TS401", 4, 18) and "`data/nope.jsonl` does not exist" in d.message


def test_ts401_a_folder_is_not_a_file(project):
    (project.root / "data" / "dir.jsonl").mkdir()
    [d] = data_findings(project, with_data("data/dir.jsonl"))
    assert d.code == "TS401" and "is not a file" in d.message


def test_uris_are_skipped(project):
    assert data_findings(project, with_data("s3://bucket/train.jsonl", "hf://org/set")) == []


def test_existing_valid_file_is_silent(project):
    write_training_data(project.root / "data" / "t.jsonl")
    assert data_findings(project, with_data()) == []


# --- TS402 ---------------------------------------------------------------------------------------------

GOOD = '{"input": "a b", "output": "c"}\n'


@pytest.mark.parametrize("content, words", [
    (GOOD * 3 + '{"input": "a", "output": \n' + GOOD, "line 4: not JSON (Expecting value at column 25)"),
    (b"", "the file is empty"),
    (b"\n  \n", "the file is empty"),
    (b"\x00\x01\x02\xff\xfe binary", "line 1: not"),
    (GOOD.encode() + b'{"input": "caf\xe9", "output": "x"}\n', "line 2: not UTF-8 text"),
    (GOOD + '{"input": "trunc', "line 2: not JSON"),
    ("42\n", "line 1: a JSON number, not an object"),
    ('"just a string"\n', "line 1: a JSON string, not an object"),
    ('{"input": "a", "output": "b"}\n[1, 2]\n', "line 2: a JSON array, not an object"),
    ('[{"input": "a", "output": "b"}, 7]', "record 2: a JSON number, not an object"),
    ('[{"input": "a", "output": "b"},', "not a JSON array"),
    ('{"not": "an array"}{"x": 1}', "line 1: not JSON (Extra data"),
])
def test_ts402_first_bad_line_and_why(project, content, words):
    write(project, "data/t.jsonl", content)
    diagnostics = data_findings(project, with_data())
    assert [d.code for d in diagnostics] == ["TS402"], [d.message for d in diagnostics]
    assert words in diagnostics[0].message


def test_ts402_gigantic_single_line_is_refused_without_reading_it_all(project, monkeypatch):
    from tunespec.rules import datafiles

    monkeypatch.setattr(datafiles, "MAX_LINE_BYTES", 1000)
    monkeypatch.setattr(datafiles, "CHUNK_BYTES", 100)
    write(project, "data/t.jsonl", GOOD * 3 + '{"input": "' + "x" * 5000 + '", "output": "y"}\n' + GOOD)
    [d] = data_findings(project, with_data())
    assert d.code == "TS402" and "line 4: longer than" in d.message


def test_json_array_files_are_read(project):
    write(project, "data/t.json", json.dumps([{"input": f"q {i}", "output": "a"} for i in range(60)]))
    assert data_findings(project, with_data("data/t.json")) == []


def test_bom_and_blank_lines_are_accepted(project):
    write(project, "data/t.jsonl", b"\xef\xbb\xbf" + (GOOD * 30 + "\n" + GOOD * 30).encode())
    assert data_findings(project, with_data()) == []


def test_malformed_file_gets_no_other_data_findings(project):
    write(project, "data/t.jsonl", '{"input": 1}\n{broken\n')
    source = with_data("data/t.jsonl", "data/t.jsonl", "training { max_seq_length = 1 }")
    assert sorted(d.code for d in data_findings(project, source)) == ["TS402", "TS402", "TS406"]


# --- TS403 ---------------------------------------------------------------------------------------------

def test_ts403_first_bad_record_and_how_many(project):
    write(project, "data/t.jsonl", GOOD * 50 + '{"prompt": "x", "output": "y"}\n' + GOOD + '{"input": "x", "output": 3}\n')
    [d] = data_findings(project, with_data())
    assert d.code == "TS403"
    assert d.message == "`data/t.jsonl`: record 51 (line 51) lacks `input`; 2 of 53 records are like that"


def test_ts403_uses_the_declared_field_names(project):
    write(project, "data/t.jsonl", '{"question": "a", "answer": "b"}\n' * 60)
    source = with_data().replace('data { train = "data/t.jsonl" }',
                                 'data { train = "data/t.jsonl"  input_field = "question"  output_field = "answer" }')
    assert data_findings(project, source) == []
    assert [d.code for d in data_findings(project, with_data())] == ["TS403"]


def test_ts403_in_a_json_array_names_the_record(project):
    records = [{"input": "a", "output": "b"}] * 60 + [{"input": ["a"], "output": "b"}]
    write(project, "data/t.json", json.dumps(records))
    [d] = data_findings(project, with_data("data/t.json"))
    assert "record 61 has `input` as a array, not a string" in d.message.replace("an array", "a array")


# --- TS404, TS405, TS406 -------------------------------------------------------------------------------

def test_ts404_counts_examples_longer_than_max_seq_length(project):
    long = {"input": " ".join(["word"] * 100), "output": "x"}  # 101 words -> 152 tokens
    write(project, "data/t.jsonl", GOOD * 57 + (json.dumps(long) + "\n") * 3)
    [d] = data_findings(project, with_data(body="training { max_seq_length = 150 }"))
    assert d.code == "TS404" and d.message.startswith("`data/t.jsonl`: 3 of 60 examples are likely longer")
    assert data_findings(project, with_data(body="training { max_seq_length = 152 }")) == []


def test_ts405_too_few_examples(project):
    write(project, "data/t.jsonl", GOOD * 49)
    [d] = data_findings(project, with_data())
    assert d.code == "TS405" and "has 49 examples, fewer than 50" in d.message
    write(project, "data/t.jsonl", GOOD * 50)
    assert data_findings(project, with_data()) == []


def test_ts405_counts_apply_to_the_training_file_only(project):
    write(project, "data/t.jsonl", GOOD * 60)
    write(project, "data/v.jsonl", GOOD * 10)
    assert data_findings(project, with_data("data/t.jsonl", "data/v.jsonl")) == []


def test_ts405_too_many_for_prompt_tuning(project):
    write(project, "data/t.jsonl", GOOD * 10_001)
    source = 'experiment e {\n  model = "google/flan-t5-xl"\n  method = prompt_tuning\n  data { train = "data/t.jsonl" }\n}\n'
    [d] = data_findings(project, source)
    assert d.code == "TS405" and "10001 examples, more than the 10,000" in d.message
    assert data_findings(project, with_data()) == []  # LoRA has no upper limit


def test_ts405_file_over_the_size_limit(project, monkeypatch):
    from tunespec.compiler.catalog import load_catalog

    monkeypatch.setitem(load_catalog().advice["data"], "max_file_mb", 0.001)  # 1,000 bytes
    write(project, "data/t.jsonl", GOOD * 60)
    [d] = data_findings(project, with_data())
    assert d.code == "TS405" and "over the 0.001 MB limit" in d.message


def test_ts406_validation_is_the_training_file(project):
    write_training_data(project.root / "data" / "t.jsonl")
    [d] = data_findings(project, with_data("data/t.jsonl", "data/../data/t.jsonl"))
    assert (d.code, d.line, d.column) == ("TS406", 4, 47)


# --- read once, stream, bounded memory ---------------------------------------------------------------

def test_each_data_file_is_read_once_per_run(project, monkeypatch):
    from tunespec.rules import datafiles

    opened = []
    original = datafiles.DataFiles._read

    def counting(self, path, pairs):
        opened.append(path.name)
        return original(self, path, pairs)

    monkeypatch.setattr(datafiles.DataFiles, "_read", counting)
    for name in "abc":
        project.write(f"{name}.tune", with_data("data/train.jsonl", "data/train.jsonl",
                                                 "training { max_seq_length = 256  epochs = sweep [1, 2, 3] }")
                      .replace("experiment tickets", f"experiment {name}"))
    project.lint("a.tune", "b.tune", "c.tune", config=EVERYTHING)
    assert opened == ["train.jsonl"]


# The child's own peak (VmHWM): getrusage's ru_maxrss would include the test process's size, which Linux
# carries across fork and exec.
SCAN_IN_A_CHILD = textwrap.dedent("""
    import re, sys
    from pathlib import Path
    from tunespec.rules.datafiles import DataFiles
    files = DataFiles([(Path(sys.argv[1]), "input", "output")], 1.5, 200 * 10**6)
    stats = files.scan(Path(sys.argv[1])).stats("input", "output")
    status = open("/proc/self/status").read()
    peak_mb = int(re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1)) / 1024
    print(stats.valid, stats.longer_than(100), int(peak_mb))
""")


@pytest.mark.slow
def test_a_1gb_jsonl_file_is_scanned_in_bounded_memory(tmp_path):
    line = json.dumps({"input": " ".join(["token"] * 10_900), "output": "done"}) + "\n"  # about 65 KB
    block = line.encode() * 16  # about 1 MB
    path = tmp_path / "big.jsonl"
    with open(path, "wb") as handle:
        for _ in range(1024):
            handle.write(block)
    assert path.stat().st_size > 10**9
    try:
        result = subprocess.run([sys.executable, "-c", SCAN_IN_A_CHILD, str(path)], capture_output=True, text=True,
                                cwd=REPO, check=True)
    finally:
        path.unlink()
    valid, longer, peak_mb = map(int, result.stdout.split())
    assert valid == 16 * 1024 and longer == valid
    assert peak_mb < 150, f"scanning a 1 GB file peaked at {peak_mb} MB"


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=300), st.integers(1, 17))
def test_chunked_reading_splits_lines_as_str_splitlines_on_newline(text, chunk):
    """Chunk borders fall inside lines and inside multi-byte characters; the lines must not notice."""
    import io

    from tunespec.rules import datafiles

    scan = datafiles.DataScan(path=None)
    original = datafiles.CHUNK_BYTES
    datafiles.CHUNK_BYTES = chunk
    try:
        lines = [line for _, line in datafiles._lines(io.BytesIO(text.encode("utf-8")), scan)]
    finally:
        datafiles.CHUNK_BYTES = original
    body = text[1:] if text.startswith("\ufeff") else text  # a BOM starts the file, not its first line
    expected = body.split("\n")
    if body.endswith("\n") or not body:
        expected.pop()
    assert lines == expected and scan.malformed is None
