"""Running lint and build over many files: in batches, in order, in this process or in worker processes.

A batch is a few dozen of the files named on the command line with everything they import: loaded,
resolved, checked (for `build`, also rendered and staged) together, then dropped — so memory is bounded by
a batch, not by the run. The batches are the same whatever `--jobs` is, and their results are merged in
batch order, so `--jobs 8` prints exactly what `--jobs 1` prints.

What crosses batches is merged here: a diagnostic reported by two batches (about a preset file both import)
is kept once, the first; a `# noqa` comment is unused (TS901) only if no batch used it; two variants that
would write the same folder are caught in file order.
"""

from __future__ import annotations

import gc
import os
from itertools import repeat
from operator import attrgetter, is_not
from pathlib import Path
TYPE_CHECKING = False
if TYPE_CHECKING:  # (typing, for type checkers only, is not imported at run time)
    from typing import Any, Iterable, Iterator

from tunespec import codes
from tunespec.compiler.catalog import load_catalog
from tunespec.compiler.loader import Program, find_tune_files, identity, read_text, symlink_problem
from tunespec.compiler.resolve import ResolvedExperiment, Resolver
from tunespec.config import Config
from tunespec.diagnostics import Diagnostic, Severity
from tunespec.location import Location
from tunespec.printable import encodable
from tunespec.record import Factory, Record
from tunespec.rules import REGISTRY
from tunespec.rules.engine import Engine, Noqa, RuleContext, Selection, noqa_maps
from tunespec.rules.outputs import FolderClaims, output_claims

BATCH_FILES = 64
# A build's file costs ten times a lint's (nine targets rendered, verified and staged): smaller batches keep the
# workers evenly loaded to the end (with 64, the benchmark's 333 files made six batches, and one worker
# built 192 files while the other built 141).
BUILD_BATCH_FILES = 16
# Below this many files a worker process costs more than it saves (start-up, copying results back).
PARALLEL_MINIMUM = 2 * BATCH_FILES
DEFAULT_TARGETS = ["yaml"]


class BuildPlan(Record):
    out: Path
    check: bool = False
    targets: list | None = None  # --target: replaces each experiment's own list
    cache: tuple | None = None  # (root, entry) of the cache's entry for `out`'s folders (templates.known); None: --no-cache
    results: tuple | None = None  # (root, run key, when the run began or None: keep nothing) of the files' results (replay); None: --no-cache


class Job(Record):
    """What every batch of a run needs (sent once to each worker)."""

    config: Config
    selection: Selection
    cwd: Path
    root: Path | None = None  # paths in the IR are relative to it (default: cwd)
    targets: list | None = None  # --target, for TS5xx
    template_dirs: list = Factory(list)
    keep: bool = False  # keep the program and the resolved variants (show, the API): one batch, here
    build: BuildPlan | None = None
    buffers: dict = Factory(dict)  # path -> text read instead of the file (an editor's unsaved buffer)
    overrides: list = Factory(list)  # `--set path=value` items (compiler.overrides), over every experiment


class Built(Record):
    """One target of one variant in a build: refused (with why), or its files staged or compared."""

    folder: str
    owner: str  # "file (experiment name)", for the message when two variants share a folder
    label: str  # "variant (target)"
    refused: str | None = None
    files: Any = None  # templates.build.Staged
    variant: tuple = ()  # (source, variant name), to refuse it when the run finds its output folder taken
    names: tuple = ()  # (target, name) pairs no other variant of the build may have (a Kubernetes job's)
    name: str = ""  # the variant's name (also when refused), for what a build no longer writes (orphans)
    target: str | None = None  # the target's; None when the whole variant is refused
    key: str = ""  # the stamp key its folder must hold (templates.stamp), kept with the file's result (replay)


class BatchResult(Record):
    """What one batch found (and, merged, what the run found)."""

    diagnostics: list  # reported ones; TS901 only in the merged result (it needs every batch)
    noqa: dict  # display path -> {line: Noqa}
    roots: list  # display paths of the files linted
    lines: dict  # display path -> {line number: text}, for the lines diagnostics and noqa comments are on
    program: Any = None
    resolved: list = Factory(list)
    built: list = Factory(list)
    claims: list = Factory(list)  # rules.outputs.OutputClaim of each variant, for TS015 across the run
    signatures: dict = Factory(dict)  # what the batch learnt of output folders, for the cache (`Known.changes`)

    def __reduce__(self):
        """Sent from a worker with its `built` in columns of plain values (`_wire_built`), which pickle
        writes and reads in C."""
        values = self._values()
        built = _wire_built(self.built)
        if built is None:
            return type(self), values
        return _unwired_result, (values[:_BUILT_FIELD] + (None,) + values[_BUILT_FIELD + 1:], *built)


_BUILT_FIELD = BatchResult._fields.index("built")
_FILES_FIELD = Built._fields.index("files")
_BUILT_COLUMNS = [attrgetter(field) for field in Built._fields if field != "files"]
_built_files = attrgetter("files")


