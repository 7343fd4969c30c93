"""The syntax tree of a `.tune` file: small typed nodes, each with the span it was written at.

Positions are computed once, here, from the lexer's tokens; everything after this reads `span`.
Scalars keep their text as written (`raw`), so that `fmt` can keep `1e-5` as `1e-5`.
"""

from __future__ import annotations

import re
import sys
from tunespec.record import Factory, Record, ValueEquality
from tunespec.grammar import SyntaxProblem
from tunespec.grammar import parse as parse_text
from tunespec.grammar import parse_again
from tunespec.grammar.lalr import Token
from tunespec.location import Span


class _Scalar(ValueEquality):
    """A value written as one token: the value, the text as written (`raw`, so that `fmt` keeps `1e-5` as
    `1e-5`) and where it starts. The span is worked out from the text, as the lexer did, rather than
    stored: a file holds a scalar per line and a span costs 72 bytes (a 10 MB file: 2 bytes per source
    byte). Made like a record: `Number(8, Span(3, 18, 3, 19), "8")`, equal by value, span and text."""

    __slots__ = ()

    def __init__(self, value, span: Span, raw: str) -> None:
        self.value, self.raw, self.line, self.column = value, raw, span[0], span[1]

    @classmethod
    def of(cls, value, token: Token):
        """The node of a token (the parser's way: no span made)."""
        node = _new(cls)
        node.value, node.raw, node.line, node.column = value, token.value, token.line, token.column
        return node

    @property
    def span(self) -> Span:
        raw, line, column = self.raw, self.line, self.column
        if "\n" not in raw:
            return _tuple_new(Span, (line, column, line, column + len(raw)))
        return _tuple_new(Span, (line, column, line + raw.count("\n"), len(raw) - raw.rfind("\n")))

    def _values(self) -> tuple:
        return self.value, self.raw, self.line, self.column

    def __repr__(self) -> str:
        return f"{type(self).__name__}(value={self.value!r}, span={self.span!r}, raw={self.raw!r})"


_new = object.__new__
_tuple_new = tuple.__new__


class _Written(_Scalar):
    __slots__ = ("value", "raw", "line", "column")


class Str(_Scalar):
    """A string's text as written is held only when it is not its value in quotes (escapes, a long
    string); otherwise it is worked out when asked (for a span, for `fmt`). The strings a file writes
    once (descriptions, paths) were held twice, as written and as meant."""

    __slots__ = ("value", "_raw", "line", "column")
    value: str

    @classmethod
    def quoted(cls, value: str, token: Token) -> "Str":
        """The node of a string token without escapes (the parser's way: its text is not held)."""
        node = _new(cls)
        node.value, node._raw, node.line, node.column = value, None, token.line, token.column
        return node

    @property
    def span(self) -> Span:
        value, line, column = self.value, self.line, self.column
        if self._raw is None and "\n" not in value:
            return _tuple_new(Span, (line, column, line, column + len(value) + 2))
        return _Scalar.span.fget(self)

    @property
    def raw(self) -> str:
        return self._raw if self._raw is not None else f'"{self.value}"'

    @raw.setter
    def raw(self, raw: str) -> None:
        value = self.value
        quoted = len(raw) == len(value) + 2 and raw[0] == '"' == raw[-1] and raw.startswith(value, 1)
        self._raw = None if quoted else raw


class Number(_Written):
    __slots__ = ()
    value: int | float


class Bool(_Written):
    __slots__ = ()
    value: bool


class Ident(_Written):
    __slots__ = ()
    value: str




# No field takes a list of lists, nor a block inside a block inside a block, so nesting serves no program;
# like Python's parser ("too many nested parentheses" at 200) the language stops it early, which bounds
# the recursion of everything that walks values and bodies (the formatter, `show`, the comparisons of
# values, the layers) however hostile the input.
MAX_NESTING = 100




class _Named:
    """A node that starts with its name (an assignment, a block)."""

    __slots__ = ()

    @property
    def name_span(self) -> Span:
        """Where the name is written: the start of `span`, as long as the name (which holds no line
        break). Worked out rather than stored: a file holds a name per line, and a span costs 72 bytes."""
        span = self.span
        return _tuple_new(Span, (span[0], span[1], span[0], span[1] + len(self.name)))


