"""The command line: parses arguments, calls the API, prints, and returns the exit code.

Exit codes (DESIGN.md §3): 0 no errors, 1 errors (or warnings with --strict), 2 usage or internal error.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import SimpleNamespace

from tunespec import __version__
from tunespec.printable import printable
from tunespec.report import EXIT_FINDINGS, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, plural


TYPE_CHECKING = False
if TYPE_CHECKING:  # argparse is imported when a command line needs it (see _plain_lint)
    import argparse

IMPORT_BACKENDS = ("axolotl", "llama-factory", "fms-hf-tuning", "torchtune")  # tunespec.importer.run.BACKENDS


class UsageError(Exception):
    """A mistake in how tunespec was called: one line on stderr, exit 2."""


def say(line: str) -> None:
    """One line on stdout; what users wrote in it (names, values) is shown with visible escapes."""
    print(printable(line))


def complain(line: str) -> None:
    """One line on stderr, likewise escaped."""
    print(printable(line), file=sys.stderr)


def _selectors(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every subcommand, or with `command`, of that one alone: pre-commit runs `lint` on
    each commit, and building the other ten parsers' options would cost it more than linting a file."""
    import argparse

    formatter = _formatter_class()
    parser = argparse.ArgumentParser(
        prog="tunespec", description="Lint and compile foundation-model tuning experiments (.tune files).",
        formatter_class=formatter)
    parser.add_argument("--version", action="version", version=f"tunespec {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (help, add_options) in SUBCOMMANDS.items():
        if command is None or name == command:
            add_options(commands.add_parser(name, help=help, formatter_class=formatter))
    return parser


def _formatter_class() -> type:
    """argparse's formatter, told the terminal's width: left to find it, argparse imports `shutil` (and
    with it `bz2` and `lzma`) for every option it adds, help or not."""
    import argparse

    class _Formatter(argparse.HelpFormatter):
        def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24, width: int | None = None):
            if width is None:
                width = _terminal_columns() - 2
            super().__init__(prog, indent_increment, max_help_position, width)

    return _Formatter


def _terminal_columns() -> int:
    """What `shutil.get_terminal_size().columns` answers: $COLUMNS, else the terminal's, else 80."""
    try:
        return int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        pass
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or 80
    except (AttributeError, ValueError, OSError):
        return 80


def _lint_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", default=["."], metavar="PATH", help="files or folders (default: .)")
    parser.add_argument("--format", choices=["text", "json", "sarif", "github"], default="text")
    parser.add_argument("--strict", action="store_true", help="exit 1 on warnings too")
    parser.add_argument("--exit-zero", action="store_true", help="exit 0 even when there are errors")
    parser.add_argument("--output-file", "-o", metavar="FILE", help="write the report to FILE instead of stdout")
    parser.add_argument("--stdin-filename", metavar="PATH",
                        help="with the path `-`: the file the text on stdin is (for messages, imports and per-file ignores)")
    parser.add_argument("--show-settings", action="store_true",
                        help="print the effective configuration and where each option came from, and lint nothing")
    parser.add_argument("--statistics", action="store_true", help="print the number of diagnostics per rule, not each one")
    _add_color(parser)
    parser.add_argument("--fix", action="store_true",
                        help="fix what is safe to fix (a misspelt field, a quoted number, an unused noqa), then report the rest")
    _add_jobs(parser)
    _add_selection(parser)
    _add_dependents(parser)
    _add_exclusion(parser)


def _show_options(parser: argparse.ArgumentParser) -> None:
    _add_paths(parser)
    parser.add_argument("--experiment", metavar="NAME", help="only this experiment (or variant)")
    _add_set(parser)
    parser.add_argument("--format", choices=["text", "json"], default="text")
    _add_config(parser)
    _add_exclusion(parser)


def _build_options(parser: argparse.ArgumentParser) -> None:
    _add_paths(parser)
    parser.add_argument("--target", action="append", metavar="T[,T...]",
                        help="targets to build (default: each experiment's `targets`, the config's, else yaml)")
    parser.add_argument("--out", metavar="DIR", help="where to write (default: the config's `out`, else out/)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if any file is stale or missing")
    parser.add_argument("--root", metavar="DIR", help="the folder paths in the specs are relative to (default: .)")
    parser.add_argument("--template-dir", action="append", default=[], metavar="DIR",
                        help="a folder of user targets (rendered in Jinja2's sandbox)")
    parser.add_argument("--format", choices=["text", "json"], default="text", help="how diagnostics are printed")
    _add_config(parser)
    _add_set(parser)
    _add_color(parser)
    parser.add_argument("--prune", action="store_true",
                        help="remove the spec folders of variants and targets that are no longer built")
    parser.add_argument("--quiet", "-q", action="store_true",
                        help="do not print lint diagnostics (the lint hook does), only what is stale, orphaned or not built")
    parser.add_argument("--no-cache", action="store_true",
                        help="neither read nor write the build's cache (.tunespec_cache): do every file, read every output file to check it")
    _add_jobs(parser)
    _add_dependents(parser)
    _add_exclusion(parser)


