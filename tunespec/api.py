"""The Python API the command line is a thin layer over: `lint`, `resolve` and `build`.

    >>> import tunespec
    >>> for diagnostic in tunespec.lint(["experiments/"]):
    ...     print(diagnostic.path, diagnostic.line, diagnostic.code, diagnostic.message)
"""

from __future__ import annotations

import os
from pathlib import Path
TYPE_CHECKING = False
if TYPE_CHECKING:  # (typing, for type checkers only, is not imported at run time)
    from typing import Iterable

from tunespec import runner
from tunespec.compiler.loader import Program
from tunespec.compiler.resolve import ResolvedExperiment, Resolver
from tunespec.config import Config, find_config, load_config
from tunespec.diagnostics import Diagnostic
from tunespec.printable import encodable
from tunespec.rules import REGISTRY
from tunespec.record import Factory, Record
from tunespec.rules.engine import Selection
from tunespec.runner import Job, expand_paths


class LintResult(Record):
    diagnostics: list[Diagnostic]
    roots: list[str]  # display paths of the files linted
    lines: dict = Factory(dict)  # display path -> {line number: text}, for the lines diagnostics point at
    program: Program | None = None  # kept when `keep=True` (show, resolve)
    resolved: list[ResolvedExperiment] = Factory(list)  # likewise

    @property
    def files_checked(self) -> int:
        return len(self.roots)

    def source_line(self, path: str, number: int) -> str | None:
        """The text of line `number` of the file diagnostics call `path` (None past its end)."""
        known = self.lines.get(path, {})
        if number in known:
            return known[number]
        from tunespec.compiler.loader import read_text, symlink_problem

        if symlink_problem(path, Path.cwd()) is not None:
            return None
        text, _ = read_text(Path(path))
        lines = text.split("\n") if text is not None else []
        return lines[number - 1] if 0 < number <= len(lines) else None


def configuration(cwd: Path | None = None) -> Config:
    """The configuration that applies in `cwd`: the nearest config file, or the defaults."""
    return load_config(find_config(cwd or Path.cwd()), REGISTRY)


def resolve_paths(paths: Iterable[str | os.PathLike], config: Config, cwd: Path | None = None,
                  root: Path | None = None) -> tuple[Program, Resolver, list[ResolvedExperiment]]:
    """Load the files and resolve their experiments and presets (no rules run): the compile step lint and
    build run (`runner.compile_files`). Paths in the IR are relative to `root` (default: the current
    directory)."""
    compiled = runner.compile_files(expand_paths(paths, lambda: config.excluder(cwd)), cwd, config, root)
    return compiled.program, compiled.resolver, compiled.resolved


def run_lint(paths: Iterable[str | os.PathLike], config: Config | None = None, *,
             selection: Selection | None = None, cwd: Path | None = None, root: Path | None = None,
             targets: list[str] | None = None, template_dirs: Iterable[str] = (), jobs: int = 1,
             keep: bool = True, overrides: Iterable[str] = (), buffers: dict | None = None,
             progress=None) -> LintResult:
    """Lint, including TS5xx for the targets each experiment (or `targets`, or the config) names.

    With `keep` (the default for the API) the result holds the program and the resolved variants; the
    command line lints without them, in batches over `jobs` processes."""
    config = config if config is not None else configuration(cwd)
    selection = selection or config.selection(REGISTRY, cwd=cwd)
    job = Job(config, selection, (cwd or Path.cwd()).absolute(), root, targets, list(template_dirs), keep,
              overrides=list(overrides), buffers=dict(buffers or {}))
    result = runner.run(paths, job, jobs, progress)
    return LintResult(result.diagnostics, result.roots, result.lines, result.program, result.resolved)


def lint_text(text: str, path: str | os.PathLike, config: Config | None = None, *,
              cwd: Path | None = None) -> LintResult:
    """Lint `text` as the content of the file at `path`: an editor's unsaved buffer. The file need not
    exist nor hold `text`; what `text` imports is read from disk, relative to `path`. Diagnostics name
    the file as `path` does (relative to `cwd`, the current directory by default, as on the command
    line); the result keeps the program and the resolved variants."""
    cwd = (cwd or Path.cwd()).absolute()
    config = config if config is not None else configuration(cwd)
    job = Job(config, config.selection(REGISTRY, cwd=cwd), cwd, keep=True, buffers={path: text})
    result = runner.run([path], job)
    return LintResult(result.diagnostics, result.roots, result.lines, result.program, result.resolved)


def lint(paths: Iterable[str | os.PathLike], config: Config | None = None) -> list[Diagnostic]:
    """Diagnostics for the `.tune` files at `paths` (folders are searched), sorted by place."""
    return run_lint(paths, config).diagnostics