class Assignment(_Named, ValueEquality):
    """`name = value`: the name, the value, and where the name starts; the span (from the name to the end
    of the value) is worked out, not stored, as a scalar's is. Made like a record:
    `Assignment("seed", value, span)`."""

    __slots__ = ("name", "value", "line", "column")

    def __init__(self, name: str, value: Value, span: Span) -> None:
        self.name, self.value, self.line, self.column = name, value, span[0], span[1]

    @classmethod
    def of(cls, name: str, value: Value, token: Token) -> "Assignment":
        """The node of a name token and its value (the parser's way: no span made)."""
        node = _new(cls)
        node.name, node.value, node.line, node.column = name, value, token.line, token.column
        return node

    @property
    def span(self) -> Span:
        end = self.value.span
        return _tuple_new(Span, (self.line, self.column, end[2], end[3]))

    def _values(self) -> tuple:
        return self.name, self.value, self.line, self.column

    def __repr__(self) -> str:
        return f"Assignment(name={self.name!r}, value={self.value!r}, span={self.span!r})"


class _Spanned(ValueEquality):
    """A node that holds its span's four numbers rather than a `Span` (a tuple of 72 bytes more), made like
    a record (`Block(name, members, span)`) and equal by its fields."""

    __slots__ = ()
    _fields: tuple[str, ...] = ()

    @property
    def span(self) -> Span:
        return _tuple_new(Span, (self.line, self.column, self.end_line, self.end_column))

    def _values(self) -> tuple:
        return tuple(getattr(self, field) for field in self._fields)

    def __repr__(self) -> str:
        shown = ", ".join(f"{field}={getattr(self, field)!r}" for field in self._shown)
        return f"{type(self).__name__}({shown})"


class Block(_Named, _Spanned):
    """`name { members }`; `depth` is how many blocks deep it is: 1 for a block of assignments. The depth is
    worked out from the members, not stored: a slot less takes a block from 96 bytes to 80 (a file holds
    a block every seven lines); the parser asks it once per block, bounded by `MAX_NESTING`."""

    __slots__ = ("name", "members", "line", "column", "end_line", "end_column")
    _fields = __slots__
    _shown = ("name", "members", "span", "depth")

    def __init__(self, name: str, members: tuple[Assignment | Block, ...], span: Span) -> None:
        self.name, self.members = name, members
        self.line, self.column, self.end_line, self.end_column = span

    @property
    def depth(self) -> int:
        return 1 + max((member.depth for member in self.members if isinstance(member, Block)), default=0)


Member = Assignment | Block


class _Values(_Spanned):
    """Values in brackets; `depth` is how many lists deep: 1 for a list of scalars. The span's numbers are
    held as a block's are (a list and a sweep per declaration: their two spans took 0.3 bytes per source
    byte). Made like a record: `ListValue(items, span, depth)`."""

    __slots__ = ("items", "line", "column", "end_line", "end_column", "depth")
    _fields = __slots__
    _shown = ("items", "span", "depth")

    def __init__(self, items: tuple[Value, ...], span: Span, depth: int = 1) -> None:
        self.items, self.depth = items, depth
        self.line, self.column, self.end_line, self.end_column = span


class ListValue(_Values):
    __slots__ = ()


class Sweep(_Values):
    __slots__ = ()


Value = Str | Number | Bool | Ident | ListValue | Sweep  # (a union made without importing typing)


class Name(ValueEquality):
    """A name written in a declaration (its own, or the base after `extends`); a model declaration's id
    keeps its string as written (`raw`). Its span is worked out from the text, as a scalar's is, rather
    than stored: a declaration holds two names, and their spans took 0.34 bytes per source byte of a large
    file. Made like a record: `Name("base", Span(1, 8, 1, 12))`, equal by value, text and place."""

    __slots__ = ("value", "raw", "line", "column")

    def __init__(self, value: str, span: Span, raw: str | None = None) -> None:
        self.value, self.raw, self.line, self.column = value, raw, span[0], span[1]

    @property
    def span(self) -> Span:
        text, line, column = self.value if self.raw is None else self.raw, self.line, self.column
        if "\n" not in text:
            return _tuple_new(Span, (line, column, line, column + len(text)))
        return _tuple_new(Span, (line, column, line + text.count("\n"), len(text) - text.rfind("\n")))

    def _values(self) -> tuple:
        return self.value, self.raw, self.line, self.column

    def __repr__(self) -> str:
        return f"Name(value={self.value!r}, span={self.span!r}, raw={self.raw!r})"


class Import(Record):
    path: Str
    span: Span


