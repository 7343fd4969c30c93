"""Reading files and following imports: each file is read and parsed once per run.

Everything that can go wrong with a file (it is missing, not UTF-8, not a file, not valid `.tune`) or
with an import (absent, absolute, outside the project, a cycle, a name clash) becomes a finding here;
nothing raises past `load`.
"""

from __future__ import annotations

import os
import re
import stat
from collections import deque
from pathlib import Path
TYPE_CHECKING = False
if TYPE_CHECKING:  # (typing, for type checkers only, is not imported at run time)
    from typing import Callable, Iterable

from tunespec import codes
from tunespec.record import Factory, Record
from tunespec.compiler.ast import Declaration, Import, Module, parse_module
from tunespec.location import Location, Span
from tunespec.diagnostics import Finding
from tunespec.files import NotAFile, kind_of, read_regular
from tunespec.grammar import SyntaxProblem

PROJECT_MARKERS = ("pyproject.toml", "tunespec.toml", ".git")
FILE_START = Span(1, 1, 1, 1)
# A file this large (in characters) read for a lint is parsed in outline (`Program(outline=True)`): its
# syntax tree, about 8 bytes per source byte, would be held whole from the parse to the checks of its last
# declaration, where in outline it is one declaration's at a time, parsed again when it is checked. That
# costs a second parse (lint -j1 of the benchmark's 10 MB file: 9.6 -> 13.3 s CPU, peak memory 12 -> 6.6
# bytes per source byte); below this size, what a batch of files holds is bounded by the batch, and the
# time is kept.
OUTLINE_SIZE = 256 * 1024


class SourceFile(Record, eq=False):
    path: Path  # absolute and normalised, symlinks kept
    display: str  # how diagnostics name it
    text: str | None = None
    module: Module | None = None
    imports: list["ImportLink"] = Factory(list)
    scope_cache: "Scope | None" = None

    @property
    def parsed(self) -> bool:
        return self.module is not None

    def location(self, span: Span) -> Location:
        return Location(self.display, span)


class ImportLink(Record, eq=False):
    node: Import
    target: SourceFile | None  # None when the import failed (TS006)
    closes_cycle: bool = False  # TS007: its names stay visible, but the import counts as failed

    @property
    def usable(self) -> bool:
        return self.target is not None and self.target.parsed


class DeclRef(Record):
    """A declaration and the file that holds it (whose scope its `extends` is looked up in)."""

    decl: Declaration
    file: SourceFile

    @property
    def location(self) -> Location:
        return self.file.location(self.decl.name.span)


class Scope(Record):
    names: dict[str, DeclRef]
    complete: bool  # False when an import failed: a missing name may live in the file that failed