def resolve(path: str | os.PathLike, config: Config | None = None) -> list[ResolvedExperiment]:
    """The resolved experiment variants declared in the file at `path` (presets are not included)."""
    config = config if config is not None else configuration()
    _, _, resolved = resolve_paths([path], config)
    return [exp for exp in resolved if not exp.is_preset]


# --- build -----------------------------------------------------------------------------------------------

DEFAULT_TARGETS = runner.DEFAULT_TARGETS
DEFAULT_OUT = "out"


class BuildResult(Record):
    lint: LintResult
    written: list = Factory(list)
    unchanged: list = Factory(list)
    stale: list = Factory(list)  # with check=True: files that would change or be created
    refused: list = Factory(list)  # "variant (target): why" for what was not built
    checked: bool = False
    orphans: list = Factory(list)  # orphans.Orphan: spec folders nothing in the run makes any more
    pruned: list = Factory(list)  # with prune=True: the orphaned folders removed

    def report(self):
        """The exit code's owner: lint errors, refused variants, stale files and (checking) orphans fail."""
        from tunespec.report import Report

        failures = len(self.refused) + len(self.stale) + (len(self.orphans) if self.checked else 0)
        return Report(self.lint.diagnostics, self.lint.files_checked, failures=failures)

    @property
    def exit_code(self) -> int:
        return self.report().exit_code


def _check_folder_names(out: Path, root: Path) -> None:
    """The job specs hold paths to and from the output folder, as UTF-8 text: a folder name that is not
    UTF-8 (or holds a NUL) cannot be written into them."""
    from tunespec.templates.build import BuildError

    for what, folder in (("output folder", out), ("root folder", root.absolute())):
        text = os.fspath(folder)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise BuildError(f"the {what} {encodable(text)} is not UTF-8 text, which the job specs must hold") from None
        if "\x00" in text:
            raise BuildError(f"the {what} {encodable(text)!r} holds a NUL character")


BUILD_CACHE_FORMAT = 2  # (of `templates.known`'s entries)


def build(paths: Iterable[str | os.PathLike], targets: list[str] | None = None, out: str | os.PathLike | None = None,
          check: bool = False, *, config: Config | None = None, root: str | os.PathLike | None = None,
          template_dirs: Iterable[str] = (), selection: Selection | None = None, jobs: int = 1,
          prune: bool = False, overrides: Iterable[str] = (), progress=None, cache: bool = True) -> BuildResult:
    """Render the targets of every experiment variant at `paths` into `out/<variant>/<target>/`.

    Targets come from `targets`, else each experiment's `targets`, else the config's, else `yaml`.
    Experiments with errors are refused (nothing written for them); with `check=True` nothing is written
    and the result lists the files that are stale or missing. Nothing is written until every file of the
    run is rendered: raises TargetError (an unknown or broken target), RenderError (a template that fails)
    or BuildError (the output cannot be written), with no file changed.

    `out` and `root` given here are relative to the current directory; unset, they come from the
    configuration, relative to its file (`out`, default `out/`, and the root is its folder), so that a build
    run from any folder of the project writes the same specs to the same place. Spec folders that the
    files built no longer make are `orphans`; with `prune=True` (and not `check`) they are removed.

    With `cache` (the default) the signatures of up-to-date files are kept in the cache folder
    (`tunespec.cache`), so that the next build trusts them without reading them (`templates.known`).
    """
    from tunespec.files import WriteError, commit, interrupts_deferred, remove_leftovers
    from tunespec.templates.build import BuildError, FolderCommit
    from tunespec.templates.targets import TargetError, all_targets

    config = config if config is not None else configuration()
    template_dirs = list(template_dirs)
    known = all_targets(template_dirs)
    for name in targets or []:
        if name not in known:
            from tunespec.spelling import did_you_mean

            hint = did_you_mean(name, known) or f"the targets are: {', '.join(sorted(known))}"
            raise TargetError(f"unknown target `{name}`; {hint}")
    root_path = Path(root).absolute() if root is not None else config.base.absolute()
    selection = selection or config.selection(REGISTRY)
    out_path = output_folder(config, out)
    _check_folder_names(out_path, root_path)
    plan = runner.BuildPlan(out_path, check, list(targets) if targets else None,
                            _build_cache(config, out_path) if cache else None)
    job = Job(config, selection, Path.cwd(), root_path, targets, template_dirs, False, plan,
              overrides=list(overrides))
    if cache:
        plan.results = _results_cache(config, job, known)
    written, unchanged, stale, refused = [], [], [], []
    result = None
    if not check:  # new variant folders are staged beside their final names in `out` (`templates.build`)
        remove_leftovers(out_path)
    try:
        result = runner.run(paths, job, jobs, progress)
        with interrupts_deferred():
            placed = FolderCommit()
            try:
                for index, item in enumerate(result.built):
                    if item.refused is not None:
                        refused.append(item.refused)
                        continue
                    unchanged += [str(path) for path in item.files.unchanged]
                    stale += [str(path) for path in item.files.stale]
                    for temporary, path in item.files.staged:
                        commit(temporary, path)
                        written.append(str(path))
                    written += placed.put(item.files)  # a new folder, staged whole: its stamp goes in with it
                    if item.files.stamp is not None:  # after the files: a stamp never vouches for files not in place
                        commit(*item.files.stamp)
                        item.files.stamp = None
            finally:
                placed.close()
    except WriteError as error:
        runner.discard_built(result.built[index:])
        raise BuildError(str(error)) from None
    except KeyboardInterrupt:  # between the run and the renames, before they were deferred: all old
        runner.abandon(result.built if result is not None else [], job)
        raise
    signatures = _save_signatures(plan.cache, result.signatures, out_path) if plan.cache is not None else None
    lint = LintResult(result.diagnostics, result.roots, result.lines)
    from tunespec import orphans as orphan_folders
    from tunespec.diagnostics import Severity

    broken = {d.path for d in result.diagnostics if d.severity is Severity.ERROR}
    found = orphan_folders.find(out_path, root_path, known, result.built, result.roots, Path.cwd(), broken, signatures,
                                placed.whole)
    pruned = orphan_folders.prune(found) if prune and not check else []
    return BuildResult(lint, written, unchanged, stale, refused, check, found, pruned)


