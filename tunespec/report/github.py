"""`--format github`: workflow commands that GitHub Actions shows as annotations on the pull request.

GitHub requires `%`, CR and LF escaped in the message, and also `:` and `,` in the properties. What users
wrote (names, values) goes through `printable` first: the log shows escapes, not terminal controls.
"""

from __future__ import annotations

from tunespec.diagnostics import Diagnostic, Severity
from tunespec.printable import printable

COMMANDS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render(diagnostics: list[Diagnostic]) -> str:
    lines = []
    for d in diagnostics:
        properties = ",".join([
            f"file={escape_property(printable(d.path))}", f"line={d.line}", f"col={d.column}", f"endLine={d.end_line}",
            f"endColumn={d.end_column}", f"title={escape_property(f'{d.code} {d.severity.value}')}",
        ])
        message = printable(d.message) + (f"\nhelp: {printable(d.help)}" if d.help else "")
        lines.append(f"::{COMMANDS[d.severity]} {properties}::{escape_data(f'{d.code} {message}')}\n")
    return "".join(lines)