class Program:
    """The files of one run: those named on the command line (roots) and all they import."""

    def __init__(self, cwd: Path | None = None, buffers: dict | None = None, run: dict | None = None,
                 outline: bool = False) -> None:
        self.cwd = (cwd or Path.cwd()).absolute()
        self.outline = outline  # a large file's declarations' bodies are not held (`OUTLINE_SIZE`)
        # What the run's earlier batches learnt (the runner passes one dict to every batch of a process):
        # where each import leads, and every file that something imports, read, parsed and linked to what
        # it imports. A file that many batches import — a preset library, the next file of an import
        # chain — is then found, read and parsed once per run, not once per batch, and a batch does not
        # walk again what earlier batches walked. Files only named on the command line are not kept, so
        # that memory stays bounded by a batch.
        run = run if run is not None else {}
        self.imports: dict[tuple[Path, str], tuple] = run.setdefault("imports", {})  # -> (path, key, display), reason
        self.shared: dict[object, SourceFile] = run.setdefault("files", {})  # identity -> imported file
        self.shown: dict[str, SourceFile] = run.setdefault("shown", {})  # display -> imported file
        self.shared_ids: set[int] = run.setdefault("shared ids", set())
        self.searched: set[int] = run.setdefault("searched for cycles", set())  # ids of shared files
        self._keys: dict[int, object] = {}  # id(source) -> identity, for the files this program registered
        self._read: set[int] = set()
        self._to_share: set[int] = set()  # imported, not read yet
        # Texts read in place of the files at these paths (an editor's unsaved buffers), by absolute path.
        self.buffers = {Path(os.path.normpath(self.cwd / path)): text for path, text in (buffers or {}).items()}
        self.files: dict[object, SourceFile] = {}
        self.roots: list[SourceFile] = []
        self.findings: list[Finding] = []
        self._project_roots: dict[Path, Path] = {}
        self._pending: deque[SourceFile] = deque()
        self._followed: dict[tuple[Path, str], tuple[SourceFile | None, str | None]] = {}

    # --- loading ------------------------------------------------------------------------------------

    def add_root(self, path: str | os.PathLike, display: str) -> SourceFile:
        source = self._file(path, display)
        if source not in self.roots:
            self.roots.append(source)
        self._load_pending()
        return source

    def _file(self, path: str | os.PathLike, display: str | None = None) -> SourceFile:
        """The file at `path`, registered once; reading waits for `_load_pending` (no recursion)."""
        absolute = Path(os.path.normpath(self.cwd / path))
        return self._registered(absolute, identity(absolute), display or self._display(absolute))

    def _registered(self, absolute: Path, key: object, display: str) -> SourceFile:
        source = self.files.get(key)
        if source is None:
            source = self.shared.get(key)
            if source is not None and source.display == display and absolute not in self.buffers:
                self.files[key] = source  # read, parsed and linked by an earlier batch
                return source
            source = SourceFile(absolute, display)
            self.files[key] = source
            self._keys[id(source)] = key
            self._pending.append(source)
        return source

    def _share(self, source: SourceFile) -> None:
        """Keep an imported file (read) for the run's later batches."""
        key = self._keys.get(id(source))
        if key is not None and key not in self.shared and source.path not in self.buffers:
            self.shared[key] = source
            self.shared_ids.add(id(source))
            self.shown[source.display] = source

    def sources(self, displays: Iterable[str]) -> list[SourceFile]:
        """This batch's files and the run's imported files that diagnostics name (their `# noqa` comments
        and lines are needed even when an earlier batch read them)."""
        found = {id(source): source for source in self.files.values()}
        for display in displays:
            source = self.shown.get(display)
            if source is not None:
                found.setdefault(id(source), source)
        return list(found.values())

    def release(self) -> None:
        """Forget the scopes of the files only this program read (a shared file's serves later batches).
        A scope refers back to its file (each name's declaration with the file that holds it), so without
        this a lint's syntax trees would outlive the batch until the next garbage collection, which the
        runner pauses while a batch runs."""
        for source in self.files.values():
            if id(source) not in self.shared_ids:
                source.scope_cache = None

    def _load_pending(self) -> None:
        while self._pending:
            source = self._pending.popleft()
            self._read_and_parse(source)
            if id(source) in self._to_share:
                self._share(source)

    def _display(self, absolute: Path) -> str:
        return os.path.relpath(absolute, self.cwd)

    def _read_and_parse(self, source: SourceFile) -> None:
        text, module, problem = self._read_and_parse_text(source)
        source.text, source.module = text, module
        self._read.add(id(source))
        if problem is not None:
            code, span, message, help = problem
            self.findings.append(Finding(code, source.location(span), message, help))
        for node in module.imports if module is not None else ():
            source.imports.append(ImportLink(node, self._follow(source, node)))

    def _read_and_parse_text(self, source: SourceFile) -> tuple:
        """(text, module, problem): the problem is (code, span, message, help) of a TS014 or TS001."""
        buffer = self.buffers.get(source.path)
        text, problem = (normalised(buffer), None) if buffer is not None else (None, None)
        if buffer is None and os.path.islink(source.path):
            problem = link_problem(source.path, self.project_root(source.path.parent), self.cwd)
            problem = problem and f"cannot read the file: {problem}"
        if buffer is None and problem is None:
            text, problem = read_text(source.path)
        if problem is not None:
            return None, None, (codes.UNREADABLE_FILE, FILE_START, problem, None)
        try:
            return text, parse_module(text, source.display, self.outline and len(text) >= OUTLINE_SIZE), None
        except SyntaxProblem as error:
            span = Span(error.line, error.column, error.end_line, error.end_column)
            return text, None, (codes.SYNTAX_ERROR, span, error.message, error.help)

    def _follow(self, importer: SourceFile, node: Import) -> SourceFile | None:
        raw = node.path.value
        key = (importer.path.parent, raw)
        if key not in self._followed:  # a thousand files importing one preset file look it up once
            self._followed[key] = self._target(importer, raw)
        target, reason = self._followed[key]
        if reason is not None:
            help = _near_file(importer.path.parent, raw) if reason.endswith("no such file") else None
            if help is not None:
                reason = f"{reason} (resolved to `{_shown_path(importer.path.parent / raw, self.cwd)}`)"
            self.findings.append(Finding(codes.BAD_IMPORT, importer.location(node.path.span), reason,
                                         help or _import_help(raw)))
        return target

    def _target(self, importer: SourceFile, raw: str) -> tuple[SourceFile | None, str | None]:
        key = (importer.path.parent, raw)
        found = self.imports.get(key)
        if found is None:
            target, reason = self._target_path(importer, raw)
            found = self.imports[key] = (target and (target, identity(target), self._display(target)), reason)
        place, reason = found
        if place is None:
            return None, reason
        source = self._registered(*place)
        if id(source) in self._read:
            self._share(source)
        else:
            self._to_share.add(id(source))
        return source, None

    def _target_path(self, importer: SourceFile, raw: str) -> tuple[Path | None, str | None]:
        reason = self._import_problem(importer, raw)
        if reason is None:
            target = Path(os.path.normpath(importer.path.parent / raw))
            reason = _unreadable(target)
            if reason is None:
                return target, None
        return None, reason

    def _import_problem(self, importer: SourceFile, raw: str) -> str | None:
        if os.path.isabs(raw) or raw.startswith("~"):
            return f"cannot import `{raw}`: the path is absolute; imports are relative to the importing file"
        if not raw.endswith(".tune"):
            return f"cannot import `{raw}`: not a `.tune` file"
        target = Path(os.path.normpath(importer.path.parent / raw))
        root = self.project_root(importer.path.parent)
        if not _is_within(target, root):
            shown = os.path.relpath(root, self.cwd)
            return (f"cannot import `{raw}`: it leaves the project root `{shown}` "
                    f"(the nearest folder above holding {', '.join(PROJECT_MARKERS)})")
        problem = link_problem(target, root, self.cwd)
        if problem is not None:
            return f"cannot import `{raw}`: {problem}"
        return None

    def project_root(self, folder: Path) -> Path:
        """The nearest folder at or above `folder` with a project marker; else the current directory."""
        if folder not in self._project_roots:
            self._project_roots[folder] = project_root(folder, self.cwd)
        return self._project_roots[folder]

    # --- after loading: cycles and scopes ------------------------------------------------------------

    def check_import_cycles(self) -> None:
        """TS007, once per cycle, at the import that closes it when the cycle is walked from its first file."""
        for cycle in _cycles(self.roots, self.searched, self.shared_ids):
            ordered = _rotate_to_smallest(cycle)
            closing_file = ordered[-1]
            link = next(link for link in closing_file.imports if link.target is ordered[0])
            link.closes_cycle = True
            names = " → ".join(f.display for f in (*ordered, ordered[0]))
            self.findings.append(Finding(
                codes.IMPORT_CYCLE, closing_file.location(link.node.path.span), f"import cycle: {names}",
                "remove one of these imports; move what both files need into a third file",
            ))

    def scope(self, source: SourceFile) -> Scope:
        """What `source` can name: its own declarations and those of the files it imports directly."""
        if source.scope_cache is None:
            source.scope_cache = self._build_scope(source)
        return source.scope_cache

    def _build_scope(self, source: SourceFile) -> Scope:
        names: dict[str, DeclRef] = {}
        complete = True
        for item in source.module.items if source.module else ():
            if isinstance(item, Declaration):
                self._declare(names, DeclRef(item, source), source, None)
                continue
            link = next(link for link in source.imports if link.node is item)
            complete = complete and not link.closes_cycle
            if not link.usable:
                complete = False
                continue
            for decl in link.target.module.declarations:
                self._declare(names, DeclRef(decl, link.target), source, link)
        return Scope(names, complete)

    def _declare(self, names: dict[str, DeclRef], ref: DeclRef, scope_file: SourceFile,
                 via: ImportLink | None) -> None:
        name = ref.decl.name.value
        first = names.get(name)
        if first is None:
            names[name] = ref
            return
        if via is None or first.file is ref.file:
            where = ref.location  # the second declaration's own name
        else:
            where = scope_file.location(via.node.path.span)  # the import that brings the second one in
        self.findings.append(Finding(
            codes.DUPLICATE_NAME, where,
            f"`{name}` is declared twice: at {first.location} and at {ref.location}",
            "presets, experiments and model declarations share one namespace; rename one of them",
        ))


