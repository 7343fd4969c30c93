"""A trainer's config file, read as data with the place of every key, so that what is not imported can be
reported at its line and column.

YAML is composed into PyYAML's node tree (which carries marks) and constructed from it; JSON is decoded by
the `json` module (the authority on what is valid JSON) and then scanned once more, only for places.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tunespec.record import Factory, Record

# A config holds a few hundred values; this many is not a config, and stops a YAML alias bomb (a node
# reached through many aliases) before walking it costs more than reading the file did.
MAX_NODES = 200_000
MAX_BYTES = 10_000_000

Key = tuple  # a path into the data: ("datasets", 0, "path")


class ConfigProblem(Exception):
    """A file that cannot be read as a config at all: one line with a place, nothing is written."""

    def __init__(self, message: str, line: int = 1, column: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


class Source(Record):
    display: str  # the path as the user gave it
    path: Path
    text: str
    format: str  # "yaml" or "json"
    data: dict
    marks: dict = Factory(dict)  # Key -> (line, column), 1-based, of a key or a list item

    def mark(self, key: Key) -> tuple[int, int]:
        """Where `key` was written: its own mark, else the nearest enclosing one's (a merged YAML key)."""
        while key:
            if key in self.marks:
                return self.marks[key]
            key = key[:-1]
        return (1, 1)


def read_source(path: Path, display: str, format: str | None = None) -> Source:
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise ConfigProblem(f"cannot read the file: {(error.strerror or str(error)).lower()}") from None
    if len(raw) > MAX_BYTES:
        raise ConfigProblem(f"the file has {len(raw):,} bytes; a trainer config has far fewer")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[:error.start].count(b"\n") + 1
        column = error.start - raw.rfind(b"\n", 0, error.start)
        raise ConfigProblem("the file is not UTF-8 text", line, column) from None
    format = format or ("json" if path.suffix.lower() == ".json" else "yaml")
    data, marks = (_read_json if format == "json" else _read_yaml)(text)
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}"
        raise ConfigProblem(f"the file is {kind}, not a mapping of keys to values as trainer configs are")
    return Source(display, path, text, format, data, marks)


# --- YAML ------------------------------------------------------------------------------------------------

def _read_yaml(text: str) -> tuple[Any, dict]:
    import yaml

    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
        marks: dict = {}
        if node is not None:
            _yaml_marks(loader, node, (), marks, [0])
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        message = " ".join(part for part in (error.context, error.problem) if part)
        raise ConfigProblem(f"invalid YAML: {message}", *(_place(mark) if mark else (1, 1))) from None
    except yaml.YAMLError as error:  # e.g. "expected a single document"
        raise ConfigProblem(f"invalid YAML: {error}".replace("\n", " ")) from None
    except RecursionError:
        raise ConfigProblem("the YAML is nested too deeply to be a trainer config") from None
    finally:
        loader.dispose()
    return data, marks


def _place(mark) -> tuple[int, int]:
    return mark.line + 1, mark.column + 1


def _yaml_marks(loader, node, key: Key, marks: dict, count: list[int]) -> None:
    """The mark of every key and list item below `node` (iteratively: nesting has no Python limit here)."""
    import yaml

    pending = [(node, key)]
    while pending:
        node, key = pending.pop()
        count[0] += 1
        if count[0] > MAX_NODES:
            raise ConfigProblem(f"the YAML holds more than {MAX_NODES:,} values (through aliases?): "
                                "not a trainer config")
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    continue
                name = loader.construct_object(key_node)
                marks[key + (name,)] = _place(key_node.start_mark)
                pending.append((value_node, key + (name,)))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                marks[key + (index,)] = _place(item.start_mark)
                pending.append((item, key + (index,)))


# --- JSON ------------------------------------------------------------------------------------------------

def _read_json(text: str) -> tuple[Any, dict]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigProblem(f"invalid JSON: {error.msg}", error.lineno, error.colno) from None
    except RecursionError:
        raise ConfigProblem("the JSON is nested too deeply to be a trainer config") from None
    marks: dict = {}
    _JsonPlaces(text, marks).scan()
    return data, marks


_BLANK = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_WORD = re.compile(r"true|false|null|NaN|-?Infinity")


class _JsonPlaces:
    """The places of keys and items in text that `json.loads` accepted (so it need not check anything)."""

    def __init__(self, text: str, marks: dict) -> None:
        self.text = text
        self.marks = marks
        self.starts = [0] + [i + 1 for i, c in enumerate(text) if c == "\n"]

    def place(self, offset: int) -> tuple[int, int]:
        import bisect

        line = bisect.bisect_right(self.starts, offset) - 1
        return line + 1, offset - self.starts[line] + 1

    def blank(self, at: int) -> int:
        return _BLANK.match(self.text, at).end()

    def scan(self) -> None:
        # An explicit stack: (key of the container, kind, next index) — nesting has no Python limit here.
        at = self.blank(0)
        stack: list[list] = []
        key: Key = ()
        while True:
            char = self.text[at] if at < len(self.text) else ""
            if char in "{[":
                stack.append([key, char, 0])
                at = self.blank(at + 1)
                if self.text[at] in "}]":
                    at, key = self._close(stack, at)
                    if at is None:
                        return
                    continue
                at, key = self._member(stack, at)
                continue
            if char == '"':
                at = _STRING.match(self.text, at).end()
            else:
                found = _NUMBER.match(self.text, at) or _WORD.match(self.text, at)
                at = found.end()
            at = self.blank(at)
            if not stack:
                return
            if self.text[at] == ",":
                stack[-1][2] += 1
                at, key = self._member(stack, self.blank(at + 1))
            else:
                at, key = self._close(stack, at)
                if at is None:
                    return

    def _member(self, stack: list, at: int) -> tuple[int, Key]:
        """At the start of the next member of the innermost container: record its place, step to its value."""
        container, kind, index = stack[-1]
        if kind == "[":
            key = container + (index,)
            self.marks[key] = self.place(at)
            return at, key
        end = _STRING.match(self.text, at).end()
        key = container + (json.loads(self.text[at:end]),)
        self.marks[key] = self.place(at)
        at = self.blank(end)  # the colon
        return self.blank(at + 1), key

    def _close(self, stack: list, at: int) -> tuple[int | None, Key]:
        """At a closing bracket: pop containers while they close; continue after the next comma."""
        while True:
            stack.pop()
            at = self.blank(at + 1)
            if not stack:
                return None, ()
            if self.text[at] == ",":
                stack[-1][2] += 1
                return self._member(stack, self.blank(at + 1))
