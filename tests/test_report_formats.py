"""SARIF (validated against the official 2.1.0 schema), GitHub annotations, --output-file, --exit-zero."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import REPO, granite
from tunespec.cli import main
from tunespec.report.github import escape_data, escape_property

SARIF_SCHEMA = Path(__file__).resolve().parent / "data" / "schemas" / "sarif-schema-2.1.0.json"  # vendored, see NOTICE.md
BAD = granite("training { batch_size = 32 }\n  description = \"50%, a: b\"")


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_sarif_validates_against_the_official_schema(project, capsys):
    import jsonschema

    (project.root / ".git").mkdir()
    project.write("sub/dir name/bad.tune", BAD)
    code, out, _ = run(capsys, "lint", "--format", "sarif", "sub")
    log = json.loads(out)
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft4Validator(schema).validate(log)
    run_ = log["runs"][0]
    assert code == 1 and run_["columnKind"] == "unicodeCodePoints"
    rules = {rule["id"]: rule for rule in run_["tool"]["driver"]["rules"]}
    assert {"TS001", "TS101", "TS901"} <= set(rules)
    for rule in rules.values():
        assert rule["name"] and rule["shortDescription"]["text"] and rule["fullDescription"]["text"]
        assert rule["helpUri"] and rule["help"]["markdown"]
    [result] = [r for r in run_["results"] if r["ruleId"] == "TS101"]
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "sub/dir%20name/bad.tune"
    assert location["region"] == {"startLine": 5, "startColumn": 27, "endLine": 5, "endColumn": 29}
    assert result["level"] == "error" and run_["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == "TS101"


def test_sarif_uris_are_relative_to_the_repository_root(project, capsys, monkeypatch):
    (project.root / ".git").mkdir()
    project.write("deep/er/bad.tune", BAD)
    monkeypatch.chdir(project.root / "deep")
    log = json.loads(run(capsys, "lint", "--format", "sarif", "er")[1])
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in log["runs"][0]["results"]}
    assert uris == {"deep/er/bad.tune"}


def test_github_annotations(project, capsys):
    project.write("bad.tune", BAD)
    code, out, _ = run(capsys, "lint", "--format", "github", "bad.tune")
    line = next(line for line in out.splitlines() if "TS101" in line)
    assert code == 1
    assert line.startswith("::error file=bad.tune,line=5,col=27,endLine=5,endColumn=29,title=TS101 error::TS101 ")
    assert "%0Ahelp: " in line and "\n" not in line


@pytest.mark.parametrize("text, data, prop", [
    ("50% done", "50%25 done", "50%25 done"), ("a\r\nb", "a%0D%0Ab", "a%0D%0Ab"), ("a: b, c", "a: b, c", "a%3A b%2C c"),
])
def test_github_escaping(text, data, prop):
    assert escape_data(text) == data and escape_property(text) == prop


def test_output_file_and_exit_zero(project, capsys):
    project.write("bad.tune", BAD)
    code, out, _ = run(capsys, "lint", "--format", "json", "--output-file", "report.json", "--exit-zero", "bad.tune")
    assert code == 0 and out == ""
    assert any(item["code"] == "TS101" for item in json.loads((project.root / "report.json").read_text()))


def test_output_file_that_cannot_be_written(project, capsys):
    project.write("bad.tune", BAD)
    code, _, err = run(capsys, "lint", "--output-file", "missing/dir/report.txt", "bad.tune")
    assert code == 2 and err.count("\n") == 1 and "cannot write" in err


def test_the_caret_counts_wide_and_combining_characters_and_ascii_alike():
    """A wide character takes two cells before the caret, a combining one none, an ASCII one one (the last
    without asking `unicodedata`), a tab four."""
    from tunespec.diagnostics import Diagnostic, Severity
    from tunespec.report import text

    line = 'model = "日本e\u0301"\tx = 1'
    column = line.index("x") + 1
    d = Diagnostic("TS101", Severity.ERROR, "m", "f.tune", 1, column, 1, column + 5)
    out = text.render([d], lambda path, number: line).splitlines()
    assert out[1] == ' 1 | model = "日本e\u0301"    x = 1'
    assert out[2] == "   | " + " " * (len('model = "日本e"') + 2 + 4) + "^^^^^"


@pytest.mark.parametrize("format", ["text", "json", "github"])
def test_the_report_written_as_it_goes_is_the_report_of_output_file(project, capsys, format):
    """Lint writes its report to stdout a piece at a time (text: a diagnostic at a time, so that a large
    report is never held whole); it must be the same bytes as the one `--output-file` writes at once."""
    project.write("bad.tune", BAD)
    project.write("worse.tune", BAD.replace("32", "0"))
    code, out, _ = run(capsys, "lint", "--format", format, "bad.tune", "worse.tune")
    assert out.count("TS") > 4  # five diagnostics in two files
    again, written, _ = run(capsys, "lint", "--format", format, "--output-file", "report.out", "bad.tune", "worse.tune")
    assert (again, written) == (code, "")
    assert (project.root / "report.out").read_text() == out