def project_root(folder: Path, default: Path) -> Path:
    """The nearest folder at or above `folder` holding a project marker; else `default`."""
    return next((parent for parent in (folder, *folder.parents)
                 if any((parent / marker).exists() for marker in PROJECT_MARKERS)), default)


def link_problem(path: str | os.PathLike, root: Path, cwd: Path) -> str | None:
    """Why a file may not be read because symbolic links lead it out of its project, or None.

    Confinement is by the resolved path: a link inside the project (`secret.tune -> ../../etc/...`, a
    folder `shared -> /elsewhere`) must not carry a read outside the project root, where a diagnostic
    would echo what it found (TS001 quotes the line it fails on)."""
    try:
        real_root, real = os.path.realpath(root), os.path.realpath(path)
    except ValueError:  # a NUL character: no such file, which the read reports
        return None
    if real == real_root or real.startswith(os.path.join(real_root, "")):
        return None
    return (f"through a symbolic link it leads outside the project root `{os.path.relpath(root, cwd)}`, "
            "which tunespec does not read")


def symlink_problem(path: str | os.PathLike, cwd: Path) -> str | None:
    """`link_problem` for a file named on the command line (or found in a folder): checked only when
    the file itself is a link, so that the common case costs one `lstat`."""
    absolute = Path(os.path.normpath(cwd / path))
    try:
        if not os.path.islink(absolute):
            return None
    except ValueError:
        return None
    return link_problem(absolute, project_root(absolute.parent, cwd), cwd)


