"""A buffer as tunespec sees it: linted as the file it will be saved as, and what is written at a place.

The buffer is linted by the same API as `tunespec lint` (`tunespec.api.lint_text`), from the folder the
command would run in, so that the editor shows exactly the diagnostics (codes, messages, `per-file-ignores`,
origins) the command line prints for the saved file.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from tunespec.api import LintResult, configuration, lint_text
from tunespec.compiler.ast import Assignment, Block, Comment, Declaration, Import, Module
from tunespec.location import Span
from tunespec.compiler.loader import PROJECT_MARKERS, SourceFile, normalised
from tunespec.config import Config, ConfigError, find_config
from tunespec.diagnostics import Diagnostic
from tunespec.record import Record
from tunespec.rules import REGISTRY
from tunespec.rules.engine import NOQA


def project_folder(folder: Path) -> Path:
    """Where `tunespec lint` would run for a file in `folder`: beside its configuration, else in the nearest
    folder above with a project marker (`.git`, ...), else in `folder` itself."""
    config = find_config(folder)
    if config is not None:
        return config.parent
    for parent in (folder, *folder.parents):
        if any((parent / marker).exists() for marker in PROJECT_MARKERS):
            return parent
    return folder


class Analysis(Record, eq=False):
    """One version of a buffer, linted; `config_problem` says why the defaults stood in for the config."""

    text: str
    path: Path  # absolute
    cwd: Path  # the folder it was linted from
    result: LintResult
    config_problem: str | None = None

    @property
    def display(self) -> str:
        """How diagnostics name the buffer's file."""
        return self.result.roots[0] if self.result.roots else os.path.relpath(self.path, self.cwd)

    @property
    def source(self) -> SourceFile | None:
        program = self.result.program
        return program.roots[0] if program is not None and program.roots else None

    @property
    def module(self) -> Module | None:
        source = self.source
        return source.module if source is not None else None

    @property
    def lines(self) -> list[str]:
        """The lines of the text as the parser reads it (what spans count in)."""
        return normalised(self.text).split("\n")

    def diagnostics(self) -> list[Diagnostic]:
        """The diagnostics about the buffer itself (not about the files it imports)."""
        return [d for d in self.result.diagnostics if d.path == self.display]


def analyse(text: str, path: Path) -> Analysis:
    """Lint `text` as the content of the file at `path` (absolute), imports read from disk."""
    path = Path(os.path.normpath(path))
    cwd = project_folder(path.parent)
    try:
        config, problem = configuration(path.parent), None
    except ConfigError as error:
        config, problem = Config(), str(error)
    result = lint_text(text, os.path.relpath(path, cwd), config, cwd=cwd)
    return Analysis(text, path, cwd, result, problem)


# --- what is written at a place ------------------------------------------------------------------------

class Place(Record):
    """What is written at a position: a field, a block, a declaration's name or base, an import, or a
    rule named in a `# noqa` comment."""

    kind: str  # "field", "block", "declaration", "extends", "import", "rule"
    span: Span
    decl: Declaration | None = None
    name: str = ""  # the field's dotted path, the block's or base's name, the import's path, the rule's code
    member: Assignment | None = None  # for a field


def place_at(module: Module, line: int, column: int) -> Place | None:
    """What is written at (line, column), both 1-based; a place's span includes the position just after it
    (where the cursor is when a word has just been typed)."""
    for comment in module.comments:
        if _contains(comment.span, line, column):
            return _rule_in(comment, column)
    for item in module.items:
        if not _contains(item.span, line, column):
            continue
        if isinstance(item, Import):
            return Place("import", item.path.span, name=item.path.value) \
                if _contains(item.path.span, line, column) else None
        if item.extends is not None and _contains(item.extends.span, line, column):
            return Place("extends", item.extends.span, item, item.extends.value)
        if _contains(item.name.span, line, column):
            return Place("declaration", item.name.span, item, item.name.value)
        return _member_at(item, item.members, "", line, column)
    return None


def _member_at(decl: Declaration, members, block: str, line: int, column: int) -> Place | None:
    for member in members:
        if not _contains(member.span, line, column):
            continue
        if isinstance(member, Block):
            if _contains(member.name_span, line, column):
                return Place("block", member.name_span, decl, member.name)
            return _member_at(decl, member.members, member.name, line, column)
        path = f"{block}.{member.name}" if block else member.name
        span = member.name_span if _contains(member.name_span, line, column) else member.value.span
        return Place("field", span, decl, path, member)
    return None


_WORD = re.compile(r"[A-Za-z0-9_-]+")


def _rule_in(comment: Comment, column: int) -> Place | None:
    """The rule named under `column` in a `# noqa: CODE, name` comment."""
    match = re.search(NOQA, comment.text)
    if match is None or match.group("codes") is None:
        return None
    base = comment.span.column + match.start("codes")
    for word in _WORD.finditer(match.group("codes")):
        start, end = base + word.start(), base + word.end()
        if start <= column <= end:
            rule = REGISTRY.find(word.group())
            line = comment.span.line
            return Place("rule", Span(line, start, line, end), name=rule.code) if rule else None
    return None


def _contains(span: Span, line: int, column: int) -> bool:
    return (span.line, span.column) <= (line, column) <= (span.end_line, span.end_column)
