"""Writing job specs: everything is rendered and verified in memory first, then each file is written
through a temporary file and an atomic rename, so an interrupted build leaves every file either as it was
or complete. Output is byte-for-byte deterministic; `--check` compares instead of writing.

The rename makes a write atomic against a killed process, which is the failure a build meets (Ctrl-C,
a CI timeout, SIGKILL): see `tunespec.files`.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from tunespec.compiler.resolve import ResolvedExperiment
from tunespec.files import TEMPORARY, WriteError, remove_leftovers, write_atomically
from tunespec.record import Factory, Record
from tunespec.templates.render import render_target
from tunespec.templates.targets import Target



class BuildError(Exception):
    """The output cannot be written (a read-only folder, a full disk): one line, exit 2."""


class Output(Record):
    path: Path  # where the file goes
    text: str
    executable: bool = False


class Outcome(Record):
    written: list = Factory(list)
    unchanged: list = Factory(list)
    stale: list = Factory(list)  # --check: files that would change (or be created)


def output_folder(out: Path, variant: str, target: str) -> Path:
    return out / variant / target


def render_outputs(exp: ResolvedExperiment, target: Target, out: Path, root: Path) -> list[Output]:
    """The files of one target for one variant, rendered and verified, nothing written yet."""
    folder = output_folder(out, exp.name, target.name)
    relative = os.path.relpath(folder.absolute(), root.absolute())
    rendered = render_target(exp, target, relative, os.path.relpath(root.absolute(), folder.absolute()))
    return [Output(folder / name, text, executable=name.endswith(".sh")) for name, text in rendered.items()]


def check_outputs(outputs: list[Output]) -> Outcome:
    outcome = Outcome()
    for output in outputs:
        try:
            current = output.path.read_bytes()
        except OSError:
            current = None
        (outcome.unchanged if current == output.text.encode("utf-8") else outcome.stale).append(output.path)
    return outcome


def write_outputs(outputs: list[Output]) -> Outcome:
    outcome = Outcome()
    for folder in sorted({output.path.parent for output in outputs}):
        _make_folder(folder)
        remove_leftovers(folder)
    for output in outputs:
        data = output.text.encode("utf-8")
        try:
            if output.path.read_bytes() == data and _mode_ok(output):
                outcome.unchanged.append(output.path)
                continue
        except OSError:
            pass
        try:
            write_atomically(output.path, data, 0o755 if output.executable else 0o644)
        except WriteError as error:
            raise BuildError(str(error)) from None
        outcome.written.append(output.path)
    return outcome


def _mode_ok(output: Output) -> bool:
    return not output.executable or bool(output.path.stat().st_mode & stat.S_IXUSR)


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise BuildError(f"cannot create {folder}: {(error.strerror or str(error)).lower()}") from None
