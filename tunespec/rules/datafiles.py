"""Reading training data for the TS4xx rules (and TS304, TS306): each file once per run, as a stream.

A JSONL file is read a line at a time (a line is capped, so a gigantic single line cannot exhaust memory);
a JSON array is read as a stream too, one element at a time (an element is capped likewise): a 190 MB
array once took 5 GB when read whole. What is kept per file is counts and a histogram of estimated example
lengths — never the records — so memory does not grow with the file. One pass serves every pair of
input/output field names the run's experiments use. JSON nested deeper than Python's recursion allows is
malformed (TS402), not a crash.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path
TYPE_CHECKING = False
if TYPE_CHECKING:  # (typing, for type checkers only, is not imported at run time)
    from typing import Any, Iterable, Iterator

from tunespec.files import NotAFile, open_regular
from tunespec.record import Factory, Record

MAX_LINE_BYTES = 16 * 2**20
CHUNK_BYTES = 2**20
COMMA_TRIES = 64  # the last elements of a streamed array searched for the comma that ends one
NEWLINE = b"\n"
BOM = b"\xef\xbb\xbf"


class FieldStats(Record):
    """What one file holds for one pair of input/output field names."""

    valid: int = 0
    invalid: int = 0
    first_invalid: str | None = None  # "record 3 (line 3) lacks `output`"
    lengths: dict = Factory(dict)  # estimated tokens (input + output) -> how many examples

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
    """The run's data files, each scanned on first use for all the field names any experiment asks for.

    `scans` may outlive this object: a run that checks its files in batches passes one dict to every
    batch, so a file is read again only when a later batch asks for field names the first scan did not
    count."""

    def __init__(self, wanted: Iterable[tuple[Path, str, str]], tokens_per_word: float, max_array_bytes: int,
                 scans: dict | None = None) -> None:
        self.pairs: dict[Path, set[tuple[str, str]]] = {}
        self.planned: object = None
        self.plan(None, wanted)
        self.tokens_per_word = tokens_per_word
        self.max_array_bytes = max_array_bytes
        self.scans: dict[Path, DataScan] = {} if scans is None else scans
        self.reads = 0  # files actually opened (tests check "once per run")

    def plan(self, planned: object, wanted: Iterable[tuple[Path, str, str]]) -> None:
        """The field names the variants about to be checked (`planned`) ask of each file; those of variants
        checked before are forgotten (their scans keep what they counted)."""
        self.planned = planned
        self.pairs = {}
        for path, input_field, output_field in wanted:
            self.pairs.setdefault(path, set()).add((input_field, output_field))

    def scan(self, path: Path) -> DataScan:
        """The file's scan, made on first use for every field pair the run's experiments name."""
        needed = self.pairs.get(path) or {("input", "output")}
        found = self.scans.get(path)
        if found is None or not _covers(found, needed):
            pairs = needed | set(found.fields) if found is not None else needed
            found = self.scans[path] = self._read(path, sorted(pairs))
        return found

    def _read(self, path: Path, pairs: list[tuple[str, str]]) -> DataScan:
        scan = DataScan(path, fields={pair: FieldStats() for pair in pairs})
        try:
            handle, scan.size = open_regular(path)
        except ValueError:  # a NUL in the path: no such file can exist
            scan.problem = "does not exist (the path holds a NUL character)"
            return scan
        except NotAFile:
            scan.problem = "is not a file"
            return scan
        except OSError as error:
            scan.problem = "does not exist" if isinstance(error, FileNotFoundError) else \
                f"cannot be read: {(error.strerror or str(error)).lower()}"
            return scan
        self.reads += 1
        try:
            with handle:
                self._read_records(handle, scan)
        except OSError as error:
            scan.problem = f"cannot be read: {(error.strerror or str(error)).lower()}"
        return scan

    def _read_records(self, handle, scan: DataScan) -> None:
        start = _first_significant_byte(handle)
        if start is None:
            scan.malformed = "the file is empty: it holds no examples"
            return
        tally = _Tally(scan, self.tokens_per_word)
        if start == b"[":
            for index, record in self._array_records(handle, scan):
                if not tally.add(record, index, 0):
                    return
        else:
            _read_jsonl(handle, scan, tally)

    def _array_records(self, handle, scan: DataScan) -> Iterator[tuple[int, Any]]:
        if scan.size > self.max_array_bytes:
            scan.too_big_to_read = True
            return
        stream = _ArrayStream(handle)
        try:
            yield from stream.elements()
        except UnicodeDecodeError:
            scan.malformed = "the file is not UTF-8 text"
        except _Malformed as error:
            scan.malformed = f"not a JSON array ({error})"


class _Malformed(Exception):
    """Why a JSON array file is not one (its text says where)."""


# Patterns, compiled by `re` (which keeps them) when a JSON array is first read: most runs read none.
_BLANK = r"[ \t\n\r]*"
_SEPARATOR = r"[ \t\n\r]*(?:(,)[ \t\n\r]*|(\]))"
# What the buffer may end with right after a number that the next chunk could continue (`1.` of `1.5`,
# `2e-` of `2e-5`); digits cut at the end leave the scanner at the buffer's end, which is checked anyway.
_NUMBER_GOES_ON = r"(?:\.|[eE][-+]?)\Z"


class _ArrayStream:
    """The elements of a JSON array file, decoded from a buffer that holds the part of the file not yet
    consumed: memory is a chunk and the largest element, not the file.

    The buffer's complete elements are decoded in one call of JSON's C decoder: the text up to the last
    `}` + `,` in it, wrapped in `[...]`. That decodes only if the comma separates elements of the array
    (cut inside an element, the brackets or a string would not close), so a failure just means "one at a
    time" for that part: each element by the C scanner, with the exact place of a mistake. An element
    that the buffer cuts short fails to decode; then more is read (at least as much again as is pending,
    so that a long element costs linear time) and it is decoded again."""

    def __init__(self, handle) -> None:
        self.handle = handle
        self.decoder = codecs.getincrementaldecoder("utf-8")()
        self.text, self.position, self.end_of_file = "", 0, False
        self.lines = 0  # line breaks in the text already dropped from the buffer
        import json  # here, not at the top: only a run that reads a data file pays for it

        self.scan = json.JSONDecoder().scan_once
        self.careful_until = 0  # where a batch failed to decode: one at a time up to there

    def elements(self) -> Iterator[tuple[int, Any]]:
        self.handle.seek(0)
        self._fill(0)
        if self.text.startswith("\ufeff"):
            self.position = 1
        self._next_character()  # `[`, as the caller found
        self.position += 1
        if self._next_character() == "]":
            self.position += 1
            return self._after_the_array()
        number = 0
        separator = re.compile(_SEPARATOR).match
        while True:
            batch = self._batch()
            if batch:
                for value in batch:
                    number += 1
                    yield number, value
                continue
            number += 1
            yield number, self._element(number)
            found = separator(self.text, self.position)
            if found is not None and found.end() < len(self.text):  # the common case: `,` and the next one
                self.position = found.end()
                if found.group(1):
                    continue
                return self._after_the_array()
            character = self._next_character()  # the separator runs past what is read so far
            if character == ",":
                self.position += 1
                continue
            if character == "]":
                self.position += 1
                return self._after_the_array()
            raise _Malformed(self._where("Expecting ',' delimiter" if character else "the array is not closed"))

    def _batch(self) -> list | None:
        """The complete elements at the front of the buffer, decoded at once (None: one at a time)."""
        if self.position < self.careful_until:
            return None
        if len(self.text) - self.position < CHUNK_BYTES // 2 and not self.end_of_file:
            self._fill(0)
        text, start = self.text, self.position
        cut = _last_separator_after_an_object(text, start)
        if cut is None:
            return None
        import json

        try:
            batch = json.loads("[" + text[start:cut] + "]")
        except (ValueError, RecursionError):
            self.careful_until = cut
            return None
        self.position = cut + 1
        return batch

    def _after_the_array(self) -> None:
        """After the closing `]` (consumed): nothing but white space."""
        if self._next_character():
            raise _Malformed(self._where("Extra data"))

    def _element(self, number: int) -> Any:
        text, position = self.text, self.position
        try:
            value, end = self.scan(text, position)
            if end < len(text) and not re.compile(_NUMBER_GOES_ON).match(text, end):
                self.position = end
                return value
        except (StopIteration, ValueError, RecursionError):
            pass
        return self._element_slowly(number)

    def _element_slowly(self, number: int) -> Any:
        """One element where the fast way failed: at white space, at the end of the buffer, or wrong."""
        self._next_character()
        while True:
            problem = None
            try:
                value, end = self.scan(self.text, self.position)
                if self.end_of_file or (end < len(self.text) and not re.compile(_NUMBER_GOES_ON).match(self.text, end)):
                    self.position = end
                    return value
            except StopIteration:
                problem = "Expecting value"
            except ValueError as error:
                problem = getattr(error, "msg", str(error))
            except RecursionError:
                raise _Malformed(self._where(f"record {number} is nested too deep")) from None
            if self.end_of_file:
                raise _Malformed(self._where(problem or "Expecting value"))
            pending = len(self.text) - self.position
            if pending > MAX_LINE_BYTES:
                raise _Malformed(f"record {number}: longer than {_megabytes(MAX_LINE_BYTES)}, not one example")
            self._fill(pending)

    def _next_character(self) -> str:
        """The next character that is not white space ("" at the end of the file), consumed up to it."""
        while True:
            self.position = re.compile(_BLANK).match(self.text, self.position).end()
            if self.position < len(self.text):
                return self.text[self.position]
            if self.end_of_file:
                return ""
            self._fill(0)

    def _fill(self, at_least: int) -> None:
        """Drop what is consumed, then read a chunk (or `at_least` bytes) more."""
        if self.position:
            self.lines += self.text.count("\n", 0, self.position)
            self.text, self.position = self.text[self.position:], 0
        chunk = self.handle.read(max(CHUNK_BYTES, at_least))
        self.text += self.decoder.decode(chunk, final=not chunk)
        self.end_of_file = not chunk

    def _where(self, message: str) -> str:
        line = self.lines + self.text.count("\n", 0, self.position) + 1
        column = self.position - self.text.rfind("\n", 0, self.position)
        return f"{message} at line {line}, column {column}"


def _last_separator_after_an_object(text: str, start: int) -> int | None:
    """The place of the last `,` after `start` that follows a `}` (white space between), if any."""
    comma = len(text)
    for _ in range(COMMA_TRIES):  # commas inside the last elements' values: give up after a few
        comma = text.rfind(",", start, comma)
        if comma < 0:
            return None
        before = comma - 1
        while before > start and text[before] in " \t\r\n":
            before -= 1
        if before > start and text[before] == "}":
            return comma
    return None


def _covers(scan: DataScan, pairs: set[tuple[str, str]]) -> bool:
    """Whether `scan` answers for `pairs` (a file that could not be read answers for any)."""
    return bool(scan.problem or scan.malformed or scan.too_big_to_read) or pairs <= set(scan.fields)


class _Tally:
    """Counts valid and invalid records, per field pair, as they stream by."""

    def __init__(self, scan: DataScan, tokens_per_word: float) -> None:
        self.scan = scan
        self.rate = tokens_per_word
        self.counters = list(scan.fields.items())

    def add(self, record: Any, number: int, line: int) -> bool:
        """Count one record; False (and `scan.malformed`) when it is not an object at all."""
        if type(record) is not dict:
            where = f"line {line}" if line else f"record {number}"
            self.scan.malformed = f"{where}: a JSON {_json_kind(record)}, not an object with `input` and `output`"
            return False
        for (input_field, output_field), stats in self.counters:
            source, target = record.get(input_field), record.get(output_field)
            if type(source) is str and type(target) is str:
                stats.valid += 1
                # words counted as the spaces between them: C-speed, no lists made
                # (their product's ceiling: math.ceil without importing math, see `advice._ceil`)
                tokens = -int(-((source.count(" ") + target.count(" ") + 2) * self.rate) // 1)
                stats.lengths[tokens] = stats.lengths.get(tokens, 0) + 1
            else:
                _count_invalid(stats, record, input_field, output_field, number, line)
        return True


def _count_invalid(stats: FieldStats, record: dict, input_field: str, output_field: str, number: int, line: int) -> None:
    stats.invalid += 1
    if stats.first_invalid is None:
        problem = _field_problem(record, input_field) or _field_problem(record, output_field)
        label = f"record {number} (line {line})" if line else f"record {number}"
        stats.first_invalid = f"{label} {problem}"


def _read_jsonl(handle, scan: DataScan, tally: _Tally) -> None:
    """One pass over the lines; JSON is decoded by the C scanner directly, since `json.loads`' Python
    wrapper would cost as much again as the parsing (the decoder's own message is used on errors)."""
    import json

    scan_once = json.JSONDecoder().scan_once
    number = 0
    for line_number, text in _lines(handle, scan):
        if not (text[:1] == "{" and text[-1:] == "}"):
            text = text.strip()
            if not text:
                continue
        try:
            record, end = scan_once(text, 0)
        except (StopIteration, ValueError):
            end = -1
        except RecursionError:
            scan.malformed = f"line {line_number}: not JSON (nested too deep)"
            return
        if end != len(text):
            scan.malformed = f"line {line_number}: not JSON ({_decode_error(text)})"
            return
        number += 1
        if not tally.add(record, number, line_number):
            return


def _megabytes(size: int) -> str:
    return f"{size / 2**20:g} MB"


def _decode_error(text: str) -> str:
    import json

    try:
        json.loads(text)
    except ValueError as error:
        return _json_error(error)
    return "not one JSON value"


def _lines(handle, scan: DataScan) -> Iterator[tuple[int, str]]:
    """(line number, text) of each line, read and decoded a megabyte at a time. A line longer than
    MAX_LINE_BYTES, or text that is not UTF-8, stops the scan (`scan.malformed`) instead of being held
    in memory whole."""
    handle.seek(0)
    head = handle.read(len(BOM))
    carry = b"" if head == BOM else head  # a UTF-8 BOM starts the file, not its first line
    number = 0
    while True:
        chunk = handle.read(CHUNK_BYTES)
        end = chunk.rfind(b"\n") + 1 if chunk else len(chunk)
        if chunk and not end:  # no line ends in this chunk: the line goes on
            carry += chunk
            if len(carry) > MAX_LINE_BYTES:
                scan.malformed = f"line {number + 1}: longer than {_megabytes(MAX_LINE_BYTES)}, not one example"
                return
            continue
        if carry and len(carry) + chunk.find(NEWLINE) > MAX_LINE_BYTES:
            scan.malformed = f"line {number + 1}: longer than {_megabytes(MAX_LINE_BYTES)}, not one example"
            return
        block, carry = (carry + chunk[:end], chunk[end:]) if chunk else (carry, b"")
        if not block:
            return
        try:
            lines = block.decode("utf-8").split("\n")
        except UnicodeDecodeError as error:
            bad_line = number + block.count(NEWLINE, 0, error.start) + 1
            scan.malformed = f"line {bad_line}: not UTF-8 text"
            return
        if block.endswith(b"\n"):
            lines.pop()
        for text in lines:
            number += 1
            yield number, text
        if not chunk:
            return


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
