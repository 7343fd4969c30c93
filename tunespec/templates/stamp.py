"""What a build knows about the files it wrote: one `.tunespec-stamp` per output folder, so that a build
whose inputs have not changed renders nothing (and does not even import Jinja2).

A target's files for one variant are a function of three things: the variant (its IR document, name,
experiment, source file and run folder: all that `render.variant_context` reads), the target (its
templates and declaration, and tunespec's own rendering code beside them) and where the folder is (the
paths from the root to it and back). The stamp holds a digest of all three and the SHA-256 of each file
the render produced. When a later build finds the same digest and every listed file still holding the
listed bytes (read and hashed: an edited, removed or replaced file is caught, whatever its timestamps say),
the folder is up to date. Anything else — no stamp, another digest, a changed file — renders the target as
before, compares every file and rewrites only those that differ, and stages a new stamp, which is
committed after the files (an interrupted commit leaves an old stamp whose digests no longer match).

The stamp is tunespec's bookkeeping, never a job spec: it is not counted as written or unchanged, `--check`
does not compare it, and code that looks for files a target does not write treats `STAMP` as its own.
Its content is deterministic (no times, no inode numbers): two builds of the same input write the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from tunespec import __version__
from tunespec.files import STAMP, read_unlinked_stat
from tunespec.templates.targets import BUILTIN, Target

FORMAT = 1

_trees: dict[str, str] = {}

# One encoder for each of the stamp's JSON values: `json.dumps` with any option makes a new `JSONEncoder` per
# call, which cost more than the encoding itself (a string's: 1.2 µs of 1.3; 14 ms of CPU for the 11,613
# file names of the benchmark's fresh build, 1.5 ms this way). The text is the same as `json.dumps`'s.
_VALUE = json.JSONEncoder(ensure_ascii=False, allow_nan=False)
_INPUTS = json.JSONEncoder(sort_keys=True, ensure_ascii=False, default=repr, separators=(",", ":"))


def tree_digest(folder: Path) -> str:
    """SHA-256 of every file under `folder` (names and bytes, in sorted order; bytecode caches left out),
    once per process and folder."""
    key = str(folder)
    found = _trees.get(key)
    if found is None:
        digest = hashlib.sha256()
        for path in sorted(p for p in folder.rglob("*") if "__pycache__" not in p.parts and p.is_file()):
            data = path.read_bytes()
            digest.update(f"{path.relative_to(folder).as_posix()}\0{len(data)}\0".encode("utf-8", "surrogateescape"))
            digest.update(data)
        found = _trees[key] = digest.hexdigest()
    return found


def target_digest(target: Target) -> str:
    """The target's templates and declaration, and tunespec's rendering code: the built-in targets' folder
    holds both (and built-in templates may include one another's); a user's target adds its own folder."""
    parts = [__version__, tree_digest(BUILTIN)]
    if target.sandboxed:  # a --template-dir target; the built-in ones are never sandboxed
        parts.append(tree_digest(Path(target.folder)))
    return "\0".join(parts)


def variant_digest(inputs: tuple) -> str:
    """Everything rendering reads from a variant (`ir.variant_inputs`), as one digest."""
    text = _INPUTS.encode(list(inputs))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def key(variant: str, target: Target, from_root: str, to_root: str) -> str:
    """The digest a stamp must hold for the folder of `target` for the variant whose digest is `variant`."""
    text = "\0".join((f"tunespec-stamp {FORMAT}", variant, target.name, target_digest(target), from_root, to_root))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def content(key: str, files: dict[str, bytes], executable: set[str], names: tuple) -> bytes:
    """The stamp of a folder whose target rendered `files` ({name: bytes}) for the digest `key`; `names`
    are the target's `unique` names for the variant (`render.unique_names`), kept so that an up-to-date
    folder still takes part in the run's check that no two variants share one. One line per entry, each
    value in JSON (file names and names may hold any character):

        tunespec-stamp 1
        key <digest>
        file <sha-256> <1 if executable, else 0> <name>
        name [<target>, <value>]
    """
    lines = [f"tunespec-stamp {FORMAT}", f"key {key}"]
    for name in sorted(files):
        digest = hashlib.sha256(files[name]).hexdigest()
        lines.append(f"file {digest} {int(name in executable)} {_VALUE.encode(name)}")
    lines += [f"name {_VALUE.encode(list(pair))}" for pair in names]
    return ("\n".join(lines) + "\n").encode("utf-8", "surrogatepass")


class Fresh:
    """An up-to-date folder: the files its stamp lists (names) and the target's unique names; `tidy` when
    the folder is known to hold no temporary file of a killed run (`known.Known.trusted`)."""

    __slots__ = ("files", "names", "tidy")

    def __init__(self, files: list[str], names: tuple, tidy: bool = False) -> None:
        self.files = files
        self.names = names
        self.tidy = tidy


def fresh(folder: str, key: str, known=None) -> Fresh | None:
    """The folder's stamp when it holds `key` and every file it lists is a regular file (not a link) with
    the listed bytes and, for a script, still executable; else None (render the target). A stamp that
    cannot be read as one is no stamp. With `known` (a `known.Known`, the cache's), a folder whose
    signatures are unchanged since it was last verified is trusted unread, and one verified here is
    recorded."""
    if known is not None:
        found = known.trusted(folder, key)
        if found is not None:
            return found
        from tunespec.templates.known import now

        since = now()
        try:
            folder_info = os.lstat(folder)  # (before anything in it is read)
        except OSError:  # no folder, so no stamp to read (a new variant's targets before its folder is made)
            known.forget(folder)
            return None
    found = read_unlinked_stat(os.path.join(folder, STAMP))
    verified = _verified(folder, key, found[0]) if found is not None else None
    if known is not None:
        if verified is None:
            known.forget(folder)
        else:
            known.record(folder, key, since, folder_info, found[1], *verified)
    return Fresh([name for name, _ in verified[0]], verified[1]) if verified is not None else None


def _verified(folder: str, key: str, data: bytes) -> tuple[list, tuple, str | None] | None:
    """The files (name, `fstat` of the bytes read), names and the source the files' mark names of a stamp
    whose files all hold the listed bytes; None when one does not, or the stamp is not one for `key`."""
    try:
        lines = data.decode("utf-8", "surrogatepass").split("\n")
        if lines[:2] != [f"tunespec-stamp {FORMAT}", f"key {key}"] or lines[-1] != "":
            return None
        files, names, source = [], [], None
        for line in lines[2:-1]:
            kind, _, rest = line.partition(" ")
            if kind == "file":
                digest, executable, name = rest.split(" ", 2)
                name = json.loads(name)
                if not isinstance(name, str) or os.sep in name or name in ("", ".", "..") or executable not in "01":
                    return None
                found = read_unlinked_stat(os.path.join(folder, name), executable=executable == "1")
                if found is None or hashlib.sha256(found[0]).hexdigest() != digest:
                    return None
                files.append((name, found[1]))
                if source is None:
                    source = mark_source(found[0][:MARK_LIMIT].decode("utf-8", "replace"))
            elif kind == "name":
                pair = json.loads(rest)
                if not isinstance(pair, list) or len(pair) != 2 or isinstance(pair[1], (list, dict)):
                    return None
                names.append(tuple(pair))
            else:
                return None
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    return files, tuple(names), source


# The mark every built-in target writes in its files: a header `Generated by tunespec from SOURCE
# (experiment NAME); do not edit.`, or in the JSON IR `"source": SOURCE` beside `"apiVersion": "tunespec/v1"`.
# `orphans` judges a folder by the source it names; a folder verified here keeps it in the cache (`known`).
HEADER = r"Generated by tunespec from (.*) \(experiment [A-Za-z_][A-Za-z0-9_-]*\); do not edit\."
JSON_SOURCE = r'"source":\s*("(?:[^"\\\n]|\\.)*")'
MARK_LIMIT = 4096  # the mark is in the first lines


def mark_source(head: str) -> str | None:
    """The source file the mark in `head` (a file's first `MARK_LIMIT` bytes, decoded) names, or None."""
    import re

    match = re.search(HEADER, head)
    if match:
        return match.group(1)
    if '"apiVersion": "tunespec/v1"' in head:
        match = re.search(JSON_SOURCE, head)
        if match:
            try:
                return json.loads(match.group(1))
            except ValueError:
                return None
    return None