def _fmt_options(parser: argparse.ArgumentParser) -> None:
    _add_paths(parser)
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file would change")
    parser.add_argument("--diff", action="store_true", help="write nothing; print what would change as a unified diff")
    parser.add_argument("--format", choices=["text", "json"], default="text",
                        help="how files that cannot be formatted are reported (json: lint's format)")
    parser.add_argument("--stdin-filename", metavar="PATH", help="with the path `-`: the name of the file on stdin")
    parser.add_argument("--quiet", "-q", action="store_true",
                        help="name the files that cannot be formatted without their diagnostics (the lint hook prints those)")
    _add_config(parser)
    _add_exclusion(parser)


def _new_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME", nargs="?",
                        help="the experiment's name (default: the model's name and the method, as in granite_3_1_8b_base_lora)")
    parser.add_argument("--model", required=True, metavar="ID", help="a catalog model id or alias")
    parser.add_argument("--method", required=True, metavar="METHOD", help="prompt_tuning, lora, qlora or full")
    parser.add_argument("--task", metavar="TASK", help="classification, generation, summarization, ...")
    parser.add_argument("-o", "--output", metavar="FILE", help="where to write it (default: NAME.tune); never overwritten")


def _import_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="the trainer's config (YAML, or JSON for fms-hf-tuning)")
    parser.add_argument("--from", dest="backend", choices=IMPORT_BACKENDS,
                        help="the trainer the config is for (default: told by its keys)")
    parser.add_argument("-o", "--output", metavar="FILE",
                        help="write the experiment to FILE, never overwriting one (default: stdout)")
    parser.add_argument("--name", metavar="NAME", help="the experiment's name (default: from the config)")
    parser.add_argument("--root", metavar="DIR",
                        help="the folder the trainer runs in, where the config's relative paths start (default: .)")
    parser.add_argument("--format", choices=["text", "json"], default="text", help="how findings are printed")
    parser.add_argument("--exit-zero", action="store_true", help="exit 0 even when keys were not imported")


def _targets_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--template-dir", action="append", default=[], metavar="DIR")


def _rules_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=["text", "markdown"], default="text")


def _rule_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("rule", metavar="CODE|NAME")


def _server_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stdio", action="store_true", help="accepted for editors that pass it; stdio is the only transport")


def _completion_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("shell", choices=["bash", "zsh", "fish"])


def _no_options(parser: argparse.ArgumentParser) -> None:
    pass


SUBCOMMANDS = {  # name: (help, the function that adds its options)
    "lint": ("check .tune files against the documented ranges and rules", _lint_options),
    "show": ("the resolved experiment variants, each value with its origin", _show_options),
    "build": ("write the job specs of each experiment variant for its targets", _build_options),
    "fmt": ("rewrite .tune files in the canonical layout (comments kept)", _fmt_options),
    "new": ("a new .tune file filled with the documented defaults", _new_options),
    "import": ("an Axolotl, LLaMA-Factory, fms-hf-tuning or torchtune config as a .tune experiment", _import_options),
    "targets": ("the targets and what each can run and express", _targets_options),
    "schema": ("the JSON Schema of the resolved experiment (the yaml/json targets)", _no_options),
    "rules": ("the rule catalog", _rules_options),
    "rule": ("one rule's documentation", _rule_options),
    "server": ("the language server for editors (LSP on stdin and stdout; needs `pip install 'tunespec[lsp]'`)",
               _server_options),
    "completion": ("a shell completion script: eval \"$(tunespec completion bash)\"", _completion_options),
}


def _add_jobs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--jobs", "-j", type=_jobs, default=None, metavar="N",
                        help="worker processes (default: the number of cores; output is the same for any N)")


def _jobs(value: str) -> int:
    try:
        jobs = int(value)
    except ValueError:
        jobs = 0
    if jobs < 1:
        import argparse

        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got `{value}`")
    return jobs


def _job_count(args: argparse.Namespace) -> int:
    from tunespec.runner import default_jobs

    return args.jobs if args.jobs is not None else default_jobs()


