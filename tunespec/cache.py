"""The project's cache folder, `.tunespec_cache/` at the project root (as ruff keeps `.ruff_cache/`): what a
run learnt about the project's files that the next run may reuse instead of reading them again.

A pre-commit run lints the changed files and searches the whole project for the files that import them;
reading every `.tune` file for its import lines cost a 1,000-file project more than linting the file
itself. Each entry says how it is checked against the files it was made from before it is used (the
importer search keeps each file's modification time, size, inode and change time), so a stale entry is
never believed: deleting the folder costs the next run only the time the cache saves.

The folder is marked as a cache for backup tools (CACHEDIR.TAG) and for git (a `.gitignore` of `*`); it is
hidden, so no search for `.tune` files walks into it. A cache that cannot be written (a read-only
checkout, a full disk) is no error: the run goes on without it. `TUNESPEC_CACHE_DIR` names another folder
(as `RUFF_CACHE_DIR` does for ruff); `build --no-cache` neither reads nor writes the build's entries (the
output folders' signatures, `templates.known`, and each file's result, `replay`).

Entries are `marshal` data, the built-in format of Python's own bytecode caches: loading one imports
nothing (`json` would add 0.8 ms of imports to every hook run). marshal is not meant for data from
strangers, but a project's cache is as trusted as its `__pycache__`, whose bytecode Python runs; each entry
is also checked for the tunespec and Python versions that wrote it, and anything else found is ignored.
"""

from __future__ import annotations

import marshal
import os
import sys

from tunespec import __version__

FOLDER = ".tunespec_cache"
ENVIRONMENT = "TUNESPEC_CACHE_DIR"
_TAG = ("Signature: 8a477f597d28d172789f06886806bc55\n"
        "# This file is a cache directory tag created by tunespec.\n"
        "# For information about cache directory tags see https://bford.info/cachedir/\n")
_HEADER = ("tunespec cache", __version__, sys.implementation.cache_tag)
# git's "racily clean" rule, for every entry kept against a file's `stat`: a file changed this recently may
# change again within the file system's clock tick with its times and size unchanged, so what was read of
# it is not kept (filesystem clocks are coarse: a jiffy on ext4, two seconds on FAT, plus clock lag).
RACY_NS = 3_000_000_000
# Folders of the cache this process made or found, with their markers: a build keeps an entry per file it
# does (`replay`), and looking for the folders before each cost a 333-file build 333 `stat`s and `mkdir`s.
_ready: set[str] = set()


def settled(info: os.stat_result, since: int) -> bool:
    """Whether a file's modification and change times are older than the racy margin before `since`
    (`time_ns`): only then may what was read of it be kept against its `stat`."""
    limit = since - RACY_NS
    return info.st_mtime_ns < limit and info.st_ctime_ns < limit


def load(root: str | os.PathLike, name: str) -> object | None:
    """The data last stored as `name` in the cache of the project at `root`; None when there is none (or
    it was written by another version of tunespec or Python, or cannot be read)."""
    try:
        with open(os.path.join(folder_of(root), name), "rb") as handle:
            header, data = marshal.loads(handle.read())
    except (OSError, ValueError, EOFError, TypeError):
        return None
    return data if header == _HEADER else None


def store(root: str | os.PathLike, name: str, data: object) -> None:
    """Keep `data` (built-in types only: dicts, lists, tuples, strings, numbers) as `name` (`kind/name`
    for an entry in a subfolder) in the cache of the project at `root`, replacing what was there in one
    step (a rename), so that a run reading it at the same time finds the old entry or the new. Nothing
    happens when the folder cannot be written."""
    from pathlib import Path

    from tunespec.files import WriteError, write_atomically

    folder = Path(folder_of(root))
    path = folder / name
    try:
        data = marshal.dumps((_HEADER, data))
    except ValueError:  # (not built-in data)
        return
    for attempt in range(2):
        try:
            if attempt or str(path.parent) not in _ready:
                if not folder.is_dir():
                    _make_folder(folder)
                if "/" in name:  # an entry in a folder of its own kind (`replay.FOLDER`)
                    path.parent.mkdir(exist_ok=True)
                _ready.add(str(path.parent))
            write_atomically(path, data, 0o644)
            return
        except (OSError, ValueError, WriteError):
            _ready.discard(str(path.parent))  # (removed meanwhile? made again, once)


def folder_of(root: str | os.PathLike) -> str:
    """The cache folder of the project at `root`."""
    return os.environ.get(ENVIRONMENT) or os.path.join(root, FOLDER)


def make_subfolder(path: str) -> None:
    """Make a folder inside the cache folder (`path` is `folder_of(root)` joined with its name), and the
    cache folder first, with its markers, when it is missing (raises OSError when it cannot)."""
    parent = os.path.dirname(path)
    if not os.path.isdir(parent):
        from pathlib import Path

        _make_folder(Path(parent))
    os.makedirs(path, exist_ok=True)


def _make_folder(folder) -> None:
    """The folder with its two markers, written before anything else is put in it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "CACHEDIR.TAG").write_text(_TAG, encoding="utf-8")
    (folder / ".gitignore").write_text("# Created by tunespec: its cache, never committed.\n*\n", encoding="utf-8")
