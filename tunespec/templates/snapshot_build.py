"""Regenerate `snapshot.py` from the built-in targets' declarations after editing a `target.toml`:

    python -m tunespec.templates.snapshot_build

The `target.toml` files are the source (they carry comments); the snapshot is the same data as a Python
module, which loads from bytecode without `tomllib` (whose import alone, with `typing`, `datetime` and
`string`, cost a cold lint of an experiment naming targets 40M instructions, and parsing the nine files
another 51M, of 211M: callgrind). TOML dates are written as `str()` writes them, as `load_target` reads
them. A test fails while the snapshot differs from the files.
"""

from __future__ import annotations

import datetime
import tomllib
from pathlib import Path

from tunespec.generated import module_source, write_module

HERE = Path(__file__).parent
DECLARATION = "target.toml"


def plain(value: object) -> object:
    """`value` with its TOML dates and times as strings: the snapshot holds built-in types only."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, (datetime.date, datetime.time)):  # (datetime.datetime is a date)
        return str(value)
    return value


def read_declarations() -> dict[str, dict]:
    """{folder name: its declaration} for each built-in target's folder, in the order of the names."""
    return {folder.name: plain(tomllib.loads((folder / DECLARATION).read_text(encoding="utf-8")))
            for folder in sorted(HERE.iterdir()) if (folder / DECLARATION).is_file()}


def snapshot_source(data: dict | None = None) -> str:
    return module_source("tunespec.templates.snapshot_build", "the built-in targets' target.toml files",
                         "DECLARATIONS", data or read_declarations())


def main() -> int:
    return write_module(HERE / "snapshot.py", snapshot_source())


if __name__ == "__main__":
    raise SystemExit(main())
