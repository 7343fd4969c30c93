"""The Python API the command line is a thin layer over: `lint`, `resolve` (and later `build`).

    >>> import tunespec
    >>> for diagnostic in tunespec.lint(["experiments/"]):
    ...     print(diagnostic.path, diagnostic.line, diagnostic.code, diagnostic.message)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from tunespec.compiler.catalog import load_catalog
from tunespec.compiler.loader import Program, find_tune_files
from tunespec.compiler.resolve import ResolvedExperiment, Resolver
from tunespec.config import Config, find_config, load_config
from tunespec.diagnostics import Diagnostic, Severity
from tunespec.rules import REGISTRY
from tunespec.record import Factory, Record
from tunespec.rules.engine import Engine, RuleContext, Selection


class LintResult(Record):
    diagnostics: list[Diagnostic]
    program: Program
    resolved: list[ResolvedExperiment] = Factory(list)

    @property
    def files_checked(self) -> int:
        return len(self.program.roots)

    def source_lines(self, path: str) -> list[str]:
        for source in self.program.files.values():
            if source.display == path:
                return source.lines()
        return []


def expand_paths(paths: Iterable[str | os.PathLike]) -> list[tuple[Path, str]]:
    """Files as given, and the `*.tune` files below folders; each with the path diagnostics show."""
    found: list[tuple[Path, str]] = []
    for given in paths:
        text = os.fspath(given)
        path = Path(text)
        if path.is_dir():
            found += [(file, os.path.normpath(file)) for file in find_tune_files(path)]
        else:
            found.append((path, text))
    return found


def configuration(cwd: Path | None = None) -> Config:
    """The configuration that applies in `cwd`: the nearest config file, or the defaults."""
    return load_config(find_config(cwd or Path.cwd()), REGISTRY)


def load_program(paths: Iterable[str | os.PathLike], cwd: Path | None = None) -> Program:
    program = Program(cwd)
    for path, display in expand_paths(paths):
        program.add_root(path, display)
    program.check_import_cycles()
    return program


def resolve_paths(paths: Iterable[str | os.PathLike], config: Config, cwd: Path | None = None,
                  root: Path | None = None) -> tuple[Program, Resolver, list[ResolvedExperiment]]:
    """Load the files and resolve their experiments and presets (no rules run). Paths in the IR are
    relative to `root` (default: the current directory)."""
    program = load_program(paths, cwd)
    resolver = Resolver(program, load_catalog(), root or program.cwd, config.max_variants)
    return program, resolver, resolver.resolve_roots()


def run_lint(paths: Iterable[str | os.PathLike], config: Config | None = None, *,
             selection: Selection | None = None, cwd: Path | None = None, root: Path | None = None,
             targets: list[str] | None = None, template_dirs: Iterable[str] = ()) -> LintResult:
    """Lint, including TS5xx for the targets each experiment (or `targets`, or the config) names."""
    config = config if config is not None else configuration(cwd)
    selection = selection or config.selection(REGISTRY, cwd=cwd)
    program, resolver, resolved = resolve_paths(paths, config, cwd, root)
    engine = Engine(REGISTRY, selection, RuleContext(resolver.catalog, program))
    findings = [(finding, None) for finding in program.findings]
    findings += resolver.findings
    findings += list(engine.check(resolved))
    findings += target_findings(resolved, targets, config, template_dirs)
    diagnostics = engine.diagnostics(findings, program.files.values(), program.roots)
    return LintResult(diagnostics, program, resolved)


def target_findings(resolved: list[ResolvedExperiment], override: list[str] | None, config: Config,
                    template_dirs: Iterable[str] = ()) -> list:
    """TS5xx (and TS005 for unknown target names); the declarations are read only when a target is named."""
    template_dirs = list(template_dirs)
    if override is None and config.targets is None and not template_dirs and \
            not any(exp.values.get("targets") for exp in resolved):
        return []
    from tunespec.templates.targets import all_targets, findings_for

    known = all_targets(template_dirs)
    if override is not None:
        resolved = [_with_targets(exp, override) for exp in resolved]
    return list(findings_for(resolved, config.targets, known))


def _with_targets(exp: ResolvedExperiment, names: list[str]) -> ResolvedExperiment:
    """The variant as if it named `names` (`--target` replaces an experiment's own `targets`)."""
    values = dict(exp.values)
    values["targets"] = list(names)
    settings = {path: setting for path, setting in exp.settings.items() if path != "targets"}
    return exp.replace(values=values, settings=settings)


def lint(paths: Iterable[str | os.PathLike], config: Config | None = None) -> list[Diagnostic]:
    """Diagnostics for the `.tune` files at `paths` (folders are searched), sorted by place."""
    return run_lint(paths, config).diagnostics


def resolve(path: str | os.PathLike, config: Config | None = None) -> list[ResolvedExperiment]:
    """The resolved experiment variants declared in the file at `path` (presets are not included)."""
    config = config if config is not None else configuration()
    _, _, resolved = resolve_paths([path], config)
    return [exp for exp in resolved if not exp.is_preset]


# --- build -----------------------------------------------------------------------------------------------

DEFAULT_TARGETS = ["yaml"]
DEFAULT_OUT = "out"


class BuildResult(Record):
    lint: LintResult
    written: list = Factory(list)
    unchanged: list = Factory(list)
    stale: list = Factory(list)  # with check=True: files that would change or be created
    refused: list = Factory(list)  # "variant (target): why" for what was not built
    checked: bool = False

    @property
    def exit_code(self) -> int:
        return 1 if self.refused or self.stale else 0


def build(paths: Iterable[str | os.PathLike], targets: list[str] | None = None, out: str | os.PathLike | None = None,
          check: bool = False, *, config: Config | None = None, root: str | os.PathLike | None = None,
          template_dirs: Iterable[str] = (), selection: Selection | None = None) -> BuildResult:
    """Render the targets of every experiment variant at `paths` into `out/<variant>/<target>/`.

    Targets come from `targets`, else each experiment's `targets`, else the config's, else `yaml`.
    Experiments with errors are refused (nothing written for them); with `check=True` nothing is written
    and the result lists the files that are stale or missing. Raises TargetError (an unknown or broken
    target), RenderError (a template that fails) or BuildError (the output cannot be written).
    """
    from tunespec.templates.build import check_outputs, render_outputs, write_outputs
    from tunespec.templates.targets import TargetError, all_targets

    config = config if config is not None else configuration()
    template_dirs = list(template_dirs)
    known = all_targets(template_dirs)
    for name in targets or []:
        if name not in known:
            from tunespec.compiler.layers import did_you_mean

            hint = did_you_mean(name, known) or f"the targets are: {', '.join(sorted(known))}"
            raise TargetError(f"unknown target `{name}`; {hint}")
    root_path = Path(root).absolute() if root is not None else Path.cwd()
    selection = selection or config.selection(REGISTRY)
    result = run_lint(paths, config, selection=selection, root=root_path, targets=targets, template_dirs=template_dirs)
    errors = [d for d in result.diagnostics if d.severity is Severity.ERROR]
    out_path = Path(out if out is not None else config.out or DEFAULT_OUT)
    outputs, refused, owners = [], [], {}
    for exp in result.resolved:
        if exp.is_preset:
            continue
        if not exp.complete or _errors_inside(exp, errors):
            refused.append(f"{exp.name}: not built, it has errors")
            continue
        for name in targets or exp.values.get("targets") or config.targets or DEFAULT_TARGETS:
            target = known[name]
            if _target_refuses(exp, target, selection):
                refused.append(f"{exp.name} ({name}): not built, see the TS5xx error above")
                continue
            folder = str(out_path / exp.name / name)
            if folder in owners:
                refused.append(f"{exp.name} ({name}): not built, {owners[folder]} has the same variant name")
                continue
            owners[folder] = f"{exp.source} (experiment {exp.experiment})"
            outputs.extend(render_outputs(exp, target, out_path, root_path))
    outcome = check_outputs(outputs) if check else write_outputs(outputs)
    return BuildResult(result, [str(p) for p in outcome.written], [str(p) for p in outcome.unchanged],
                       [str(p) for p in outcome.stale], refused, check)


def _errors_inside(exp: ResolvedExperiment, errors: list[Diagnostic]) -> bool:
    """Whether an error points into one of the declarations the variant is made from (TS5xx aside:
    those refuse one target, not the experiment)."""
    spans = [(ref.file.display, ref.decl.span) for ref in exp.chain]
    for diagnostic in errors:
        if diagnostic.code.startswith("TS5"):
            continue
        place = (diagnostic.line, diagnostic.column)
        for path, span in spans:
            if diagnostic.path == path and (span.line, span.column) <= place < (span.end_line, span.end_column):
                return True
    return False


def _target_refuses(exp: ResolvedExperiment, target, selection: Selection) -> bool:
    from tunespec.templates.targets import target_findings as findings_of

    for finding in findings_of(exp, target):
        declared = REGISTRY.rules[finding.code]
        severity = selection.severity.get(finding.code) or finding.severity or declared.severity
        if severity is Severity.ERROR and selection.allows(finding.code, finding.location.path):
            return True
    return False
