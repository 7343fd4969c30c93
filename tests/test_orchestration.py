"""Issue 13, item 3: one home for severities (Engine.severity_of), for load→resolve (runner.compile_files),
for exit codes (report.Report), and fmt and show through the API."""

from __future__ import annotations

import inspect
import json

from tests.conftest import granite
from tunespec import api, runner
from tunespec.cli import main
from tunespec.config import Config
from tunespec.diagnostics import Diagnostic, Finding, Severity
from tunespec.location import Location, Span
from tunespec.report import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, Report
from tunespec.rules import REGISTRY
from tunespec.rules.engine import Engine


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_severity_is_decided_by_the_engine_alone():
    selection = Config(severity={"TS101": "warning", "TS001": "warning"}).selection(REGISTRY)
    engine = Engine(REGISTRY, selection)
    where = Location("a.tune", Span(1, 1, 1, 2))
    assert engine.severity_of(Finding("TS101", where, "m")) is Severity.WARNING  # the override
    assert engine.severity_of(Finding("TS001", where, "m")) is Severity.ERROR  # never downgraded
    assert engine.severity_of(Finding("TS102", where, "m")) is Severity.ERROR  # the rule's own
    assert "severity_of" in inspect.getsource(runner)
    assert ".severity.get(" not in inspect.getsource(runner)


def test_one_compile_step_serves_lint_and_the_api(project):
    project.write("a.tune", granite(""))
    compiled = runner.compile_files([("a.tune", "a.tune")], project.root, Config())
    assert [exp.name for exp in compiled.resolved] == ["tickets"]
    _, _, resolved = api.resolve_paths(["a.tune"], Config())
    assert [exp.values for exp in resolved] == [exp.values for exp in compiled.resolved]
    assert "compile_files(" in inspect.getsource(runner._run_files)


def diagnostic(severity: Severity) -> Diagnostic:
    return Diagnostic("TS101", severity, "m", "a.tune", 1, 1, 1, 2)


def test_the_report_owns_every_exit_code():
    assert Report([], 1).exit_code == EXIT_OK
    assert Report([diagnostic(Severity.ERROR)], 1).exit_code == EXIT_FINDINGS
    assert Report([diagnostic(Severity.WARNING)], 1).exit_code == EXIT_OK
    assert Report([diagnostic(Severity.WARNING)], 1, strict=True).exit_code == EXIT_FINDINGS
    assert Report([diagnostic(Severity.ERROR)], 1, exit_zero=True).exit_code == EXIT_OK
    assert Report([], 1, failures=2).exit_code == EXIT_FINDINGS
    assert Report([], 1, failures=2, unwritable=True).exit_code == EXIT_USAGE


def test_api_fmt_checks_and_rewrites(project):
    messy = project.write("messy.tune", granite("").replace("method = lora", "method=lora"))
    project.write("broken.tune", "experiment b {\n")
    checked = api.fmt(["."], Config(), check=True)
    assert checked.changed == ["messy.tune"] and checked.report().exit_code == EXIT_FINDINGS
    assert [(d.code, d.path, d.line) for d in checked.diagnostics] == [("TS001", "broken.tune", 1)]
    assert "method=lora" in messy.read_text()  # --check writes nothing
    written = api.fmt(["messy.tune"], Config())
    assert written.changed == ["messy.tune"] and written.report().exit_code == EXIT_OK
    assert "method = lora" in messy.read_text()


def test_fmt_reports_in_lints_json_format(project, capsys):
    project.write("broken.tune", "experiment b {\n")
    code, out, _ = run(capsys, "fmt", "--check", "--format", "json", ".")
    assert code == EXIT_FINDINGS
    [item] = json.loads(out)
    assert item["code"] == "TS001" and item["path"] == "broken.tune" and item["severity"] == "error"


def test_fmt_honours_the_configuration(project, capsys):
    project.write("skip/messy.tune", granite("").replace("method = lora", "method=lora"))
    (project.root / "tunespec.toml").write_text('exclude = ["skip/"]\n')
    code, out, _ = run(capsys, "fmt", "--check", ".")
    assert code == EXIT_OK and "0 files would be reformatted" in out


def test_api_show_filters_and_reports(project):
    project.write("a.tune", granite("training { learning_rate = sweep [1e-5, 2e-5] }"))
    shown = api.show(["a.tune"], Config(), experiment="tickets.learning_rate-2e-05")
    assert [exp.name for exp in shown.variants] == ["tickets.learning_rate-2e-05"]
    assert shown.report().exit_code == EXIT_OK
    project.write("b.tune", granite("training { batch_size = 64 }").replace("tickets", "big"))
    assert api.show(["b.tune"], Config()).report().exit_code == EXIT_FINDINGS


def test_fmt_quiet_names_the_files_it_cannot_format_without_their_diagnostics(project, capsys):
    """The fmt hooks run --quiet: the lint hook prints the TS001 once."""
    project.write("broken.tune", "experiment b {\n")
    code, out, _ = run(capsys, "fmt", "--check", "--quiet", ".")
    assert code == EXIT_FINDINGS
    assert out.splitlines()[0] == "not formatted: broken.tune (it does not parse)" and "TS001" not in out
