"""Guards of the design, not of the clock: what `lint` may import, and what it must never redo."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import EXAMPLES, REPO

PROBE = """
import json, sys
from tunespec.cli import main
code = main(["lint", "--format", "json", sys.argv[1]])
print(json.dumps(sorted(sys.modules)))
"""


def modules_loaded_by_lint(path) -> set[str]:
    result = subprocess.run([sys.executable, "-c", PROBE, str(path)], capture_output=True, text=True, cwd=REPO)
    assert result.returncode in (0, 1), result.stderr
    return set(json.loads(result.stdout.splitlines()[-1]))


def test_lint_imports_neither_jinja2_nor_lark_nor_dataclasses(tmp_path):
    plain = tmp_path / "plain.tune"
    plain.write_text((EXAMPLES / "experiments" / "mistral_full.tune").read_text().replace("targets", "seed = 1 #"))
    loaded = modules_loaded_by_lint(plain)
    assert "tunespec.compiler.resolve" in loaded
    for heavy in ("jinja2", "lark", "dataclasses", "tunespec.templates", "yaml", "tomllib", "hashlib", "difflib"):
        assert heavy not in loaded, heavy


def test_lint_of_an_experiment_that_names_targets_reads_their_declarations_without_jinja2():
    loaded = modules_loaded_by_lint(EXAMPLES / "experiments" / "tickets.tune")
    assert "tunespec.templates.targets" in loaded
    for heavy in ("jinja2", "lark", "yaml", "tunespec.templates.render", "tunespec.templates.build"):
        assert heavy not in loaded, heavy


def test_grammar_tables_and_catalog_are_loaded_once():
    from tunespec.compiler.catalog import load_catalog
    from tunespec.grammar import parser

    assert parser.tables() is parser.tables()
    assert load_catalog() is load_catalog()
