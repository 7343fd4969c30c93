"""Writing files so that an interrupted run never leaves a half-written one (build and fmt share this).

A file is first *staged* — written in full to a temporary file beside it — and then *committed* by a
rename, which replaces the old file in one step: a killed process leaves either the old content or the
new. `build` stages everything it will write before it commits anything, so a template that fails
halfway through a run changes no file at all.

Temporary names hold the process id that made them, so a later run removes the leftovers of a killed
one without touching those of a run still going (two builds into one folder at once each finish).
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

TEMPORARY = ".tunespec-tmp-"
_counter = itertools.count()


class WriteError(Exception):
    """The file cannot be written (a read-only file or folder, a full disk): one line, exit 2."""


def stage(path: Path, data: bytes, mode: int, exact_mode: bool = False) -> Path:
    """Write `data` to a new temporary file beside `path` and return it (`commit` puts it in place).
    The file gets `mode` less the umask, as new files do, or exactly `mode` (`fmt` keeps a file's mode).
    (Not fsync'ed: that guards against power loss only, at a disk round trip per file.)"""
    temporary = path.with_name(f"{TEMPORARY}{os.getpid()}-{next(_counter)}-{path.name}")
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with open(descriptor, "wb") as handle:
            handle.write(data)
        if exact_mode:
            os.chmod(temporary, mode)
    except OSError as error:
        discard(temporary)
        raise WriteError(f"cannot write {path}: {_reason(error)}") from None
    return temporary


def commit(temporary: Path, path: Path) -> None:
    try:
        os.replace(temporary, path)
    except OSError as error:
        discard(temporary)
        raise WriteError(f"cannot write {path}: {_reason(error)}") from None


def discard(temporary: Path) -> None:
    try:
        os.unlink(temporary)
    except OSError:
        pass


def write_atomically(path: Path, data: bytes, mode: int, exact_mode: bool = False) -> None:
    """Stage and commit one file."""
    commit(stage(path, data, mode, exact_mode), path)


def remove_leftovers(folder: Path) -> None:
    """Temporary files of runs that were killed before their rename (not those of a live process)."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        if entry.name.startswith(TEMPORARY) and not _made_by_live_process(entry.name):
            discard(Path(entry.path))


def _made_by_live_process(name: str) -> bool:
    pid = name[len(TEMPORARY):].partition("-")[0]
    if not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return True
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, OverflowError):
        return False
    except OSError:
        return True  # alive, but not ours to signal
    return True


def _reason(error: OSError) -> str:
    return (error.strerror or str(error)).lower()
