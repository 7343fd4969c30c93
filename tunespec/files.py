"""Writing files so that an interrupted run never leaves a half-written one (build and fmt share this)."""

from __future__ import annotations

import os
from pathlib import Path

TEMPORARY = ".tunespec-tmp-"


class WriteError(Exception):
    """The file cannot be written (a read-only file or folder, a full disk): one line, exit 2."""


def write_atomically(path: Path, data: bytes, mode: int) -> None:
    """Write through a temporary file in the same folder and rename it over `path`: a killed process
    leaves either the old content or the new. (Not fsync'ed: that guards against power loss only, at a
    disk round trip per file.)"""
    temporary = path.with_name(f"{TEMPORARY}{path.name}-{os.getpid()}")
    try:
        with open(temporary, "wb") as handle:
            handle.write(data)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except OSError as error:
        try:
            temporary.unlink()
        except OSError:
            pass
        raise WriteError(f"cannot write {path}: {(error.strerror or str(error)).lower()}") from None


def remove_leftovers(folder: Path) -> None:
    """Temporary files of a run that was killed before its rename."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        if entry.name.startswith(TEMPORARY):
            try:
                os.unlink(entry.path)
            except OSError:
                pass