def _shown_path(path: Path, cwd: Path) -> str:
    """The path as the user can find it: relative to the current folder when it is below it."""
    absolute = os.path.normpath(os.path.abspath(path))
    relative = os.path.relpath(absolute, cwd)
    return absolute if relative.startswith("..") else relative


def _near_file(folder: Path, raw: str) -> str:
    """The `.tune` file the import probably meant: a close name in the folder it names (or, when that folder
    does not exist, in a folder of a close name beside it)."""
    from tunespec.spelling import did_you_mean

    head, _, name = raw.rpartition("/")
    wanted = Path(os.path.normpath(folder / head)) if head else folder
    places = [(wanted, head)]
    if not wanted.is_dir() and wanted.parent.is_dir():
        siblings = [p.name for p in _entries(wanted.parent) if p.is_dir()]
        close = did_you_mean(wanted.name, siblings)
        if close:
            fixed = close.split("`")[1]
            places = [(wanted.parent / fixed, head.rpartition("/")[0] + ("/" if "/" in head else "") + fixed)]
    for place, written in places:
        names = [p.name for p in _entries(place) if p.suffix == ".tune"]
        close = did_you_mean(name, names) if name not in names else f"`{name}`"
        if close:
            suggestion = f"{written}/{close.split('`')[1]}" if written else close.split("`")[1]
            return f'did you mean `import "{suggestion}"`?'
    return "check the path: imports are relative to the importing file"


def _entries(folder: Path) -> list[Path]:
    try:
        return sorted(folder.iterdir())
    except OSError:
        return []


def _import_help(raw: str) -> str | None:
    if not raw.endswith(".tune"):
        return "imports name `.tune` files, e.g. `import \"common/granite.tune\"`"
    return None


def identity(path: str | os.PathLike) -> object:
    """What makes two paths one file: its device and inode (one `stat`, where `realpath` takes one per
    folder of the path); a path that cannot be stat'ed is its own identity."""
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return os.path.abspath(path)
    return (info.st_dev, info.st_ino)