def _wire_built(built: list) -> tuple | None:
    """A batch's `built` as columns of plain values for pickling: each field's values but the files', the
    files' (`Staged`) fields' values, where there are files, and the class of those files; None when `built`
    holds a record or files of another kind (which pickle as they are). Pickle writes and reads columns in
    C, where each record made a call to `Record.__reduce__` in the worker and a tuple to memoize on both
    sides. The benchmark's fresh build (27 batches, 8,991 records, 5,604 staged; CPU, medians of 9, thrice):
    pickling the results took the workers 39 ms, now 20 ms (27 ms with `Record`'s faster `__reduce__` alone), and
    unpickling them the parent 15 ms, now 14."""
    if not set(map(type, built)) <= {Built}:
        return None
    files = list(map(_built_files, built))
    kinds = set(map(type, files))
    kinds.discard(type(None))
    kind = kinds.pop() if len(kinds) == 1 else None
    if kinds or (kind is not None and not getattr(kind, "_fields", None)):  # (files of two kinds, or not a Record)
        return None
    present = [item for item in files if item is not None]
    made = [list(map(attrgetter(field), present)) for field in kind._fields] if kind is not None else []
    return kind, [list(map(column, built)) for column in _BUILT_COLUMNS], list(map(is_not, files, repeat(None))), made


def _unwired_result(values: tuple, kind: type | None, columns: list, has_files: list, made: list) -> BatchResult:
    """The `BatchResult` that `BatchResult.__reduce__` sent (`_wire_built`)."""
    files = iter(map(kind, *made)) if kind is not None else iter(())
    columns.insert(_FILES_FIELD, [next(files) if has else None for has in has_files])
    return BatchResult(*values[:_BUILT_FIELD], list(map(Built, *columns)), *values[_BUILT_FIELD + 1:])


def default_jobs() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


# --- files ---------------------------------------------------------------------------------------------

def expand_paths(paths: Iterable[str | os.PathLike], excluder_of=None) -> list[tuple[str, str]]:
    """Files as given, and the `*.tune` files below folders (less what the excluder that `excluder_of()`
    makes, a `discovery.Excluder`, excludes: made for the first folder, so that a lint of files alone does
    not import `discovery`, 0.6M instructions); each with the path diagnostics show (most often the same
    string). A file named twice (`lint a.tune .`) is linted once."""
    found: list[tuple[str, str]] = []
    seen: set = set()
    walk = None if excluder_of is not None else find_tune_files
    for given in paths:
        text = os.fspath(given)
        if os.path.isdir(text):
            if walk is None:
                walk = excluder_of().walk
            entries = [(file, _shown(file)) for file in walk(text)]
        else:
            entries = [(text, text)]
        for file, display in entries:
            key = identity(file)
            if key not in seen:
                seen.add(key)
                found.append((file, display))
    return found


def _shown(file: str) -> str:
    display = os.path.normpath(file)
    return file if display == file else display


# --- one batch ---------------------------------------------------------------------------------------

class Compiled(Record):
    """What the compile step made of some files: the program (files read, parsed, imports followed), the
    resolver (with its findings) and the resolved experiments and presets (none yet when streamed)."""

    program: Program
    resolver: Resolver
    resolved: list


def compile_files(files: Iterable[tuple[str, str]], cwd: Path | None, config: Config, root: Path | None = None,
                  buffers: dict | None = None, loader: dict | None = None, overrides: list | None = None,
                  streamed: bool = False) -> Compiled:
    """The one compile step (load, then resolve) that lint, show, build and the API run: `files` are
    (path, display) pairs, as `expand_paths` gives them; paths in the IR are relative to `root` (default:
    `cwd`). No rule runs here. `streamed`: nothing is resolved yet; the caller takes the variants one
    declaration at a time from `resolver.declarations(forget=True)`."""
    program = Program(cwd, buffers, loader, outline=streamed)
    for path, display in files:
        program.add_root(path, display)
    program.check_import_cycles()
    settings = None
    if overrides:
        from tunespec.compiler.overrides import parse_overrides

        settings = parse_overrides(overrides)
    resolver = Resolver(program, load_catalog(), root or program.cwd, config.max_variants, settings)
    return Compiled(program, resolver, [] if streamed else resolver.resolve_roots())


def run_batch(files: list[tuple[str, str]], job: Job, shared: dict) -> BatchResult:
    """Compile and check `files` (and build them, for a build); `shared` lives as long as the process's
    part of the run (the data files' scans). A build with the cache takes each file's result from the
    cache when nothing it depends on changed (`replay`), and builds the others one file at a time, so
    that each file's result can be kept."""
    if _replays(job):
        return _files_results(files, job, shared)
    return _run_files(files, job, shared)[0]


