"""Variant names: `tickets.learning_rate-3e-05`, one folder of `out/` each, so one per variant.

A swept value becomes a token safe in a file name: numbers as Python prints them, strings with every
character but letters, digits and `. _ + -` made `_`, and long ones cut and given a digest. Two values of
one sweep can make one token (`"a/b"` and `"a_b"`); that is a TS012 error where the sweep is written
(`layers.py`), rather than names numbered behind the user's back: a number can itself be a value
(`"a_b-2"`), and the build would then silently drop a variant.
"""

from __future__ import annotations

import re
TYPE_CHECKING = False
if TYPE_CHECKING:  # (typing, for type checkers only, is not imported at run time)
    from typing import Any

# A pattern, not a compiled one: `re` compiles it on first use, which only a sweep over strings reaches
# (compiling it at import cost every cold lint 0.5M instructions).
UNSAFE = r"[^A-Za-z0-9._+-]"
MAX_TOKEN = 40


def variant_name(experiment: str, variant: dict[str, Any]) -> str:
    """`tickets.learning_rate-3e-05`: deterministic, safe as a file name, and says what was swept."""
    parts = [experiment]
    for path, value in variant.items():
        parts.append(f"{path.rpartition('.')[2]}-{variant_token(value)}")
    return ".".join(parts)


def variant_token(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    text = re.sub(UNSAFE, "_", str(value)) or "_"
    if len(text) > MAX_TOKEN:
        import hashlib  # rarely needed: not worth its import time in every lint

        digest = hashlib.sha1(str(value).encode("utf-8", "surrogatepass")).hexdigest()[:8]
        text = f"{text[:MAX_TOKEN - 9]}-{digest}"
    return text
