"""Words in messages: did-you-mean, the help for a name that is not one of those expected, and lists
written as a sentence writes them (`a, b and c`).

Fields, enum values, models, bases, targets, rule selectors and scaffold options all suggest the closest
known name the same way, so the suggestion is made here once. `difflib` is imported only on this error path
(a clean lint never pays for it).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # (typing, for type checkers only, is not imported at run time)
    from typing import Iterable


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """"did you mean `x`?" when one candidate is close enough (the same name in another case first)."""
    import difflib

    candidates = list(candidates)
    lowered = {c.lower(): c for c in candidates}
    if word.lower() in lowered:
        return f"did you mean `{lowered[word.lower()]}`?"
    matches = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return f"did you mean `{matches[0]}`?" if matches else None


def listed(words: list[str], last: str = "and") -> str:
    """`a`, `a and b`, `a, b and c` (or with `last="or"`): a list as a message writes it."""
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + f" {last} " + words[-1]