class Declaration(_Spanned):
    """A preset, experiment or model declaration (`kind`), its name, its base, its body."""

    __slots__ = ("kind", "name", "extends", "members", "line", "column", "end_line", "end_column")
    _fields = __slots__
    _shown = ("kind", "name", "extends", "members", "span")

    def __init__(self, kind: str, name: Name, extends: Name | None, members: tuple[Member, ...], span: Span) -> None:
        self.kind, self.name, self.extends, self.members = kind, name, extends, members
        self.line, self.column, self.end_line, self.end_column = span


class Outlined(Declaration):
    """A declaration whose body is not held (`members` is None): `start` and `end` are where its text is
    in the file, which `members_of` parses again when the body is asked for. A large file read for a lint
    is held so (`parse_module(..., outline=True)`): its declarations are checked one at a time, so that
    the file's whole syntax tree, about 8 bytes per source byte, is never held at once."""

    __slots__ = ("start", "end")


def members_of(decl: Declaration, text: str) -> tuple[Member, ...]:
    """The body of a declaration of the file whose text is `text`: held, or parsed again (an `Outlined`
    one), node for node as the whole file's parse made it."""
    if not isinstance(decl, Outlined):
        return decl.members
    items = parse_again(text[decl.start:decl.end], _BUILDER, decl.line, decl.column)
    return items[0].members


class Comment(Record):
    text: str
    span: Span


class Module(Record):
    """One parsed file: its imports and declarations in source order, and its comments."""

    path: str
    items: list[Import | Declaration]
    comments: list[Comment] = Factory(list)

    @property
    def imports(self) -> list[Import]:
        return [item for item in self.items if isinstance(item, Import)]

    @property
    def declarations(self) -> list[Declaration]:
        return [item for item in self.items if isinstance(item, Declaration)]


def type_name(value: Value) -> str:
    """How a message names the kind of a value: "a string", "an integer", ..."""
    if isinstance(value, Str):
        return "a string"
    if isinstance(value, Bool):
        return "a boolean"
    if isinstance(value, Number):
        return "an integer" if isinstance(value.value, int) else "a number"
    if isinstance(value, Ident):
        return "an identifier"
    if isinstance(value, Sweep):
        return "a sweep"
    return "a list"


def source_text(value: Value) -> str:
    """The value as written, for messages (lists abbreviated)."""
    if isinstance(value, (Str, Number, Bool, Ident)):
        return value.raw
    return "sweep [...]" if isinstance(value, Sweep) else "[...]"


# --- from tokens to nodes -----------------------------------------------------------------------------

JSON_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def _problem(message: str, line: int, column: int, width: int = 1, help: str | None = None) -> SyntaxProblem:
    return SyntaxProblem(message, line, column, line, column + width, help)


def decode_string(token: Token) -> str:
    """The text of a "..." string with JSON's escapes applied; a bad escape is a syntax problem.

    The escapes are JSON's, so JSON's C decoder applies them, in one pass and without a list of pieces (a
    string of a million escapes would otherwise cost a list entry per escape). It accepts lone surrogates,
    which this language does not; those, and every bad escape, go to `_decode_slowly` for the message."""
    raw = token.value
    if "\\" not in raw:
        return raw[1:-1]
    try:
        text, end = _scan_json_string(raw, 1, False)
    except ValueError:
        end = -1
    if end == len(raw) and (text.isascii() or not re.search(_SURROGATE, text)):
        return text
    return _decode_slowly(token)


def _scan_json_string(text: str, end: int, strict: bool) -> tuple[str, int]:
    """JSON's C string decoder, without importing the `json` package, imported (and put in this function's
    place) by the first string with an escape: most files have none, and loading `_json` cost every cold
    lint 0.5M instructions (callgrind)."""
    global _scan_json_string
    try:
        from _json import scanstring
    except ImportError:  # pragma: no cover - an interpreter built without the C accelerator
        from json.decoder import scanstring
    _scan_json_string = scanstring
    return scanstring(text, end, strict)
# A pattern, not a compiled one: only a string with non-ASCII text is searched (compiling it at import cost
# every cold lint 0.4M instructions).
_SURROGATE = "[\ud800-\udfff]"


