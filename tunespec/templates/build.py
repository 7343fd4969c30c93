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
from tunespec.files import (TEMPORARY, WriteError, commit_folder, discard, discard_folder, read_unlinked,
                            remove_leftovers, stage, stage_folder, write_new)
from tunespec.record import Factory, Record
from tunespec.templates import stamp
from tunespec.templates.targets import Target

__all__ = ["TEMPORARY", "BuildError", "Output", "Staged", "Placement", "render_outputs", "check_outputs",
           "stage_outputs", "discard_staged", "fresh_outputs", "FolderCommit"]


class BuildError(Exception):
    """The output cannot be written (a read-only folder, a full disk): one line, exit 2."""


class Output(Record):
    path: str  # where the file goes (a string: a Path for each of a fresh build's 17,217 files cost 3 % of it)
    text: str
    executable: bool = False
    name: str = ""  # its path inside the target's folder (`path` less the folder)


class Staged(Record):
    """One target of one variant on its way to disk: files staged (temporary, final), files already up
    to date, (`--check`) files that would change, and the folders made for them (removed again, when
    empty, if the run is discarded)."""

    staged: list = Factory(list)
    unchanged: list = Factory(list)
    stale: list = Factory(list)
    made: list = Factory(list)
    stamp: tuple | None = None  # (temporary, final) of the folder's new stamp, committed after its files
    # A folder that did not exist, staged whole (`files.stage_folder`): (temporary, final folder, the names
    # written into it, its stamp last), and the final paths of its files (what the run reports as written).
    folder: tuple | None = None
    written: list = Factory(list)
    # When the variant's folder did not exist either: (its temporary folder, the final one), in which the
    # target's folder is staged under its own name; the variant's targets share it (`FolderCommit`).
    within: tuple | None = None


class Placement:
    """Where a run's files go, worked out once: `out/<variant>/<target>/`, and how paths relative to the
    root are seen from there (variant and target names are single path components)."""

    def __init__(self, out: Path, root: Path) -> None:
        self.out = out
        self.checked: set[str] = set()  # folders inside `out` already made or found to be real folders
        self.swept: set[str] = set()  # variant folders found, already cleared of dead runs' staged folders
        # The variant folders this run makes (nothing in them but its own folders, no dead run's leftovers),
        # each staged whole: -> (its temporary folder, it)
        self.staging: dict[str, tuple[str, str]] = {}
        out_absolute = os.path.abspath(out)
        self.out_from_root = os.path.relpath(out_absolute, os.path.abspath(root))
        self.root_from_out = os.path.relpath(os.path.abspath(root), out_absolute)
        self._to_root = os.path.normpath(os.path.join("..", "..", self.root_from_out))
        self.variants: dict[str, tuple[str, str]] = {}  # variant -> its folder, and from the root (normalised)

    def folder(self, variant: str, target: str) -> str:
        return os.path.join(self._variant(variant)[0], target)

    def from_root(self, variant: str, target: str) -> str:
        """A target's name is a plain name (`targets._name_problem`): joined to the variant's path, already
        normalised, it needs no normalising again (a build again asks for 5,604 folders of 999 variants)."""
        variant_from_root = self._variant(variant)[1]
        return target if variant_from_root == "." else os.path.join(variant_from_root, target)

    def _variant(self, variant: str) -> tuple[str, str]:
        found = self.variants.get(variant)
        if found is None:
            found = self.variants[variant] = (os.path.join(self.out, variant),
                                              os.path.normpath(os.path.join(self.out_from_root, variant)))
        return found

    def to_root(self) -> str:
        """The way back from a target's folder to the root."""
        return self._to_root


def render_outputs(exp: ResolvedExperiment, target: Target, placement: Placement,
                   variant: dict | None = None) -> list[Output]:
    """The files of one target for one variant, rendered and verified, nothing written yet."""
    from tunespec.templates.render import render_target  # (imports Jinja2: only a build that renders pays)

    folder = placement.folder(exp.name, target.name)
    rendered = render_target(exp, target, placement.from_root(exp.name, target.name), placement.to_root(), variant)
    return [Output(os.path.join(folder, name), text, name.endswith(".sh"), name) for name, text in rendered.items()]


