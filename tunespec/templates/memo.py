"""Bounded memos for the build's hot loops: a build renders and verifies the same few hundred keys, short
strings, SPEC parts and small YAML files tens of thousands of times, so each is worked out once per
process. A table that reaches its limit is emptied rather than pruned: the values a build asks for next
repeat anyway, and emptying costs nothing per lookup."""

from __future__ import annotations

from typing import Any, Callable

_ABSENT = object()


def remembered(table: dict, key: Any, make: Callable[[Any], Any], limit: int = 10_000) -> Any:
    """`make(key)`, from `table` when it was worked out before (None is remembered too)."""
    found = table.get(key, _ABSENT)
    if found is _ABSENT:
        if len(table) >= limit:
            table.clear()
        found = table[key] = make(key)
    return found