def _build_cache(config: Config, out: Path) -> tuple[Path, str]:
    """Where the cache keeps what it knows of the output folder `out`: the project's root (the
    configuration's folder) and the entry's name, one per output folder (by its absolute path)."""
    import hashlib

    digest = hashlib.sha256(os.path.abspath(out).encode("utf-8", "surrogateescape")).hexdigest()
    return config.base, f"build-{BUILD_CACHE_FORMAT}-{digest[:16]}"


def _results_cache(config: Config, job: Job, known: dict) -> tuple[Path, str, int | None]:
    """Where the cache keeps each file's build result (`tunespec.replay`), the run's part of their key, and
    when the run began (what changed since, or just before, is not kept); None: nothing is kept (tunespec's
    own files are being edited)."""
    from tunespec import replay

    since = replay.moment()
    code, settled = replay.code_signature(since)
    return config.base, replay.run_key(job, known, code), since if settled else None


def _save_signatures(where: tuple[Path, str], changes: dict, out: Path):
    """Merge what the run learnt of the output folders into the cache (read again: another run may have
    written it meanwhile); a function giving what the cache then knows of them (a `templates.known.Known`,
    for the orphan search, which needs it only for folders the run did not make)."""
    from tunespec import cache
    from tunespec.templates.known import Known, entries

    if not changes:
        return lambda: Known(entries(cache.load(*where)), str(out))
    found = entries(cache.load(*where))
    for folder, entry in changes.items():
        if entry is None:
            found.pop(folder, None)
        else:
            found[folder] = entry
    cache.store(*where, found)
    return lambda: Known(found, str(out))


def output_folder(config: Config, out: str | None = None) -> Path:
    """Where specs are written: `--out`, else the configuration's `out` (relative to its file), else out/."""
    return Path(out) if out is not None else _from_config(config, config.out or DEFAULT_OUT)


def _from_config(config: Config, folder: str) -> Path:
    """A folder the configuration names, relative to the configuration's file (as the current directory
    sees it, so that messages name it as the user would)."""
    if config.path is None or os.path.isabs(folder):
        return Path(folder)
    return Path(os.path.relpath(config.base.absolute() / folder))


# --- fmt and show ------------------------------------------------------------------------------------------

class FormattedFile(Record):
    """One file `fmt` looked at: unchanged, changed (rewritten unless checking; `diff` when asked), or not
    formatted because it cannot be read or parsed (`diagnostic`, TS014 or TS001), or could not be written
    (`failure`, one line)."""

    path: str  # as diagnostics name it
    changed: bool = False
    diff: str = ""
    diagnostic: Diagnostic | None = None
    failure: str | None = None


