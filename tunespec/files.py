"""Reading and writing files: reads that never block, writes that an interrupted run never leaves
half-done (build and fmt share this).

A file is read only if it is a regular file, opened without blocking and checked again on the open
descriptor, and only as far as its size: a FIFO swapped in after the `stat`, or a `/proc` file such as
`/proc/kmsg` (a regular file of size 0 whose read blocks, and consumes what it reads), is never waited for.

A file is first *staged* — written in full to a temporary file beside it — and then *committed* by a
rename, which replaces the old file in one step: a killed process leaves either the old content or the
new. A folder that does not exist yet is staged whole — a temporary folder beside it, its files written
in it under their own names — and committed by one rename: the folder appears complete or not at all.
`build` stages everything it will write before it commits anything, so a template that fails halfway
through a run changes no file at all.

Temporary names hold the id of the run's process (a worker's parent: it renames them, and a worker may
have exited by then), so a later run removes the leftovers of a killed one without touching those of a run
still going (two builds into one folder at once each finish).
"""

from __future__ import annotations

import itertools
import os
import stat as stat_module
from pathlib import Path
TYPE_CHECKING = False
if TYPE_CHECKING:  # (typing, for type checkers only, is not imported at run time)
    from typing import BinaryIO

TEMPORARY = ".tunespec-tmp-"
STAMP = ".tunespec-stamp"  # what a build knows of an output folder it filled (templates.stamp); tunespec's own
_counter = itertools.count()
_run_pid: int | None = None  # the process that commits this one's temporaries, when it is not this one


def join_run(pid: int) -> None:
    """Name this process's temporaries after the run's process `pid` (a worker's parent). Named after the
    worker, they looked like a killed run's leftovers once it exited, and another build writing into the
    same folder deleted them before its parent could rename them."""
    global _run_pid
    _run_pid = pid


def _run() -> int:
    return _run_pid or os.getpid()


class NotAFile(OSError):
    """The path names something other than a regular file (a folder, a FIFO, a device): never opened.
    An OSError, so that code reporting unreadable files reports it too, in its words (`str`)."""


def open_regular(path: str | os.PathLike) -> tuple["BoundedReader", int]:
    """The regular file at `path`, open for reading, and its size; raises NotAFile (with why, in words),
    OSError, or ValueError (a NUL in the path).

    Non-regular files are refused on `stat`, before any `open` (opening some devices has effects); the
    open itself does not block (O_NONBLOCK) and is checked with `fstat`, so a file swapped in between is
    refused too; reads stop at the size `fstat` gave."""
    descriptor, size = _open_descriptor(path)
    try:
        handle = os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise
    return BoundedReader(handle, size), size


def read_regular(path: str | os.PathLike, info: os.stat_result | None = None) -> bytes:
    """The bytes of the regular file at `path`, as far as its size (see `open_regular`). Read from the
    descriptor with no file object around it: a hook run reads every `.tune` file of the project to find
    importers, and the buffered reader cost half of each read. `info` is the path's `stat` when the caller
    has just taken it (the importer search has): it decides the refusal before the open, in place of a
    `stat` of its own (5.7M instructions of a first hook run in a 1,000-file project, callgrind)."""
    descriptor, size = _open_descriptor(path, info)
    try:
        return _read_to_end(descriptor, size)
    finally:
        os.close(descriptor)


_READ_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)


def _open_descriptor(path: str | os.PathLike, info: os.stat_result | None = None) -> tuple[int, int]:
    """An open descriptor on the regular file at `path` and its size (`open_regular` says how); `info`, the
    path's `stat` if the caller has it."""
    if info is None:
        info = os.stat(path)
    if not stat_module.S_ISREG(info.st_mode):
        raise NotAFile(kind_of(info.st_mode))
    descriptor = os.open(path, _READ_FLAGS)
    try:
        opened = os.fstat(descriptor)
        if not stat_module.S_ISREG(opened.st_mode):
            raise NotAFile(kind_of(opened.st_mode))
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor, opened.st_size


