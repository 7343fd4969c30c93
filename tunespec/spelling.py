"""Did-you-mean: the help for a name that is not one of those expected.

Fields, enum values, models, bases, targets, rule selectors and scaffold options all suggest the closest
known name the same way, so the suggestion is made here once. `difflib` is imported only on this error path
(a clean lint never pays for it).
"""

from __future__ import annotations

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
