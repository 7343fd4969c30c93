"""`--format text`: like rustc and ruff — the place, the source line, a caret under the span, help."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # (typing, for type checkers only, is not imported at run time)
    from typing import Callable

from tunespec.diagnostics import Diagnostic, Severity
from tunespec.printable import printable

COLOURS = {Severity.ERROR: "31", Severity.WARNING: "33", Severity.INFO: "36"}
TAB = 4
WINDOW = 120  # a longer source line is shown around the span only


class Style:
    def __init__(self, colour: bool) -> None:
        self.colour = colour

    def paint(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.colour else text


def render(diagnostics: list[Diagnostic], line_of: Callable[[str, int], str | None], colour: bool = False) -> str:
    """`line_of(path, number)` gives the source line a diagnostic points at (None when there is none)."""
    return "".join(pieces(diagnostics, line_of, colour))


def pieces(diagnostics: list[Diagnostic], line_of: Callable[[str, int], str | None], colour: bool = False):
    """`render`, a diagnostic at a time: what lint writes to its output as it goes, rather than holding the
    whole report (a 10 MB file's 30,000 warnings: 2 bytes per source byte at the peak, joined and encoded)."""
    style = Style(colour)
    return (render_one(d, line_of(d.path, d.line), style) for d in diagnostics)


def render_one(diagnostic: Diagnostic, line: str | None, style: Style) -> str:
    level = COLOURS[diagnostic.severity]
    path, message = printable(diagnostic.path), printable(diagnostic.message)
    head = (f"{style.paint(f'{path}:{diagnostic.line}:{diagnostic.column}:', '1')} "
            f"{style.paint(f'{diagnostic.code} {diagnostic.severity.value}:', '1;' + level)} {message}\n")
    out = [head]
    gutter = len(str(diagnostic.line))
    if line is not None:
        shown, start, width = _excerpt(line, diagnostic)
        out.append(f" {diagnostic.line} {style.paint('|', '34')} {shown}\n")
        out.append(f" {' ' * gutter} {style.paint('|', '34')} {' ' * start}{style.paint('^' * width, level)}\n")
    if diagnostic.help:
        out.append(f" {' ' * gutter} {style.paint('=', '34')} {style.paint('help:', '1')} {printable(diagnostic.help)}\n")
    return "".join(out)


def _excerpt(line: str, diagnostic: Diagnostic) -> tuple[str, int, int]:
    """The line as displayed, the display column where the span starts, and the caret's width."""
    first = diagnostic.column - 1
    last = diagnostic.end_column - 1 if diagnostic.end_line == diagnostic.line else len(line)
    last = max(last, first + 1)
    offset = 0
    if len(line) > WINDOW:
        offset = max(0, min(first - 20, len(line) - WINDOW))
        line = line[offset: offset + WINDOW]
        first, last = first - offset, min(last - offset, len(line) + 1)
    cells = [_width(char) for char in line]
    start = sum(cells[:first])
    width = max(1, sum(cells[first:last]) if first < len(cells) else 1)
    shown = "".join(" " * TAB if char == "\t" else (char if char.isprintable() else "\ufffd") for char in line)
    prefix = "…" if offset else ""
    return prefix + shown, start + len(prefix), width


def _width(char: str) -> int:
    if char == "\t":
        return TAB
    if char.isascii():  # no ASCII character combines or is wide: most lines never load `unicodedata`
        return 1
    import unicodedata

    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
