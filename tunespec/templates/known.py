"""What the cache (`tunespec.cache`) knows of output folders: for each folder a build found up to date by
reading its files (`stamp.fresh`), the `stat` signature of the folder, of its stamp and of every file the
stamp lists, taken when their bytes were verified. A later build that finds the same signatures trusts
the folder without reading a byte: on the benchmark's 5,604 up-to-date folders (11,613 files), reading
and hashing cost about 0.13 s, the `lstat` calls a quarter of that.

This is git's index: a file whose signature (modification and change times in nanoseconds, size, inode,
device and mode) is unchanged is taken to hold the bytes it held. Restoring a file's size and modification
time (`touch -d`) does not fool it: the change time moves with any write and cannot be set back. The one
case that could is git's "racy" one: a file written again within the timestamp granule in which it was
verified would keep its signature. So a signature is recorded only when its times are older than the
moment verification began, less `MARGIN_NS` (filesystem clocks are coarse: a jiffy on ext4, two seconds
on FAT); a folder written just before a build is verified by reading again next time, then recorded.

The folder's own signature says that no file was added, removed or renamed in it since: a folder with a
temporary file of a killed run (`files.TEMPORARY`) is never recorded, so a trusted folder has none to
remove. An entry is used only for the stamp key it was recorded with, so an edited experiment, template
or tunespec version never reaches a stale entry.
"""

from __future__ import annotations

import os
import stat
import time

from tunespec.files import STAMP, TEMPORARY
from tunespec.templates.stamp import Fresh

MARGIN_NS = 3_000_000_000


def signature(info: os.stat_result) -> list[int]:
    return [info.st_mtime_ns, info.st_ctime_ns, info.st_size, info.st_ino, info.st_dev, info.st_mode]


class Known:
    """The cache's entries for the output folders of one `out` ({folder: entry}, as `cache.load` gives
    them; an entry is [stamp key, folder's signature, stamp's signature, [[file name, signature], ...],
    unique names]) and what this process learnt since (`changes`: an entry, or None to forget one)."""

    def __init__(self, entries: dict, out: str) -> None:
        self.entries = entries
        self.changes: dict = {}
        self.prefix = os.path.join(out, "")  # entries name folders relative to `out`, wherever it is seen from

    def _name(self, folder: str) -> str:
        return folder[len(self.prefix):] if folder.startswith(self.prefix) else os.path.relpath(folder, self.prefix)

    def trusted(self, folder: str, key: str) -> Fresh | None:
        """The folder's files and names when its entry holds `key` and every signature still holds."""
        entry = self.entries.get(self._name(folder))
        if entry is None:
            return None
        try:
            recorded, folder_signature, stamp_signature, files, names = entry
            if recorded != key or signature(os.lstat(folder)) != folder_signature \
                    or signature(os.lstat(os.path.join(folder, STAMP))) != stamp_signature:
                return None
            listed = []
            for name, file_signature in files:
                if not isinstance(name, str) or os.sep in name or name in ("", ".", "..") \
                        or signature(os.lstat(os.path.join(folder, name))) != file_signature:
                    return None
                listed.append(name)
            return Fresh(listed, tuple(tuple(pair) for pair in names), tidy=True)
        except (OSError, ValueError, TypeError):  # moved, or an entry that is not one
            return None

    def record(self, folder: str, key: str, since: int, folder_info: os.stat_result | None,
               stamp_info: os.stat_result, files: list[tuple[str, os.stat_result]], names: tuple) -> None:
        """Remember a folder whose files were just verified (verification began at `since`, `time_ns`),
        unless one of the signatures is too recent to be trusted or the folder holds a temporary file."""
        infos = [stamp_info, *(info for _, info in files)]
        if folder_info is None or not stat.S_ISDIR(folder_info.st_mode):
            return self.forget(folder)
        limit = since - MARGIN_NS
        if any(info.st_mtime_ns >= limit or info.st_ctime_ns >= limit for info in (folder_info, *infos)):
            return self.forget(folder)
        try:
            if any(name.startswith(TEMPORARY) for name in os.listdir(folder)):
                return self.forget(folder)
        except OSError:
            return self.forget(folder)
        entry = [key, signature(folder_info), signature(stamp_info),
                 [[name, signature(info)] for name, info in files], [list(pair) for pair in names]]
        name = self._name(folder)
        if self.entries.get(name) != entry:
            self.entries[name] = self.changes[name] = entry

    def forget(self, folder: str) -> None:
        name = self._name(folder)
        if self.entries.pop(name, None) is not None:
            self.changes[name] = None

    def take_changes(self) -> dict:
        changes, self.changes = self.changes, {}
        return changes


def now() -> int:
    """The moment a verification begins (`record`'s `since`)."""
    return time.time_ns()
