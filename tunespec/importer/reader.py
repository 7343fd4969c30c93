"""Handing out a config's values by key, and remembering which were used.

A backend module takes the keys it can import; whatever it never takes is reported as not imported, with
its place and a reason: nothing is dropped silently, and a key added to a template but not to its importer
shows up as lost (the round-trip test requires none).
"""

from __future__ import annotations

from typing import Any, Iterator

from tunespec.importer.source import Key, Source
from tunespec.record import Record

MISSING = object()
TRAINING, PERFORMANCE, HOUSEKEEPING = "training", "performance", "housekeeping"


class Lost(Record):
    """A key whose value the experiment does not carry."""

    key: Key
    value: Any
    line: int
    column: int
    reason: str
    # what it changes: "training" (what is learned), "performance" (how fast or in how much memory the same
    # training runs) or "housekeeping" (where logs, caches and checkpoints go; how the run is watched)
    kind: str = TRAINING

    @property
    def name(self) -> str:
        return key_name(self.key)


def key_name(key: Key) -> str:
    """`datasets[0].type` for ("datasets", 0, "type")."""
    text = ""
    for part in key:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


class Reader:
    def __init__(self, source: Source) -> None:
        self.source = source
        self.used: set[Key] = set()
        self.lost: list[Lost] = []

    def value(self, *key: Any, default: Any = None) -> Any:
        """The value at `key` (None, or `default`, when absent), without taking it."""
        data: Any = self.source.data
        for part in key:
            if isinstance(data, dict) and part in data:
                data = data[part]
            elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
                data = data[part]
            else:
                return default
        return data

    def has(self, *key: Any) -> bool:
        """Whether `key` is written with a value (a key left empty, `key:` in YAML, counts as unset)."""
        return self.value(*key) is not None

    def take(self, *key: Any, default: Any = None) -> Any:
        """The value at `key`, which is imported (it and everything below it)."""
        self.used.add(tuple(key))
        return self.value(*key, default=default)

    def mark(self, key: Key) -> tuple[int, int]:
        return self.source.mark(key)

    def lose(self, key: Key, reason: str, value: Any = MISSING, kind: str = TRAINING) -> None:
        """Report `key` as not imported (and take it, so it is reported once)."""
        key = tuple(key)
        self.used.add(key)
        shown = self.value(*key) if value is MISSING else value
        self.lost.append(Lost(key, shown, *self.mark(key), reason, kind))

    def is_used(self, key: Key) -> bool:
        return any(key[:length] in self.used for length in range(1, len(key) + 1))

    def leftovers(self) -> Iterator[tuple[Key, Any]]:
        """The keys nothing took, as whole as possible: a mapping none of whose keys was taken is one
        leftover, else each of its untaken keys is looked at in turn. Empty values are not leftovers."""
        yield from self._leftovers((), self.source.data)

    def _leftovers(self, key: Key, data: Any) -> Iterator[tuple[Key, Any]]:
        if key and self.is_used(key):
            return
        if _empty(data):
            return
        partly_used = any(used[:len(key)] == key and len(used) > len(key) for used in self.used)
        if key and not partly_used:
            yield key, data
            return
        items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
        for part, value in items:
            yield from self._leftovers(key + (part,), value)


def _empty(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, (list, dict)) and not value)
