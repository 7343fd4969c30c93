"""The catalog says "never a literal": the numbers of ranges.toml and advice.toml (ranges, thresholds, the
memory estimate's constants) appear in tunespec/rules/ only through the catalog — in code as lookups, in
summaries, docs and messages as placeholders (`{range:FIELD}`, `{advice:TABLE.KEY}`) or formatted values."""

from __future__ import annotations

import ast
import re

from tests.conftest import REPO
from tunespec.compiler.catalog import load_catalog, number_text

RULES = REPO / "tunespec" / "rules"
# 0, 1 and 2 are the numbers of ordinary speech and code (a count, an index, "twice"), not the catalog's.
ORDINARY = {0, 1, 2}
# Prose that contains a number without being one: an encoding, a bit width (the catalog counts bytes), a
# percentage, a number in scientific notation, an issue, a date.
NOT_NUMBERS = re.compile(r"UTF-8|utf-8|\d+-bit|\d+ bits|\d+%|\d+(?:\.\d+)?e[-+]?\d+|issue \d+|\d+ [A-Z][a-z]{2} \d{4}|\d{4}-\d{2}-\d{2}")
EXAMPLES = re.compile(r"```(?:tune|text)\n.*?```", re.S)  # example programs: their values are the user's


def catalog_numbers() -> set[float]:
    catalog = load_catalog()
    found: set[float] = set()

    def walk(value):
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            found.add(value)

    for allowed in catalog.ranges.values():
        walk([allowed.min, allowed.max])
    walk(catalog.advice)
    return found - ORDINARY


def written_forms(numbers: set[float]) -> set[str]:
    forms = {number_text(n) for n in numbers}
    forms |= {f"{number_text(n / 1e9)} billion" for n in numbers if n >= 1e9}
    forms |= {str(int(n)) for n in numbers if float(n).is_integer()}  # 10000 as well as 10,000
    return forms


def named_constants(tree: ast.Module) -> set[int]:
    """The parts of what a module constant is assigned (`MAX_LINE_BYTES = 16 * 2**20`): a number named for its
    own meaning, not the catalog's."""
    named = set()
    for node in tree.body:
        if isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) and t.id.isupper() for t in node.targets):
            named |= {id(part) for part in ast.walk(node.value)}
    return named


def literals(path, numbers: set[float], forms: set[str], root=REPO) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    named = named_constants(tree)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Constant):
            continue
        where = f"{path.relative_to(root)}:{node.lineno}"
        if isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            if node.value in numbers and id(node) not in named:
                found.append(f"{where}: {node.value!r}")
        elif isinstance(node.value, str):
            text = NOT_NUMBERS.sub("", EXAMPLES.sub("", node.value))
            for form in forms:
                if re.search(rf"(?<![\w.,]){re.escape(form)}(?![\w]|[.,]\d)", text):
                    found.append(f"{where}: {form!r} in {node.value[:60]!r}")
    return found


def test_no_number_of_the_catalog_is_written_in_the_rules():
    numbers = catalog_numbers()
    forms = written_forms(numbers)
    found = [hit for path in sorted(RULES.glob("*.py")) for hit in literals(path, numbers, forms)]
    assert found == []


def test_the_scan_finds_a_range_a_threshold_and_a_constant(tmp_path):
    numbers = catalog_numbers()
    sample = tmp_path / "rules_sample.py"
    sample.write_text('SUMMARY = "`training.batch_size` outside the documented 1–16"\n'
                      'HELP = "keep the most representative 10,000"\n'
                      'limit = 128\n'
                      'FINE = "UTF-8 text, 4-bit weights, ```tune\\nlora { rank = 64 }\\n```"\n', encoding="utf-8")
    hits = sorted(literals(sample, numbers, written_forms(numbers), tmp_path), key=lambda hit: int(hit.split(":")[1]))
    assert [hit.split(": ", 1)[1] for hit in hits] == [
        "'16' in '`training.batch_size` outside the documented 1–16'",
        "'10,000' in 'keep the most representative 10,000'", "128"]
