"""`tunespec fmt`: one canonical layout for `.tune` files, like gofmt and `terraform fmt`.

Two-space indentation; one blank line between declarations (imports stay together); inside a body, blank
lines kept where the author put them (one at most, none after `{` or before `}`); `=` aligned within a run
of consecutive single-line assignments; a list on one line when it fits in 100 columns, else one element a
line with a trailing comma. Numbers and strings are kept exactly as written, and every comment is kept: a
comment at the end of a line stays at the end of that line, a comment on its own line stays above what
follows it. The formatter works from the syntax tree, so it never changes meaning; `fmt` re-checks that
(the resolved experiments before and after are equal) before it writes anything.
"""

from __future__ import annotations

import bisect
from typing import Union

from tunespec.compiler.ast import (
    Assignment, Block, Bool, Comment, Declaration, Ident, Import, ListValue, Module, Number, Span, Str, Sweep,
    Value, parse_module,
)

INDENT = "  "
WIDTH = 100


class Comments:
    """The file's comments in order; the printer takes each one exactly once, where it belongs. (An index
    into the sorted list, not pops from its front: a file of 200,000 comments is formatted in linear time.)"""

    def __init__(self, comments: list[Comment]) -> None:
        self.items = sorted(comments, key=lambda c: (c.span.line, c.span.column))
        self.places = [(c.span.line, c.span.column) for c in self.items]
        self.next = 0

    def before(self, line: int, column: int) -> list[Comment]:
        """Comments that start before (line, column): they go above what starts there."""
        end = bisect.bisect_left(self.places, (line, column), self.next)
        taken = self.items[self.next:end]
        self.next = end
        return taken

    def trailing(self, line: int) -> str:
        """The comment at the end of `line`, if the next one is there: it stays at the end of its line."""
        if self.next < len(self.items) and self.places[self.next][0] == line:
            self.next += 1
            return "  " + self.items[self.next - 1].text.rstrip()
        return ""

    def within(self, span: Span) -> bool:
        """Whether a comment not yet taken starts inside `span`."""
        index = bisect.bisect_left(self.places, (span.line, span.column), self.next)
        return index < len(self.places) and self.places[index] < (span.end_line, span.end_column)


def format_text(text: str) -> str:
    """The canonical layout of `text` (decoded, line ends normalised); raises SyntaxProblem."""
    module = parse_module(text, "<fmt>")
    return Printer(Comments(module.comments)).module(module)


