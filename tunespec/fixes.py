"""`lint --fix`: the fixes that cannot change what an experiment means beyond what its diagnostic says.

Three, each derived from a diagnostic and checked against the text it would replace:

- TS002 with one "did you mean `name`?" in the same block: the misspelt field renamed (`learnng_rate` →
  `learning_rate`). A suggestion that moves a field to another block, or more than one, is not fixed.
- TS004 on a number written as a string (`epochs = "3"`): the quotes removed, when the string is exactly
  the number the help names.
- TS901, a `# noqa` that silences nothing: the comment removed, or only its unused codes; not when text
  follows the comment on its line.

A file is written only if its fixed text still parses, through a temporary file and a rename, keeping its
mode, its line endings and its byte-order mark; the others are left as they are. Without `--fix` nothing is
ever written.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from tunespec import codes
from tunespec.record import Record

DID_YOU_MEAN = re.compile(r"did you mean `([A-Za-z_][A-Za-z0-9_]*)`\?\Z")
UNQUOTE = re.compile(r"write the number without quotes: `([^`]+)`\Z")
UNKNOWN_FIELD = re.compile(r"unknown field `([A-Za-z_][A-Za-z0-9_]*)`")


class Edit(Record):
    line: int
    column: int
    end_line: int
    end_column: int
    text: str
    code: str


class Fixed(Record):
    path: str
    fixes: int  # the diagnostics fixed in it


def edits_for(diagnostics: list, text: str) -> list[Edit]:
    """The safe edits for the diagnostics of one file whose (normalised) text is `text`."""
    lines = text.split("\n")
    found: list[Edit] = []
    for d in diagnostics:
        edit = _edit(d, lines)
        if edit is not None:
            found.append(edit)
    return found


def _edit(d, lines: list[str]) -> Edit | None:
    if d.line != d.end_line or not 0 < d.line <= len(lines):
        return None
    line = lines[d.line - 1]
    written = line[d.column - 1:d.end_column - 1]
    if d.code == codes.UNKNOWN_FIELD:
        suggestion = DID_YOU_MEAN.search(d.help or "")
        name = UNKNOWN_FIELD.search(d.message)
        if suggestion and name and written == name.group(1):
            return Edit(d.line, d.column, d.end_line, d.end_column, suggestion.group(1), d.code)
    elif d.code == codes.WRONG_TYPE:
        number = UNQUOTE.search(d.help or "")
        if number and written == f'"{number.group(1)}"':
            return Edit(d.line, d.column, d.end_line, d.end_column, number.group(1), d.code)
    elif d.code == codes.UNUSED_NOQA:
        return _noqa_edit(d, line, written)
    return None


def _noqa_edit(d, line: str, written: str) -> Edit | None:
    from tunespec.rules.engine import NOQA

    if line[d.end_column - 1:].strip():
        return None  # a reason or more text after the comment: left for the author
    match = re.fullmatch(NOQA, written)
    if match is None:
        return None
    unused = set(re.findall(r"TS\d{3}", d.message.split(":", 1)[1].split("(")[0])) if match.group("codes") else None
    kept = [] if unused is None else [c for c in re.split(r"\s*,\s*", match.group("codes")) if c.upper() not in unused]
    if kept:
        return Edit(d.line, d.column, d.end_line, d.end_column, f"# noqa: {', '.join(kept)}", d.code)
    start = len(line[:d.column - 1].rstrip())  # the comment and the blanks before it
    return Edit(d.line, start + 1, d.end_line, len(line) + 1, "", d.code)


def apply(text: str, edits: list[Edit]) -> tuple[str, int]:
    """`text` with the edits that do not overlap applied (later ones first); and how many were."""
    lines = text.split("\n")
    applied, last = 0, None
    for edit in sorted(edits, key=lambda e: (e.line, e.column), reverse=True):
        if last is not None and (edit.line, edit.end_column) > last:
            continue  # overlaps the edit after it
        line = lines[edit.line - 1]
        lines[edit.line - 1] = line[:edit.column - 1] + edit.text + line[edit.end_column - 1:]
        last = (edit.line, edit.column)
        applied += 1
    return "\n".join(lines), applied


def fix_files(diagnostics: list, paths: list[str], cwd: Path) -> list[Fixed]:
    """Fix the files among `paths` (display paths, as diagnostics name them) in place; what was fixed."""
    from tunespec.compiler.ast import parse_module
    from tunespec.compiler.loader import symlink_problem
    from tunespec.files import WriteError, read_regular, write_atomically
    from tunespec.grammar import SyntaxProblem

    by_path: dict[str, list] = {}
    for d in diagnostics:
        by_path.setdefault(d.path, []).append(d)
    done = []
    for display in paths:
        found = by_path.get(display)
        if not found:
            continue
        path = cwd / display
        if symlink_problem(path, cwd) is not None:
            continue
        try:
            raw = read_regular(path)
            original = raw.decode("utf-8")
        except (OSError, ValueError):
            continue
        bom = original.startswith("\ufeff")
        text = original[1:] if bom else original
        crlf = "\r\n" in text
        text = text.replace("\r\n", "\n")
        fixed, count = apply(text, edits_for(found, text))
        if not count:
            continue
        try:
            parse_module(fixed, display)
        except SyntaxProblem:
            continue  # never write a file that no longer parses
        data = (("\ufeff" if bom else "") + (fixed.replace("\n", "\r\n") if crlf else fixed)).encode("utf-8")
        try:
            target = Path(os.path.realpath(path))
            write_atomically(target, data, stat.S_IMODE(target.stat().st_mode), exact_mode=True)
        except (OSError, WriteError):
            continue
        done.append(Fixed(display, count))
    return done
