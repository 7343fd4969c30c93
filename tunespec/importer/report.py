"""How an import's findings are printed: one line per key not imported (`path:line:col: ...`, as lint
prints), then a summary; or one JSON document."""

from __future__ import annotations

import json

from tunespec.importer.run import Imported
from tunespec.importer.writer import shown


def render(result: Imported, path: str, format: str, written: str | None) -> str:
    if format == "json":
        return json.dumps(document(result, path), ensure_ascii=False, indent=2, default=str) + "\n"
    lines = [f"{path}:{item.line}:{item.column}: not imported: {item.name} = {shown(item.value)}: {item.reason}"
             for item in result.lost]
    where = f" into {written}" if written else ""
    lost = len(result.lost)
    verdict = f"{lost} key{'s' if lost != 1 else ''} not imported" if lost else "nothing lost"
    lines.append(f"Imported {path} ({result.title}) as experiment `{result.name}`{where}: "
                 f"{result.imported} values; {verdict}.")
    return "\n".join(lines) + "\n"


def document(result: Imported, path: str) -> dict:
    return {
        "path": path, "backend": result.backend, "experiment": result.name, "imported": result.imported,
        "at_default": result.same,
        "not_imported": [{"key": item.name, "value": item.value, "line": item.line, "column": item.column,
                          "reason": item.reason, "kind": item.kind} for item in result.lost],
    }
