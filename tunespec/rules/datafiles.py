"""Reading training data for the TS4xx rules (and TS304, TS306): each file once per run, as a stream.

A JSONL file is read a line at a time (a line is capped, so a gigantic single line cannot exhaust memory);
a JSON array is read whole, which the documentation's 200 MB limit bounds. What is kept per file is
counts and a histogram of estimated example lengths — never the records — so memory does not grow with
the file. One pass serves every pair of input/output field names the run's experiments use.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import stat
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Iterator

from tunespec.record import Factory, Record

MAX_LINE_BYTES = 16 * 2**20
BOM = b"\xef\xbb\xbf"


class FieldStats(Record):
    """What one file holds for one pair of input/output field names."""

    valid: int = 0
    invalid: int = 0
    first_invalid: str | None = None  # "record 3 (line 3) lacks `output`"
    lengths: Counter = Factory(Counter)  # estimated tokens (input + output) -> how many examples

    def longer_than(self, limit: int) -> int:
        return sum(count for tokens, count in self.lengths.items() if tokens > limit)


class DataScan(Record):
    path: Path
    size: int = 0
    problem: str | None = None  # TS401: missing or not a file
    malformed: str | None = None  # TS402: "line 4: not JSON (...)"; no other findings then
    too_big_to_read: bool = False  # a JSON array over the size limit: counted as a size only
    fields: dict = Factory(dict)  # (input field, output field) -> FieldStats

    def stats(self, input_field: str, output_field: str) -> FieldStats | None:
        if self.problem or self.malformed or self.too_big_to_read:
            return None
        return self.fields.get((input_field, output_field))


class DataFiles:
    """The run's data files, each scanned on first use for all the field names any experiment asks for."""

    def __init__(self, wanted: Iterable[tuple[Path, str, str]], tokens_per_word: float, max_array_bytes: int) -> None:
        self.pairs: dict[Path, set[tuple[str, str]]] = {}
        for path, input_field, output_field in wanted:
            self.pairs.setdefault(path, set()).add((input_field, output_field))
        self.tokens_per_word = tokens_per_word
        self.max_array_bytes = max_array_bytes
        self.scans: dict[Path, DataScan] = {}
        self.reads = 0  # files actually opened (tests check "once per run")

    def scan(self, path: Path) -> DataScan:
        """The file's scan, made on first use for every field pair the run's experiments name."""
        found = self.scans.get(path)
        if found is None:
            found = self.scans[path] = self._read(path, sorted(self.pairs.get(path, {("input", "output")})))
        return found

    def _read(self, path: Path, pairs: list[tuple[str, str]]) -> DataScan:
        scan = DataScan(path, fields={pair: FieldStats() for pair in pairs})
        try:
            info = os.stat(path)
        except OSError as error:
            scan.problem = "does not exist" if isinstance(error, FileNotFoundError) else \
                f"cannot be read: {(error.strerror or str(error)).lower()}"
            return scan
        if not stat.S_ISREG(info.st_mode):
            scan.problem = "is not a file"
            return scan
        scan.size = info.st_size
        self.reads += 1
        try:
            with open(path, "rb") as handle:
                self._read_records(handle, scan)
        except OSError as error:
            scan.problem = f"cannot be read: {(error.strerror or str(error)).lower()}"
        return scan

    def _read_records(self, handle, scan: DataScan) -> None:
        start = _first_significant_byte(handle)
        if start is None:
            scan.malformed = "the file is empty: it holds no examples"
            return
        records = self._array_records(handle, scan) if start == b"[" else self._jsonl_records(handle, scan)
        for number, where, record in records:
            if not isinstance(record, dict):
                scan.malformed = f"{where}: a JSON {_json_kind(record)}, not an object with `input` and `output`"
                return
            self._count(scan, number, where, record)

    def _jsonl_records(self, handle, scan: DataScan) -> Iterator[tuple[int, str, Any]]:
        handle.seek(0)
        number = 0
        for line_number in itertools.count(1):
            line = handle.readline(MAX_LINE_BYTES + 1)
            if not line:
                return
            if len(line) > MAX_LINE_BYTES:
                scan.malformed = f"line {line_number}: longer than {MAX_LINE_BYTES // 2**20} MB, not one example"
                return
            if line_number == 1 and line.startswith(BOM):
                line = line[len(BOM):]
            if not line.strip():
                continue
            try:
                record = json.loads(line.rstrip(b"\r\n"))
            except UnicodeDecodeError:
                scan.malformed = f"line {line_number}: not UTF-8 text"
                return
            except ValueError as error:
                scan.malformed = f"line {line_number}: not JSON ({_json_error(error)})"
                return
            number += 1
            yield number, f"line {line_number}", record

    def _array_records(self, handle, scan: DataScan) -> Iterator[tuple[int, str, Any]]:
        if scan.size > self.max_array_bytes:
            scan.too_big_to_read = True
            return
        handle.seek(0)
        data = handle.read()
        try:
            records = json.loads(data[len(BOM):] if data.startswith(BOM) else data)
        except UnicodeDecodeError:
            scan.malformed = "the file is not UTF-8 text"
            return
        except ValueError as error:
            scan.malformed = f"not a JSON array ({_json_error(error)})"
            return
        if not isinstance(records, list):
            scan.malformed = f"a JSON {_json_kind(records)}, not an array of examples"
            return
        for index, record in enumerate(records, 1):
            yield index, f"record {index}", record

    def _count(self, scan: DataScan, number: int, where: str, record: dict) -> None:
        for (input_field, output_field), stats in scan.fields.items():
            problem = _field_problem(record, input_field) or _field_problem(record, output_field)
            if problem:
                stats.invalid += 1
                if stats.first_invalid is None:
                    label = where if where.startswith("record") else f"record {number} ({where})"
                    stats.first_invalid = f"{label} {problem}"
                continue
            stats.valid += 1
            words = len(record[input_field].split()) + len(record[output_field].split())
            stats.lengths[math.ceil(words * self.tokens_per_word)] += 1


def _field_problem(record: dict, name: str) -> str | None:
    if name not in record:
        return f"lacks `{name}`"
    if not isinstance(record[name], str):
        return f"has `{name}` as a {_json_kind(record[name])}, not a string"
    return None


def _first_significant_byte(handle) -> bytes | None:
    """The first byte that is not white space (after a BOM), or None for an empty file."""
    head = handle.read(len(BOM))
    if head != BOM:
        handle.seek(0)
    while True:
        chunk = handle.read(65536)
        if not chunk:
            return None
        stripped = chunk.lstrip()
        if stripped:
            return stripped[:1]


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if value is None:
        return "null"
    return "object"


def _json_error(error: ValueError) -> str:
    message = getattr(error, "msg", str(error))
    column = getattr(error, "colno", None)
    return f"{message} at column {column}" if column else message
