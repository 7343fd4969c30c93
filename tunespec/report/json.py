"""`--format json`: one array, sorted by path, line, column, code (DESIGN.md §3)."""

from __future__ import annotations

import json

from tunespec.diagnostics import Diagnostic


def render(diagnostics: list[Diagnostic]) -> str:
    return json.dumps([d.to_json() for d in diagnostics], indent=2, ensure_ascii=False) + "\n"
