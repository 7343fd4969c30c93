"""What can be reported: diagnostics are plain data; rules create them, reporters print them.

A rule's check yields `Problem`s (place, message, help): the code is the one declared on the rule, and the
engine stamps it, so that no check retypes it. The compiler, the targets and the engine report `Finding`s
(a problem with its code, named from `tunespec.codes`); the engine turns findings into `Diagnostic`s by
adding the severity that configuration decides and the experiment they concern.
"""

from __future__ import annotations

from enum import Enum
from tunespec.record import Record
from tunespec.location import Location


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"error": 2, "warning": 1, "info": 0}[self.value]


class Problem(Record):
    """What a rule's check found, before the engine stamps the rule's code on it and configuration decides
    its severity.

    `severity` is set only by the few rules whose documented severity depends on the case (TS108 on a
    soft context window); configuration still overrides it.
    """

    location: Location
    message: str
    help: str | None = None
    severity: Severity | None = None

    def stamped(self, code: str) -> Finding:
        return Finding(code, self.location, self.message, self.help, self.severity)


class Finding(Record):
    """A problem with its code: what the engine reports, selects and suppresses."""

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
