"""The benchmark's profile names each stage by a function of tunespec's (`benchmarks/run.py`'s STAGES): a
stage whose function was renamed or no longer runs would drop out of the write-up without a word, as the
rendering row did when built-in templates stopped going through `Template.render`."""

from __future__ import annotations

import ast
import runpy

from tests.conftest import REPO


def _stages() -> list[tuple[str, str, str]]:
    return runpy.run_path(str(REPO / "benchmarks" / "run.py"))["STAGES"]


def test_every_profiled_stage_names_a_function_that_exists():
    for stage, file, function in _stages():
        assert file.startswith("tunespec/"), f"{stage}: profile tunespec's own functions ({file})"
        tree = ast.parse((REPO / file).read_text(encoding="utf-8"))
        defined = {node.name for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
        assert function in defined, f"{stage}: {file} defines no function `{function}`"
