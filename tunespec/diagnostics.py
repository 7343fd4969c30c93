"""What can be reported: diagnostics are plain data; rules create them, reporters print them.

Every stage reports through `Finding` (code, place, message); the rule engine turns findings into
`Diagnostic`s by adding the severity that configuration decides and the experiment they concern.
"""

from __future__ import annotations

from enum import Enum
from typing import NamedTuple

from tunespec.record import Record
from tunespec.compiler.ast import Span


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"error": 2, "warning": 1, "info": 0}[self.value]


class Location(NamedTuple):
    """A place in a source file: the path as reported, and the span."""

    path: str
    span: Span

    def __str__(self) -> str:
        return f"{self.path}:{self.span.line}:{self.span.column}"


class Finding(Record):
    """What a check found, before configuration decides its severity.

    `severity` is set only by the few rules whose documented severity depends on the case (TS108 on a
    soft context window); configuration still overrides it.
    """

    code: str
    location: Location
    message: str
    help: str | None = None
    severity: Severity | None = None


class Diagnostic(Record):
    code: str
    severity: Severity
    message: str
    path: str
    line: int
    column: int
    end_line: int
    end_column: int
    help: str | None = None
    experiment: str | None = None

    @property
    def sort_key(self) -> tuple:
        return (self.path, self.line, self.column, self.code)

    def to_json(self) -> dict:
        return {
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line,
            "end_column": self.end_column,
            "help": self.help,
            "experiment": self.experiment,
        }
