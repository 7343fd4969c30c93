"""`--format json`: one array, sorted by path, line, column, code (DESIGN.md §3)."""

from __future__ import annotations

import json

from tunespec.diagnostics import Diagnostic
from tunespec.printable import encodable


def render(diagnostics: list[Diagnostic]) -> str:
    """(JSON escapes control characters itself; `encodable` keeps a file name that is not UTF-8 writable.)"""
    items = [{key: encodable(value) if isinstance(value, str) else value for key, value in d.to_json().items()}
             for d in diagnostics]
    return json.dumps(items, indent=2, ensure_ascii=False) + "\n"
