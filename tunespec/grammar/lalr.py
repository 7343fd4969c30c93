"""The LALR(1) runtime: a lexer and a shift-reduce loop over the tables Lark generated (`compile.py`).

It does what Lark's basic lexer and LALR parser do with an embedded transformer — same terminal order,
same keywords, same inlining of `_rule`s and `?rule`s — in one small loop with no parse tree, no
recursion (a list nested 100,000 deep is just a deep stack) and no import of Lark at start-up.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

SHIFT, REDUCE = 0, 1
END = "$END"


class Token:
    """A terminal as the lexer found it: type, text, and 1-based start and end positions."""

    __slots__ = ("type", "value", "start_pos", "end_pos", "line", "column", "end_line", "end_column")

    def __init__(self, type: str, value: str, start_pos: int, end_pos: int,
                 line: int, column: int, end_line: int, end_column: int) -> None:
        self.type = type
        self.value = value
        self.start_pos = start_pos
        self.end_pos = end_pos
        self.line = line
        self.column = column
        self.end_line = end_line
        self.end_column = end_column

    def __str__(self) -> str:
        return self.value

    def __repr__(self) -> str:
        return f"Token({self.type}, {self.value!r}, {self.line}:{self.column})"


class UnexpectedCharacter(Exception):
    def __init__(self, position: int, line: int, column: int) -> None:
        super().__init__(f"unexpected character at {line}:{column}")
        self.position, self.line, self.column = position, line, column


class UnexpectedToken(Exception):
    def __init__(self, token: Token, expected: set[str]) -> None:
        super().__init__(f"unexpected {token!r}")
        self.token, self.expected = token, expected


class Tables:
    """The generated tables, with the lexer's regular expression compiled once."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.scanner = re.compile("|".join(f"(?P<{name}>{regexp})" for name, regexp in data["terminals"]))
        self.keywords: dict[str, dict[str, str]] = data["keywords"]
        self.ignore = frozenset(data["ignore"])
        self.start_state: int = data["start_state"]
        self.end_state: int = data["end_state"]
        self.states: dict[int, dict[str, tuple[int, Any]]] = data["states"]
        self.rules: dict[str, tuple] = data["rules"]


def lex(tables: Tables, text: str, comments: list[Token] | None = None) -> Iterator[Token]:
    """The tokens of `text`, ignored ones left out (comments go to `comments` when given)."""
    match = tables.scanner.match
    keywords = tables.keywords
    ignore = tables.ignore
    position, line, column, size = 0, 1, 1, len(text)
    while position < size:
        found = match(text, position)
        if found is None:
            raise UnexpectedCharacter(position, line, column)
        kind = found.lastgroup
        value = found.group()
        end = found.end()
        newlines = value.count("\n")
        if newlines:
            end_line, end_column = line + newlines, end - value.rfind("\n") - position
        else:
            end_line, end_column = line, column + (end - position)
        if kind in ignore:
            if comments is not None and kind == "COMMENT":
                comments.append(Token(kind, value, position, end, line, column, end_line, end_column))
        else:
            if kind in keywords:
                kind = keywords[kind].get(value, kind)
            yield Token(kind, value, position, end, line, column, end_line, end_column)
        position, line, column = end, end_line, end_column


def parse(tables: Tables, text: str, builder: Any, comments: list[Token] | None = None) -> Any:
    """Run the LALR loop; `builder` has one method per rule (or alias), called as the rule is reduced."""
    states = tables.states
    rules = tables.rules
    end_state = tables.end_state
    callbacks: dict[str, Any] = {}
    state_stack = [tables.start_state]
    value_stack: list[Any] = []
    token = None
    for token in _with_end(lex(tables, text, comments)):
        kind = token.type
        while True:
            step = states[state_stack[-1]].get(kind)
            if step is None:
                actions = states[state_stack[-1]]
                raise UnexpectedToken(token, {symbol for symbol in actions if symbol.isupper()})
            if step[0] == SHIFT:
                state_stack.append(step[1])
                value_stack.append(token)
                break
            origin, size, kept, spliced, how, name = rules[step[1]]
            if size:
                children = value_stack[-size:]
                del state_stack[-size:]
                del value_stack[-size:]
            else:
                children = []
            if spliced or len(kept) != size:
                children = _filter(children, kept, spliced)
            if how == "inline":
                value = children
            elif how == "expand1" and len(children) == 1:
                value = children[0]
            else:
                callback = callbacks.get(name)
                if callback is None:
                    callback = callbacks[name] = getattr(builder, name)
                value = callback(*children)
            state_stack.append(states[state_stack[-1]][origin][1])
            value_stack.append(value)
            if kind == END and state_stack[-1] == end_state:
                return value
    raise AssertionError(f"the parser stopped before the end of the input (after {token!r})")


def _filter(children: list, kept: tuple, spliced: tuple) -> list:
    """Drop filtered tokens and splice in the children of inlined `_rule`s, as Lark's tree builder does."""
    filtered: list = []
    for index in kept:
        if index in spliced:
            filtered.extend(children[index])
        else:
            filtered.append(children[index])
    return filtered


def _with_end(tokens: Iterator[Token]) -> Iterator[Token]:
    last = None
    for last in tokens:
        yield last
    if last is None:
        yield Token(END, "", 0, 0, 1, 1, 1, 1)
    else:
        yield Token(END, "", last.end_pos, last.end_pos, last.line, last.column, last.end_line, last.end_column)