def _is_within(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
    except ValueError:
        return False
    return True


def _unreadable(path: Path) -> str | None:
    """Why an import target cannot be used as a file, or None."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return f"cannot import `{path.name}`: no such file"
    except OSError as error:
        return f"cannot import `{path.name}`: {_os_reason(error)}"
    except ValueError:  # a NUL character, which no file name can hold
        return f"cannot import `{_printable(path.name)}`: no file name holds a NUL character"
    if not stat.S_ISREG(info.st_mode):
        return f"cannot import `{path.name}`: {kind_of(info.st_mode)}"
    if not os.access(path, os.R_OK):
        return f"cannot import `{path.name}`: permission denied"
    return None


def _printable(name: str) -> str:
    return name.replace("\x00", "\\u0000")


def read_text(path: str | os.PathLike) -> tuple[str | None, str | None]:
    """The decoded text of a `.tune` file (BOM dropped, CRLF made LF), or why it cannot be had. Only a
    regular file is read, without blocking, as far as its size (`tunespec.files.open_regular`)."""
    try:
        data = read_regular(path)
    except NotAFile as error:
        return None, f"cannot read the file: {error}"
    except OSError as error:
        return None, f"cannot read the file: {_os_reason(error)}"
    except ValueError:
        return None, "cannot read the file: no file name holds a NUL character"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        return None, _decode_problem(data, error)
    return normalised(text), None


def normalised(text: str) -> str:
    """Decoded text as the parser reads it: without a byte order mark, every line ending in LF."""
    if text.startswith("\ufeff"):
        text = text[1:]
    return re.sub(_LINE_END, "\n", text) if "\r" in text else text


# A line ends at LF; CRs just before it belong to the line end. All of them, not one: `\r\r\n` read as
# `\r` + line end would be written back by `fmt` as `\r\n`, which the next read makes a bare line end.
_LINE_END = r"\r+\n"  # compiled by `re` when a text holds a carriage return


def _decode_problem(data: bytes, error: UnicodeDecodeError) -> str:
    before = data[: error.start]
    line = before.count(b"\n") + 1
    column = len(before[before.rfind(b"\n") + 1:].decode("utf-8", errors="replace")) + 1
    return (f"the file is not UTF-8: byte 0x{data[error.start]:02x} at line {line}, column {column} "
            "cannot be decoded; save the file as UTF-8")


def _os_reason(error: OSError) -> str:
    return (error.strerror or str(error)).lower()


def _cycles(roots: list[SourceFile], searched: set[int], shared: set[int]) -> list[list[SourceFile]]:
    """Each import cycle reachable from the roots, once, found by an iterative depth-first search.
    `searched` holds the run's shared files whose imports an earlier batch searched: skipped, and
    added to (so that a run searches each imported file once)."""
    found: dict[frozenset, list[SourceFile]] = {}
    done: set[int] = searched
    unshared_done: set[int] = set()  # this batch's own files: their ids may be reused by a later batch's
    for root in roots:
        if id(root) in done or id(root) in unshared_done:
            continue
        stack: list[tuple[SourceFile, int]] = [(root, 0)]
        on_path: dict[int, int] = {id(root): 0}
        path: list[SourceFile] = [root]
        while stack:
            node, index = stack[-1]
            targets = [link.target for link in node.imports if link.target is not None]
            if index == len(targets):
                stack.pop()
                path.pop()
                del on_path[id(node)]
                if id(node) in shared:
                    done.add(id(node))
                else:
                    unshared_done.add(id(node))
                continue
            stack[-1] = (node, index + 1)
            target = targets[index]
            if id(target) in on_path:
                cycle = path[on_path[id(target)]:]
                found.setdefault(frozenset(id(f) for f in cycle), cycle)
            elif id(target) not in done and id(target) not in unshared_done:
                on_path[id(target)] = len(path)
                path.append(target)
                stack.append((target, 0))
    return list(found.values())


def _rotate_to_smallest(cycle: list[SourceFile]) -> list[SourceFile]:
    start = min(range(len(cycle)), key=lambda i: cycle[i].display)
    return cycle[start:] + cycle[:start]


def find_tune_files(folder: str | os.PathLike, excluded: Callable[[str, bool], bool] | None = None) -> list[str]:
    """`*.tune` files below `folder`, sorted, skipping hidden folders (.git, .venv, ...) and what
    `excluded(path, is_folder)` says to leave out (the exclude patterns and .gitignore, the output folder).
    Plain strings: a run over 10,000 files keeps this list to its end, and a `Path` costs four times the
    memory."""
    found: list[str] = []
    _find_below(os.fspath(folder), excluded, found)
    return found


def _find_below(folder: str, excluded: Callable[[str, bool], bool] | None, found: list[str]) -> None:
    """One folder of `find_tune_files` and, depth first, the folders below it."""
    listed = folder_listing(folder)
    if listed is None:
        return
    files, folders = listed
    found.extend(files if excluded is None else [path for path in files if not excluded(path, False)])
    for path in folders:
        if not (excluded and excluded(path, True)):
            _find_below(path, excluded, found)


def folder_listing(folder: str) -> tuple[list[str], list[str]] | None:
    """The `.tune` files of one folder and the folders `find_tune_files` walks into from it (hidden ones
    and links to folders left out, as `os.walk` leaves links), as paths, each list sorted; None when it
    cannot be listed. Walked as `os.walk` walks, but with the paths `os.scandir` makes: `os.walk` and an
    `os.path.join` per file cost the importer search of a hook run 15M instructions per 1,000 files."""
    try:
        with os.scandir(folder) as listing:
            entries = list(listing)
    except OSError:
        return None
    files, folders = [], []
    for entry in entries:
        try:
            is_folder = entry.is_dir()
        except OSError:
            is_folder = False
        if is_folder:
            if not entry.name.startswith(".") and not entry.is_symlink():
                folders.append(entry.path)
        elif entry.name.endswith(".tune"):
            files.append(entry.path)
    files.sort()
    folders.sort()
    return files, folders
