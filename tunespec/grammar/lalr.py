"""The LALR(1) runtime: a lexer and a shift-reduce loop over the tables Lark generated (`compile.py`).

It does what Lark's basic lexer and LALR parser do with an embedded transformer — same terminal order,
same keywords, same inlining of `_rule`s and `?rule`s — in one small loop with no parse tree, no
recursion (a list nested 100,000 deep is just a deep stack) and no import of Lark at start-up.

The loop is the whole cost of reading a file, so it is written for speed: white space is skipped by the
same regular expression match that finds the next token, the one lexer (`_tokens`, which `lex` runs too)
is a generator the loop resumes once per token, and each rule's reduction is decided once when the
tables are loaded.
"""

from __future__ import annotations

import re
TYPE_CHECKING = False
if TYPE_CHECKING:  # (typing, for type checkers only, is not imported at run time)
    from typing import Any, Iterator

SHIFT, REDUCE = 0, 1
END = "$END"

# How a reduction builds its value (decided once per rule, see `Tables`).
_CALL, _INLINE, _EXPAND1 = 0, 1, 2


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
    """The generated tables in the form the loop reads fastest (`runtime_form`, which `compile.py` writes
    into tables.py, so that a cold start only compiles the two regular expressions: turning Lark's form
    into this one at start-up cost a one-file lint 0.8M instructions of 160M, callgrind).

    `scanner` matches optional white space and then one terminal; `skip` is the white space alone (for
    the end of the text). Actions are integers: a state number to shift to, or `~rule` to reduce.
    """

    def __init__(self, form: dict[str, Any]) -> None:
        self.keywords: dict[str, dict[str, str]] = form["keywords"]
        self.ignore = frozenset(form["ignore"])
        self.skip = re.compile(form["skip"])
        self.scanner = re.compile(form["scanner"])
        self.start_state: int = form["start_state"]
        self.end_state: int = form["end_state"]
        self.rules: list[tuple] = [(origin, size, None if positions is None else (positions[0], frozenset(positions[1])), mode, callback)
                                   for origin, size, positions, mode, callback in form["rules"]]
        self.states: dict[int, dict[str, int]] = form["states"]


def runtime_form(data: dict[str, Any]) -> dict[str, Any]:
    """Lark's tables (`compile.tables_data`) as `Tables` reads them: the lexer's two patterns, each rule's
    reduction decided (rules numbered in the sorted order of their names), each action one integer."""
    ignore = frozenset(data["ignore"])
    # Ignored terminals other than comments are white space, skipped in front of every token (possessive,
    # so that a failed match never backtracks into a long run of blanks). Written with as few groups as
    # will do: `re` parses a pattern in Python, a character at a time, on every cold start (with the
    # number's groups not capturing, 0.2M instructions less of a one-file lint's 146M; a test holds the
    # tokens to the earlier form's).
    blanks = [regexp for name, regexp in data["terminals"] if name in ignore and name != "COMMENT"]
    kept = [(name, regexp) for name, regexp in data["terminals"] if name not in ignore or name == "COMMENT"]
    blank = "(?:" + "|".join(f"(?:{regexp})" for regexp in blanks) + ")*+" if len(blanks) > 1 else \
        "".join(f"(?:{regexp})*+" for regexp in blanks)
    names = sorted(data["rules"])
    number = {name: index for index, name in enumerate(names)}
    rules = []
    for name in names:
        origin, size, kept_positions, spliced, how, callback = data["rules"][name]
        plain = not spliced and len(kept_positions) == size
        mode = {"inline": _INLINE, "expand1": _EXPAND1}.get(how, _CALL)
        rules.append((origin, size, None if plain else (tuple(kept_positions), tuple(sorted(spliced))), mode, callback))
    return {
        "keywords": data["keywords"],
        "ignore": sorted(ignore),
        "skip": blank,
        "scanner": blank + "(?:" + "|".join(f"(?P<{name}>{regexp})" for name, regexp in kept) + ")",
        "start_state": data["start_state"],
        "end_state": data["end_state"],
        "rules": rules,
        "states": {state: {symbol: (argument if kind == SHIFT else ~number[argument]) for symbol, (kind, argument) in row.items()}
                   for state, row in data["states"].items()},
    }


def lex(tables: Tables, text: str, comments: list[Token] | None = None) -> Iterator[Token]:
    """The tokens of `text`, ignored ones left out (comments go to `comments` when given), then END."""
    tokens = list(_tokens(tables, text, comments))
    yield from tokens[:-1]