class FmtResult(Record):
    files: list[FormattedFile]
    check: bool = False  # nothing was written (--check or --diff)

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return [item.diagnostic for item in self.files if item.diagnostic is not None]

    @property
    def changed(self) -> list[str]:
        return [item.path for item in self.files if item.changed]

    @property
    def unchanged(self) -> int:
        return sum(1 for item in self.files if not item.changed and item.diagnostic is None and item.failure is None)

    @property
    def failures(self) -> list[str]:
        return [item.failure for item in self.files if item.failure is not None]

    def report(self):
        """The exit code's owner: errors are findings; with `check`, so is every file that would change;
        a file that could not be written is exit 2."""
        from tunespec.report import Report

        return Report(self.diagnostics, len(self.files), failures=len(self.changed) if self.check else 0,
                      unwritable=bool(self.failures))


def fmt(paths: Iterable[str | os.PathLike], config: Config | None = None, *, check: bool = False,
        diff: bool = False, cwd: Path | None = None) -> FmtResult:
    """Rewrite the `.tune` files at `paths` in the canonical layout (folders searched as `lint` searches
    them, with the configuration's `exclude`); with `check` or `diff` nothing is written. A file that
    cannot be read or parsed is left as it is, with its TS014 or TS001."""
    import difflib
    import stat

    from tunespec.compiler.loader import read_text, symlink_problem
    from tunespec.files import WriteError, write_atomically
    from tunespec.format import formatted_or_raise
    from tunespec.grammar import SyntaxProblem
    from tunespec.printable import printable
    from tunespec import codes

    cwd = (cwd or Path.cwd()).absolute()
    config = config if config is not None else configuration(cwd)
    files = []
    for name, display in expand_paths(paths, lambda: config.excluder(cwd)):
        path = Path(name)
        text, reason = None, symlink_problem(path, cwd)
        if reason is not None:
            reason = f"cannot read the file: {reason}"
        else:
            text, reason = read_text(path)
        if reason is not None:
            files.append(FormattedFile(display, diagnostic=_whole_file(codes.UNREADABLE_FILE, display, 1, 1, reason)))
            continue
        try:
            formatted = formatted_or_raise(text)
        except SyntaxProblem as error:
            files.append(FormattedFile(display, diagnostic=_whole_file(
                codes.SYNTAX_ERROR, display, error.line, error.column, f"{error.message} (not formatted)")))
            continue
        if formatted.encode("utf-8") == path.read_bytes():
            files.append(FormattedFile(display))
            continue
        item = FormattedFile(display, changed=True)
        if diff:
            lines = difflib.unified_diff(text.splitlines(True), formatted.splitlines(True),
                                         f"{display} (original)", f"{display} (formatted)")
            item.diff = "".join(printable(line[:-1]) + "\n" if line.endswith("\n") else printable(line)
                                for line in lines)
        if not (check or diff):
            mode = stat.S_IMODE(path.stat().st_mode)
            if not mode & 0o222:
                item.failure = f"cannot write {display}: the file is read-only"
            else:
                try:  # through a symbolic link to the file it names, which stays a link
                    write_atomically(Path(os.path.realpath(path)), formatted.encode("utf-8"), mode, exact_mode=True)
                except WriteError as error:
                    item.failure = str(error)
        files.append(item)
    return FmtResult(files, check or diff)


def _whole_file(code: str, path: str, line: int, column: int, message: str) -> Diagnostic:
    from tunespec.diagnostics import Severity

    return Diagnostic(code, Severity.ERROR, message, path, line, column, line, column, None, None)


class ShowResult(Record):
    variants: list[ResolvedExperiment]
    lint: LintResult

    def report(self):
        """Exit 1 when an error was found (show prints the variants all the same)."""
        from tunespec.diagnostics import Severity
        from tunespec.report import Report

        errors = [d for d in self.lint.diagnostics if d.severity is Severity.ERROR]
        return Report(errors, self.lint.files_checked)


def show(paths: Iterable[str | os.PathLike], config: Config | None = None, *, experiment: str | None = None,
         cwd: Path | None = None, overrides: Iterable[str] = ()) -> ShowResult:
    """The resolved variants at `paths` (only those of the experiment or variant named `experiment`), and the
    lint of the files; paths in the IR are relative to the configuration's folder, as `build` writes them.
    `overrides` are `--set` items, `path=value`, over every experiment (origin "command line")."""
    config = config if config is not None else configuration(cwd)
    result = run_lint(paths, config, cwd=cwd, root=config.base.absolute(), overrides=overrides)
    variants = [exp for exp in result.resolved if not exp.is_preset]
    if experiment is not None:
        variants = [exp for exp in variants if experiment in (exp.experiment, exp.name)]
    return ShowResult(variants, result)
