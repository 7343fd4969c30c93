"""Each code has one home, `tunespec/codes.py`: a rule declares its code from there, checks never retype it,
and the compiler, the targets and the engine name codes from there."""

from __future__ import annotations

import ast
import re

from tests.conftest import REPO
from tunespec import codes
from tunespec.rules import REGISTRY

CODE = re.compile(r"TS\d{3}")


def declared_codes() -> dict[str, str]:
    return {name: value for name, value in vars(codes).items() if name.isupper()}


def test_each_constant_is_the_code_of_the_rule_it_names():
    declared = declared_codes()
    assert len(set(declared.values())) == len(declared), "a code is named twice"
    by_name = {rule.name.upper().replace("-", "_"): rule.code for rule in REGISTRY}
    assert declared == by_name


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def spelled_out_codes(path, root=REPO) -> list[str]:
    """Codes a module spells out in code: a string that is a code (`"TS204"`), or a code inside an f-string,
    which is a message built at run time (`f"{path}:1:1: TS014 error"`). Prose in docstrings and in rule
    documentation (plain strings) may name codes: that is what documentation is for."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and CODE.fullmatch(node.value.strip()):
            found.append(f"{path.relative_to(root)}:{node.lineno}: {node.value!r}")
        elif isinstance(node, ast.JoinedStr):
            for part in node.values:
                if isinstance(part, ast.Constant) and id(part) not in docstrings and CODE.search(part.value):
                    found.append(f"{path.relative_to(root)}:{node.lineno}: {part.value!r}")
    return found


def test_no_module_but_codes_py_spells_out_a_code():
    package = REPO / "tunespec"
    found = [hit for path in sorted(package.rglob("*.py")) if path != package / "codes.py"
             for hit in spelled_out_codes(path)]
    assert found == []


def test_the_scan_finds_a_spelled_out_code(tmp_path):
    sample = tmp_path / "probe.py"
    sample.write_text('"""TS101 in a docstring is prose."""\nA = "TS204"\nB = f"{A}: TS014 error"\n', encoding="utf-8")
    assert [hit.split(": ", 1)[1] for hit in spelled_out_codes(sample, tmp_path)] == ["'TS204'", "': TS014 error'"]


def test_codes_py_imports_nothing():
    tree = ast.parse((REPO / "tunespec" / "codes.py").read_text(encoding="utf-8"))
    assert not [node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))]
