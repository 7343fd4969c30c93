"""YAML text for the values templates place, written by hand: deterministic whatever PyYAML is built with,
and an order of magnitude faster than `yaml.dump` for the thousands of small values a build places.

Only what specs need: strings, numbers, booleans, null, lists and mappings. Every string value is
double-quoted with YAML's escapes (or, in block style, a literal block when it is plain multi-line ASCII),
so no value can become a number, a tag, an anchor or a comment. `render.verify_compiled` parses every file back
with PyYAML, and the hostile-string tests hold the two to the same values.
"""

from __future__ import annotations

import math
import re
from typing import Any

from tunespec.templates.memo import remembered

PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_./-]*")
# Words YAML 1.1 reads as booleans or null when plain.
YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"}
ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\x00": "\\0", "\x85": "\\N",
           "\u2028": "\\L", "\u2029": "\\P", "\ufeff": "\\uFEFF"}
SAFE_TEXT = re.compile(r'[^"\\\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff\ufffe\uffff]*')


_quoted: dict[str, str] = {}  # a short string -> its double-quoted form (most of a build's values repeat)


def quoted(text: str) -> str:
    if len(text) > 64:
        return _quote(text)
    return remembered(_quoted, text, _quote)


def _quote(text: str) -> str:
    if SAFE_TEXT.fullmatch(text):
        return f'"{text}"'
    return '"' + "".join(_escape(char) for char in text) + '"'


def _escape(char: str) -> str:
    if char in ESCAPES:
        return ESCAPES[char]
    code = ord(char)
    if code < 0x20 or 0x7F <= code <= 0x9F:
        return f"\\x{code:02X}"
    if 0xD800 <= code <= 0xDFFF or code in (0xFFFE, 0xFFFF):
        return f"\\u{code:04X}"
    return char


def scalar(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, str):
        return quoted(value)
    raise TypeError(f"no YAML scalar for {type(value).__name__}")


def _float(value: float) -> str:
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    text = repr(value).lower()
    # YAML 1.1 reads `1e-05` as a string: a float needs its dot (`1.0e-05`), as PyYAML writes it.
    return text.replace("e", ".0e", 1) if "." not in text and "e" in text else text


_keys: dict[str, str] = {}  # a string key -> how it is written (a build writes the same few hundred keys 80,000 times)


def key(name: Any) -> str:
    if type(name) is str:
        return remembered(_keys, name, _key)
    return _key(name)


def _key(name: Any) -> str:
    if isinstance(name, str) and PLAIN_KEY.fullmatch(name) and name.lower() not in YAML_WORDS:
        return name
    return scalar(name)


def flow(value: Any) -> str:
    """A flow value, safe after `key: ` or `- `. The IR's own types are told apart by `type` first, before
    any `isinstance` (a build places 120,000 values, most of them strings: `isinstance` on each kind was a
    tenth of rendering); a property test holds this to the earlier, `isinstance`-only writer."""
    kind = type(value)
    if kind is str:
        return quoted(value)
    if kind is int:
        return int.__repr__(value)
    if kind is dict or isinstance(value, dict):
        return "{" + ", ".join(f"{key(k)}: {flow(v)}" for k, v in value.items()) + "}"
    if kind is list or isinstance(value, (list, tuple)):
        return "[" + ", ".join([flow(item) for item in value]) + "]"
    return scalar(value)


def block(value: Any, indent: int = 0) -> str:
    """A block-style document (no trailing newline)."""
    lines: list[str] = []
    _block_into(lines, value, indent)
    return "\n".join(lines)


def _block_into(lines: list[str], value: Any, indent: int) -> None:
    """The lines of `value` at `indent`, added to `lines` (one list for the whole document: building and
    extending a list per mapping and entry was a third of writing the IR target's document)."""
    pad = " " * indent
    if isinstance(value, dict) and value:
        for name, item in value.items():
            _entry_into(lines, f"{pad}{key(name)}:", item, indent)
    elif isinstance(value, (list, tuple)) and value:
        for item in value:
            _entry_into(lines, f"{pad}-", item, indent)
    else:
        lines.append(pad + flow(value))


def _entry_into(lines: list[str], head: str, item: Any, indent: int) -> None:
    if type(item) is str and "\n" not in item:  # (most entries: a one-line string, quoted)
        lines.append(f"{head} {quoted(item)}")
    elif isinstance(item, (dict, list, tuple)) and item:
        lines.append(head)
        _block_into(lines, item, indent + 2)
    elif isinstance(item, str) and literal_block(item):
        lines.append(f"{head} {_literal_header(item)}")
        lines.extend(_literal_lines(item, indent + 2))
    else:
        lines.append(f"{head} {flow(item)}")


def literal_block(text: str) -> bool:
    """Plain multi-line ASCII reads best as a literal block; anything else is safer double-quoted."""
    if "\n" not in text or text.startswith((" ", "\n")) or text.rstrip("\n") == "":
        return False
    return all(char == "\n" or " " <= char <= "~" for char in text) and \
        not any(line.endswith(" ") for line in text.split("\n"))


def _literal_header(text: str) -> str:
    if text.endswith("\n\n"):
        return "|+"
    return "|" if text.endswith("\n") else "|-"


def _literal_lines(text: str, indent: int) -> list[str]:
    body = text[:-1] if text.endswith("\n") else text
    pad = " " * indent
    return [pad + line if line else "" for line in body.split("\n")]
