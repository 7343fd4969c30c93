"""The Python API the command line is a thin layer over: `lint`, `resolve` (and later `build`).

    >>> import tunespec
    >>> for diagnostic in tunespec.lint(["experiments/"]):
    ...     print(diagnostic.path, diagnostic.line, diagnostic.code, diagnostic.message)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from tunespec.record import Factory, Record
from tunespec.compiler.catalog import load_catalog
from tunespec.compiler.loader import Program, find_tune_files
from tunespec.compiler.resolve import ResolvedExperiment, Resolver
from tunespec.config import Config, find_config, load_config
from tunespec.diagnostics import Diagnostic
from tunespec.rules import REGISTRY
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


def resolve_paths(paths: Iterable[str | os.PathLike], config: Config,
                  cwd: Path | None = None) -> tuple[Program, Resolver, list[ResolvedExperiment]]:
    """Load the files and resolve their experiments and presets (no rules run)."""
    program = load_program(paths, cwd)
    resolver = Resolver(program, load_catalog(), program.cwd, config.max_variants)
    return program, resolver, resolver.resolve_roots()


def run_lint(paths: Iterable[str | os.PathLike], config: Config | None = None, *,
             selection: Selection | None = None, cwd: Path | None = None) -> LintResult:
    config = config if config is not None else configuration(cwd)
    selection = selection or config.selection(REGISTRY, cwd=cwd)
    program, resolver, resolved = resolve_paths(paths, config, cwd)
    engine = Engine(REGISTRY, selection, RuleContext(resolver.catalog, program))
    findings = [(finding, None) for finding in program.findings]
    findings += resolver.findings
    findings += list(engine.check(resolved))
    diagnostics = engine.diagnostics(findings, program.files.values(), program.roots)
    return LintResult(diagnostics, program, resolved)


def lint(paths: Iterable[str | os.PathLike], config: Config | None = None) -> list[Diagnostic]:
    """Diagnostics for the `.tune` files at `paths` (folders are searched), sorted by place."""
    return run_lint(paths, config).diagnostics


def resolve(path: str | os.PathLike, config: Config | None = None) -> list[ResolvedExperiment]:
    """The resolved experiment variants declared in the file at `path` (presets are not included)."""
    config = config if config is not None else configuration()
    _, _, resolved = resolve_paths([path], config)
    return [exp for exp in resolved if not exp.is_preset]
