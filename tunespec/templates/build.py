"""Job specs on disk: rendered and verified in memory, then staged beside their final names and, only
when the whole run has succeeded, committed by renames (`tunespec.files`): an interrupted or failed build
leaves every file either as it was or complete. Output is byte-for-byte deterministic; `--check`
compares instead of writing.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from tunespec.compiler.resolve import ResolvedExperiment
from tunespec.files import TEMPORARY, WriteError, discard, remove_leftovers, stage
from tunespec.record import Factory, Record
from tunespec.templates.render import render_target
from tunespec.templates.targets import Target

__all__ = ["TEMPORARY", "BuildError", "Output", "Staged", "Placement", "render_outputs", "check_outputs",
           "stage_outputs", "discard_staged"]


class BuildError(Exception):
    """The output cannot be written (a read-only folder, a full disk): one line, exit 2."""


class Output(Record):
    path: Path  # where the file goes
    text: str
    executable: bool = False


class Staged(Record):
    """One target of one variant on its way to disk: files staged (temporary, final), files already up
    to date, and (`--check`) files that would change."""

    staged: list = Factory(list)
    unchanged: list = Factory(list)
    stale: list = Factory(list)


class Placement:
    """Where a run's files go, worked out once: `out/<variant>/<target>/`, and how paths relative to the
    root are seen from there (variant and target names are single path components)."""

    def __init__(self, out: Path, root: Path) -> None:
        self.out = out
        out_absolute = os.path.abspath(out)
        self.out_from_root = os.path.relpath(out_absolute, os.path.abspath(root))
        self.root_from_out = os.path.relpath(os.path.abspath(root), out_absolute)

    def folder(self, variant: str, target: str) -> str:
        return os.path.join(self.out, variant, target)

    def from_root(self, variant: str, target: str) -> str:
        return os.path.normpath(os.path.join(self.out_from_root, variant, target))

    def to_root(self) -> str:
        return os.path.normpath(os.path.join("..", "..", self.root_from_out))


def render_outputs(exp: ResolvedExperiment, target: Target, placement: Placement,
                   variant: dict | None = None) -> list[Output]:
    """The files of one target for one variant, rendered and verified, nothing written yet."""
    folder = placement.folder(exp.name, target.name)
    rendered = render_target(exp, target, placement.from_root(exp.name, target.name), placement.to_root(), variant)
    return [Output(Path(folder, name), text, executable=name.endswith(".sh")) for name, text in rendered.items()]


def check_outputs(outputs: list[Output]) -> Staged:
    result = Staged()
    for output in outputs:
        (result.unchanged if _current(output) == output.text.encode("utf-8") else result.stale).append(output.path)
    return result


def stage_outputs(outputs: list[Output]) -> Staged:
    """Stage the files that differ from what is on disk; the caller commits them or discards them."""
    result = Staged()
    new_folders = set()
    for folder in sorted({output.path.parent for output in outputs}):
        if _make_folder(folder):
            new_folders.add(folder)  # nothing to compare with, no leftovers to remove
        else:
            remove_leftovers(folder)
    try:
        for output in outputs:
            data = output.text.encode("utf-8")
            if output.path.parent not in new_folders and _current(output) == data and _mode_ok(output):
                result.unchanged.append(output.path)
                continue
            temporary = stage(output.path, data, 0o755 if output.executable else 0o644)
            result.staged.append((temporary, output.path))
    except WriteError as error:
        discard_staged([result])
        raise BuildError(str(error)) from None
    return result


def discard_staged(results: list[Staged]) -> None:
    for result in results:
        for temporary, _ in result.staged:
            discard(temporary)


def _current(output: Output) -> bytes | None:
    try:
        with open(output.path, "rb") as handle:
            return handle.read()
    except OSError:
        return None


def _mode_ok(output: Output) -> bool:
    return not output.executable or bool(os.stat(output.path).st_mode & stat.S_IXUSR)


def _make_folder(folder: Path) -> bool:
    """Make the folder (and its parents); True when it did not exist before."""
    try:
        os.mkdir(folder)
        return True
    except FileExistsError:
        if os.path.isdir(folder):
            return False
        raise BuildError(f"cannot create {folder}: a file of that name is in the way") from None
    except FileNotFoundError:
        pass
    except OSError as error:
        raise BuildError(f"cannot create {folder}: {(error.strerror or str(error)).lower()}") from None
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise BuildError(f"cannot create {folder}: {(error.strerror or str(error)).lower()}") from None
    return True
