"""`--format sarif`: SARIF 2.1.0, for GitHub code scanning and other viewers.

Every rule of the registry is described in the tool driver (id, name, short and full description, help);
each result has its rule, level, message and a region in code points (`columnKind: unicodeCodePoints`,
which is what tunespec's columns count), with a URI relative to the repository root.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import quote

from tunespec import __version__
from tunespec.diagnostics import Diagnostic, Severity
from tunespec.printable import encodable
from tunespec.rules.engine import Registry

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
RULES_PAGE = "docs/rules.md"


def repository_root(start: Path) -> Path:
    """The nearest folder at or above `start` holding `.git`; else `start`."""
    start = start.absolute()
    return next((folder for folder in (start, *start.parents) if (folder / ".git").exists()), start)


def render(diagnostics: list[Diagnostic], registry: Registry, cwd: Path | None = None) -> str:
    cwd = (cwd or Path.cwd()).absolute()
    root = repository_root(cwd)
    rules = list(registry)
    index = {rule.code: number for number, rule in enumerate(rules)}
    log = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "tunespec",
                "version": __version__,
                "semanticVersion": __version__,
                "rules": [_rule(rule) for rule in rules],
            }},
            "columnKind": "unicodeCodePoints",
            "originalUriBaseIds": {"%SRCROOT%": {"uri": root.as_uri() + "/"}},
            "results": [_result(d, index, cwd, root) for d in diagnostics],
        }],
    }
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"


def _rule(rule) -> dict:
    first_paragraph = rule.doc.split("## What it does", 1)[-1].strip().split("\n\n", 1)[0].replace("\n", " ")
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": first_paragraph},
        "help": {"text": rule.doc, "markdown": rule.doc},
        "helpUri": f"{RULES_PAGE}#{rule.code.lower()}-{rule.name}",
        "defaultConfiguration": {"level": LEVELS[rule.severity]},
    }


def _result(diagnostic: Diagnostic, index: dict[str, int], cwd: Path, root: Path) -> dict:
    absolute = Path(os.path.normpath(cwd / diagnostic.path))
    try:
        uri = absolute.relative_to(root).as_posix()
    except ValueError:
        uri = absolute.as_posix()
    message = encodable(diagnostic.message + (f"\nhelp: {diagnostic.help}" if diagnostic.help else ""))
    return {
        "ruleId": diagnostic.code,
        "ruleIndex": index[diagnostic.code],
        "level": LEVELS[diagnostic.severity],
        "message": {"text": message},
        "locations": [{"physicalLocation": {
            # the file name's bytes, percent-encoded: a name that is not UTF-8 still names its file
            "artifactLocation": {"uri": quote(os.fsencode(uri)), "uriBaseId": "%SRCROOT%"},
            "region": {"startLine": diagnostic.line, "startColumn": diagnostic.column,
                       "endLine": diagnostic.end_line, "endColumn": diagnostic.end_column},
        }}],
    }
