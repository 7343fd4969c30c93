"""The Python API the command line is a thin layer over."""

from __future__ import annotations

import tunespec
from tests.conftest import QUIET, granite
from tunespec.config import Config
from tunespec.diagnostics import Diagnostic, Severity


def test_lint_returns_sorted_diagnostics(project):
    project.write("b.tune", granite("training { epochs = 99 }"))
    project.write("a.tune", "experiment e {")
    diagnostics = tunespec.lint(["."], QUIET)
    assert all(isinstance(d, Diagnostic) for d in diagnostics)
    assert [(d.path, d.code) for d in diagnostics] == [("a.tune", "TS001"), ("b.tune", "TS104"), ("b.tune", "TS305")]


def test_lint_takes_a_config(project):
    project.write("b.tune", granite("training { epochs = 99 }"))
    config = Config(severity={"TS104": "warning"})
    severities = {d.code: d.severity for d in tunespec.lint(["b.tune"], config)}
    assert severities["TS104"] is Severity.WARNING and severities["TS307"] is Severity.INFO


def test_resolve_returns_the_variants_with_ir_and_provenance(project):
    project.write("t.tune", granite("training { learning_rate = sweep [1e-5, 2e-5] }"))
    variants = tunespec.resolve("t.tune")
    assert [v.name for v in variants] == ["tickets.learning_rate-1e-05", "tickets.learning_rate-2e-05"]
    assert str(variants[1].provenance["training.learning_rate"]) == "t.tune:5:43 (experiment tickets, sweep)"
    assert variants[0].values["lora.rank"] == 8


def test_version_is_exposed():
    assert tunespec.__version__.count(".") == 2