class Printer:
    def __init__(self, comments: Comments) -> None:
        self.comments = comments

    # --- the top of the file --------------------------------------------------------------------------

    def module(self, module: Module) -> str:
        lines: list[str] = []
        previous: Union[Import, Declaration, None] = None
        for item in module.items:
            leading = self.comments.before(item.span.line, item.span.column)
            if previous is not None:
                together = isinstance(item, Import) and isinstance(previous, Import) and not leading
                if not together or _gap(previous.span.end_line, _first_line(leading, item)):
                    lines.append("")
            lines.extend(self._leading(leading, "", item.span.line))
            lines.extend(self.import_line(item) if isinstance(item, Import) else self.declaration(item))
            previous = item
        rest = self.comments.before(10**9, 0)
        if rest:
            if lines:
                lines.append("")
            lines.extend(self._leading(rest, "", None))
        return "\n".join(lines) + "\n" if lines else ""

    def import_line(self, item: Import) -> list[str]:
        return [f"import {item.path.raw}{self.comments.trailing(item.span.end_line)}"]

    def declaration(self, decl: Declaration) -> list[str]:
        if decl.kind == "model":
            header = f"model {decl.name.raw}"
        else:
            header = f"{decl.kind} {decl.name.value}" + (f" extends {decl.extends.value}" if decl.extends else "")
        return self.body(header, decl.members, decl.span, "")

    # --- bodies and their members -------------------------------------------------------------------

    def body(self, header: str, members, span: Span, indent: str) -> list[str]:
        """`header {`, the members one level in, `}`; `header {}` when there is nothing inside."""
        opening_line = _opening_line(members, span)
        trailing = self.comments.trailing(opening_line) if opening_line else ""
        inner = indent + INDENT
        lines = [f"{indent}{header} {{{trailing}"]
        lines.extend(self.members(members, inner, opening_line))
        dangling = self.comments.before(span.end_line, span.end_column - 1)
        if dangling:
            last = members[-1].span.end_line if members else opening_line
            if members and _gap(last, dangling[0].span.line):
                lines.append("")
            lines.extend(self._leading(dangling, inner, None))
        closing = self.comments.trailing(span.end_line)
        if len(lines) == 1 and not (trailing and closing):
            return [f"{indent}{header} {{}}{trailing or closing}"]
        lines.append(f"{indent}}}{closing}")
        return lines

    def members(self, members, indent: str, after_line: int) -> list[str]:
        """Members in order, blank lines where the author had them, `=` aligned within runs."""
        run: list[tuple[str, str, str]] = []  # (name, value text, trailing comment) of one-line assignments
        lines: list[str] = []
        last_line = after_line

        def close_run() -> None:
            if run:
                width = max(len(name) for name, _, _ in run)
                lines.extend(f"{indent}{name.ljust(width)} = {value}{comment}" for name, value, comment in run)
                run.clear()

        for member in members:
            leading = self.comments.before(member.span.line, member.span.column)
            blank = _gap(last_line, _first_line(leading, member))
            if blank or leading:
                close_run()
            if blank and (lines or run):
                lines.append("")
            lines.extend(self._leading(leading, indent, member.span.line))
            single = self._single_line_assignment(member, indent)
            if single is not None:
                run.append(single)
            else:
                close_run()
                lines.extend(self.member(member, indent))
            last_line = member.span.end_line
        close_run()
        return lines

    def _single_line_assignment(self, member, indent: str):
        if not isinstance(member, Assignment):
            return None
        text = self.inline_value(member.value, len(indent) + len(member.name) + 3)
        if text is None:
            return None
        return member.name, text, self.comments.trailing(member.span.end_line)

    def member(self, member, indent: str) -> list[str]:
        if isinstance(member, Block):
            return self.body(member.name, member.members, member.span, indent)
        head = f"{indent}{member.name} = "
        value_lines = self.value_lines(member.value, indent)
        value_lines[0] = head + value_lines[0]
        value_lines[-1] += self.comments.trailing(member.span.end_line)
        return value_lines

    # --- values ---------------------------------------------------------------------------------------

    def inline_value(self, value: Value, column: int) -> str | None:
        """The value on one line, or None when it must span lines (it would not fit, holds a comment,
        or is a multi-line string)."""
        if isinstance(value, (Str, Number, Bool, Ident)):
            return None if "\n" in value.raw else value.raw
        if self._holds_comment(value):
            return None
        items = []
        for item in value.items:
            text = self.inline_value(item, column)
            if text is None:
                return None
            items.append(text)
        text = ("sweep " if isinstance(value, Sweep) else "") + "[" + ", ".join(items) + "]"
        return text if column + len(text) <= WIDTH else None

    def value_lines(self, value: Value, indent: str) -> list[str]:
        """A value as lines; the first continues its line (`name = ` before it)."""
        if isinstance(value, (Str, Number, Bool, Ident)):
            return value.raw.split("\n")
        text = self.inline_value(value, len(indent) + 4)
        if text is not None:
            return [text]
        inner = indent + INDENT
        lines = ["sweep [" if isinstance(value, Sweep) else "["]
        for item in value.items:
            leading = self.comments.before(item.span.line, item.span.column)
            lines.extend(self._leading(leading, inner, None))
            item_lines = self.value_lines(item, inner)
            item_lines[0] = inner + item_lines[0]
            item_lines[-1] += "," + self.comments.trailing(item.span.end_line)
            lines.extend(item_lines)
        dangling = self.comments.before(value.span.end_line, value.span.end_column - 1)
        lines.extend(self._leading(dangling, inner, None))
        lines.append(f"{indent}]")
        return lines

    def _holds_comment(self, value: Value) -> bool:
        return self.comments.within(value.span)

    def _leading(self, comments: list[Comment], indent: str, node_line: int | None) -> list[str]:
        """Comments on their own lines, above the node that starts at `node_line`; one blank line kept
        where the author left one between them, or between the last of them and the node."""
        lines = []
        last = None
        for comment in comments:
            if _gap(last, comment.span.line):
                lines.append("")
            lines.append(indent + comment.text.rstrip())
            last = comment.span.line
        if comments and node_line is not None and _gap(last, node_line):
            lines.append("")
        return lines


def _gap(last_line: int | None, next_line: int) -> bool:
    """Whether the author left at least one blank line between two lines."""
    return last_line is not None and next_line - last_line > 1


def _first_line(leading: list[Comment], node) -> int:
    return leading[0].span.line if leading else node.span.line


def _opening_line(members, span: Span) -> int:
    """The line of a body's `{`: the declaration's or block's header line (as the grammar writes them)."""
    return span.line


# --- fmt on files ----------------------------------------------------------------------------------------

class FormatError(Exception):
    """The formatted text would not mean what the original does: a bug, and nothing is written."""


def signature(module: Module):
    """What a file means, without its layout: declarations, fields and values as written, and comments."""
    def value(node):
        if isinstance(node, (ListValue, Sweep)):
            return (type(node).__name__, tuple(value(item) for item in node.items))
        return (type(node).__name__, node.raw)

    def member(node):
        if isinstance(node, Block):
            return ("block", node.name, tuple(member(m) for m in node.members))
        return ("field", node.name, value(node.value))

    items = []
    for item in module.items:
        if isinstance(item, Import):
            items.append(("import", item.path.raw))
        else:
            items.append((item.kind, item.name.value, item.extends.value if item.extends else None,
                          tuple(member(m) for m in item.members)))
    return tuple(items), sorted(comment.text.rstrip() for comment in module.comments)


def formatted_or_raise(text: str) -> str:
    """The canonical layout, proven to keep the meaning and every comment (as black checks its output)."""
    result = format_text(text)
    if signature(parse_module(result, "<fmt>")) != signature(parse_module(text, "<fmt>")):
        raise FormatError("the formatted text would not mean the same")
    if format_text(result) != result:
        raise FormatError("formatting is not stable on this file")
    return result