def _files_results(files: list[tuple[str, str]], job: Job, shared: dict) -> BatchResult:
    """The batch's files' results, each replayed from the cache or built alone, in passes over the batch:
    every file looked up, those not replayed compiled, then checked, then built (one target at a time for
    all their variants, `_build_planned`), then kept in the cache (`_keep`). Each pass runs one kind of work
    over the whole batch, whose code and tables stay in the processor's caches: interleaving the compile,
    the checks, nine targets' rendering and the keeping per file cost the benchmark's fresh build (333
    files, --jobs 1, CPU, medians of 7 interleaved runs) 0.09 s in compile and check (0.37 -> 0.28 s) and
    0.04 s more in building and keeping (run 1.64 -> 1.60 s). A file's result is the same either way: what
    a file's compile and check read of the process's shared state (imported files, data files' scans)
    does not depend on what the batch's other files made of it, and what is kept of a file is judged
    against the run's start (`replay.dependencies`)."""
    results: list = []
    try:
        for file in files:
            results.append(_replayed(file, job, shared))
        compiled = [compile_files([file], job.cwd, job.config, job.root, job.buffers, shared.setdefault("loader", {}),
                                  job.overrides) if found is None else None for file, found in zip(files, results)]
        checked = [_check_batch(item, job, shared) if item is not None else None for item in compiled]
        del compiled  # (each file's is held by its `_Checked`, then its entry in `built`, until it is kept)
        built = []  # (file, its result, what was compiled) of the files built
        plans: list = []  # what each of them builds (`_planned`), built together (one target at a time)
        for index, file in enumerate(files):
            if results[index] is None:
                results[index], kept = _run_files([file], job, shared, checked[index], plans)
                checked[index] = None
                built.append((file, results[index], kept))
        _build_planned(plans)
        signatures = _signatures(job, shared)
        if built and signatures is not None:  # (what the building learnt of output folders: the batch's)
            built[-1][1].signatures.update(signatures.take_changes())
        for file, result, kept in built:
            _keep(file, result, kept, job, shared)
    except BaseException:  # (a file's failure: what the batch's other files staged goes too)
        for result in results:
            if result is not None:
                discard_built(result.built)
        raise
    return _combined(results)


def _replays(job: Job) -> bool:
    """Whether the run takes files' results from the cache (`replay`): a build with the cache."""
    return job.build is not None and job.build.results is not None and not job.keep and not job.buffers


def _keep(file: tuple[str, str], result: BatchResult, compiled: Compiled, job: Job, shared: dict) -> None:
    """Keep a file's result, as building it alone made it (`compiled`), in the cache when it may be."""
    from tunespec import cache, replay

    root, key, since = job.build.results
    if since is not None and compiled is not None:
        name = replay.entry_name(str(job.build.out), file[0])
        roots = shared.setdefault("project roots", {})
        depends = replay.dependencies(compiled, since, roots)
        data = replay.entry(key, file[1], result, depends) if depends is not None else None
        if data is not None:
            cache.store(root, name, data)


def _replayed(file: tuple[str, str], job: Job, shared: dict) -> BatchResult | None:
    """The file's result from the cache, when nothing it depends on changed (`replay.replayed`)."""
    from tunespec import cache, replay

    root, key, _ = job.build.results
    placement = shared.get("placement")
    if placement is None:
        from tunespec.templates.build import Placement

        placement = shared["placement"] = Placement(job.build.out, (job.root or job.cwd).absolute())
    signatures = _signatures(job, shared)
    found = replay.replayed(cache.load(root, replay.entry_name(str(job.build.out), file[0])), key, file[1], job,
                            placement, signatures, shared.setdefault("project roots", {}))
    if found is not None:
        found.signatures = signatures.take_changes() if signatures is not None else {}
    return found


def _replayed_batch(files: list[tuple[str, str]], job: Job, shared: dict) -> BatchResult | None:
    """The batch's result when every one of its files' results replays; else None (nothing kept)."""
    results: list[BatchResult] = []
    with collection_paused():
        for file in files:
            found = _replayed(file, job, shared)
            if found is None:
                for result in results:
                    discard_built(result.built)
                return None
            results.append(found)
    return _combined(results)


def _combined(results: list[BatchResult]) -> BatchResult:
    """The results of a batch's files as one batch's (merged as `_Merge` merges batches)."""
    if len(results) == 1:
        return results[0]
    combined = BatchResult([], {}, [], {})
    for result in results:
        combined.diagnostics += result.diagnostics
        merge_noqa(combined.noqa, result.noqa)
        combined.roots += result.roots
        for display, lines in result.lines.items():
            combined.lines.setdefault(display, {}).update(lines)
        combined.built += result.built
        combined.claims += result.claims
        combined.signatures.update(result.signatures)
    return combined


def merge_noqa(into: dict, noqa: dict) -> None:
    """A batch's `# noqa` comments added to those of others: a comment is used if any batch used it."""
    for display, comments in noqa.items():
        mine = into.setdefault(display, {})
        for line, comment in comments.items():
            if line in mine:
                mine[line].used |= comment.used
            else:
                mine[line] = comment


def _run_files(files: list[tuple[str, str]], job: Job, shared: dict, checked: _Checked | None = None,
               plans: list | None = None) -> tuple[BatchResult, Compiled | None]:
    """`run_batch` of `files` compiled together, and what was compiled (None for a lint: dropped as it
    went); `checked`: what `_check_batch` found of them, when the caller compiled and checked them. With
    `plans`, a build's targets are planned (`_planned`) onto it, for the caller to build with other files'
    (`_build_planned`), into the result's `built`."""
    if checked is None:
        checked = _check_batch(compile_files(files, job.cwd, job.config, job.root, job.buffers,
                                             shared.setdefault("loader", {}), job.overrides, _streamed(job)), job, shared)
    # A lint's syntax trees are gone by now (nothing here holds `compile_files`' result): a 10 MB file's
    # diagnostics are made in the memory its trees took (1 byte per source byte less at the peak).
    engine = Engine(REGISTRY, job.selection)
    diagnostics = engine.reported(_drained(checked.findings), checked.noqa)
    noqa = {display: comments for display, comments in checked.noqa.items() if comments}
    lines = _quoted_lines(checked.texts, diagnostics, noqa)
    compiled = checked.compiled
    resolved = compiled.resolved if compiled is not None else []
    signatures = _signatures(job, shared)
    if job.build is None:
        built = []
    elif plans is None:
        built = build_batch(resolved, diagnostics, job, checked.by_target, signatures)
    else:
        plans.append(_planned(resolved, diagnostics, job, checked.by_target, signatures))
        built = plans[-1][0]
    return BatchResult(diagnostics, noqa, checked.roots, lines, compiled.program if job.keep else None,
                       resolved if job.keep else [], built, checked.claims,
                       signatures.take_changes() if signatures is not None else {}), compiled


