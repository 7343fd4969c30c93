"""What a build found for each file it was given, kept in the cache (`tunespec.cache`) and replayed by the
next build when nothing it depends on has changed, as ruff replays a file's lint results and make skips a
target whose prerequisites are older.

An up-to-date build used to compile and check every experiment again, as lint does, then check each
variant against its targets (TS5xx) and digest its IR, only to find that every output folder's stamp was
current: 2.3× a lint of the same files. A file's result is a function of what it was computed from, so
when none of that changed, the stored result is the result: its diagnostics (byte for byte, with the
`# noqa` comments they used and the lines they quote), the output claims that TS015 checks across the run,
and for each variant and target its output folder and stamp key. Only the folders are looked at again
(`stamp.fresh`, with the build cache's signatures): an edited or missing output file makes the file's
result unusable and the file is built as if nothing were stored.

What a file's result depends on, all of it in its entry's key:
- the run (`run_key`): tunespec's own files (the `stat` signature of every file of the installed
  package, so that an edited checkout is never served results its old code made), the configuration, the
  rule selection, the command line's `--set`, `--target`, `--template-dir` (and what those folders hold),
  `--root` and `--out`, the current folder, and today's date when a target has removal dates;
- the file and every file it imports, directly or not (their `stat` signatures, as git's index keeps
  them: an edit always moves the change time), and the project root each importing folder has (a marker
  file added above could make an import leave the project);
- the training data files its variants name (TS4xx read them), or that they are missing.
A file whose import could not be followed (or failed to parse, or closes a cycle) is not kept: what the
run reports about such a file depends on which file of the run read it first. Nothing is kept of a file,
or of a data file, changed within `cache.RACY_NS` of the run (git's racy rule), nor by a run of a
tunespec whose own files changed that recently.

`lint` does not use these entries: it is the benchmark's yardstick for a build, and a lint of a few
changed files (the hook) is already cheaper than reading a result per file would save.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

from tunespec import __version__, cache
from tunespec.diagnostics import Diagnostic, Severity
from tunespec.location import Location, Span
from tunespec.rules.engine import Noqa
from tunespec.rules.outputs import OutputClaim

FORMAT = 1
FOLDER = "results"  # inside the cache folder: one entry per file built, named by `entry_name`
_PACKAGE = os.path.dirname(os.path.abspath(__file__))


def moment() -> int:
    """The time (`time_ns`) against which the racy rule judges what is kept (tests move it on)."""
    return time.time_ns()


# --- the run's part of the key ---------------------------------------------------------------------------

def code_signature(now: int | None = None) -> tuple[str, bool]:
    """A digest of the `stat` signature of every file of tunespec's package (its code, templates and
    catalog), and whether none changed within `cache.RACY_NS` (else nothing is kept). About 130 `lstat`s:
    0.3 ms, paid once a build."""
    from tunespec.templates.known import signature

    now = now if now is not None else moment()
    digest = hashlib.sha256()
    settled = True
    folders = [_PACKAGE]
    while folders:
        folder = folders.pop()
        with os.scandir(folder) as listing:
            entries = sorted(listing, key=lambda entry: entry.name)
        for entry in entries:
            if entry.name == "__pycache__":
                continue
            if entry.is_dir(follow_symlinks=False):
                folders.append(entry.path)
                continue
            info = entry.stat(follow_symlinks=False)
            settled = settled and cache.settled(info, now)
            digest.update(f"{entry.path}\0{signature(info)}\n".encode("utf-8", "surrogateescape"))
    return digest.hexdigest(), settled


def run_key(job, known_targets: dict, code: str) -> str:
    """Everything of the run (`runner.Job`) that a file's result depends on besides its own files; `code`
    is tunespec's `code_signature`."""
    from tunespec.templates import stamp

    config, plan = job.config, job.build
    parts = [f"tunespec-results {FORMAT}", __version__, code,
             repr((config.select, config.ignore, sorted(config.per_file_ignores.items()),
                   sorted(config.severity.items()), config.targets, config.out, config.max_variants,
                   str(config.path))),
             repr((sorted(job.selection.enabled), [(pattern, sorted(codes)) for pattern, codes in
                                                   job.selection.per_file_ignores],
                   sorted((code, level.value) for code, level in job.selection.severity.items()))),
             str(job.cwd.absolute()), str((job.root or job.cwd).absolute()), repr(job.targets),
             repr(job.overrides), os.path.abspath(plan.out), repr(plan.targets)]
    for folder in job.template_dirs:  # a user's targets: their declarations decide TS5xx
        parts.append(f"{os.path.abspath(folder)}\0{stamp.tree_digest(Path(folder))}")
    if any(target.removed for target in known_targets.values()):
        from tunespec.templates.targets import today

        parts.append(today())  # a method may be refused from a date on (TS5xx)
    return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogateescape")).hexdigest()


def entry_name(out: str, path: str) -> str:
    """The name of a file's entry in the cache: one per output folder and file (by absolute paths)."""
    text = f"{os.path.abspath(out)}\0{os.path.abspath(path)}"
    return f"{FOLDER}/{hashlib.sha256(text.encode('utf-8', 'surrogateescape')).hexdigest()[:32]}"


# --- a file's dependencies -------------------------------------------------------------------------------

def _signature(path: str, follow: bool = False) -> str:
    return _signed(path, follow, 0)[0]


