"""How the catalog loads fastest: the snapshot module (from bytecode) or `tomllib` on the six TOML files.

    python benchmarks/catalog_load.py [--runs 40]

Each way is timed in a fresh interpreter (a lint pays it once per process, cold): the time from before the
import to the data in hand, median of the runs, interleaved so that both see the same load of a shared
machine. `snapshot.py` is compiled to bytecode first, as pip installs it.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CATALOG = REPO / "tunespec" / "compiler" / "catalog"

SNAPSHOT = """
import time
start = time.perf_counter()
from tunespec.compiler.catalog.snapshot import DATA
print(time.perf_counter() - start)
"""

TOMLLIB = f"""
import time
start = time.perf_counter()
import tomllib
from pathlib import Path
folder = Path({str(CATALOG)!r})
DATA = {{name: tomllib.loads((folder / f"{{name}}.toml").read_text(encoding="utf-8"))
        for name in ("models", "families", "ranges", "defaults", "advice", "sources")}}
print(time.perf_counter() - start)
"""


def once(code: str) -> float:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    return float(result.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(CATALOG / "snapshot.py")], check=True)
    times: dict[str, list[float]] = {"snapshot module": [], "tomllib, six files": []}
    for _ in range(args.runs):
        times["snapshot module"].append(once(SNAPSHOT))
        times["tomllib, six files"].append(once(TOMLLIB))
    for name, values in times.items():
        print(f"{name:20} median {statistics.median(values) * 1000:6.2f} ms "
              f"(min {min(values) * 1000:.2f}, max {max(values) * 1000:.2f}, {args.runs} runs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
