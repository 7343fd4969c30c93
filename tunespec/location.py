"""Places in source files: `Span` (line and column, start and end) and `Location` (a path and a span).

Every stage points at places — the grammar makes spans, the compiler records them, the rules, the targets
and the reporters print them — so they live here, below all four stages, importing nothing: a diagnostic
(`tunespec.diagnostics`) needs a place without importing the compiler's syntax tree.
"""

from __future__ import annotations

from typing import NamedTuple


class Span(NamedTuple):
    """1-based line and column of the first character, and of the character just after the last.

    A named tuple, not a dataclass: the parser makes one per token, and tuples are cheapest to make.
    """

    line: int
    column: int
    end_line: int
    end_column: int

    @staticmethod
    def of(token) -> "Span":
        """The span of a lexer token (anything with `line`, `column`, `end_line`, `end_column`)."""
        return Span(token.line, token.column, token.end_line, token.end_column)

    def to(self, other: "Span") -> "Span":
        return Span(self.line, self.column, other.end_line, other.end_column)


class Location(NamedTuple):
    """A place in a source file: the path as reported, and the span."""

    path: str
    span: Span

    def __str__(self) -> str:
        return f"{self.path}:{self.span.line}:{self.span.column}"