def _drained(items: list) -> Iterator:
    """Each item of `items`, dropped from the list as it is taken: a finding is gone once its diagnostic is
    made, so that the two are not all held at once (a 10 MB file's 30,000 warnings: peak memory 12.4 ->
    12.1 bytes per source byte)."""
    for index in range(len(items)):
        item = items[index]
        items[index] = None
        yield item


def _streamed(job: Job) -> bool:
    """Whether the batch's variants are checked one declaration at a time and dropped: for a lint. A
    build, `show` and the API keep them all (a build renders what the whole batch's diagnostics allow)."""
    return job.build is None and not job.keep


class _Checked(Record):
    """What checking a batch found: its findings, the `# noqa` comments and texts of the files they name,
    the output claims of its variants (for TS015 across the run); and what was compiled, when kept."""

    findings: list
    noqa: dict  # display path -> {line: Noqa}
    texts: list  # (display path, text) of the files the findings name
    roots: list
    claims: list
    compiled: Compiled | None
    by_target: dict | None  # TS5xx findings per variant and target, which build reuses


def _check_batch(compiled: Compiled, job: Job, shared: dict) -> _Checked:
    """The rules and TS5xx checks of a batch's variants. A lint checks one declaration's variants at a
    time and keeps only their findings and output claims, so that its memory is the syntax trees', not
    every resolved variant's (a 10 MB file: 58 bytes per source byte before, 20 after)."""
    streamed = _streamed(job)
    program, resolver = compiled.program, compiled.resolver
    engine = Engine(REGISTRY, job.selection, RuleContext(resolver.catalog, program, shared=shared))
    by_target: dict | None = None if streamed else {}
    targets = _TargetChecks(job.targets, job.config, job.template_dirs, by_target)
    checked: list = []
    targeted: list = []
    claims: list = []
    for variants in resolver.declarations(forget=True) if streamed else [compiled.resolved]:
        checked += _first_at_each_place(engine.check(variants))
        targeted += targets.findings(variants)
        claims += output_claims(variants)
    targeted += targets.findings([])  # --template-dir folders are read (and refused) even for no variant
    findings = [(finding, None) for finding in program.findings]
    findings += resolver.findings
    findings += checked
    findings += targeted
    sources = program.sources(finding.location.path for finding, _ in findings)
    if streamed:
        program.release()
    return _Checked(findings, noqa_maps(sources, REGISTRY), [(source.display, source.text) for source in sources],
                    [source.display for source in program.roots], claims, None if streamed else compiled, by_target)


def _signatures(job: Job, shared: dict):
    """The cache's signatures of the output folders (a `templates.known.Known`), read once per process of
    the run; None without a cache."""
    if job.build is None or job.build.cache is None:
        return None
    signatures = shared.get("signatures")
    if signatures is None:
        from tunespec.cache import load
        from tunespec.templates.known import Known, entries

        signatures = shared["signatures"] = Known(entries(load(*job.build.cache)), str(job.build.out))
    return signatures


def _first_at_each_place(findings: Iterable[tuple]) -> list[tuple]:
    """The findings of one declaration less those at a place (and code) already found: the variants of a
    sweep mostly find the same things, and only the first at a place is reported (`Engine.reported`), so
    the others need not be held until then (a 10 MB file of three-variant sweeps: 1 byte per source byte)."""
    seen: set[tuple] = set()
    kept = []
    for item in findings:
        location = item[0].location
        span = location.span
        key = (location.path, span.line, span.column, item[0].code)
        if key not in seen:
            seen.add(key)
            kept.append(item)
    return kept


def _quoted_lines(texts: list, diagnostics: list[Diagnostic], noqa: dict) -> dict[str, dict[int, str]]:
    """The source lines a text report quotes: those diagnostics point at, and `# noqa` comments' (TS901).
    Only those are kept, so that memory does not grow with the size of the files linted."""
    wanted: dict[str, set[int]] = {display: set(comments) for display, comments in noqa.items()}
    for diagnostic in diagnostics:
        wanted.setdefault(diagnostic.path, set()).add(diagnostic.line)
    quoted = {}
    for display, text in texts:
        numbers = wanted.get(display)
        if numbers and text is not None:
            quoted[display] = lines_at(text, sorted(numbers))
    return quoted


def lines_at(text: str, numbers: list[int]) -> dict[int, str]:
    """Lines `numbers` (1-based, ascending) of `text`, those it has, found without splitting all of it: a
    list of a 10 MB file's lines costs 4.5 bytes per source byte, at the end of a lint, when memory peaks.
    Stretches of text with no wanted line are skipped a block at a time."""
    found: dict[int, str] = {}
    line, start = 1, 0  # line `line` starts at `start`
    for number in numbers:
        if number < 1:
            continue
        while number - line > 64:
            end = text.rfind("\n", start, start + 65536)
            if end < 0:
                break
            skipped = text.count("\n", start, end + 1)
            if line + skipped > number:
                break
            line, start = line + skipped, end + 1
        while line < number:
            end = text.find("\n", start)
            if end < 0:
                return found
            line, start = line + 1, end + 1
        end = text.find("\n", start)
        found[number] = text[start:] if end < 0 else text[start:end]
    return found