def read_unlinked(path: str | os.PathLike, executable: bool = False) -> bytes | None:
    """The bytes of the regular file at `path`, never read through a symbolic link; None when there is no
    such file or, with `executable`, when its owner may not run it. What a build compares its output with:
    a link in an output folder is replaced by a file, never followed."""
    found = read_unlinked_stat(path, executable)
    return found[0] if found is not None else None


def read_unlinked_stat(path: str | os.PathLike, executable: bool = False) -> tuple[bytes, os.stat_result] | None:
    """`read_unlinked`, with the `fstat` of the descriptor the bytes were read from (what the build cache
    records of a file it has verified)."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        info = os.fstat(descriptor)
        if not stat_module.S_ISREG(info.st_mode) or (executable and not info.st_mode & stat_module.S_IXUSR):
            return None
        return _read_to_end(descriptor, info.st_size), info
    finally:
        os.close(descriptor)


def _read_to_end(descriptor: int, size: int) -> bytes:
    """The bytes of an open file, as far as `size` (what `fstat` gave) or its end, whichever is first."""
    chunks = []
    while size > 0:
        chunk = os.read(descriptor, size)
        if not chunk:
            break
        chunks.append(chunk)
        size -= len(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def kind_of(mode: int) -> str:
    """What a non-regular file is, in the words of a message."""
    if stat_module.S_ISDIR(mode):
        return "it is a directory, not a file"
    if stat_module.S_ISFIFO(mode):
        return "it is a named pipe, not a file"
    if stat_module.S_ISSOCK(mode):
        return "it is a socket, not a file"
    if stat_module.S_ISCHR(mode) or stat_module.S_ISBLK(mode):
        return "it is a device, not a file"
    return "it is not a regular file"


class BoundedReader:
    """A binary file that ends where its size said it would (`read`, `seek` from the start, `close`)."""

    def __init__(self, handle: BinaryIO, size: int) -> None:
        self.handle, self.size, self.position = handle, size, 0

    def read(self, count: int = -1) -> bytes:
        left = self.size - self.position
        count = left if count is None or count < 0 else min(count, left)
        data = self.handle.read(count) if count > 0 else b""
        self.position += len(data)
        return data

    def seek(self, position: int) -> int:
        self.position = self.handle.seek(min(position, self.size))
        return self.position

    def close(self) -> None:
        self.handle.close()

    def __enter__(self) -> "BoundedReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class WriteError(Exception):
    """The file cannot be written (a read-only file or folder, a full disk): one line, exit 2."""


def stage(path: Path, data: bytes, mode: int, exact_mode: bool = False) -> Path:
    """Write `data` to a new temporary file beside `path` and return it (`commit` puts it in place).
    The file gets `mode` less the umask, as new files do, or exactly `mode` (`fmt` keeps a file's mode).
    (Not fsync'ed: that guards against power loss only, at a disk round trip per file.)"""
    temporary = path.with_name(_temporary_name(path.name))
    write_new(temporary, data, mode, path)
    if exact_mode:
        try:
            os.chmod(temporary, mode)
        except OSError as error:
            discard(temporary)
            raise WriteError(f"cannot write {path}: {_reason(error)}") from None
    return temporary


def _temporary_name(name: str) -> str:
    return f"{TEMPORARY}{_run()}-{os.getpid()}-{next(_counter)}-{name}"  # unique across the run's workers


def write_new(path: str | os.PathLike, data: bytes, mode: int, shown: str | os.PathLike | None = None) -> None:
    """Create the file `path` (it must not exist) holding `data`, with `mode` less the umask; on failure
    no file stays, and the WriteError names `shown` (the final name of what is being staged). Written
    straight to the descriptor: a file object around it cost a fifth of staging a build's small files."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), mode)
    except OSError as error:
        raise WriteError(f"cannot write {shown or path}: {_reason(error)}") from None
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(descriptor, view):]
        os.close(descriptor)
    except OSError as error:
        _close_quietly(descriptor)
        discard(path)
        raise WriteError(f"cannot write {shown or path}: {_reason(error)}") from None
    except BaseException:  # interrupted halfway: no half-written file stays
        _close_quietly(descriptor)
        discard(path)
        raise


def _close_quietly(descriptor: int) -> None:
    try:
        os.close(descriptor)
    except OSError:
        pass


def stage_folder(path: str) -> str:
    """Make a new, empty temporary folder beside the folder `path` (which does not exist yet) and return
    it: a build writes a new folder's files into it under their own names, and `commit_folder` puts the
    whole folder in place with one rename (one rename per folder instead of one per file)."""
    temporary = os.path.join(os.path.dirname(path), _temporary_name(os.path.basename(path)))
    try:
        os.mkdir(temporary)
    except OSError as error:
        raise WriteError(f"cannot create {path}: {_reason(error)}") from None
    return temporary


def commit_folder(temporary: str, path: str, files: list[str]) -> None:
    """Put a staged folder in place: one rename, or, when `path` appeared meanwhile (another build into
    the same folder got there first), each of its `files` (names relative to it, the last one last)
    renamed into it, as `commit` does for a single file."""
    try:
        os.replace(temporary, path)  # (a folder replaces only an empty folder)
        return
    except OSError as error:
        if not os.path.isdir(path) or os.path.islink(path):
            discard_folder(temporary)
            raise WriteError(f"cannot write {path}: {_reason(error)}") from None
    for name in files:
        target = os.path.join(path, name)
        if os.sep in name:
            try:
                os.makedirs(os.path.dirname(target), exist_ok=True)
            except OSError as error:
                discard_folder(temporary)
                raise WriteError(f"cannot create {os.path.dirname(target)}: {_reason(error)}") from None
        commit(Path(temporary, name), Path(target))
    discard_folder(temporary)


def discard_folder(temporary: str) -> None:
    """Remove a staged folder and what was written into it (files and the folders made for them; never
    followed through a link)."""
    try:
        entries = list(os.scandir(temporary))
    except OSError:
        return
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            discard_folder(entry.path)
        else:
            discard(Path(entry.path))
    try:
        os.rmdir(temporary)
    except OSError:
        pass


class interrupts_deferred:
    """Ctrl-C (SIGINT) held back until the block ends, then raised: the renames that put a build's files in
    place all happen, so that the build's output is all new rather than part new and part old. (Only in
    the main thread, where Python handles signals; elsewhere the block runs as it is.)"""

    def __enter__(self) -> "interrupts_deferred":
        import signal

        self.received = False
        try:
            self.previous = signal.signal(signal.SIGINT, self._hold)
        except ValueError:
            self.previous = None
        return self

    def _hold(self, signum: int, frame: object) -> None:
        self.received = True

    def __exit__(self, *exc: object) -> None:
        import signal

        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
        if self.received and exc[0] is None:
            raise KeyboardInterrupt


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


def remove_leftovers(folder: Path, including_mine: bool = False) -> None:
    """Temporary files and staged folders of runs that were killed before their rename (not those of a
    live process; this process's own too with `including_mine`, when it gives up its run)."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    mine = f"{TEMPORARY}{_run()}-"
    for entry in entries:
        if entry.name.startswith(TEMPORARY) and (
                not _made_by_live_process(entry.name) or (including_mine and entry.name.startswith(mine))):
            if entry.is_dir(follow_symlinks=False):  # a staged folder (`stage_folder`)
                discard_folder(entry.path)
            else:
                discard(Path(entry.path))


def _made_by_live_process(name: str) -> bool:
    pid = name[len(TEMPORARY):].partition("-")[0]
    if not pid.isdigit():
        return False
    if int(pid) == _run():
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