def _decode_slowly(token: Token) -> str:
    """`decode_string` one character at a time: the place and words of the first bad escape."""
    body = token.value[1:-1]
    out: list[str] = []
    index = 0
    while index < len(body):
        char = body[index]
        if char != "\\":
            out.append(char)
            index += 1
            continue
        column = token.column + 1 + index
        kind = body[index + 1]
        if kind in JSON_ESCAPES:
            out.append(JSON_ESCAPES[kind])
            index += 2
            continue
        if kind != "u":
            raise _problem(
                f"invalid escape `\\{kind}` in a string", token.line, column, 2,
                help='escapes are \\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9 (four hex digits); for a backslash write \\\\',
            )
        code, index = _unicode_escape(body, index, token.line, column)
        out.append(code)
    return "".join(out)


def _unicode_escape(body: str, index: int, line: int, column: int) -> tuple[str, int]:
    first = _hex4(body, index, line, column)
    if 0xD800 <= first <= 0xDBFF and body[index + 6: index + 8] == "\\u":
        second = _hex4(body, index + 6, line, column + 6)
        if 0xDC00 <= second <= 0xDFFF:
            return chr(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)), index + 12
    if 0xD800 <= first <= 0xDFFF:
        raise _problem(
            f"`\\u{body[index + 2:index + 6]}` is half of a surrogate pair, not a character",
            line, column, 6, help="write the character itself, or both halves of the pair (\\uD83D\\uDE00)",
        )
    return chr(first), index + 6


def _hex4(body: str, index: int, line: int, column: int) -> int:
    digits = body[index + 2: index + 6]
    if len(digits) != 4 or any(c not in "0123456789abcdefABCDEF" for c in digits):
        raise _problem("`\\u` must be followed by four hexadecimal digits", line, column, 2)
    return int(digits, 16)


def _number_help(raw: str) -> str:
    if raw.endswith("."):
        return f"write `{raw}0`"
    if "_" in raw and re.fullmatch(r"-?[0-9_.eE+-]+", raw):
        return "underscores go only between digits, as in `10_000`"
    return "numbers are written like `8`, `10_000`, `0.05` or `1e-5`; names start with a letter"


def decode_long_string(token: Token) -> str:
    body = token.value[3:-3]
    return body[1:] if body.startswith("\n") else body


# What a number looks like (the lexer's NUMBER token is looser, so that `8b` or `1__0` gets this message
# rather than a parse error). `number_shaped` checks it without `re`: compiling this pattern cost every cold
# lint 2.7M instructions of 161M (callgrind); a test holds the two to the same answers.
NUMBER_SHAPE = r"-?[0-9]+(_[0-9]+)*(\.[0-9]+(_[0-9]+)*)?([eE][+-]?[0-9]+(_[0-9]+)*)?"


def number_shaped(raw: str) -> bool:
    """Whether `raw` is NUMBER_SHAPE: an optional `-`, digits, then optionally `.` and digits, then
    optionally `e` or `E`, a sign and digits; each run of digits may have single `_`s between digits."""
    if raw.isdigit() and raw.isascii():  # most numbers
        return True
    mantissa, e, exponent = (raw[1:] if raw[:1] == "-" else raw).replace("E", "e").partition("e")
    whole, dot, fraction = mantissa.partition(".")
    if exponent[:1] in ("+", "-"):
        exponent = exponent[1:]
    return _digits(whole) and (not dot or _digits(fraction)) and (not e or _digits(exponent))


def _digits(text: str) -> bool:
    """ASCII digits, with single `_`s between them."""
    if "_" not in text:
        return text.isdigit() and text.isascii()
    return all(group.isdigit() and group.isascii() for group in text.split("_"))


# (rather than math.isinf: importing math, a shared library, cost a cold lint 0.6M instructions)
_INFINITIES = (float("inf"), float("-inf"))


def decode_number(token: Token) -> int | float:
    raw = token.value
    if not number_shaped(raw):
        raise _problem(f"`{raw}` is not a number", token.line, token.column, len(raw), _number_help(raw))
    text = raw.replace("_", "")
    if "." in text or "e" in text or "E" in text:
        number = float(text)
        if number in _INFINITIES:
            raise _problem(f"number `{raw}` is too large", token.line, token.column, len(raw))
        return number
    return int(text)


def _name(token: Token) -> Name:
    """The node of a name token (no span made)."""
    node = _new(Name)
    node.value, node.raw, node.line, node.column = _intern(token.value), None, token.line, token.column
    return node


def _declaration(kind, keyword, name, rest):
    extends = _name(rest[1]) if len(rest) == 3 else None
    members, close = rest[-1]
    return Declaration(kind, _name(name), extends, members,
                       Span(keyword.line, keyword.column, close.end_line, close.end_column))