class _TargetChecks:
    """TS5xx (and TS005 for unknown target names) of a batch's variants, given some at a time; the targets'
    declarations are read when a target is first named, once per batch."""

    def __init__(self, override: list[str] | None, config: Config, template_dirs: Iterable[str],
                 memo: dict | None) -> None:
        self.override, self.config, self.template_dirs, self.memo = override, config, list(template_dirs), memo
        self.known = None

    def findings(self, resolved: list[ResolvedExperiment]) -> list:
        if self.override is None and self.config.targets is None and not self.template_dirs and \
                not any(exp.values.get("targets") for exp in resolved):
            return []
        from tunespec.templates.targets import all_targets, findings_for

        if self.known is None:
            self.known = all_targets(self.template_dirs)
        return list(findings_for(resolved, self.config.targets, self.known, self.memo, self.override))


# --- building one batch --------------------------------------------------------------------------------

def build_batch(resolved: list[ResolvedExperiment], diagnostics: list[Diagnostic], job: Job,
                by_target: dict, signatures=None) -> list[Built]:
    """Each variant's targets, refused or built, in the variants' order and each variant's targets' order."""
    built, pending = _planned(resolved, diagnostics, job, by_target, signatures)
    _build_planned([(built, pending)])
    return built


def _planned(resolved: list[ResolvedExperiment], diagnostics: list[Diagnostic], job: Job, by_target: dict,
             signatures) -> tuple[list, list]:
    """The variants' targets, in order: each refused one's Built, and None in the place of each to build;
    and those to build (`_ToBuild`, placed by their index in the first list)."""
    from tunespec.templates import targets
    from tunespec.templates.build import Placement
    from tunespec.templates.targets import all_targets

    plan = job.build
    known = all_targets(job.template_dirs)
    errors = _ErrorPlaces(diagnostics)
    engine = Engine(REGISTRY, job.selection)
    building = _Building(job, Placement(plan.out, (job.root or job.cwd).absolute()), signatures)
    built: list = []
    pending: list = []
    for exp in resolved:
        if exp.is_preset:
            continue
        if not exp.complete or errors.inside(exp) or _missing_required(exp):
            built.append(Built("", "", exp.name, f"{exp.name}: not built, it has errors", name=exp.name))
            continue
        unwritable = _not_utf8(exp)
        if unwritable:
            built.append(Built("", "", exp.name, f"{exp.name}: not built, the path {unwritable} is not UTF-8 "
                                                 "text, which a job spec must hold", name=exp.name))
            continue
        for name in plan.targets or exp.values.get("targets") or job.config.targets or DEFAULT_TARGETS:
            label = f"{exp.name} ({name})"
            target = known.get(name)
            if target is None or _target_refuses(exp, target, engine, by_target, targets):
                built.append(Built("", "", label, f"{label}: not built, see the TS5xx error above",
                                   name=exp.name, target=name))
                continue
            pending.append(_ToBuild(len(built), exp, name, target, label, building))
            built.append(None)
    return built, pending


def _build_planned(plans: list[tuple[list, list]]) -> None:
    """Build what some files' variants are to build (`_planned`: a file's each) into its place, one target
    at a time for every variant of the files that has it (`_build_order`), each target rendered for all of
    them, then staged: a target's templates, filters and verification, then the staging's, stay in the
    processor's caches from one variant to the next. Built variant by variant, nine targets apart, the
    benchmark's fresh build took 0.04-0.09 s more CPU (333 files, --jobs 1, medians of 7 interleaved runs,
    twice: render_outputs 0.819 -> 0.773 and 0.825 -> 0.762 s, run 1.629 -> 1.590 and 1.633 -> 1.543 s)
    than built a file's variants together, which took 0.09 s more than a batch's 16 files' together
    (render_outputs 0.841 -> 0.776 s, run 1.726 -> 1.638 s, 9 of 9 runs faster), which, staging each
    target as it was rendered, took 0.02-0.12 s more (twice: stage_outputs 0.307 -> 0.274 and 0.321 ->
    0.272 s, run 1.597 -> 1.574 and 1.704 -> 1.582 s, 8 of 8 runs faster the second time). A
    failure is the one building file by file and variant by variant meets first (`_first_failure`).

    Every variant's templates' context lives from its first target to its last: the variants are built
    `CHUNK_VARIANTS` at a time, so that a sweep of 10,000 variants does not hold 10,000 contexts at once."""
    pending = []
    for number, (_, items) in enumerate(plans):
        for item in items:
            item.place = (number, item.place)  # (the file's plan, the place in its list)
            pending.append(item)
    rendered: dict[tuple, tuple] = {}  # place -> what rendering made there, not staged yet
    try:
        for chunk in _chunks(pending):
            for group in _by_target(_build_order(chunk)):
                for item in group:
                    try:
                        rendered[item.place] = item.rendered()
                    except Exception:
                        _first_failure(plans, pending, rendered, item.place)
                        raise
                for item in group:
                    try:
                        _place(plans, item, item.building.staged(rendered.pop(item.place)))
                    except Exception:
                        _first_failure(plans, pending, rendered, item.place)
                        raise
            for item in chunk:  # (their targets are built: their contexts are not needed again)
                item.building.variants.pop(id(item.exp), None)
    except BaseException:
        discard_built([item for built, _ in plans for item in built])
        raise