def _tokens(tables: Tables, text: str, comments: list[Token] | None, line: int = 1, column: int = 1) -> Iterator[Token]:
    """The lexer, the one `parse` and `lex` both run: every token of `text`, END last. A generator, so that
    the loop keeps its state in local variables (one resumption per token, no method call, no attribute
    writes); white space is skipped by the same match that finds the next token. `line` and `column` are
    where `text` starts (a part of a file parsed again: `compiler.ast.members_of`)."""
    scan = tables.scanner.match
    keywords = tables.keywords
    comments_ignored = "COMMENT" in tables.ignore
    position = 0
    while True:
        found = scan(text, position)
        if found is None:
            blank_end = tables.skip.match(text, position).end()
            line, column = _advance(text, position, blank_end, line, column)
            if blank_end < len(text):
                raise UnexpectedCharacter(blank_end, line, column)
            yield Token(END, "", blank_end, blank_end, line, column, line, column)
            return
        kind = found.lastgroup
        start, end = found.span(kind)
        newlines = text.count("\n", position, start)
        if newlines:
            line += newlines
            column = start - text.rfind("\n", position, start)
        else:
            column += start - position
        value = found.group(kind)
        newlines = value.count("\n")
        if newlines:
            end_line, end_column = line + newlines, end - text.rfind("\n", start, end)
        else:
            end_line, end_column = line, column + (end - start)
        if kind == "COMMENT" and comments_ignored:
            if comments is not None:
                comments.append(Token(kind, value, start, end, line, column, end_line, end_column))
        else:
            if kind in keywords:
                kind = keywords[kind].get(value, kind)
            yield Token(kind, value, start, end, line, column, end_line, end_column)
        position, line, column = end, end_line, end_column


def _advance(text: str, start: int, end: int, line: int, column: int) -> tuple[int, int]:
    """The line and column after text[start:end], starting from (line, column) at `start`."""
    newlines = text.count("\n", start, end)
    if newlines:
        return line + newlines, end - text.rfind("\n", start, end)
    return line, column + (end - start)


def parse(tables: Tables, text: str, builder: Any, comments: list[Token] | None = None,
          line: int = 1, column: int = 1) -> Any:
    """Run the LALR loop; `builder` has one method per rule (or alias), called as the rule is reduced.
    `line` and `column`: where `text` starts in its file."""
    states = tables.states
    rules = tables.rules
    end_state = tables.end_state
    next_token = _tokens(tables, text, comments, line, column).__next__
    callbacks: dict[str, Any] = {}
    state_stack = [tables.start_state]
    value_stack: list[Any] = []
    while True:
        token = next_token()
        kind = token.type
        # --- reduce until the token can be shifted ---
        while True:
            action = states[state_stack[-1]].get(kind)
            if action is None:
                raise UnexpectedToken(token, {symbol for symbol in states[state_stack[-1]] if symbol.isupper()})
            if action >= 0:
                state_stack.append(action)
                value_stack.append(token)
                break
            origin, size, filtered, mode, name = rules[~action]
            if size:
                children = value_stack[-size:]
                del state_stack[-size:]
                del value_stack[-size:]
            else:
                children = []
            if filtered is not None:
                children = _filter(children, *filtered)
            if mode == _INLINE:
                value = children
            elif mode == _EXPAND1 and len(children) == 1:
                value = children[0]
            else:
                callback = callbacks.get(name)
                if callback is None:
                    callback = callbacks[name] = getattr(builder, name)
                value = callback(*children)
            state_stack.append(states[state_stack[-1]][origin])
            value_stack.append(value)
            if kind == END and state_stack[-1] == end_state:
                return value
        if kind == END:
            raise AssertionError("the parser stopped at the end of the input without accepting it")


def _filter(children: list, kept: tuple, spliced: frozenset) -> list:
    """Drop filtered tokens and splice in the children of inlined `_rule`s, as Lark's tree builder does.

    A repetition (`item*`) is a left-recursive `_rule` whose first child is the list made by its previous
    reduction; that list is extended in place rather than copied, so a file of n declarations, or a list
    of n values, is built in time linear in n (copying made it quadratic)."""
    if kept and kept[0] in spliced:
        filtered = children[kept[0]]  # held by nothing but the value stack it was just taken from
        kept = kept[1:]
    else:
        filtered = []
    for index in kept:
        if index in spliced:
            filtered.extend(children[index])
        else:
            filtered.append(children[index])
    return filtered