def _signed(path: str, follow: bool, since: int) -> tuple[str, bool]:
    """The file's `stat` signature ("-": no file) and whether it has settled before `since` (`cache.settled`;
    no file: settled)."""
    from tunespec.templates.known import signature

    try:
        info = os.stat(path) if follow else os.lstat(path)
    except (OSError, ValueError):
        return "-", True
    return signature(info), cache.settled(info, since)


def _closure(root) -> list | None:
    """The file (a `loader.SourceFile`) and every file it imports, directly or not; None when one of them
    could not be read or parsed, or has an import that failed or closes a cycle."""
    seen = {id(root): root}
    pending = [root]
    while pending:
        source = pending.pop()
        if source.module is None:
            return None
        for link in source.imports:
            if link.target is None or link.closes_cycle:
                return None
            if id(link.target) not in seen:
                seen[id(link.target)] = link.target
                pending.append(link.target)
    return list(seen.values())


def dependencies(compiled, since: int, roots: dict) -> tuple | None:
    """(files, data files, project roots) a file's result depends on, with their signatures, from what
    compiling it alone made (`runner.Compiled`); None when it cannot be kept. `since` is when the run
    began: a file the run's process may have read before this file was compiled (an import, a data file
    that an earlier file named) and that changed since would otherwise be kept with its new signature
    beside what its old content made. `roots` keeps each folder's project root for the process's files."""
    program = compiled.program
    if len(program.roots) != 1:
        return None
    closure = _closure(program.roots[0])
    if closure is None:
        return None
    files = [(str(source.path), *_signed(str(source.path), False, since)) for source in closure]
    data = sorted({str(path) for exp in compiled.resolved for path in exp.local_files.values()})
    data_files = [(path, *_signed(path, True, since)) for path in data]
    if not all(settled for _, _, settled in (*files, *data_files)):
        return None
    files = [(path, text) for path, text, _ in files]
    data_files = [(path, text) for path, text, _ in data_files]
    folders = sorted({str(source.path.parent) for source in closure if source.imports})
    return files, data_files, [(folder, _project_root(folder, program.cwd, roots)) for folder in folders]


def _project_root(folder: str, cwd: Path, roots: dict) -> str:
    """The project root of `folder` (`loader.project_root`), looked for once per process."""
    found = roots.get(folder)
    if found is None:
        from tunespec.compiler.loader import project_root

        found = roots[folder] = str(project_root(Path(folder), cwd))
    return found


def _unchanged(dependencies: tuple, cwd: Path, roots: dict) -> bool:
    files, data_files, project_roots = dependencies
    for path, text in files:
        if _signature(path) != text:
            return False
    for path, text in data_files:
        if _signature(path, follow=True) != text:
            return False
    return all(_project_root(folder, cwd, roots) == root for folder, root in project_roots)


# --- entries -----------------------------------------------------------------------------------------------

def entry(key: str, display: str, result, dependencies: tuple) -> tuple | None:
    """A file's result (`runner.BatchResult` of the file alone) as built-in data for `cache.store`."""
    built = []
    for item in result.built:
        if item.refused is None and not item.key:
            return None
        built.append((item.folder, item.owner, item.label, item.refused, tuple(item.variant),
                      tuple(tuple(name) for name in item.names), item.name, item.target,
                      item.key if item.refused is None else ""))
    diagnostics = [(d.code, d.severity.value, d.message, d.path, d.line, d.column, d.end_line, d.end_column,
                    d.help, d.experiment) for d in result.diagnostics]
    noqa = {display: [(c.path, c.line, c.column, c.end_column, None if c.codes is None else sorted(c.codes),
                       sorted(c.used)) for c in comments.values()]
            for display, comments in result.noqa.items()}
    claims = [(c.output_dir, c.location.path, tuple(c.location.span), c.experiment, c.variant, c.path)
              for c in result.claims]
    return (key, display, dependencies, diagnostics, noqa, list(result.roots), result.lines, claims, built)


def replayed(data: object, key: str, display: str, job, placement, signatures, roots: dict):
    """The file's result (`runner.BatchResult`) from its entry, when the entry is one for `key` and
    `display`, nothing it depends on changed and every output folder it names is up to date; else None
    (and nothing of it stays: folders made for it are removed again)."""
    from tunespec import runner
    from tunespec.templates.build import fresh_outputs

    items: list = []
    try:
        stored_key, stored_display, depends, diagnostics, noqa, linted, lines, claims, built = data
        if stored_key != key or stored_display != display or not _unchanged(depends, job.cwd, roots):
            return None
        for folder, owner, label, refused, variant, names, name, target, stamp_key in built:
            files = None
            if refused is None:
                found = fresh_outputs(folder, stamp_key, placement, job.build.check, signatures)
                if found is None:
                    runner.discard_built(items)
                    return None
                files, names = found
            items.append(runner.Built(folder, owner, label, refused, files, variant, names, name, target, stamp_key))
        return runner.BatchResult(
            [Diagnostic(code, Severity(severity), *rest) for code, severity, *rest in diagnostics],
            {shown: {line: Noqa(path, line, column, end, None if codes is None else set(codes), set(used))
                     for path, line, column, end, codes, used in comments} for shown, comments in noqa.items()},
            linted, lines, built=items,
            claims=[OutputClaim(output_dir, Location(path, Span(*span)), experiment, variant, declared)
                    for output_dir, path, span, experiment, variant, declared in claims])
    except (TypeError, ValueError, KeyError):  # an entry of another shape: worth only the time it saves
        runner.discard_built(items)
        return None