CHUNK_VARIANTS = 64  # (a batch of the benchmark's 16 files has 48: one chunk)


class _ToBuild(Record):
    """One target of one variant, to build into `place`: its index in its file's list of Built (`_planned`),
    then (the file's plan, that index) once several files' are built together (`_build_planned`)."""

    place: Any
    exp: ResolvedExperiment
    name: str  # the target's name
    target: Any  # the target (`templates.targets.Target`)
    label: str
    building: "_Building"

    def rendered(self) -> tuple:
        return self.building.rendered(self.exp, self.name, self.target, self.label)


def _chunks(pending: list[_ToBuild]) -> Iterator[list[_ToBuild]]:
    """`pending` (in the files' and variants' order) in pieces of whole variants, `CHUNK_VARIANTS` each."""
    chunk: list = []
    variants: set[int] = set()
    for item in pending:
        if id(item.exp) not in variants and len(variants) == CHUNK_VARIANTS:
            yield chunk
            chunk, variants = [], set()
        variants.add(id(item.exp))
        chunk.append(item)
    if chunk:
        yield chunk


def _first_failure(plans: list[tuple[list, list]], pending: list[_ToBuild], rendered: dict, failed: tuple) -> None:
    """Build what comes before the place that `failed`, in the files' and variants' order, and is not built
    yet: a failure there (raised from here) is the one building file by file and variant by variant meets
    first, and the one reported."""
    for item in pending:
        if item.place < failed and plans[item.place[0]][0][item.place[1]] is None:
            made = rendered.pop(item.place, None)
            _place(plans, item, item.building.staged(made if made is not None else item.rendered()))


def _place(plans: list[tuple[list, list]], item: _ToBuild, built: Built) -> None:
    number, place = item.place
    plans[number][0][place] = built


def _by_target(ordered: list[_ToBuild]) -> Iterator[list[_ToBuild]]:
    """`_build_order`'s items, a target's at a time."""
    group: list = []
    for item in ordered:
        if group and item.name != group[0].name:
            yield group
            group = []
        group.append(item)
    if group:
        yield group


def _build_order(pending: list[_ToBuild]) -> list[_ToBuild]:
    """The targets to build (`_build_planned`'s), one target after another in the order the variants first
    name them, each target's in the variants' order."""
    order: dict[str, int] = {}
    for item in pending:
        order.setdefault(item.name, len(order))
    return sorted(pending, key=lambda item: order[item.name])


class _Building:
    """What building a file's targets shares: the placement of their folders, the cache's signatures, and
    each variant's inputs, their digest and its templates' context, made once for all its targets."""

    def __init__(self, job: Job, placement, signatures) -> None:
        self.plan, self.placement, self.signatures = job.build, placement, signatures
        self.to_root = placement.to_root()
        self.variants: dict[int, list] = {}  # id of a variant -> [inputs, digest, context or None]

    def rendered(self, exp: ResolvedExperiment, name: str, target, label: str) -> tuple:
        """One target of one variant, its folder found up to date or rendered (nothing written yet): what
        `staged` takes."""
        from tunespec.compiler.ir import variant_inputs
        from tunespec.templates import stamp
        from tunespec.templates.build import fresh_outputs, render_outputs

        plan, placement = self.plan, self.placement
        variant = self.variants.get(id(exp))
        if variant is None:
            inputs = variant_inputs(exp)
            variant = self.variants[id(exp)] = [inputs, stamp.variant_digest(inputs), None]
        folder = placement.folder(exp.name, name)
        key = stamp.key(variant[1], target, placement.from_root(exp.name, name), self.to_root)
        found = fresh_outputs(folder, key, placement, plan.check, self.signatures)
        if found is not None:  # rendering would make what is there: nothing rendered
            return exp, name, label, folder, key, found, None
        from tunespec.templates.render import keep_compiled_templates, unique_names, variant_context

        if variant[2] is None:  # (the variant's first target rendered)
            keep_compiled_templates(plan.cache[0] if plan.cache is not None else None)
            variant[2] = variant_context(exp, variant[0])
        outputs = render_outputs(exp, target, placement, variant[2])
        return exp, name, label, folder, key, None, (outputs, unique_names(target, variant[2]["ir"]))

    def staged(self, rendered: tuple) -> Built:
        """What `rendered` made, staged (or compared, for --check)."""
        from tunespec.templates.build import check_outputs, stage_outputs

        exp, name, label, folder, key, found, made = rendered
        if found is not None:
            files, names = found
        else:
            outputs, names = made
            files = check_outputs(outputs) if self.plan.check else \
                stage_outputs(outputs, self.placement, (folder, key, names))
        return Built(folder, f"{exp.source} (experiment {exp.experiment})", label, files=files,
                     variant=(exp.source, exp.name), names=names, name=exp.name, target=name, key=key)


def _not_utf8(exp: ResolvedExperiment) -> str | None:
    """A data path (relative to the root) that passes through a folder whose name is not UTF-8."""
    for field in ("data.train", "data.validation"):
        value = exp.values.get(field)
        if isinstance(value, str) and not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return encodable(value)
    return None


