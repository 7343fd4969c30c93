"""The figures of docs/reliability.md for hostile input: each measured in fresh processes, peak memory read
from Linux's VmHWM (the process's own high-water mark; ru_maxrss would keep the parent's from before exec).

    python benchmarks/hostile.py                       # about five minutes; --quick for a smoke run
    python benchmarks/hostile.py --baseline ../old     # the same measures of another checkout, beside

1. Memory per byte of source: a `.tune` file holding one long string (plain, escapes, non-ASCII), through
   lint, show, fmt and build: peak memory above that of the same command on a tiny file, per source byte.
2. Time per `extends` level: a chain of presets n deep, every one of them resolved and checked.
3. A 190 MB JSON array data file (lint with the data rules): time and peak memory.
4. Import fan-out: n files, each importing the next, linted in batches of 64: time, and time per file.
5. Ctrl-C: SIGINT to the process group of `build --jobs 2` (and `--jobs 1`) at random moments of a build
   that changes every output: exit code, stderr, temporary files left, output all old / all new / mixed.
6. A worker killed by SIGKILL during `build --jobs 2`: how long until the run ends, and how.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PEAK = """
import sys, time
started = time.perf_counter()
from tunespec.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exit:
    code = exit.code
seconds = time.perf_counter() - started
peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:")) * 1024
print(f"{peak} {seconds} {code}", file=sys.stderr)
"""


class Runner:
    def __init__(self, source: Path) -> None:
        self.source = source
        self.environment = {**os.environ, "PYTHONPATH": str(source)}

    def measure(self, cwd: Path, *argv: str, timeout: float = 900) -> tuple[int, float, object]:
        """(peak bytes, seconds, exit code) of one command; (0, timeout, 'timeout') if it did not end."""
        try:
            done = subprocess.run([sys.executable, "-c", PEAK, *argv], cwd=cwd, env=self.environment,
                                  capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return 0, timeout, "timeout"
        peak, seconds, code = done.stderr.strip().splitlines()[-1].split()
        return int(peak), float(seconds), code

    def command(self) -> list[str]:
        return [sys.executable, "-m", "tunespec"]


def project(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    (folder / "tunespec.toml").write_text("")
    return folder


# --- 1. memory per byte ----------------------------------------------------------------------------------

STRINGS = {"plain": "a", "escapes": "\\n", "non-ASCII": "日本"}


def long_string(folder: Path, unit: str, size: int) -> int:
    body = unit * (size // len(unit.encode()))
    text = (f'experiment e {{\n  model = "ibm/granite-3-1-8b-base"\n  method = lora\n  description = "{body}"\n'
            '  data { train = "s3://b/t.jsonl" }\n  training { max_seq_length = 512 }\n}\n')
    (folder / "long.tune").write_text(text)
    return len(text.encode())


def memory_per_byte(runner: Runner, work: Path, sizes: list[int]) -> list[str]:
    folder = project(work / "memory")
    rows = ["| string | command | " + " | ".join(f"{size / 10**6:g} MB" for size in sizes) + " |",
            "|---|---|" + "---:|" * len(sizes)]
    for name, unit in STRINGS.items():
        for command in (["lint"], ["show"], ["fmt", "--check"], ["build", "--target", "yaml,json,peft"]):
            long_string(folder, unit, 0)
            base = runner.measure(folder, *command, "long.tune")[0]
            cells = []
            for size in sizes:
                written = long_string(folder, unit, size)
                peak, _, code = runner.measure(folder, *command, "long.tune")
                shutil.rmtree(folder / "out", ignore_errors=True)
                cells.append("did not end" if code == "timeout" else f"{(peak - base) / written:.1f}")
            rows.append(f"| {name} | `{' '.join(command)}` | " + " | ".join(cells) + " |")
    return rows


# --- 2. extends ------------------------------------------------------------------------------------------

def extends_chain(folder: Path, depth: int) -> None:
    chain = ["preset p0 { seed = 1  lora { alpha = 8 }  training { learning_rate = 1e-4 } }"]
    chain += [f"preset p{i} extends p{i - 1} {{ seed = {i}  lora {{ alpha = {8 + i % 3} }}  "
              f"training {{ learning_rate = {1 + i % 3}e-4 }} }}" for i in range(1, depth)]
    chain.append(f"experiment e extends p{depth - 1} {{ method = lora }}")
    (folder / "chain.tune").write_text("\n".join(chain) + "\n")


def extends_levels(runner: Runner, work: Path, depths: list[int]) -> list[str]:
    folder = project(work / "extends")
    rows = ["| depth | time | per level | peak memory |", "|---:|---:|---:|---:|"]
    for depth in depths:
        extends_chain(folder, depth)
        peak, seconds, code = runner.measure(folder, "lint", "--jobs", "1", "chain.tune", timeout=300)
        if code == "timeout":
            rows.append(f"| {depth:,} | over {seconds:.0f} s | | |")
            continue
        rows.append(f"| {depth:,} | {seconds:.2f} s | {seconds / depth * 1000:.2f} ms | {peak / 2**20:.0f} MB |")
    return rows


# --- 3. a 190 MB JSON array ----------------------------------------------------------------------------

def json_array(runner: Runner, work: Path, megabytes: int) -> list[str]:
    folder = project(work / "array")
    (folder / "data").mkdir()
    rng = random.Random(0)
    words = ["refund", "invoice", "billing", "account", "password", "reset", "shipping", "delay", "broken"]
    size, first = 0, True
    with open(folder / "data" / "train.json", "w") as handle:
        handle.write("[\n")
        while size < megabytes * 10**6:
            record = json.dumps({"input": " ".join(rng.choice(words) for _ in range(25)), "output": rng.choice(words)})
            handle.write(("" if first else ",\n") + record)
            size += len(record) + 2
            first = False
        handle.write("\n]\n")
    (folder / "t.tune").write_text('experiment e {\n  model = "ibm/granite-3-1-8b-base"\n  method = lora\n'
                                   '  data { train = "data/train.json" }\n  training { max_seq_length = 512 }\n}\n')
    peak, seconds, code = runner.measure(folder, "lint", "--jobs", "1", "t.tune")
    actual = (folder / "data" / "train.json").stat().st_size
    shutil.rmtree(folder)
    return [f"| {actual / 10**6:.0f} MB JSON array | {seconds:.1f} s | {peak / 2**20:.0f} MB |"]


# --- 4. import fan-out ---------------------------------------------------------------------------------

def import_chain(folder: Path, count: int) -> None:
    (folder / "chain").mkdir()
    for index in range(count):
        following = f'import "a{index + 1}.tune"\n' if index < count - 1 else ""
        (folder / "chain" / f"a{index}.tune").write_text(
            f"{following}\npreset p{index} {{\n  seed = {index}\n  training {{ epochs = {1 + index % 5}  "
            f"batch_size = 4 }}\n  lora {{ rank = 8  alpha = 16 }}\n}}\n")


def fan_out(runner: Runner, work: Path, counts: list[int]) -> list[str]:
    rows = ["| files | time | per file |", "|---:|---:|---:|"]
    for count in counts:
        folder = project(work / "fanout")
        import_chain(folder, count)
        _, seconds, code = runner.measure(folder, "lint", "--jobs", "1", "chain", timeout=600)
        rows.append(f"| {count:,} | {'over ' if code == 'timeout' else ''}{seconds:.1f} s | "
                    f"{seconds / count * 1000:.1f} ms |")
    return rows


# --- 5 and 6. Ctrl-C and a killed worker ----------------------------------------------------------------

def experiments(folder: Path, count: int, epochs: int) -> None:
    (folder / "exp").mkdir(exist_ok=True)
    for index in range(count):
        (folder / "exp" / f"t{index}.tune").write_text(
            f'experiment t{index} {{\n  model = "ibm/granite-3-1-8b-base"\n  method = lora\n'
            f'  data {{ train = "s3://b/train.jsonl" }}\n  training {{ max_seq_length = 512  epochs = {epochs} }}\n}}\n')


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()} \
        if folder.exists() else {}


def ctrl_c(runner: Runner, work: Path, runs: int, count: int, jobs: str) -> list[str]:
    folder = project(work / "ctrl-c")
    build = [*runner.command(), "build", "exp", "--out", "out", "--target", "yaml,json,peft,axolotl", "--jobs", jobs]
    experiments(folder, count, 2)
    subprocess.run(build, cwd=folder, env=runner.environment, capture_output=True)  # warm the caches
    subprocess.run(build, cwd=folder, env=runner.environment, capture_output=True)
    old = snapshot(folder / "out")
    shutil.copytree(folder / "out", folder / "old")
    experiments(folder, count, 3)
    started = time.monotonic()
    subprocess.run(build, cwd=folder, env=runner.environment, capture_output=True)
    duration = time.monotonic() - started
    new = snapshot(folder / "out")
    rng = random.Random(int(jobs))
    tally: dict[str, int] = {}
    for _ in range(runs):
        shutil.rmtree(folder / "out")
        shutil.copytree(folder / "old", folder / "out")
        process = subprocess.Popen(build, cwd=folder, env=runner.environment, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, start_new_session=True)
        time.sleep(0.2 + rng.random() * duration * 1.05)  # from start-up to past the renames
        os.killpg(process.pid, signal.SIGINT)
        try:
            _, err = process.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            err, process.returncode = b"(hung: killed)", "hang"
        now = snapshot(folder / "out")
        temporary = sum(".tunespec-tmp-" in name for name in now)
        state = "all old" if now == old else "all new" if now == new else "mixed"
        lines = err.decode(errors="replace").strip().splitlines()
        key = (f"exit {process.returncode}, {len(lines)} line{'s' if len(lines) != 1 else ''} on stderr "
               f"({lines[-1] if lines else ''}), {'no' if not temporary else temporary} temporary files, output {state}")
        tally[key] = tally.get(key, 0) + 1
    return [f"| `--jobs {jobs}` | {count_} | {key} |" for key, count_ in sorted(tally.items())] + \
        [f"| `--jobs {jobs}` | | (a full build of {count} experiments × 4 targets took {duration:.1f} s) |"]


def killed_worker(runner: Runner, work: Path, count: int) -> list[str]:
    folder = project(work / "killed")
    experiments(folder, count, 2)
    build = [*runner.command(), "build", "exp", "--out", "out", "--target", "yaml,json,peft,axolotl", "--jobs", "2"]
    process = subprocess.Popen(build, cwd=folder, env=runner.environment, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, start_new_session=True)
    workers: list[int] = []
    while len(workers) < 2 and process.poll() is None:
        try:
            with open(f"/proc/{process.pid}/task/{process.pid}/children") as handle:
                workers = [int(pid) for pid in handle.read().split()]
        except OSError:
            pass
        time.sleep(0.01)
    time.sleep(0.3)
    os.kill(workers[0], signal.SIGKILL)
    killed = time.monotonic()
    try:
        _, err = process.communicate(timeout=120)
        outcome = f"exit {process.returncode} after {time.monotonic() - killed:.1f} s: {err.decode().strip()}"
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        outcome = "still running 120 s later (killed)"
    left = sum(".tunespec-tmp-" in name for name in snapshot(folder / "out"))
    return [f"| {outcome} | {left} |"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: proves the script works")
    parser.add_argument("--baseline", metavar="CHECKOUT", help="measure this other source tree too")
    parser.add_argument("--only", metavar="N[,N...]", help="only these measures (numbers as in the docstring)")
    args = parser.parse_args(argv)
    trees = [("this tree", REPO)] + ([("baseline", Path(args.baseline).resolve())] if args.baseline else [])
    quick = args.quick
    for label, source in trees:
        runner = Runner(source)
        small = quick or label == "baseline"  # an older tree may take 350 bytes a byte, or minutes a chain
        work = Path(tempfile.mkdtemp(prefix="tunespec-hostile-"))
        try:
            print(f"## {label} ({source})\n")
            only = {int(n) for n in args.only.split(",")} if args.only else set(range(1, 7))
            sections = [(number, title, rows) for number, (title, rows) in enumerate([
                ("Memory above a tiny file's, per byte of source", lambda: memory_per_byte(
                    runner, work, [1_000_000] if small else [1_000_000, 4_000_000, 16_000_000])),
                ("A chain of `extends`, every preset checked", lambda: extends_levels(
                    runner, work, [500, 1000] if quick else [1_000, 2_500, 5_000] if small else
                    [1_000, 2_500, 5_000, 10_000])),
                ("A JSON array data file", lambda: ["| file | time | peak memory |", "|---|---:|---:|"]
                 + json_array(runner, work, 5 if quick else 190)),
                ("Import fan-out (each file imports the next; batches of 64)", lambda: fan_out(
                    runner, work, [300] if quick else [1_000, 2_000])),
                ("Ctrl-C at random moments", lambda: ["| | runs | outcome |", "|---|---:|---|"]
                 + ctrl_c(runner, work, 2 if quick else 10, 140 if quick else 600, "2")
                 + ctrl_c(runner, work, 2 if quick else 10, 140 if quick else 600, "1")),
                ("A worker killed by SIGKILL", lambda: ["| outcome | temporary files left |", "|---|---:|"]
                 + killed_worker(runner, work, 140 if quick else 300)),
            ], 1) if number in only]
            for _, title, rows in sections:
                print(f"### {title}\n\n" + "\n".join(rows()) + "\n", flush=True)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
