"""Which files a change concerns: every `.tune` file of the project that imports a changed file, directly
or through other files.

pre-commit passes only the changed files. A preset's file changes nothing by itself — the experiments that
import it change — so `lint` and `build --check` given `common/base.tune` must also cover every experiment
that imports it, or a new learning rate in a preset is committed unchecked and its specs go stale.

The project is the folder of the nearest project marker above each named file (as for imports:
`tunespec.toml`, `pyproject.toml`, `.git`). Its `.tune` files are searched for `import` lines with a regular
expression (cheap: most files are not read past that); a file whose import line names a changed file is
parsed with the real parser to confirm it, so a line inside a `\"\"\"` string never counts. The reverse
import graph is walked until nothing new is found.

What each file's import lines name is kept in the project's cache (`tunespec.cache`) with the file's
modification time, size, inode and change time: the next run reads only the files whose `stat` differs,
and the search of a 1,000-file project is a walk and a `stat` per file (which finding the file's identity
takes anyway) instead of reading every file.
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

from tunespec.cache import RACY_NS  # a file changed this recently: its imports are not cached
# (at the top, not in `_imports`: importing a name from a module inside a function called per file cost a
# first hook run in a 1,000-file project 7.7M instructions: Python formats an AttributeError each time)
from tunespec.files import read_regular

TYPE_CHECKING = False
if TYPE_CHECKING:  # (typing, for type checkers only, is not imported at run time)
    from typing import Iterable

# `import "path"` in the bytes of a file: the pattern starts with its literal word, which the regular
# expression engine finds with a fast scan (a pattern that starts with "line start or a separator" is tried
# at every character, and cost a cold hook run 10 ms per 1,000 files); the separator before it is checked
# apart (IMPORT_PRECEDERS). The path is written "unrolled", runs of plain characters between escapes, each
# run matched without backtracking: an alternation tried per character cost a first hook run in a
# 1,000-file project 4.5M instructions more (callgrind); a test holds it to the plain form.
IMPORT_WORD = rb'import[ \t\r\n\f\v]*+"([^"\\\n]*+(?:\\.[^"\\\n]*+)*+)"'  # compiled by `re` when a file is read
IMPORT_PRECEDERS = frozenset(b" \t\r\n\f\v;{}")
# The cache entry of the import lines found (the name says the format of its data, see `_scan`).
IMPORTS_CACHE = "imports-4"  # (paths, their stamps, what each imports): see `_scan`
IMPORTERS_CACHE = "importers-1"  # (paths, their stamps' hash, who imports each file)
FOLDERS_CACHE = "folders-1"  # {folder: (stamp, its .tune files, the folders below it that are walked)}


def dependents(named: Iterable[str], cwd: Path, excluder=None, skip: Iterable[Path] = ()) -> list[tuple[str, str]]:
    """The `.tune` files that import one of the files `named` (transitively), as (path, display) pairs in
    path order, excluding those named; the project's files are those `excluder` (`discovery.Excluder`:
    the exclude patterns and .gitignore) leaves. The project is walked whole (hidden folders aside) and
    only the importers found are asked about: a commit that changes no imported file never pays for
    reading `.gitignore` files and importing pathspec. The folders `skip` (the output folder, thousands of
    generated files and no importer) are not walked."""
    from tunespec.compiler.loader import identity, project_root

    cwd = cwd.absolute()
    changed: dict[object, str] = {}
    roots: set[Path] = set()
    for name in named:
        if not name.endswith(".tune") or not os.path.isfile(name):
            continue
        absolute = Path(os.path.normpath(cwd / name))
        changed[identity(absolute)] = name
        # no marker above: the current folder if the file is in it, else the file's own folder
        inside = absolute.is_relative_to(cwd)
        roots.add(project_root(absolute.parent, cwd if inside else absolute.parent))
    if not changed:
        return []
    skipped = frozenset(os.path.normpath(cwd / folder) for folder in skip)
    scans = [(root, _scan(root, skipped, len(roots) > 1)) for root in sorted(roots)]
    if len(scans) == 1:  # (the common case: the imports map comes whole from the cache when nothing changed)
        only_root, (_, _, _, imported) = scans[0]
        root_of: dict[str, Path] = {}
    else:
        only_root = None
        imported, root_of = _merged(scans)
    graph: dict[object, list[str]] = {}  # identity of an imported file -> the files importing it
    for target, importers in imported.items():  # one `stat` per file imported: most import the same few
        graph.setdefault(identity(target), []).extend(importers)
    found: dict[object, str] = {}
    frontier = list(changed)
    while frontier:
        key = frontier.pop()
        for importer in graph.get(key, ()):
            importer_key = identity(importer)
            if importer_key in changed or importer_key in found:
                continue
            if excluder is not None and excluder.excluded_below(importer, str(root_of.get(importer, only_root))):
                continue
            if not _confirmed(importer, key):
                continue
            found[importer_key] = importer
            frontier.append(importer_key)
    shown = [(path, _display(path, cwd)) for path in found.values()]
    return sorted(shown, key=lambda pair: pair[1])


def _scan(root: Path, skipped: frozenset[str], whole: bool = False) -> tuple[list[str], list, list | None, dict]:
    """The `.tune` files of the project at `root` as (paths, their `stat`s (None: gone since the walk),
    the files each one's import lines name, and who imports each such file: `_merged`'s map): the import
    lines from the project's cache where the file's `stat` is what the cache says, else read; the cache is
    written again when anything in it changed. The files' imports are None when the map came whole from
    the cache, unless `whole` (several projects' maps are to be merged).

    The cache holds two entries. IMPORTS_CACHE: the paths in walk order, a stamp for each (None: changed
    too recently to be believed, git's racy rule) and the files each imports. IMPORTERS_CACHE, written
    when every file had a stamp: the paths, the hash of their stamps and the map. When the walk finds the
    same paths with the same stamps, the map is used as it is: a run in an unchanged project does a `stat`
    per file, hashes the stamps and compares the paths, with no Python code per file (the loop per file
    that checked each file's entry and gathered its imports cost a hook run in a 1,000-file project 8M
    instructions of its 153M), and loads neither the stamps nor each file's imports (1.4M).

    A stamp is the hash of the file's modification time, size, inode, change time and device, and the
    stamps' hash is one more: one number loads faster than many (a false match needs a change that keeps a
    64-bit hash; changing one stamp always changes the tuple hash, whose steps are one-to-one; and the cache
    is written by this Python version only, whose hash of ints and tuples does not vary between runs). The
    inode and device make a stamp the file's identity too, which the map depends on."""
    from tunespec import cache

    settled = time.time_ns() - RACY_NS
    listing = _tune_files(str(root), skipped, settled)
    paths = [path for _, files in listing for path in files]
    infos, stamps = _stamped(paths)
    digest = hash(tuple(stamps))
    whole_map = cache.load(root, IMPORTERS_CACHE)
    if not whole and type(whole_map) is tuple and len(whole_map) == 3 and whole_map[1] == digest \
            and type(whole_map[2]) is dict and whole_map[0] == paths:
        return paths, infos, None, whole_map[2]
    known = cache.load(root, IMPORTS_CACHE)
    imports = _kept_imports(known, paths, stamps)
    index = 0
    for folder, files in listing:  # (each file with its folder: `dirname` per file cost a first run 5M instructions)
        for path in files:
            if imports[index] is None:  # (a file changed since the cache was written, or new, or gone)
                info = infos[index]
                imports[index] = [] if info is None else _imports(path, folder, info)
                if info is None or (info.st_mtime_ns or settled) >= settled:  # (no time: a bare tuple's stat)
                    stamps[index] = None  # not kept: read again next time
            index += 1
    imported = _merged([(root, (paths, infos, imports, None))])[0]
    entry = (paths, stamps, imports)
    # (a run that found nothing settled and no entry to replace makes no cache folder: a build's --no-cache)
    if entry != known and (type(known) is tuple or stamps.count(None) < len(stamps)):
        cache.store(root, IMPORTS_CACHE, entry)
    if stamps and None not in stamps:  # (then `digest` is still their hash)
        entry = (paths, digest, imported)
        if entry != whole_map:
            cache.store(root, IMPORTERS_CACHE, entry)
    return paths, infos, imports, imported


def _kept_imports(known: object, paths: list[str], stamps: list[int | None]) -> list[list[str] | None]:
    """What the cache `known` says each file imports where the file's stamp is what the cache says, None
    where the file must be read. When the walk found the paths the cache lists (a few files edited since),
    the stamps are compared in C (`map`, `compress`): a run after an edit then costs little more than one
    with nothing changed."""
    if not (type(known) is tuple and len(known) == 3 and all(type(part) is list for part in known)
            and len(known[0]) == len(known[1]) == len(known[2])):
        return [None] * len(paths)
    if known[0] == paths:
        from itertools import compress
        from operator import ne

        imports = known[2][:]
        for index in compress(range(len(paths)), map(ne, stamps, known[1])):
            imports[index] = None
        if None in stamps:  # (a file gone since the walk: its None matches a None, a file not settled)
            for index, stamp in enumerate(stamps):
                if stamp is None:
                    imports[index] = None
    else:
        previous = dict(zip(known[0], zip(known[1], known[2])))
        imports = [None] * len(paths)
        for index, path in enumerate(paths):
            entry = previous.get(path)
            if entry is not None and entry[0] == stamps[index] and stamps[index] is not None:
                imports[index] = entry[1]
    return [targets if type(targets) is list else None for targets in imports]


def _stamped(paths: list[str]) -> tuple[list, list[int | None]]:
    """Each file's `stat` (None when it is gone) and stamp (`_scan`), in two comprehensions (no Python
    function call or `try` per file)."""
    stat = os.stat
    try:
        infos = [stat(path) for path in paths]
    except (OSError, ValueError):  # gone since the walk (rare): file by file
        infos = [_stat_or_none(path) for path in paths]
        return infos, [None if info is None else _stamp(info) for info in infos]
    return infos, [hash((info.st_mtime_ns, info.st_size, info.st_ino, info.st_ctime_ns, info.st_dev))
                   for info in infos]


def _stamp(info: os.stat_result) -> int:
    return hash((info.st_mtime_ns, info.st_size, info.st_ino, info.st_ctime_ns, info.st_dev))


def _stat_or_none(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)
    except (OSError, ValueError):
        return None


def _merged(scans: list[tuple[Path, tuple]]) -> tuple[dict[str, list[str]], dict[str, Path]]:
    """Who imports each file, by its path as the import lines write it (normalised), and each importer's
    project root, from `_scan`'s answers: a file found twice (a hard link, a project inside another) counts
    once, under the first path found."""
    imported: dict[str, list[str]] = {}
    root_of: dict[str, Path] = {}
    files: set[object] = set()
    for root, (paths, infos, imports, _) in scans:
        for path, info, targets in zip(paths, infos, imports):
            key = os.path.abspath(path) if info is None else (info.st_dev, info.st_ino)  # (as loader.identity)
            if key in files:
                continue
            files.add(key)
            root_of[path] = root
            for target in targets:
                importers = imported.get(target)
                if importers is None:
                    imported[target] = [path]
                else:
                    importers.append(path)
    return imported, root_of


def _tune_files(root: str, skipped: frozenset[str], settled: int) -> list[tuple[str, list[str]]]:
    """`loader.find_tune_files(root)` less the folders `skipped` (the same files in the same order), as
    (folder, its files) pairs (a file read for its import lines needs its folder), each folder's listing taken from the project's cache while the folder's stamp (modification and change
    time, inode) is what the cache says: adding, removing or renaming an entry changes its folder's
    times, and a change inside a file is its own stamp's business. Listing every folder again cost a hook
    run 7.7M instructions per 2,000 entries."""
    from tunespec import cache
    from tunespec.compiler.loader import folder_listing

    known = cache.load(root, FOLDERS_CACHE)
    known = known if isinstance(known, dict) else {}
    fresh: dict[str, tuple] = {}
    found: list[tuple[str, list[str]]] = []
    pending = [root]  # depth first, each folder's files before the folders below it (find_tune_files' order)
    while pending:
        folder = pending.pop()
        try:
            info = os.stat(folder)  # before listing: a change made meanwhile is seen next time
        except (OSError, ValueError):
            continue
        stamp = hash((info.st_mtime_ns, info.st_ctime_ns, info.st_ino))
        entry = known.get(folder)
        if type(entry) is tuple and len(entry) == 3 and entry[0] == stamp:
            listed = entry[1], entry[2]
        else:
            listed = folder_listing(folder)
            if listed is None:
                continue
        if (info.st_mtime_ns or settled) < settled:
            fresh[folder] = (stamp, *listed)
        files, folders = listed
        if files:
            found.append((folder, files))
        pending.extend(reversed([path for path in folders if path not in skipped]))
    if fresh != known:
        cache.store(root, FOLDERS_CACHE, fresh)
    return found


def _imports(path: str, folder: str, info: os.stat_result | None = None) -> list[str]:
    """The files `path`'s import lines name (normalised, relative to `folder`, the file's); none when
    unreadable. `info`: its `stat`, just taken."""
    global _import_lines
    try:
        data = read_regular(path, info)
    except (OSError, ValueError):
        return []
    if b"import" not in data:
        return []
    if _import_lines is None:
        _import_lines = re.compile(IMPORT_WORD).finditer
    targets = []
    for match in _import_lines(data):
        start = match.start()
        if start and data[start - 1] not in IMPORT_PRECEDERS:
            continue
        raw = match.group(1).decode("utf-8", "replace")
        if "\\" in raw:  # JSON escapes, rare in a path: decoded as the parser decodes them
            import json

            try:
                raw = json.loads(f'"{raw}"')
            except ValueError:
                continue
        target = _target(folder, raw) if isinstance(raw, str) else None
        if target is not None:
            targets.append(target)
    return targets


# IMPORT_WORD's finditer, compiled when the first file is read (a cache miss); `re.finditer` would look the
# pattern up in re's cache for each file.
_import_lines = None
_TARGETS: dict[tuple[str, str], str | None] = {}  # (folder, path as written) -> `_target`'s answer


def _target(folder: str, written: str) -> str | None:
    """The `.tune` file an import line in `folder` names, normalised and interned (the files most import are
    one string each, kept and loaded from the cache once); None for another kind of file or an absolute
    path. Worked out once per folder and name: the project's files import the same few from the same few
    folders, and `normpath` and `isabs` are Python code (`normpath` per file cost a first hook run in a
    1,000-file project 7.5M instructions; `dirname`, `isabs` and re's cache lookup per file 11M, callgrind)."""
    key = (folder, written)
    try:
        return _TARGETS[key]
    except KeyError:
        found = None
        if written.endswith(".tune") and not os.path.isabs(written):
            found = sys.intern(os.path.normpath(os.path.join(folder, written)))
        _TARGETS[key] = found
        return found


def _confirmed(path: str, target: object) -> bool:
    """Whether `path`, parsed, really imports the file `target` (not a line inside a string)."""
    from tunespec.compiler.ast import parse_module
    from tunespec.compiler.loader import identity, read_text
    from tunespec.grammar import SyntaxProblem

    text, problem = read_text(path)
    if text is None:
        return False
    try:
        module = parse_module(text, path)
    except SyntaxProblem:
        # A file that does not parse cannot be shown to import anything; the regular expression's answer
        # stands, so that it is linted (and its TS001 reported) rather than skipped.
        return True
    folder = os.path.dirname(path)
    return any(identity(os.path.normpath(os.path.join(folder, node.path.value))) == target
               for node in module.imports)


def _display(path: str, cwd: Path) -> str:
    return os.path.relpath(path, cwd)


def with_dependents(paths: list[str], cwd: Path, excluder=None, skip: Iterable[Path] = ()) -> list[str]:
    """`paths` and, after them, the files that import the files among them (folders are searched already)."""
    named = [path for path in paths if path != "-" and not os.path.isdir(path)]
    return [*paths, *(display for _, display in dependents(named, cwd, excluder, skip))]