def fresh_outputs(folder: str, key: str, placement: Placement, check: bool, known=None) -> tuple[Staged, tuple] | None:
    """The folder's files as they are, and the target's unique names, when its stamp says they are what
    rendering would make (`stamp.fresh`, with the cache's `known.Known`); else None. A build (not
    `--check`) still refuses a folder that is a symbolic link and removes dead runs' leftovers from it, as
    staging does (unless the cache knows it has none)."""
    if os.path.dirname(folder) in placement.staging:
        return None  # a variant folder this run made holds only what the run staged (0.08 s of a fresh build's lookups)
    found = stamp.fresh(folder, key, known)
    if found is None:
        return None
    inside = folder + os.sep
    result = Staged(unchanged=[inside + name for name in found.files])
    if not check and found.tidy:  # the cache has just seen the folder itself: a real folder, no leftovers
        _make_folder(os.path.dirname(folder), placement, result.made)
        placement.checked.add(folder)
    elif not check:
        _make_folder(folder, placement, result.made)
        remove_leftovers(folder)
    return result, found.names


def _stamp_bytes(key: str, encoded: list[tuple[Output, bytes]], names: tuple) -> bytes | None:
    """The stamp of a rendered folder (None when a unique name is not plain data: the folder then always
    renders)."""
    try:
        return stamp.content(key, {os.path.basename(output.path): data for output, data in encoded},
                             {os.path.basename(output.path) for output, _ in encoded if output.executable}, names)
    except (TypeError, ValueError):
        return None


def check_outputs(outputs: list[Output]) -> Staged:
    result = Staged()
    for output in outputs:
        (result.unchanged if _current(output) == output.text.encode("utf-8") else result.stale).append(output.path)
    return result


def stage_outputs(outputs: list[Output], placement: Placement, stamped: tuple[str, str, tuple] | None = None) -> Staged:
    """Stage the files that differ from what is on disk and, with `stamped` (the folder, its stamp's key
    and the target's unique names), the folder's stamp if it differs; the caller commits them (the stamp
    last) or discards them. Each file is encoded once, for the comparison, the staging and the stamp."""
    result = Staged()
    encoded = [(output, output.text.encode("utf-8")) for output in outputs]
    try:
        if stamped is not None and _absent(stamped[0], placement, result.made):
            _stage_whole(encoded, stamped, result, placement)
            return result
        new_folders = set()
        for folder in sorted({os.path.dirname(output.path) for output in outputs}):
            if _make_folder(folder, placement, result.made):
                new_folders.add(folder)  # nothing to compare with, no leftovers to remove
            else:
                remove_leftovers(Path(folder))
        for output, data in encoded:
            if os.path.dirname(output.path) not in new_folders and _current(output) == data and _mode_ok(output):
                result.unchanged.append(output.path)
                continue
            temporary = stage(Path(output.path), data, 0o755 if output.executable else 0o644)
            result.staged.append((temporary, output.path))
        data = _stamp_bytes(stamped[1], encoded, stamped[2]) if stamped is not None else None
        if data is not None:
            path = Path(stamped[0], stamp.STAMP)
            if read_unlinked(path) != data:
                result.stamp = (stage(path, data, 0o644), path)
    except WriteError as error:
        discard_staged([result])
        raise BuildError(str(error)) from None
    except BaseException:
        discard_staged([result])
        raise
    return result


def _absent(folder: str, placement: Placement, made: list) -> bool:
    """Whether the target's folder does not exist, so that it can be staged whole. The folder above it
    (the variant's), when missing, is staged whole too (`_stage_variant`); when it was there before the
    run, it is cleared of the folders dead runs staged in it."""
    parent = os.path.dirname(folder)
    if parent in placement.staging:  # staged by this run: nothing in it but this run's folders
        return True
    if not _exists(parent, placement, made):
        _stage_variant(parent, placement)
        return True
    if parent not in placement.swept:
        remove_leftovers(Path(parent))
        placement.swept.add(parent)
    return not os.path.lexists(folder)