def discard_built(built: list[Built]) -> None:
    """Throw away what `built` staged (None: a target not built yet)."""
    from tunespec.templates.build import discard_staged

    discard_staged([item.files for item in built if item is not None and item.files is not None])


def abandon(built: list[Built], job: Job) -> None:
    """A run that stops halfway leaves nothing behind: what it staged, and what dead workers left."""
    discard_built(built)
    from tunespec.workers import sweep

    sweep(job)


def _missing_required(exp: ResolvedExperiment) -> bool:
    """Whether a value every job needs is unset. TS011 says so, but a `# noqa` on the line it points at
    (the model's, when the model is unknown) silences it: the templates must never see such a variant."""
    from tunespec.compiler.schema import REQUIRED_ALWAYS, REQUIRED_BY_METHOD

    required = (*REQUIRED_ALWAYS, *REQUIRED_BY_METHOD.get(exp.values.get("method"), ()))
    return any(exp.values.get(path) is None for path in required)


class _ErrorPlaces:
    """Where the batch's errors are (TS5xx aside: those refuse one target, not the experiment), to ask
    whether one points into a declaration a variant is made from: once per declaration, each answer
    reused by the declarations that extend it (a long `extends` chain stays linear)."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.places: dict[str, list[tuple[int, int]]] = {}
        for d in diagnostics:
            if d.severity is Severity.ERROR and not d.code.startswith("TS5"):
                self.places.setdefault(d.path, []).append((d.line, d.column))
        for places in self.places.values():
            places.sort()
        self.known: dict[int, bool] = {}  # a declaration's key -> an error inside it or below

    def inside(self, exp: ResolvedExperiment) -> bool:
        unknown = []
        answer = False
        for key, place in exp.declarations():
            if key in self.known:
                answer = self.known[key]
                break
            unknown.append((key, place))
        for key, place in reversed(unknown):
            answer = answer or self._in_declaration(place)
            self.known[key] = answer
        return answer

    def _in_declaration(self, place: Location) -> bool:
        places = self.places.get(place.path)
        if not places:
            return False
        import bisect  # (here: a build's question, and importing it cost every cold lint 0.8M instructions)

        span = place.span
        index = bisect.bisect_left(places, (span.line, span.column))
        return index < len(places) and places[index] < (span.end_line, span.end_column)


def _target_refuses(exp: ResolvedExperiment, target, engine: Engine, by_target: dict, targets) -> bool:
    """Whether a TS5xx error refuses the target for the variant (`targets` is `templates.targets`)."""
    found = by_target.get(targets.memo_key(exp, target.name))
    for finding in found if found is not None else targets.target_findings(exp, target):
        if engine.severity_of(finding) is Severity.ERROR and engine.selection.allows(finding.code, finding.location.path):
            return True
    return False


# --- the run: batches here or in workers, merged in order ---------------------------------------------

def run(paths: Iterable[str | os.PathLike], job: Job, jobs: int = 1, progress=None) -> BatchResult:
    """The run's batches, merged in order; `progress(done, total)` (files) is called after each batch."""
    files = expand_paths(paths, lambda: job.config.excluder(job.cwd))
    merged = _Merge(job)
    batched = [files] if job.keep else _batches(files, job)
    batches = _batch_results(batched, job, jobs)
    done = 0
    try:
        for index, batch in enumerate(batches):
            merged.add(batch)
            if progress is not None:
                done += len(batched[index])
                progress(done, len(files))
        return merged.result()
    except BaseException:  # a failure, a dead worker, Ctrl-C: nothing staged stays behind
        batches.close()  # the workers stop now, not whenever the generator is collected
        abandon(merged.built, job)
        raise


def batch_size(job: Job) -> int:
    return BUILD_BATCH_FILES if job.build is not None else BATCH_FILES


def _batches(files: list[tuple[str, str]], job: Job) -> list[list[tuple[str, str]]]:
    """The run's files in batches (the same whatever `--jobs` is). A build's last two batches' worth go
    in batches a quarter of the size, so that the workers finish together: with whole batches to the end,
    one worker could be left building a batch alone (about 0.1 s of CPU) while the other had none."""
    size = batch_size(job)
    head = len(files) if job.build is None else max(0, len(files) - 2 * size)
    batches = [files[start:min(start + size, head)] for start in range(0, head, size)]
    small = max(1, size // 4)
    batches += [files[start:start + small] for start in range(head, len(files), small)]
    return batches or [[]]


def _batch_results(batches: list[list[tuple[str, str]]], job: Job, jobs: int) -> Iterator[BatchResult]:
    if job.keep:
        yield run_batch(batches[0], job, {})
        return
    workers = min(jobs, len(batches))
    if workers <= 1 or sum(map(len, batches)) < PARALLEL_MINIMUM:
        shared: dict = {}
        for batch in batches:
            with collection_paused():
                result = run_batch(batch, job, shared)
            yield result
        return
    from tunespec.workers import in_workers

    if not _replays(job):
        yield from in_workers(batches, job, workers, _discard)
        return
    # A build with the cache replays here the batches whose every file's result replays (`lstat`s, mostly:
    # a worker's start and sending its results back cost more than they save; an up-to-date build of the
    # benchmark's 333 files, CPU with the workers': 0.33 s in two workers, 0.21 s here), and gives the
    # workers only the others; the results come back in batch order.
    shared: dict = {}
    replayed: list = [_replayed_batch(batch, job, shared) for batch in batches]
    rest = [batch for batch, result in zip(batches, replayed) if result is None]
    done = in_workers(rest, job, min(workers, len(rest)), _discard)
    try:
        for index, result in enumerate(replayed):
            replayed[index] = None
            yield result if result is not None else next(done)
        for _ in done:  # (none is left: the workers finish, as they do when the results run out)
            pass
    finally:
        done.close()  # (a run that stopped: the workers stop, and what they staged goes)
        for result in replayed:
            if result is not None:
                _discard(result)


def _discard(result: BatchResult) -> None:
    """Throw away what a batch's result staged (a run that stops leaves nothing)."""
    discard_built(result.built)


class collection_paused:
    """No cyclic garbage collection while a batch runs (it allocates many small objects that all live
    until the batch ends, so collecting during it finds nothing and costs a third of the time); one
    collection after it."""

    def __enter__(self) -> None:
        self.was_enabled = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc: object) -> None:
        if self.was_enabled:
            gc.enable()
            gc.collect(1)