def _add_paths(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", default=["."], metavar="PATH")


def _add_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help="configuration file (default: the nearest one)")


def _add_dependents(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-dependents", action="store_true",
                        help="for files named, do not also check the project's files that import them")


def _paths(args: argparse.Namespace, config) -> list[str]:
    """The paths given and, unless --no-dependents, the project's files that import a file named (so that a
    changed preset, passed alone by pre-commit, is checked in every experiment that uses it)."""
    if getattr(args, "no_dependents", True):
        return list(args.paths)
    from tunespec.api import output_folder
    from tunespec.project import with_dependents

    out = output_folder(config, getattr(args, "out", None))  # tunespec's own files: no importer there
    return with_dependents(list(args.paths), Path.cwd(), config.excluder, skip=[out])


def _add_color(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--color", choices=["auto", "always", "never"], default="auto",
                        help="colour in text output (auto: on a terminal, unless NO_COLOR is set)")


def _add_set(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--set", action="append", default=[], metavar="PATH=VALUE", dest="overrides",
                        help="a value over every experiment's, e.g. training.learning_rate=3e-5 (repeatable)")


def _overrides(args: argparse.Namespace) -> list[str]:
    """The --set items, checked now: a bad one is one line and exit 2, before any file is read."""
    if not args.overrides:
        return []
    from tunespec.compiler.overrides import OverrideError, parse_overrides

    try:
        parse_overrides(args.overrides)
    except OverrideError as error:
        raise UsageError(str(error)) from None
    return list(args.overrides)


def _add_exclusion(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--exclude", action="append", metavar="PATTERN",
                        help="gitignore patterns of files and folders not to search (comma-separated; added to the config's)")
    parser.add_argument("--no-respect-gitignore", dest="respect_gitignore", action="store_false", default=None,
                        help="search files that .gitignore ignores too")


def _add_selection(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--select", action="append", metavar="RULES",
                        help="rules to enable, by code, prefix or name (comma-separated; replaces the config's)")
    parser.add_argument("--ignore", action="append", metavar="RULES", help="rules to disable (added to the config's)")
    parser.add_argument("--config", metavar="FILE", help="configuration file (default: the nearest one)")


# `lint FILES` as pre-commit runs it (`lint -- FILES`, after the hook's own flags) is read without argparse:
# importing it (with gettext and locale, which it consults for each message it might print) and building
# the lint parser cost every hook run 18M instructions of 223M (callgrind), more than linting the file.
# Any other command line (an option with a value, a short option, help, a mistake) goes to argparse; a
# test holds both readings to the same values.
_LINT_FLAGS = {"--strict": "strict", "--exit-zero": "exit_zero", "--show-settings": "show_settings",
               "--statistics": "statistics", "--fix": "fix", "--no-dependents": "no_dependents"}
_LINT_DEFAULTS = {"command": "lint", "format": "text", "strict": False, "exit_zero": False, "output_file": None,
                  "stdin_filename": None, "show_settings": False, "statistics": False, "color": "auto", "fix": False,
                  "jobs": None, "select": None, "ignore": None, "config": None, "no_dependents": False,
                  "exclude": None, "respect_gitignore": None}


