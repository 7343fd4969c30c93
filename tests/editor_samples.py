"""Texts both highlighters are tested on (the Pygments lexer and the TextMate grammar): every shipped `.tune`
file, and a sample of what the examples lack (a long string over lines, escapes, every number shape)."""

from __future__ import annotations

from tests.conftest import EXAMPLES, REPO

TUNE_FILES = sorted(EXAMPLES.rglob("*.tune")) + sorted((REPO / "tests").rglob("*.tune"))

LONG = '''experiment long {
  description = """A "quoted" word,
a second line with # no comment and \\n no escape,
"" and two quotes"""
  prompt { init_text = "Classify:\\t\\"this\\" \\u00e9" }
  seed = -3
  training { learning_rate = sweep [1e-5, 3.5E+2, 0.000_1, 10_000] }
}
'''
LONG_ESCAPES = ["\\t", '\\"', '\\"', "\\u00e9"]
LONG_NUMBERS = ["-3", "1e-5", "3.5E+2", "0.000_1", "10_000"]