class _Merge:
    def __init__(self, job: Job) -> None:
        self.job = job
        self.seen: set[tuple] = set()
        self.diagnostics: list[Diagnostic] = []
        self.noqa: dict[str, dict[int, Noqa]] = {}
        self.roots: list[str] = []
        self.lines: dict[str, dict[int, str]] = {}
        self.program = None
        self.resolved: list = []
        self.built: list[Built] = []
        self.folders = FolderClaims()  # TS015, checked as the batches come
        self.collisions: list = []  # (finding, experiment, claim) of TS015
        self.signatures: dict = {}
        self.owners: dict[str, str] = {}
        self.named: dict[tuple, str] = {}  # (target, unique name) -> who has it

    def add(self, batch: BatchResult) -> None:
        for diagnostic in batch.diagnostics:
            key = diagnostic.sort_key
            if key not in self.seen:
                self.seen.add(key)
                self.diagnostics.append(diagnostic)
        merge_noqa(self.noqa, batch.noqa)
        self.roots += batch.roots
        for display, lines in batch.lines.items():
            self.lines.setdefault(display, {}).update(lines)
        self.program = batch.program
        self.resolved += batch.resolved
        self.collisions += self.folders.add(batch.claims)
        self.signatures.update(batch.signatures)
        for item in batch.built:
            self._claim(item)

    def _claim(self, item: Built) -> None:
        """Two variants may not write one folder, nor take one name that a target says is unique (a
        Kubernetes job's): the first in file order does; the second is refused, naming the first."""
        refused = None
        if item.refused is None and item.folder in self.owners:
            refused = f"{item.label}: not built, {self.owners[item.folder]} has the same variant name"
        taken = [name for name in item.names if name in self.named] if item.refused is None else []
        if refused is None and taken:
            target, name = taken[0]
            refused = (f"{item.label}: not built, its Kubernetes name `{name}` is also the name of "
                       f"{self.named[taken[0]]}")
        if refused is not None:
            discard_built([item])
            item = item.replace(refused=refused, files=None)
        elif item.refused is None:
            self.owners[item.folder] = item.owner
            self.named.update({name: f"{item.label}, {item.owner}" for name in item.names})
        self.built.append(item)

    def _refuse_collisions(self, found: list, reported: list[Diagnostic]) -> None:
        """A variant whose output folder is taken is not built, like any experiment with an error."""
        errors = {(d.path, d.line, d.column) for d in reported if d.severity is Severity.ERROR}
        refused = {(claim.path, claim.variant) for finding, _, claim in found
                   if (finding.location.path, finding.location.span.line, finding.location.span.column) in errors}
        if not refused:  # (most runs: the built items need not be gone through)
            return
        for index, item in enumerate(self.built):
            if item.files is not None and item.variant in refused:
                discard_built([item])
                self.built[index] = item.replace(refused=f"{item.label}: not built, its output folder is taken ({codes.OUTPUT_FOLDER_COLLISION})",
                                                 files=None)

    def _quote(self, diagnostics: list[Diagnostic]) -> None:
        """The lines of diagnostics found after the batches dropped their texts (rare): read again."""
        for diagnostic in diagnostics:
            if diagnostic.line in self.lines.get(diagnostic.path, {}):
                continue
            # (as every read: a regular file only, not through a link out of the project)
            path = os.path.join(self.job.cwd, diagnostic.path)
            text, _ = (None, None) if symlink_problem(path, self.job.cwd) else read_text(path)
            lines = text.split("\n") if text is not None else []
            if 0 < diagnostic.line <= len(lines):
                self.lines.setdefault(diagnostic.path, {})[diagnostic.line] = lines[diagnostic.line - 1]

    def result(self) -> BatchResult:
        engine = Engine(REGISTRY, self.job.selection)
        found = self.collisions
        collisions = [d for d in engine.reported([(f, e) for f, e, _ in found], self.noqa) if d.sort_key not in self.seen]
        self._quote(collisions)
        self._refuse_collisions(found, collisions)
        diagnostics = self.diagnostics + collisions
        diagnostics += engine.unused_suppressions(self.noqa, dict.fromkeys(self.roots))
        diagnostics.sort(key=lambda d: d.sort_key)
        return BatchResult(diagnostics, self.noqa, list(dict.fromkeys(self.roots)), self.lines, self.program,
                           self.resolved, self.built, signatures=self.signatures)