def _exists(variant: str, placement: Placement, made: list) -> bool:
    """Whether the variant's folder is there (a real folder: a link or a file in its place is refused), the
    output folder made if missing."""
    if variant in placement.checked:
        return True
    _make_out_once(placement, made)
    try:
        info = os.lstat(variant)
    except FileNotFoundError:
        return False
    except OSError as error:
        raise BuildError(f"cannot create {variant}: {_reason(error)}") from None
    _check_existing(variant, placement.out, info)
    placement.checked.add(variant)
    return True


def _stage_variant(variant: str, placement: Placement) -> tuple[str, str]:
    """A new temporary folder beside the missing variant folder, in which its targets' folders are staged
    under their own names: the commit puts the variant's folder in place with one rename where each target's
    took one (the benchmark's fresh build: 999 renames in place of 5,604; the parent's commit took 36 ms
    of CPU, now 12)."""
    staging = placement.staging[variant] = (stage_folder(variant), variant)
    return staging


def _stage_whole(encoded: list[tuple[Output, bytes]], stamped: tuple[str, str, tuple], result: Staged,
                 placement: Placement) -> None:
    """Stage a new folder: its files written under their own names into a temporary folder (and its stamp,
    last), which the commit renames into place in one step: beside it, or, when its variant's folder is new
    too, under its own name in the variant's temporary folder."""
    folder = str(stamped[0])
    temporary = _target_folder(folder, placement, result)
    names = []
    result.folder = (temporary, folder, names)
    for output, data in encoded:
        name = output.name or os.path.relpath(output.path, folder)  # (relpath looks up the working folder twice)
        path = os.path.join(temporary, name)
        if os.sep in name:  # an output in a subfolder of the target's folder
            os.makedirs(os.path.dirname(path), exist_ok=True)
        write_new(path, data, 0o755 if output.executable else 0o644, output.path)
        names.append(name)
        result.written.append(output.path)
    data = _stamp_bytes(stamped[1], encoded, stamped[2])
    if data is not None:
        write_new(os.path.join(temporary, stamp.STAMP), data, 0o644, os.path.join(folder, stamp.STAMP))
        names.append(stamp.STAMP)


def _target_folder(folder: str, placement: Placement, result: Staged) -> str:
    """The (new, empty) temporary folder a target's new folder is staged in."""
    variant = os.path.dirname(folder)
    staging = placement.staging.get(variant)
    if staging is None:
        return stage_folder(folder)
    result.made.append(staging[0])  # (removed again once empty, when the run discards its targets)
    temporary = os.path.join(staging[0], os.path.basename(folder))
    try:
        os.mkdir(temporary)
    except FileExistsError:  # another variant of the batch has the name (the run refuses one): one more
        staging = _stage_variant(variant, placement)
        result.made.append(staging[0])
        temporary = os.path.join(staging[0], os.path.basename(folder))
        _new_folder(temporary, folder)
    except OSError as error:
        raise WriteError(f"cannot create {folder}: {_reason(error)}") from None
    result.within = staging
    return temporary


def _new_folder(path: str, shown: str) -> None:
    try:
        os.mkdir(path)
    except OSError as error:
        raise WriteError(f"cannot create {shown}: {_reason(error)}") from None


class FolderCommit:
    """Puts the staged new folders of a run's targets in place, one target (`Staged`) at a time, in the
    run's order: a variant's new folder with one rename for all its targets, or, when it appeared meanwhile
    (another run, or another variant of this run with the same name, got there first), each target's folder
    renamed into it (`files.commit_folder`). `close` (always) removes what is left of the temporary
    variant folders that did not go in whole."""

    def __init__(self) -> None:
        self.renamed: dict[str, bool] = {}  # temporary variant folder -> put in place whole
        self.whole: set[str] = set()  # the names of the variant folders put in place whole

    def put(self, files: Staged) -> list[str]:
        """Commit the target's new folder, if it has one; the final paths of its files."""
        if files.folder is None:
            return []
        if files.within is not None:
            temporary, variant = files.within
            whole = self.renamed.get(temporary)
            if whole is None:
                whole = self.renamed[temporary] = _renamed(temporary, variant)
                if whole:
                    self.whole.add(os.path.basename(variant))
            if whole:
                files.folder = None
        if files.folder is not None:
            commit_folder(*files.folder)
            files.folder = None
        return files.written

    def close(self) -> None:
        for temporary, whole in self.renamed.items():
            if not whole:
                discard_folder(temporary)  # (empty, unless the commit failed: then the rest is discarded)


