"""Text in, the transformer's result out; every Lark error becomes one `SyntaxProblem` a user can act on.

The parser is built from precompiled tables (`tables.py`, generated from `tune.lark` by
`python -m tunespec.grammar.compile`), so linting never rebuilds the grammar. When the grammar has been
edited and the tables are stale, it is built from source instead, which is only slower.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from typing import Any, Callable

from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedToken

GRAMMAR_FILE = "tune.lark"
LARK_OPTIONS = {"parser": "lalr", "lexer": "basic", "maybe_placeholders": False}


@dataclass
class SyntaxProblem(Exception):
    """A mistake in the text of a `.tune` file, at a 1-based line and column."""

    message: str
    line: int
    column: int
    end_line: int
    end_column: int
    help: str | None = None

    def __str__(self) -> str:
        return f"{self.line}:{self.column}: {self.message}"


def grammar_text() -> str:
    return resources.files(__package__).joinpath(GRAMMAR_FILE).read_text(encoding="utf-8")


def grammar_digest(text: str | None = None) -> str:
    """What the precompiled tables must have been made from (the grammar and Lark's options)."""
    text = grammar_text() if text is None else text
    return hashlib.sha256((text + repr(sorted(LARK_OPTIONS.items()))).encode()).hexdigest()


class _CommentSink:
    """Receives comment tokens from the lexer; reset before each parse (the parser is shared)."""

    def __init__(self) -> None:
        self.comments: list[Token] = []

    def __call__(self, token: Token) -> Token:
        self.comments.append(token)
        return token


_comments = _CommentSink()
_parsers: dict[type, Lark] = {}
_build_count = 0  # how often the grammar was compiled from source in this process (tests read it)


def _load_parser(transformer: Any) -> Lark:
    global _build_count
    callbacks = {"COMMENT": _comments}
    try:
        from tunespec.grammar import tables
    except ImportError:  # pragma: no cover - only while bootstrapping the tables
        tables = None
    if tables is not None and tables.GRAMMAR_DIGEST == grammar_digest():
        instance = Lark.__new__(Lark)
        return instance._load(tables.PARSER, transformer=transformer, lexer_callbacks=callbacks)
    _build_count += 1
    return Lark(grammar_text(), transformer=transformer, lexer_callbacks=callbacks, **LARK_OPTIONS)


def parse(text: str, transformer: Any) -> tuple[Any, list[Token]]:
    """Parse `text` (already decoded, line ends normalised) and return (result, comment tokens)."""
    parser = _parsers.get(type(transformer))
    if parser is None:
        parser = _parsers[type(transformer)] = _load_parser(transformer)
    _comments.comments = []
    try:
        result = parser.parse(text)
    except UnexpectedCharacters as error:
        raise _unexpected_character(text, error) from None
    except (UnexpectedToken, UnexpectedEOF) as error:
        raise _unexpected_token(text, parser, error) from None
    return result, _comments.comments


# --- the words of syntax errors ----------------------------------------------------------------------

TOKEN_WORDS = {
    "EQUAL": "`=`",
    "LBRACE": "`{`",
    "RBRACE": "`}`",
    "LSQB": "`[`",
    "RSQB": "`]`",
    "COMMA": "`,`",
    "NAME": "a name",
    "STRING": "a string",
    "LONG_STRING": "a string",
    "NUMBER": "a number",
    "TRUE": "`true`",
    "FALSE": "`false`",
    "IMPORT": "`import`",
    "PRESET": "`preset`",
    "EXPERIMENT": "`experiment`",
    "MODEL": "`model`",
    "EXTENDS": "`extends`",
    "SWEEP": "`sweep`",
    "$END": "end of file",
}
VALUE_STARTS = {"STRING", "LONG_STRING", "NUMBER", "TRUE", "FALSE", "NAME", "LSQB", "SWEEP"}
DECLARATION_STARTS = {"IMPORT", "PRESET", "EXPERIMENT", "MODEL"}
RESERVED = {"IMPORT", "PRESET", "EXPERIMENT", "MODEL", "EXTENDS", "SWEEP", "TRUE", "FALSE"}
OPENERS = {"LBRACE": "RBRACE", "LSQB": "RSQB"}
CLOSERS = {"RBRACE": "LBRACE", "RSQB": "LSQB"}


def _describe_expected(expected: set[str]) -> str:
    expected = set(expected) - {"$END"} if len(expected) > 1 else set(expected)
    if VALUE_STARTS <= expected:
        rest = expected - VALUE_STARTS
        words = ["a value"] + sorted({TOKEN_WORDS.get(t, t) for t in rest})
    elif DECLARATION_STARTS <= expected:
        words = ["a declaration (`import`, `preset`, `experiment` or `model`)"]
        words += sorted({TOKEN_WORDS.get(t, t) for t in expected - DECLARATION_STARTS})
    else:
        words = sorted({TOKEN_WORDS.get(t, t) for t in expected})
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " or " + words[-1]


def _describe_found(token: Token) -> str:
    if token.type == "$END":
        return "end of file"
    text = str(token)
    if token.type in ("STRING", "LONG_STRING"):
        text = text if len(text) <= 30 else text[:27] + "..."
        return f"the string {text}"
    return f"`{text}`"


def _end_of_text(text: str) -> tuple[int, int]:
    """The position just after the last character that is not white space."""
    stripped = text.rstrip()
    line = stripped.count("\n") + 1
    column = len(stripped) - (stripped.rfind("\n") + 1) + 1
    return line, column


def _tokens_before(text: str, parser: Lark, position: int) -> list[Token]:
    """The tokens that end before `position`; empty if the text cannot even be lexed that far."""
    tokens: list[Token] = []
    try:
        for token in parser.lex(text[:position], dont_ignore=False):
            tokens.append(token)
    except Exception:  # the text before an error lexes by construction; this is only a safety net
        return tokens
    return tokens


def _unclosed_bracket(tokens: list[Token]) -> Token | None:
    stack: list[Token] = []
    for token in tokens:
        if token.type in OPENERS:
            stack.append(token)
        elif token.type in CLOSERS and stack and stack[-1].type == CLOSERS[token.type]:
            stack.pop()
    return stack[-1] if stack else None


def _unexpected_token(text: str, parser: Lark, error: UnexpectedToken | UnexpectedEOF) -> SyntaxProblem:
    token = getattr(error, "token", None)
    expected = set(getattr(error, "expected", ()) or ())
    if token is None or token.type == "$END":
        line, column = _end_of_text(text)
        opener = _unclosed_bracket(_tokens_before(text, parser, len(text)))
        if opener is not None:
            closer = "}" if opener.type == "LBRACE" else "]"
            return SyntaxProblem(
                f"unclosed `{opener}` opened at {opener.line}:{opener.column}",
                line, column, line, column, help=f"add `{closer}` to close it",
            )
        return SyntaxProblem(
            f"expected {_describe_expected(expected)}, found end of file", line, column, line, column
        )
    previous = _tokens_before(text, parser, token.start_pos)
    last = previous[-1] if previous else None
    if token.type in CLOSERS and _unclosed_bracket(previous) is None:
        closer = str(token)
        opener = "{" if closer == "}" else "["
        return SyntaxProblem(f"unexpected `{closer}`: there is no open `{opener}` to close",
                             token.line, token.column, token.end_line, token.end_column)
    problem = SyntaxProblem(
        _token_message(token, last, expected),
        token.line, token.column, token.end_line, token.end_column,
        help=_token_help(token, last, expected),
    )
    return problem


def _token_message(token: Token, last: Token | None, expected: set[str]) -> str:
    found = _describe_found(token)
    if token.type in RESERVED and "NAME" in expected:
        return f"`{token}` is a reserved word and cannot be used as a name here"
    if last is not None and last.type == "NUMBER" and token.type == "NAME" and _touches(last, token):
        return f"invalid number `{last}{token}`: underscores go only between digits"
    if last is not None and last.type in ("NAME", "MODEL") and token.type in VALUE_STARTS and "EQUAL" in expected:
        return f"expected `=` after `{last}`, found {found}"
    if last is not None and "COMMA" in expected and "RSQB" in expected:
        return f"expected `,` or `]` after {_describe_found(last)} in a list, found {found}"
    after = f" after {_describe_found(last)}" if last is not None else ""
    return f"expected {_describe_expected(expected)}{after}, found {found}"


def _token_help(token: Token, last: Token | None, expected: set[str]) -> str | None:
    if token.type in RESERVED and "NAME" in expected:
        return "reserved words are: " + ", ".join(sorted(w.lower() for w in RESERVED))
    if last is not None and last.type in ("NAME", "MODEL") and token.type in VALUE_STARTS and "EQUAL" in expected:
        return f"write `{last} = {token}`"
    if expected - {"$END"} == DECLARATION_STARTS and token.type == "NAME":
        return "fields belong inside a `preset` or `experiment` body: `experiment NAME { ... }`"
    return None


def _touches(left: Token, right: Token) -> bool:
    return left.end_pos == right.start_pos


def _unexpected_character(text: str, error: UnexpectedCharacters) -> SyntaxProblem:
    position = error.pos_in_stream
    line, column = error.line, error.column
    char = text[position]
    rest = text[position:]

    def at(message: str, help: str | None = None, width: int = 1) -> SyntaxProblem:
        return SyntaxProblem(message, line, column, line, column + width, help)

    if char == '"' and text[position - 2: position] == '""':  # `""` lexed as an empty string
        line, column, rest = line, column - 2, text[position - 2:]
    if rest.startswith('"""'):
        return at('unterminated `"""` string: no closing `"""` before the end of the file', width=3)
    if char == '"':
        line_end = text.find("\n", position)
        width = (len(text) if line_end < 0 else line_end) - position
        return at(
            "unterminated string: no closing `\"` on this line",
            'close the string on the same line, or use `"""` for text that spans lines', max(width, 1),
        )
    if char == "." and rest[1:2].isdigit():
        digits = _leading(rest[1:], str.isdigit)
        return at(f"`.{digits}` is not a number", f"write `0.{digits}`", len(digits) + 1)
    if char == "." and position > 0 and text[position - 1].isdigit():
        digits = _trailing(text[:position], str.isdigit)
        return at(f"`{digits}.` is not a number", f"write `{digits}.0`")
    if char == "'":
        return at("strings are written in double quotes", 'write "..." instead of \'...\'')
    shown = char if char.isprintable() else repr(char)[1:-1]
    return at(f"unexpected character `{shown}`", _character_help(char))


def _character_help(char: str) -> str | None:
    if char == ":":
        return "fields are set with `=`, not `:`"
    if char.isalpha():
        return "names use ASCII letters, digits, `_` and `-`; other text goes in a \"string\""
    if char == ";":
        return "no `;` is needed: a newline or space separates fields"
    if char in "+":
        return "numbers take only a leading `-`"
    return None


def _leading(text: str, test: Callable[[str], bool]) -> str:
    count = 0
    while count < len(text) and test(text[count]):
        count += 1
    return text[:count]


def _trailing(text: str, test: Callable[[str], bool]) -> str:
    count = len(text)
    while count > 0 and test(text[count - 1]):
        count -= 1
    return text[count:]
