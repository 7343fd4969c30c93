"""Regenerate `snapshot.py` from the TOML files after editing the catalog:

    python -m tunespec.compiler.catalog.snapshot_build

The TOML files are the source (they carry comments and sources); the snapshot is the same data as a
Python module, which loads from bytecode in about half the time `tomllib` takes to import and parse the six
files (start-up is a feature): `python benchmarks/catalog_load.py --runs 40`, each way in a fresh interpreter,
gave medians of 7.2 ms against 15.5 ms on a shared, loaded machine (2.4 ms against 7.8 ms on a quiet one).
A test fails while the snapshot differs from the TOML files.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from tunespec.generated import module_source, write_module

HERE = Path(__file__).parent
FILES = ("models", "families", "ranges", "defaults", "advice", "sources")


def read_toml() -> dict:
    return {name: tomllib.loads((HERE / f"{name}.toml").read_text(encoding="utf-8")) for name in FILES}


def snapshot_source(data: dict | None = None) -> str:
    return module_source("tunespec.compiler.catalog.snapshot_build", "the TOML files beside it", "DATA",
                         data or read_toml())


def main() -> int:
    return write_module(HERE / "snapshot.py", snapshot_source())


if __name__ == "__main__":
    raise SystemExit(main())