def _renamed(temporary: str, variant: str) -> bool:
    """Whether the staged variant folder went in place whole; False when a real folder of that name is
    there now (its targets then go in one by one); a link or a file in its way is refused."""
    try:
        os.replace(temporary, variant)  # (a folder replaces only an empty folder)
        return True
    except OSError as error:
        try:
            real = stat.S_ISDIR(os.lstat(variant).st_mode)
        except OSError:
            real = False
        if not real:
            raise WriteError(f"cannot write {variant}: {_reason(error)}") from None
        return False


def discard_staged(results: list[Staged]) -> None:
    """Remove the staged temporary files and folders, then the folders made for them that are still empty."""
    for result in results:
        for temporary, _ in result.staged + ([result.stamp] if result.stamp else []):
            discard(temporary)
        if result.folder is not None:
            discard_folder(result.folder[0])
        result.staged, result.stamp, result.folder, result.written, result.within = [], None, None, [], None
    made = {folder for result in results for folder in result.made}
    for folder in sorted(made, key=lambda folder: folder.count(os.sep), reverse=True):  # deepest first
        try:
            os.rmdir(folder)
        except OSError:
            pass  # not empty: another variant's files, or another run's
    for result in results:
        result.made = []


def _current(output: Output) -> bytes | None:
    """The file's content, for comparison; None when it is missing or a symbolic link (which is never read
    through: it is replaced by a file)."""
    return read_unlinked(output.path)


def _mode_ok(output: Output) -> bool:
    return not output.executable or bool(os.lstat(output.path).st_mode & stat.S_IXUSR)


def _make_folder(folder: Path | str, placement: Placement, made: list) -> bool:
    """Make `folder` (and the folders between `out` and it); True when it did not exist before.

    Every folder inside `out` must be a real folder: a symbolic link planted there (`out/exp -> /etc`)
    would make the build write wherever it points, so it is refused. `out` itself may be a link."""
    key = str(folder)
    if key in placement.checked:
        return False
    current = _make_out_once(placement, made)
    created = False
    inside = key[len(current) + 1:] if key.startswith(current + os.sep) else os.path.relpath(folder, placement.out)
    for part in inside.split(os.sep):
        current = os.path.join(current, part)
        if current in placement.checked:
            created = False
            continue
        try:  # (looked at first: in a build again every folder exists, and a failed mkdir costs more)
            info = os.lstat(current)
        except OSError:
            info = None
        created = False
        if info is not None:
            _check_existing(current, placement.out, info)
        else:
            try:
                os.mkdir(current)
                made.append(current)
                created = True
            except FileExistsError:
                _check_existing(current, placement.out)
            except OSError as error:
                raise BuildError(f"cannot create {current}: {_reason(error)}") from None
        placement.checked.add(current)
    return created


def _check_existing(folder: str, out: Path, info: os.stat_result | None = None) -> None:
    info = info or os.lstat(folder)
    if stat.S_ISLNK(info.st_mode):
        raise BuildError(f"cannot write into {folder}: it is a symbolic link (to {os.path.realpath(folder)}); "
                         f"build writes only into real folders inside {out}")
    if not stat.S_ISDIR(info.st_mode):
        raise BuildError(f"cannot create {folder}: a file of that name is in the way")


def _make_out_once(placement: Placement, made: list) -> str:
    """The output folder (made if missing, the first time a batch asks), as a string."""
    out = str(placement.out)
    if out not in placement.checked:
        _make_out(Path(placement.out), made)
        placement.checked.add(out)
    return out


def _make_out(out: Path, made: list) -> None:
    """Make the output folder and the folders above it that are missing (it may be a link to elsewhere)."""
    if os.path.isdir(out):
        return
    missing = []
    folder = out
    while not os.path.lexists(folder) and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder)
        except FileExistsError:
            pass
        except OSError as error:
            raise BuildError(f"cannot create {folder}: {_reason(error)}") from None
        else:
            made.append(str(folder))
    if not os.path.isdir(out):
        raise BuildError(f"cannot create {out}: a file of that name is in the way")


def _reason(error: OSError) -> str:
    return (error.strerror or str(error)).lower()