def _plain_lint(argv: list[str]) -> SimpleNamespace | None:
    """The arguments of `lint [FLAG...] [--] [FILE...]` (flags without values), as argparse reads them;
    None for any other command line."""
    if not argv or argv[0] != "lint":
        return None
    values = dict(_LINT_DEFAULTS)
    rest = argv[1:]
    while rest and rest[0] in _LINT_FLAGS:
        values[_LINT_FLAGS[rest.pop(0)]] = True
    if rest and rest[0] == "--":
        rest = rest[1:]
        if "--" in rest:
            return None
    elif any(not arg or arg.startswith("-") for arg in rest):
        return None
    values["paths"] = rest or ["."]
    return SimpleNamespace(**values)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        argv = sys.argv[1:] if argv is None else list(argv)
        args = _plain_lint(argv)
        if args is None:
            parser = build_parser(argv[0] if argv and argv[0] in SUBCOMMANDS else None)
            args = parser.parse_args(argv)
            if args.command is None:
                parser.print_help()
                return EXIT_USAGE
        return COMMANDS[args.command](args)
    except UsageError as error:
        complain(f"tunespec: {error}")
        return EXIT_USAGE
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_OK
    except KeyboardInterrupt:  # every file is as it was, or (a build that was putting them in place) all new
        print("tunespec: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:  # the promise: one line, never a traceback, never a lost file
        from tunespec.workers import WorkerDied  # (imported only when it may be needed: lint starts fast)

        if isinstance(error, WorkerDied):
            complain(f"tunespec: {error}")
            return EXIT_USAGE
        if os.environ.get("TUNESPEC_DEBUG"):
            raise
        complain(f"tunespec: internal error: {type(error).__name__}: {error} "
                 "(this is a bug in tunespec; please report it with TUNESPEC_DEBUG=1 set for a traceback)")
        return EXIT_USAGE


def program() -> int:
    """The `tunespec` command: `main`, then the end of the process (`_end_now`). Where the process cannot
    end at once, Ctrl-C is ignored while Python shuts down (the work is done, and its exit code is the
    answer; a SIGINT during the interpreter's teardown would otherwise kill it silently, as if it had been
    interrupted)."""
    code = main()
    _end_now(code)  # returns only when a thread was started
    import signal

    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:
        pass
    return code


def _end_now(code: int) -> None:
    """End the process with `code` as Python's exit would, without the teardown that frees every module
    and object one by one: a pre-commit run pays for it on every commit (23M instructions of the 301M of
    a cold one-file lint, by callgrind). What the exit does that matters is done first: the exit handlers
    run (`atexit`) and stdout and stderr are flushed (a reader gone from a pipe is no error, as in `main`).
    Not while another thread runs (the language server's): Python's exit waits for those. A build's worker
    processes are no threads: they have ended, and `threading`, which `multiprocessing` imports, runs nothing
    (its teardown after a 2-worker build of the benchmark's 333 files cost 14-20 ms, all serial)."""
    if _threads_running():
        return
    import atexit

    try:
        atexit._run_exitfuncs()
        code = _flushed(code)
    except KeyboardInterrupt:  # the work is done; its exit code is the answer
        pass
    os._exit(code)


def _threads_running() -> bool:
    """Whether a thread other than this one is alive (only when `threading` was imported: none otherwise)."""
    threading = sys.modules.get("threading")
    if threading is None:
        return False
    current = threading.current_thread()
    return any(thread is not current and thread.is_alive() for thread in threading.enumerate())


def _flushed(code: int) -> int:
    """stdout and stderr flushed; `code`, or EXIT_USAGE when stdout could not be written (a full disk)."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
    except OSError as error:
        complain(f"tunespec: cannot write to stdout: {(error.strerror or str(error)).lower()}")
        code = EXIT_USAGE
    try:
        sys.stderr.flush()
    except OSError:
        pass
    return code


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
            config = load_config(path, REGISTRY)
        else:
            config = configuration()
    except ConfigError as error:
        raise UsageError(str(error)) from None
    if getattr(args, "exclude", None):
        config = config.replace(command_line_exclude=_selectors(args.exclude))
    if getattr(args, "respect_gitignore", None) is False:
        config = config.replace(respect_gitignore=False)
    return config


def _colour(choice: str = "auto") -> bool:
    """--color: always, never, or (auto) on a terminal when NO_COLOR is not set (https://no-color.org)."""
    if choice != "auto":
        return choice == "always"
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def command_lint(args: argparse.Namespace) -> int:
    with _start_up() as start_up:
        return _lint(args, start_up)


def _lint(args: argparse.Namespace, start_up: _start_up) -> int:
    from tunespec.api import run_lint
    from tunespec.config import ConfigError
    from tunespec.report import Report
    from tunespec.rules import REGISTRY

    if args.output_file:
        _refuse_report_over_tune_file(args.output_file)
    config = _config(args)
    try:
        selection = config.selection(REGISTRY, _selectors(args.select), _selectors(args.ignore))
    except ConfigError as error:
        raise UsageError(str(error).replace("command line: ", "")) from None
    if args.show_settings:
        sys.stdout.write(_settings(args, config, selection))
        return EXIT_OK
    buffers = _stdin(args)
    paths = list(buffers) or _paths(args, config)
    start_up.done()
    result = run_lint(paths, config, selection=selection, jobs=_job_count(args), keep=False, buffers=buffers)
    fixed = []
    if args.fix:
        from tunespec.fixes import fix_files

        fixed = fix_files(result.diagnostics, result.roots, Path.cwd())
        if fixed:  # what is left, as the files now are
            result = run_lint(paths, config, selection=selection, jobs=_job_count(args), keep=False)
        count = sum(item.fixes for item in fixed)
        note = f"Fixed {plural(count, 'problem')} in {plural(len(fixed), 'file')}." if fixed else "Nothing to fix."
        print(note, file=sys.stdout if args.format == "text" and not args.output_file else sys.stderr)
    report = Report(result.diagnostics, result.files_checked, args.strict, args.exit_zero)
    if args.statistics:
        text = _statistics(result.diagnostics) + report.summary() + "\n"
    elif not args.output_file:
        _print_diagnostics(result, args.format, color=args.color)  # (a piece at a time)
        return report.exit_code
    else:
        text = _rendered(result, args.format, False, color=args.color)
    if args.output_file:
        from tunespec.files import WriteError, write_atomically

        _refuse_report_over_input(args.output_file, [*result.roots, *([config.path] if config.path else [])])
        try:
            write_atomically(Path(args.output_file), text.encode("utf-8"), 0o644)
        except WriteError as error:
            raise UsageError(str(error)) from None
    else:
        sys.stdout.write(text)
    return report.exit_code


class _start_up:
    """No cyclic garbage collection while lint (or build) starts (imports, the configuration, the search for
    importers): what it makes lives as long as the command, so the collections its allocations set off
    find nothing. When it is `done`, what it made is frozen (`gc.freeze`), so that the runner's collection
    after each batch does not look at it again either; the command's end unfreezes it. Together 4.9M
    instructions of a one-file lint's 185M (callgrind)."""

    def __enter__(self) -> _start_up:
        import gc

        self.was_enabled, self.froze = gc.isenabled(), False
        gc.disable()
        return self

    def done(self) -> None:
        import gc

        if not self.froze and gc.get_freeze_count() == 0:  # (not when the caller froze objects of its own)
            gc.freeze()
            self.froze = True
        if self.was_enabled:
            gc.enable()

    def __exit__(self, *exc: object) -> None:
        import gc

        if self.froze:
            gc.unfreeze()
        if self.was_enabled:
            gc.enable()


def _stdin(args: argparse.Namespace) -> dict[str, str]:
    """With the path `-`: {the file's name: the text read from stdin} (lint reads it in place of the file)."""
    if "-" not in args.paths:
        if args.stdin_filename:
            raise UsageError("--stdin-filename goes with the path `-` (read the file from stdin)")
        return {}
    if args.paths != ["-"]:
        raise UsageError("`-` (stdin) cannot be linted with other paths")
    if args.fix:
        raise UsageError("--fix rewrites files; it cannot fix stdin (`tunespec fmt -` formats it)")
    return {args.stdin_filename or "-": _read_stdin()}


def _read_stdin() -> str:
    """stdin's text, as the loader reads a file (line ends normalised); not UTF-8 is a usage error."""
    from tunespec.compiler.loader import normalised

    try:
        return normalised(sys.stdin.buffer.read().decode("utf-8"))
    except UnicodeDecodeError as error:
        raise UsageError(f"stdin is not UTF-8 text (byte {error.start + 1})") from None


def _statistics(diagnostics: list) -> str:
    """How many diagnostics each rule gave, most first (as ruff's --statistics)."""
    from collections import Counter

    from tunespec.rules import REGISTRY

    counts = Counter(d.code for d in diagnostics)
    if not counts:
        return ""
    width = len(str(max(counts.values())))
    rows = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return "".join(f"{count:>{width}}  {code}  {REGISTRY.rules[code].name}\n" for code, count in rows)


def _settings(args: argparse.Namespace, config, selection) -> str:
    """The effective configuration, each option with where it came from: the command line, the file, or
    the default."""
    import json

    from tunespec.rules import REGISTRY

    where = str(config.path) if config.path else None
    command_line = {"select": args.select is not None, "ignore": bool(args.ignore),
                    "exclude": bool(config.command_line_exclude),
                    "respect-gitignore": getattr(args, "respect_gitignore", None) is False}
    values = {
        "select": _selectors(args.select) if args.select is not None else config.select,
        "ignore": config.ignore + (_selectors(args.ignore) or []),
        "per-file-ignores": config.per_file_ignores, "severity": config.severity, "targets": config.targets,
        "out": config.out, "max-variants": config.max_variants,
        "exclude": config.exclude + config.command_line_exclude, "respect-gitignore": config.respect_gitignore,
    }
    lines = [f"configuration file: {where or 'none (defaults)'}"]
    width = max(len(name) for name in values)
    for name, value in values.items():
        origins = []
        if name in config.written:
            origins.append(where)
        if command_line.get(name):
            origins.append("command line")
        lines.append(f"{name:<{width}} = {json.dumps(value)}  # {' and '.join(origins) or 'default'}")
    lines.append(f"rules enabled: {len(selection.enabled)} of {len(REGISTRY.rules)}")
    return "\n".join(printable(line) for line in lines) + "\n"


def _refuse_report_over_tune_file(output: str) -> None:
    """`-o` never writes a `.tune` file (nor, through a link, into one): a file name pre-commit passed
    without `--`, such as `-oexperiments.tune`, would otherwise replace an experiment with its report."""
    if output.lower().endswith(".tune") or os.path.realpath(output).lower().endswith(".tune"):
        raise UsageError(f"refusing to write the report to {output}: it is a .tune file "
                         "(to lint a file whose name starts with `-`, put `--` before the file names)")


def _refuse_report_over_input(output: str, inputs: list) -> None:
    """`-o` never replaces a file the run read: a linted file or the configuration."""
    from tunespec.compiler.loader import identity

    target = identity(output)
    for name in inputs:
        if identity(name) == target:
            raise UsageError(f"refusing to write the report to {output}: it is {name}, which this run reads")


def command_show(args: argparse.Namespace) -> int:
    from tunespec.api import show
    from tunespec.diagnostics import Severity
    from tunespec.show import render_json, render_text

    result = show(args.paths, _config(args), experiment=args.experiment, overrides=_overrides(args))
    if args.experiment and not result.variants:
        raise UsageError(f"no experiment or variant named `{args.experiment}`")
    sys.stdout.write(render_json(result.variants) if args.format == "json" else render_text(result.variants))
    for d in result.lint.diagnostics:
        if d.severity is Severity.ERROR:
            complain(f"{d.path}:{d.line}:{d.column}: {d.code} {d.message}")
    return result.report().exit_code


def command_rules(args: argparse.Namespace) -> int:
    from tunespec.rules import REGISTRY

    if args.format == "markdown":
        from tunespec.rules.docs import markdown

        sys.stdout.write(markdown(REGISTRY))
        return EXIT_OK
    _print_rule_table(list(REGISTRY))
    return EXIT_OK


def _print_rule_table(rules: list) -> None:
    rows = [(r.code, r.name, r.severity.value, r.summary) for r in rules]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for code, name, severity, summary in rows:
        print(f"{code:<{widths[0]}}  {name:<{widths[1]}}  {severity:<{widths[2]}}  {summary}")


def command_rule(args: argparse.Namespace) -> int:
    from tunespec.rules import REGISTRY

    found = REGISTRY.find(args.rule)
    if found is None:
        family = REGISTRY.with_prefix(args.rule)
        if family:  # a prefix such as TS1: the rules it selects
            _print_rule_table(family)
            return EXIT_OK
        hint = REGISTRY.suggest(args.rule)
        raise UsageError(f"unknown rule `{args.rule}`" + (f"; {hint}" if hint else "; `tunespec rules` lists them"))
    from tunespec.rules.docs import page

    print(page(found))
    return EXIT_OK


def command_build(args: argparse.Namespace) -> int:
    with _start_up() as start_up:  # (as lint's: what the start made is not collected, nor looked at again)
        return _build(args, start_up)


def _build(args: argparse.Namespace, start_up: _start_up) -> int:
    from tunespec.api import build
    from tunespec.templates.build import BuildError
    from tunespec.templates.targets import RenderError, TargetError

    from tunespec.progress import Progress

    if args.prune and args.check:
        raise UsageError("--prune removes folders and --check writes nothing: use one of them")
    config = _config(args)
    progress = Progress("checking" if args.check else "building")
    start_up.done()
    try:
        result = build(_paths(args, config), _selectors(args.target), args.out, args.check, config=config, root=args.root,
                       template_dirs=args.template_dir, jobs=_job_count(args), prune=args.prune,
                       overrides=_overrides(args), progress=progress, cache=not args.no_cache)
    except (TargetError, RenderError, BuildError) as error:
        raise UsageError(str(error)) from None
    finally:
        progress.close()
    if not args.quiet:
        _print_diagnostics(result.lint, args.format, with_summary=False, color=args.color)
    for line in result.refused:
        say(line)
    pruned = set(result.pruned)
    for orphan in result.orphans:
        if orphan.folder in pruned:
            say(f"removed: {orphan.folder}/ ({orphan.why})")
        else:
            say(f"orphaned: {orphan.folder}/ ({orphan.why})"
                + ("" if result.checked else "; `tunespec build --prune` removes it"))
    if result.checked:
        for path in result.stale:
            say(f"stale: {path}")
        problems = [f"{len(result.stale)} stale or missing"] if result.stale else []
        if result.orphans:
            problems.append(plural(len(result.orphans), "orphaned folder"))
        verdict = ", ".join(problems) if problems else "all up to date"
        print(f"Checked {plural(len(result.stale) + len(result.unchanged), 'file')}: {verdict}.")
    else:
        print(f"Wrote {plural(len(result.written), 'file')} ({len(result.unchanged)} unchanged)"
              + (f"; {len(result.refused)} not built." if result.refused else "."))
    return result.report().exit_code


def _print_diagnostics(result, format: str, with_summary: bool = True, color: str = "auto") -> None:
    for piece in _pieces(result, format, True, with_summary, color):
        sys.stdout.write(piece)


def _rendered(result, format: str, terminal: bool, with_summary: bool = True, color: str = "auto") -> str:
    """The diagnostics in one of the output formats (colour only for text on a terminal)."""
    return "".join(_pieces(result, format, terminal, with_summary, color))


def _pieces(result, format: str, terminal: bool, with_summary: bool = True, color: str = "auto"):
    """`_rendered` in pieces, to be written as they come (text: a diagnostic at a time)."""
    from tunespec.report import Report

    if format == "json":
        from tunespec.report import json as json_report

        yield json_report.render(result.diagnostics)
        return
    if format == "sarif":
        from tunespec.report import sarif
        from tunespec.rules import REGISTRY

        yield sarif.render(result.diagnostics, REGISTRY)
        return
    if format == "github":
        from tunespec.report import github

        yield github.render(result.diagnostics)
        return
    from tunespec.report import text

    yield from text.pieces(result.diagnostics, result.source_line, _colour(color) if terminal or color == "always" else False)
    ending = "\n" if result.diagnostics else ""
    if with_summary:
        ending += Report(result.diagnostics, result.files_checked).summary() + "\n"
    yield ending


def command_fmt(args: argparse.Namespace) -> int:
    from tunespec import codes
    from tunespec.api import fmt

    if "-" in args.paths:
        return _fmt_stdin(args)
    result = fmt(args.paths, _config(args), check=args.check, diff=args.diff)
    if args.format == "json":
        from tunespec.report import json as json_report

        sys.stdout.write(json_report.render(result.diagnostics))
    for item in result.files:
        if args.format == "text" and item.diagnostic is not None:
            d = item.diagnostic
            if args.quiet:
                say(f"not formatted: {d.path} ({'it does not parse' if d.code == codes.SYNTAX_ERROR else 'it cannot be read'})")
            else:
                say(f"{d.path}:{d.line}:{d.column}: {d.code} {d.severity.value}: {d.message}")
        if item.diff:
            sys.stdout.write(item.diff)
        if item.changed and args.check and args.format == "text":
            say(f"would reformat {item.path}")
        if item.failure is not None:
            complain(f"tunespec: {item.failure}")
    if args.format == "text":
        verb = "would be reformatted" if (args.check or args.diff) else "reformatted"
        changed, problems = len(result.changed), len(result.diagnostics)
        print(f"{plural(changed, 'file')} {verb}, {result.unchanged} left unchanged"
              + (f", {problems} with errors" if problems else "") + ".")
    return result.report().exit_code


def _fmt_stdin(args: argparse.Namespace) -> int:
    """`fmt -`: stdin formatted to stdout (as editors call formatters); nothing on stdout when it does not parse."""
    from tunespec import codes
    from tunespec.format import formatted_or_raise
    from tunespec.grammar import SyntaxProblem

    if args.paths != ["-"]:
        raise UsageError("`-` (stdin) cannot be formatted with other paths")
    name = args.stdin_filename or "-"
    text = _read_stdin()
    try:
        formatted = formatted_or_raise(text)
    except SyntaxProblem as error:
        complain(f"{name}:{error.line}:{error.column}: {codes.SYNTAX_ERROR} error: {error.message} (not formatted)")
        return EXIT_FINDINGS
    if args.check:
        return EXIT_FINDINGS if formatted != text else EXIT_OK
    sys.stdout.write(formatted)
    return EXIT_OK


def command_new(args: argparse.Namespace) -> int:
    from tunespec.compiler.catalog import load_catalog
    from tunespec.files import WriteError, write_atomically
    from tunespec.scaffold import ScaffoldError, default_name, scaffold

    catalog = load_catalog()
    name = args.name or default_name(args.model, args.method, catalog)
    try:
        text = scaffold(name, args.model, args.method, args.task, catalog)
    except ScaffoldError as error:
        raise UsageError(str(error)) from None
    path = Path(args.output or f"{name}.tune")
    if path.exists() or path.is_symlink():
        raise UsageError(f"{path} exists: `new` never overwrites a file")
    try:
        write_atomically(path, text.encode("utf-8"), 0o644)
    except WriteError as error:
        raise UsageError(str(error)) from None
    say(f"wrote {path}")
    return EXIT_OK


def command_import(args: argparse.Namespace) -> int:
    """Exit 0 when every key was imported, 1 when some were not (unless --exit-zero), 2 when the file
    cannot be imported at all (unreadable, not YAML or JSON, no trainer told) or the output not written."""
    from tunespec.files import WriteError, write_atomically
    from tunespec.importer.draft import IDENT, RESERVED
    from tunespec.importer.run import ConfigProblem, import_config
    from tunespec.importer.report import render

    if args.name is not None and (not IDENT.match(args.name) or args.name in RESERVED):
        raise UsageError(f"`{args.name}` cannot name an experiment: use letters, digits, `_` and `-`, "
                         "starting with a letter or `_`")
    output = Path(args.output) if args.output else None
    if output is not None and (output.exists() or output.is_symlink()):
        raise UsageError(f"{output} exists: `import` never overwrites a file")
    root = Path(args.root) if args.root else None
    if root is not None and not root.is_dir():
        raise UsageError(f"--root {args.root}: not a folder")
    try:
        result = import_config(Path(args.file), display=args.file, source_backend=args.backend, root=root,
                               folder=output.parent if output else None, name=args.name)
    except ConfigProblem as problem:
        print(f"{args.file}:{problem.line}:{problem.column}: error: {problem.message}", file=sys.stderr)
        return EXIT_USAGE
    report = sys.stdout if output else sys.stderr
    if output is not None:
        try:
            output.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(output, result.text.encode("utf-8"), 0o644)
        except OSError as error:
            raise UsageError(f"cannot write {output}: {(error.strerror or str(error)).lower()}") from None
        except WriteError as error:
            raise UsageError(str(error)) from None
    else:
        sys.stdout.write(result.text)
        sys.stdout.flush()
    report.write(render(result, args.file, args.format, str(output) if output else None))
    from tunespec.report import Report

    return Report([], 0, exit_zero=args.exit_zero, failures=len(result.lost)).exit_code


def command_targets(args: argparse.Namespace) -> int:
    from tunespec.compiler.schema import EXPERIMENT_FIELDS
    from tunespec.templates.targets import TUNESPEC_ONLY, TargetError, all_targets

    try:
        targets = all_targets(args.template_dir)
    except TargetError as error:
        raise UsageError(str(error)) from None
    fields = [field for field in EXPERIMENT_FIELDS if field not in TUNESPEC_ONLY]
    for target in targets.values():
        say(f"{target.name}: {target.summary}")
        say(f"  methods: {', '.join(target.methods)}")
        say(f"  writes:  {', '.join(file.output for file in target.files)}")
        for method in target.methods:
            missing = [f for f in fields if _applies(f, method) and not target.can_express(method, f)
                       and f not in target.implicit]
            say(f"  {method}: " + (f"cannot express {', '.join(missing)}" if missing else "expresses every field"))
        required = sorted({f for method in target.methods for f in target.required(method)})
        if required:
            say(f"  requires: {', '.join(required)}")
        print()
    return EXIT_OK


def _applies(field: str, method: str) -> bool:
    """Fields of another method's block are TS201/TS202's business, not a target's."""
    if field.startswith("lora."):
        return method in ("lora", "qlora")
    return not field.startswith("prompt.") or method == "prompt_tuning"


def command_schema(args: argparse.Namespace) -> int:
    import json

    from tunespec.compiler.ir_schema import ir_schema

    print(json.dumps(ir_schema(), indent=2))
    return EXIT_OK


def command_completion(args: argparse.Namespace) -> int:
    from tunespec.completion import script

    sys.stdout.write(script(args.shell, build_parser()))
    return EXIT_OK


def command_server(args: argparse.Namespace) -> int:
    """Only this command imports the server (and pygls): no other command's start-up pays for it."""
    try:
        from tunespec.server.app import serve
    except ImportError as error:
        if error.name not in ("pygls", "lsprotocol") and not str(error.name or "").startswith(("pygls.", "lsprotocol.")):
            raise
        raise UsageError("the language server needs pygls: pip install 'tunespec[lsp]'") from None
    serve()
    return EXIT_OK


COMMANDS = {
    "lint": command_lint,
    "show": command_show,
    "build": command_build,
    "fmt": command_fmt,
    "new": command_new,
    "import": command_import,
    "targets": command_targets,
    "schema": command_schema,
    "rules": command_rules,
    "rule": command_rule,
    "server": command_server,
    "completion": command_completion,
}
