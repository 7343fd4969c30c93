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
moment verification began, less `cache.RACY_NS` (`cache.settled`; filesystem clocks are coarse: a jiffy
on ext4, two seconds on FAT); a folder written just before a build is verified by reading again next
time, then recorded.

The folder's own signature says that no file was added, removed or renamed in it since: a folder with a
temporary file of a killed run (`files.TEMPORARY`) is never recorded, so a trusted folder has none to
remove. An entry is used only for the stamp key it was recorded with, so an edited experiment, template
or tunespec version never reaches a stale entry.

An entry also keeps the source file a folder's mark names (`stamp.mark_source`) when the folder held
nothing but its stamp and the files it lists: a build of some files judges every other folder of `out`
for orphans (`orphans.find`) by its mark, and a pre-commit `build --check` of one file in the benchmark's
5,600-folder output read one file in each (1.25G instructions; `listing` answers from the signatures).
"""

from __future__ import annotations

import json
import os
import stat
import time

from tunespec.cache import settled
from tunespec.files import STAMP, TEMPORARY
from tunespec.templates.stamp import Fresh

FILES = 5  # the field where an entry's files begin (name, signature, name, ...)


def signature(info: os.stat_result) -> str:
    return f"{info.st_mtime_ns}:{info.st_ctime_ns}:{info.st_size}:{info.st_ino}:{info.st_dev}:{info.st_mode}"


class Known:
    """The cache's entries for the output folders of one `out` ({folder: entry}, as `cache.load` gives
    them: the folder relative to `out`, and a string of tab-separated fields: the stamp key, the folder's
    signature, the stamp's, the unique names in JSON, the source its mark names in JSON (empty when not
    kept), then each file's name and signature) and what this process learnt since (`changes`: an entry,
    or None to forget one)."""

    def __init__(self, entries: dict[str, str], out: str) -> None:
        self.entries = entries
        self.changes: dict = {}
        self.prefix = os.path.join(out, "")  # entries name folders relative to `out`, wherever it is seen from

    def _name(self, folder: str) -> str:
        return folder[len(self.prefix):] if folder.startswith(self.prefix) else os.path.relpath(folder, self.prefix)

    def trusted(self, folder: str, key: str) -> Fresh | None:
        """The folder's files and names when its entry holds `key` and every signature still holds."""
        fields = self._unchanged(folder)
        if fields is None or fields[0] != key:
            return None
        names = _names(fields[3])
        return Fresh(fields[FILES::2], names, tidy=True) if names is not None else None

    def listing(self, folder: str) -> tuple[list[str], str] | None:
        """(paths, source) of a folder that holds nothing but its stamp and the files its entry lists, all
        as recorded, with the source its files' mark names (as `orphans` reads them); else None."""
        fields = self._unchanged(folder)
        if fields is None or not fields[4]:
            return None
        try:
            source = json.loads(fields[4])
        except (ValueError, RecursionError):
            return None
        inside = folder + os.sep
        return (sorted(inside + name for name in (STAMP, *fields[FILES::2])), source) if isinstance(source, str) else None

    def _unchanged(self, folder: str) -> list[str] | None:
        """The fields of the folder's entry when the folder, its stamp and every file it lists still have
        the signatures recorded."""
        entry = self.entries.get(self._name(folder))
        if entry is None:
            return None
        fields = entry.split("\t")
        if len(fields) < FILES or (len(fields) - FILES) % 2:
            return None
        inside = folder + os.sep
        try:
            if signature(os.lstat(folder)) != fields[1] or signature(os.lstat(inside + STAMP)) != fields[2]:
                return None
            for name, file_signature in zip(fields[FILES::2], fields[FILES + 1::2]):
                if os.sep in name or name in ("", ".", "..") or signature(os.lstat(inside + name)) != file_signature:
                    return None
        except (OSError, ValueError):  # moved, or an entry that is not one
            return None
        return fields

    def record(self, folder: str, key: str, since: int, folder_info: os.stat_result | None,
               stamp_info: os.stat_result, files: list[tuple[str, os.stat_result]], names: tuple,
               source: str | None = None) -> None:
        """Remember a folder whose files were just verified (verification began at `since`, `time_ns`),
        unless one of the signatures is too recent to be trusted or the folder holds a temporary file;
        `source` is what the files' mark names (kept when the folder holds nothing else)."""
        infos = [stamp_info, *(info for _, info in files)]
        if folder_info is None or not stat.S_ISDIR(folder_info.st_mode):
            return self.forget(folder)
        if not all(settled(info, since) for info in (folder_info, *infos)):
            return self.forget(folder)
        name = self._name(folder)
        if any("\t" in text for text in (name, *(file for file, _ in files))):  # (fields are tab-separated)
            return self.forget(folder)
        try:
            present = os.listdir(folder)
        except OSError:
            return self.forget(folder)
        if any(entry.startswith(TEMPORARY) for entry in present):
            return self.forget(folder)
        alone = sorted(present) == sorted([STAMP, *(file for file, _ in files)]) and \
            all(stat.S_ISREG(info.st_mode) for _, info in files)
        listed = [f"{file}\t{signature(info)}" for file, info in files]
        entry = "\t".join([key, signature(folder_info), signature(stamp_info),
                           json.dumps([list(pair) for pair in names], ensure_ascii=False),
                           json.dumps(source, ensure_ascii=False) if alone and source is not None else "", *listed])
        if self.entries.get(name) != entry:
            self.entries[name] = self.changes[name] = entry

    def forget(self, folder: str) -> None:
        name = self._name(folder)
        if self.entries.pop(name, None) is not None:
            self.changes[name] = None

    def take_changes(self) -> dict:
        changes, self.changes = self.changes, {}
        return changes


def entries(data: object) -> dict[str, str]:
    """The entries of what the cache loaded ({} when it is not a dict of strings: another shape, or none)."""
    if not isinstance(data, dict) or not all(isinstance(key, str) and isinstance(value, str)
                                             for key, value in data.items()):
        return {}
    return data


def _names(text: str) -> tuple | None:
    """The unique names an entry lists (as `stamp.fresh` reads them), None if they are not a list of pairs."""
    if text == "[]":
        return ()
    try:
        pairs = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(pairs, list) or not all(isinstance(pair, list) and len(pair) == 2
                                              and not isinstance(pair[1], (list, dict)) for pair in pairs):
        return None
    return tuple(tuple(pair) for pair in pairs)


def now() -> int:
    """The moment a verification begins (`record`'s `since`)."""
    return time.time_ns()
