"""Places in source files: `Span` (line and column, start and end) and `Location` (a path and a span).

Every stage points at places — the grammar makes spans, the compiler records them, the rules, the targets
and the reporters print them — so they live here, below all four stages, importing nothing: a diagnostic
(`tunespec.diagnostics`) needs a place without importing the compiler's syntax tree (nor `typing`, which
costs a cold start 1.5 ms).
"""

from __future__ import annotations

try:  # the field getter `collections.namedtuple` uses (faster than a property over `operator.itemgetter`)
    from _collections import _tuplegetter
except ImportError:  # pragma: no cover - another interpreter
    from operator import itemgetter

    def _tuplegetter(index: int, doc: str):
        return property(itemgetter(index), doc=doc)

_tuple_new = tuple.__new__


class Span(tuple):
    """1-based line and column of the first character, and of the character just after the last.

    A tuple (line, column, end_line, end_column) with named fields, as `typing.NamedTuple` makes them but
    without importing `typing` (1.5 ms of a cold start): the parser makes one for most tokens, and tuples
    are the cheapest objects to make."""

    __slots__ = ()

    def __new__(cls, line: int, column: int, end_line: int, end_column: int) -> "Span":
        return _tuple_new(cls, (line, column, end_line, end_column))

    line = _tuplegetter(0, "the line of the first character")
    column = _tuplegetter(1, "its column")
    end_line = _tuplegetter(2, "the line of the character just after the last")
    end_column = _tuplegetter(3, "its column")

    def __getnewargs__(self) -> tuple:
        return tuple(self)

    def __repr__(self) -> str:
        return f"Span(line={self[0]!r}, column={self[1]!r}, end_line={self[2]!r}, end_column={self[3]!r})"

    @staticmethod
    def of(token) -> "Span":
        """The span of a lexer token (anything with `line`, `column`, `end_line`, `end_column`)."""
        return _tuple_new(Span, (token.line, token.column, token.end_line, token.end_column))

    def to(self, other: "Span") -> "Span":
        return _tuple_new(Span, (self[0], self[1], other[2], other[3]))


class Location(tuple):
    """A place in a source file: the path as reported, and the span. A tuple (path, span), named as
    `Span` is."""

    __slots__ = ()

    def __new__(cls, path: str, span: Span) -> "Location":
        return _tuple_new(cls, (path, span))

    path = _tuplegetter(0, "the path as reported")
    span = _tuplegetter(1, "the span")

    def __getnewargs__(self) -> tuple:
        return tuple(self)

    def __repr__(self) -> str:
        return f"Location(path={self[0]!r}, span={self[1]!r})"

    def __str__(self) -> str:
        return f"{self.path}:{self.span.line}:{self.span.column}"