class AstBuilder:
    """One method per grammar rule (or alias), called by the LALR parser as it reduces: no tree is built."""

    def start(self, *items):
        return list(items)

    def import_decl(self, keyword, path):
        return Import(path, Span.of(keyword).to(path.span))

    def preset_decl(self, keyword, name, *rest):
        return _declaration("preset", keyword, name, rest)

    def experiment_decl(self, keyword, name, *rest):
        return _declaration("experiment", keyword, name, rest)

    def model_decl(self, keyword, model_id, body):
        members, close = body
        name = _new(Name)
        name.value, name.raw, name.line, name.column = model_id.value, model_id.raw, model_id.line, model_id.column
        return Declaration("model", name, None, members, Span(keyword.line, keyword.column, close.end_line, close.end_column))

    def body(self, open_brace, *rest):
        return tuple(rest[:-1]), rest[-1]

    def assignment(self, name, _equal, value):
        return Assignment.of(_intern(name.value), value, name)

    def block(self, name, body):
        members, close = body
        depth = 1 + max((member.depth for member in members if isinstance(member, Block)), default=0)
        if depth > MAX_NESTING:
            raise _problem(f"blocks nested more than {MAX_NESTING} deep", name.line, name.column, len(name.value),
                           help="fields live in a declaration or in one of its blocks (`training { ... }`)")
        return Block(_intern(name.value), members, Span(name.line, name.column, close.end_line, close.end_column))

    def string(self, token):
        if token.type == "LONG_STRING":
            return Str.of(decode_long_string(token), token)
        if "\\" not in token.value:
            return Str.quoted(_intern(token.value[1:-1]), token)
        return Str.of(_intern(decode_string(token)), token)

    def number(self, token):
        token.value = _intern(token.value)
        return Number.of(decode_number(token), token)

    def true(self, token):
        token.value = "true"  # the keyword's text: one string for every `true`
        return Bool.of(True, token)

    def false(self, token):
        token.value = "false"
        return Bool.of(False, token)

    def ident(self, token):
        token.value = _intern(token.value)
        return Ident.of(token.value, token)

    def list(self, open_bracket, *rest):
        items = tuple(rest[0:-1:2])  # values and commas alternate
        depth = 1 + max((item.depth for item in items if isinstance(item, (ListValue, Sweep))), default=0)
        if depth > MAX_NESTING:
            raise _problem(f"lists nested more than {MAX_NESTING} deep", open_bracket.line, open_bracket.column,
                           help="fields take one value or a flat list of values")
        close = rest[-1]
        return ListValue(items, Span(open_bracket.line, open_bracket.column, close.end_line, close.end_column), depth)

    def sweep(self, keyword, values):
        return Sweep(values.items, Span.of(keyword).to(values.span), values.depth)


class _OutlineBuilder(AstBuilder):
    """The builder of a file parsed in outline: each declaration's body is checked as it is built (every
    syntax problem found, as in a whole parse) and dropped at once, leaving an `Outlined` declaration."""

    def preset_decl(self, keyword, name, *rest):
        return _outlined(super().preset_decl(keyword, name, *rest), keyword, rest[-1][1])

    def experiment_decl(self, keyword, name, *rest):
        return _outlined(super().experiment_decl(keyword, name, *rest), keyword, rest[-1][1])

    def model_decl(self, keyword, model_id, body):
        return _outlined(super().model_decl(keyword, model_id, body), keyword, body[1])


def _outlined(decl: Declaration, keyword: Token, close: Token) -> Outlined:
    outlined = Outlined(decl.kind, decl.name, decl.extends, None, decl.span)
    outlined.start, outlined.end = keyword.start_pos, close.end_pos
    return outlined


# Field names, identifiers and numbers as written repeat from one declaration to the next: one string
# each (interned, so freed with the last tree that holds it) instead of one per token saves 3 bytes per
# source byte of a large file (the lexer's copy is dropped at once).
_intern = sys.intern

_BUILDER = AstBuilder()
_OUTLINE_BUILDER = _OutlineBuilder()


def parse_module(text: str, path: str, outline: bool = False) -> Module:
    """Parse decoded text (BOM removed, `\\r\\n` normalised); raises `SyntaxProblem`. With `outline`, the
    declarations' bodies are checked but not held (`Outlined`; `members_of` parses one again)."""
    items, comments = parse_text(text, _OUTLINE_BUILDER if outline else _BUILDER)
    return Module(path, items, [Comment(c.value, Span.of(c)) for c in comments])
