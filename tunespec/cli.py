"""The command line: parses arguments, calls the API, prints, and returns the exit code.

Exit codes (DESIGN.md §3): 0 no errors, 1 errors (or warnings with --strict), 2 usage or internal error.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Sequence

from tunespec import __version__
from tunespec.report import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE


class UsageError(Exception):
    """A mistake in how tunespec was called: one line on stderr, exit 2."""


def _selectors(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tunespec", description="Lint and compile foundation-model tuning experiments (.tune files).")
    parser.add_argument("--version", action="version", version=f"tunespec {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    lint = commands.add_parser("lint", help="check .tune files against the documented ranges and rules")
    lint.add_argument("paths", nargs="*", default=["."], metavar="PATH", help="files or folders (default: .)")
    lint.add_argument("--format", choices=["text", "json"], default="text")
    lint.add_argument("--strict", action="store_true", help="exit 1 on warnings too")
    _add_selection(lint)

    show = commands.add_parser("show", help="the resolved experiment variants, each value with its origin")
    show.add_argument("paths", nargs="*", default=["."], metavar="PATH")
    show.add_argument("--experiment", metavar="NAME", help="only this experiment (or variant)")
    show.add_argument("--format", choices=["text", "json"], default="text")
    show.add_argument("--config", metavar="FILE", help="configuration file (default: the nearest one)")

    commands.add_parser("rules", help="the rule catalog")
    one = commands.add_parser("rule", help="one rule's documentation")
    one.add_argument("rule", metavar="CODE|NAME")
    return parser


def _add_selection(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--select", action="append", metavar="RULES",
                        help="rules to enable, by code, prefix or name (comma-separated; replaces the config's)")
    parser.add_argument("--ignore", action="append", metavar="RULES", help="rules to disable (added to the config's)")
    parser.add_argument("--config", metavar="FILE", help="configuration file (default: the nearest one)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return COMMANDS[args.command](args)
    except UsageError as error:
        print(f"tunespec: {error}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_OK
    except KeyboardInterrupt:
        print("tunespec: interrupted", file=sys.stderr)
        return EXIT_USAGE
    except Exception as error:  # the promise: one line, never a traceback, never a lost file
        print(f"tunespec: internal error: {type(error).__name__}: {error} "
              "(this is a bug in tunespec; please report it)", file=sys.stderr)
        return EXIT_USAGE


def _silence_stdout() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def _config(args: argparse.Namespace):
    from tunespec.api import configuration
    from tunespec.config import ConfigError, load_config
    from tunespec.rules import REGISTRY

    try:
        if getattr(args, "config", None):
            path = Path(args.config)
            if not path.is_file():
                raise UsageError(f"configuration file `{args.config}` not found")
            return load_config(path, REGISTRY)
        return configuration()
    except ConfigError as error:
        raise UsageError(str(error)) from None


def _colour() -> bool:
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def command_lint(args: argparse.Namespace) -> int:
    from tunespec.api import run_lint
    from tunespec.config import ConfigError
    from tunespec.report import Report
    from tunespec.rules import REGISTRY

    config = _config(args)
    try:
        selection = config.selection(REGISTRY, _selectors(args.select), _selectors(args.ignore))
    except ConfigError as error:
        raise UsageError(str(error).replace("command line: ", "")) from None
    result = run_lint(args.paths, config, selection=selection)
    report = Report(result.diagnostics, result.files_checked, args.strict)
    if args.format == "json":
        from tunespec.report import json as json_report

        sys.stdout.write(json_report.render(result.diagnostics))
    else:
        from tunespec.report import text

        colour = _colour()
        sys.stdout.write(text.render(result.diagnostics, result.source_lines, colour))
        if result.diagnostics:
            sys.stdout.write("\n")
        sys.stdout.write(report.summary() + "\n")
    return report.exit_code


def command_show(args: argparse.Namespace) -> int:
    from tunespec.api import run_lint
    from tunespec.diagnostics import Severity
    from tunespec.show import render_json, render_text

    config = _config(args)
    result = run_lint(args.paths, config)
    variants = [exp for exp in result.resolved if not exp.is_preset]
    if args.experiment:
        variants = [exp for exp in variants if args.experiment in (exp.experiment, exp.name)]
        if not variants:
            raise UsageError(f"no experiment or variant named `{args.experiment}`")
    sys.stdout.write(render_json(variants) if args.format == "json" else render_text(variants))
    errors = [d for d in result.diagnostics if d.severity is Severity.ERROR]
    for diagnostic in errors:
        print(f"{diagnostic.path}:{diagnostic.line}:{diagnostic.column}: {diagnostic.code} {diagnostic.message}",
              file=sys.stderr)
    return EXIT_FINDINGS if errors else EXIT_OK


def command_rules(args: argparse.Namespace) -> int:
    from tunespec.rules import REGISTRY

    rows = [(r.code, r.name, r.severity.value, r.summary) for r in REGISTRY]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for code, name, severity, summary in rows:
        print(f"{code:<{widths[0]}}  {name:<{widths[1]}}  {severity:<{widths[2]}}  {summary}")
    return EXIT_OK


def command_rule(args: argparse.Namespace) -> int:
    from tunespec.compiler.layers import did_you_mean
    from tunespec.rules import REGISTRY

    found = REGISTRY.find(args.rule)
    if found is None:
        names = [r.code for r in REGISTRY] + [r.name for r in REGISTRY]
        hint = did_you_mean(args.rule, names)
        raise UsageError(f"unknown rule `{args.rule}`" + (f"; {hint}" if hint else "; `tunespec rules` lists them"))
    print(f"# {found.code} {found.name} ({found.severity.value})\n\n{found.summary}.\n\n{found.doc}")
    return EXIT_OK


COMMANDS = {
    "lint": command_lint,
    "show": command_show,
    "rules": command_rules,
    "rule": command_rule,
}
