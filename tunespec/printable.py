"""Text that is safe to print: what a user wrote (a value, a file name) reaches a terminal, a CI log or a
report as visible escapes, never as characters a terminal acts on.

`printable` is for terminal text (the text report, `show`, GitHub annotations, one-line errors): control
characters (ESC, BEL, NUL, DEL, the C1 controls such as CSI), line separators and the bidirectional
overrides that make text read differently than it is ("Trojan source") become `\\x1b`, `\\u202e`, ...

`encodable` is for JSON and SARIF, which escape control characters themselves: a file name that is not
UTF-8 reaches Python as lone surrogates (`surrogateescape`), which no UTF-8 output can hold; each such
byte becomes `\\xe9`. `printable` does that too.
"""

from __future__ import annotations

import re

# Patterns, not compiled patterns: `re` compiles each on its first use (and keeps it), so that the runs
# whose text holds nothing to escape, most of them, never compile them (0.5 ms of a cold lint).
_UNSAFE = "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]"
_SURROGATE = "[\ud800-\udfff]"


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, as `surrogateescape` carries it
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(text: str) -> str:
    """`text` with every character a terminal would act on written as an escape."""
    if text.isprintable():  # every character escaped is a control, format or separator one, never printable
        return text
    return re.sub(_UNSAFE, _escape, text)


def encodable(text: str) -> str:
    """`text` with the bytes a file name held that were not UTF-8 written as `\\xNN` escapes."""
    if text.isascii():
        return text
    return re.sub(_SURROGATE, _escape, text)
