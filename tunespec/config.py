"""Configuration: `[tool.tunespec]` in the nearest `pyproject.toml`, or `tunespec.toml`.

Validated when loaded, like yamllint's: an unknown option, a wrong type or an unknown rule selector is a
`ConfigError` with a message that names the file and the option (the CLI prints it and exits 2).
"""

from __future__ import annotations

from pathlib import Path
TYPE_CHECKING = False
if TYPE_CHECKING:  # (typing, for type checkers only, is not imported at run time)
    from typing import Any

from tunespec.cache import RACY_NS
from tunespec.codes import BATCH_SIZE_OUT_OF_RANGE
from tunespec.compiler.resolve import MAX_VARIANTS_LIMIT
from tunespec.record import Factory, Record
from tunespec.diagnostics import Severity
from tunespec.rules.engine import Registry, Selection, UnknownSelector

CONFIG_FILES = ("tunespec.toml", "pyproject.toml")
OPTIONS = ("select", "ignore", "per-file-ignores", "severity", "targets", "out", "max-variants", "exclude",
           "respect-gitignore")


class ConfigError(Exception):
    pass


class Config(Record):
    select: list[str] | None = None
    ignore: list[str] = Factory(list)
    per_file_ignores: dict[str, list[str]] = Factory(dict)
    severity: dict[str, str] = Factory(dict)
    targets: list[str] | None = None
    out: str | None = None
    max_variants: int = 256
    exclude: list[str] = Factory(list)  # gitignore patterns, relative to the config's folder
    respect_gitignore: bool = True
    path: Path | None = None  # the file it was read from
    command_line_exclude: list[str] = Factory(list)  # --exclude, relative to the current folder
    written: set = Factory(set)  # the options the file sets (the others are defaults), for --show-settings

    def excluder(self, cwd: Path | None = None):
        """What decides which files below a folder are searched (`tunespec.discovery`)."""
        from tunespec.discovery import Excluder

        return Excluder([(self.base, self.exclude), (cwd or Path.cwd(), self.command_line_exclude)],
                        self.respect_gitignore)

    @property
    def base(self) -> Path:
        """The folder that `per-file-ignores` patterns are relative to."""
        return self.path.parent if self.path else Path.cwd()

    def selection(self, registry: Registry, select: list[str] | None = None,
                  ignore: list[str] | None = None, cwd: Path | None = None) -> Selection:
        """Rules enabled by this config, with command-line `--select` replacing and `--ignore` adding."""
        if select is not None:
            enabled = self._expand(registry, select, "--select", "command line")
        else:
            enabled = set(registry.rules) if self.select is None else self._expand(registry, self.select, "select")
        enabled -= self._expand(registry, self.ignore, "ignore")
        enabled -= self._expand(registry, ignore or [], "--ignore", "command line")
        per_file = [(self._pattern(pattern, cwd), self._expand(registry, codes, f"per-file-ignores.{pattern}"))
                    for pattern, codes in self.per_file_ignores.items()]
        severity = {}
        for key, level in self.severity.items():
            for code in self._expand(registry, [key], "severity"):
                severity[code] = Severity(level)
        return Selection(enabled, per_file, severity)

    def _expand(self, registry: Registry, selectors: list[str], option: str, where: str | None = None) -> set[str]:
        codes: set[str] = set()
        for selector in selectors:
            try:
                codes |= registry.expand(selector)
            except UnknownSelector:
                hint = registry.suggest(selector)
                raise ConfigError(f"{where or self._where()}: unknown rule `{selector}` in `{option}` "
                                  + (f"({hint})" if hint else
                                     f"(use a code such as {BATCH_SIZE_OUT_OF_RANGE}, a prefix such as TS1, a rule name, or ALL)")) from None
        return codes

    def _pattern(self, pattern: str, cwd: Path | None) -> str:
        """Patterns are relative to the config file; diagnostics' paths to the current directory."""
        if self.path is None or pattern.startswith(("*", "/")):
            return pattern
        cwd = (cwd or Path.cwd()).absolute()
        try:
            prefix = self.base.absolute().relative_to(cwd).as_posix()
        except ValueError:
            return pattern
        return pattern if prefix in ("", ".") else f"{prefix}/{pattern}"

    def _where(self) -> str:
        return str(self.path) if self.path else "command line"


def find_config(start: Path) -> Path | None:
    """The nearest `tunespec.toml`, or `pyproject.toml` with a `[tool.tunespec]` table, at or above `start`."""
    start = start.absolute()
    for folder in (start, *start.parents):
        for name in CONFIG_FILES:
            candidate = folder / name
            if candidate.is_file() and (name == "tunespec.toml" or _has_tunespec_table(candidate)):
                return candidate
    return None


def _has_tunespec_table(path: Path) -> bool:
    from tunespec.files import read_regular

    try:
        return b"[tool.tunespec" in read_regular(path)
    except (OSError, ValueError):
        return False


def load_config(path: Path | None, registry: Registry) -> Config:
    if path is None:
        return Config()
    stamp = _stamp(path)  # before reading: a change made while the file is read is seen next time
    table = _cached_table(path, stamp) if stamp is not None else None
    if table is None:
        table = _read_table(path)
        if stamp is not None:
            _keep_table(path, stamp, table)
    config = _config_from_table(table, path)
    config.selection(registry)  # validates every selector now, so errors come before any output
    return config


def _read_table(path: Path) -> dict[str, Any]:
    """The file's table of options (in a pyproject.toml, its [tool.tunespec]), parsed."""
    from tunespec.files import read_regular

    try:
        text = read_regular(path).decode("utf-8")
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the configuration: {(error.strerror or str(error)).lower()}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: the configuration is not UTF-8") from None
    data = _parsed(path, text)
    table = data
    if path.name == "pyproject.toml":
        tool = data.get("tool", {})
        if not isinstance(tool, dict):
            raise ConfigError(f"{path}: `tool` must be a table ([tool.tunespec] lives in it), not {tool!r}")
        table = tool.get("tunespec", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.tunespec] must be a table")
    return table


def _parsed(path: Path, text: str) -> dict[str, Any]:
    """The TOML document `text`. One of blanks and line ends alone (an empty `tunespec.toml`, which marks a
    project's root) is the empty table without importing `tomllib`: a first run in such a project paid
    34M instructions of 242M for it (callgrind; tomllib brings `typing` and `datetime`)."""
    if not text.replace("\r\n", "\n").strip(" \t\n"):  # TOML's white space and newlines (a lone \r is not one)
        return {}
    import tomllib

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: invalid TOML: {error}") from None


# The parsed table is kept in the project's cache (tunespec.cache) beside the file, with the file's `stat`,
# as the importer search keeps import lines: importing `tomllib` (it brings `typing`, `datetime` and
# `string`, and compiles its regular expressions) cost a cold one-file lint 16M instructions of 275M
# (callgrind), more than the lint itself, for a file that seldom changes.
CONFIG_CACHE = "config-2"  # {the file's absolute path: (its stamp, its table)} (one cache may serve many projects)


def _stamp(path: Path) -> tuple | None:
    """What tells that the file changed: its modification time, size, inode and change time (None when
    it is not a regular file, or was changed too recently to tell the next change from this one)."""
    import os
    import stat
    import time

    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return None
    if not stat.S_ISREG(info.st_mode) or not (info.st_mtime_ns or 0) < time.time_ns() - RACY_NS:
        return None
    return (info.st_mtime_ns, info.st_size, info.st_ino, info.st_ctime_ns)


def _cached_table(path: Path, stamp: tuple) -> dict[str, Any] | None:
    from tunespec import cache

    known = cache.load(path.parent, CONFIG_CACHE)
    entry = known.get(str(path.absolute())) if isinstance(known, dict) else None
    if type(entry) is tuple and len(entry) == 2 and entry[0] == stamp and isinstance(entry[1], dict):
        return entry[1]
    return None


def _keep_table(path: Path, stamp: tuple, table: dict[str, Any]) -> None:
    from tunespec import cache

    known = cache.load(path.parent, CONFIG_CACHE)
    known = known if isinstance(known, dict) else {}
    known[str(path.absolute())] = (stamp, table)
    cache.store(path.parent, CONFIG_CACHE, known)


def _config_from_table(table: dict[str, Any], path: Path) -> Config:
    where = f"{path} [tool.tunespec]: " if path.name == "pyproject.toml" else f"{path}: "
    for key in table:
        if key not in OPTIONS:
            raise ConfigError(f"{where}unknown option `{key}`{_suggest(key)}")
    config = Config(path=path, written=set(table))
    if "select" in table:
        config.select = _strings(table["select"], "select", where)
    config.ignore = _strings(table.get("ignore", []), "ignore", where)
    per_file = table.get("per-file-ignores", {})
    if not isinstance(per_file, dict):
        raise ConfigError(f"{where}`per-file-ignores` must be a table of pattern = [codes]")
    config.per_file_ignores = {pattern: _strings(codes, f"per-file-ignores.{pattern}", where)
                               for pattern, codes in per_file.items()}
    config.severity = _severities(table.get("severity", {}), where)
    if "targets" in table:
        config.targets = _strings(table["targets"], "targets", where)
    if "out" in table:
        if not isinstance(table["out"], str) or not table["out"] or "\x00" in table["out"]:
            raise ConfigError(f"{where}`out` must be a string (a folder name, not empty, without NUL characters), "
                              f"not {table['out']!r}")
        config.out = table["out"]
    max_variants = table.get("max-variants", 256)
    if isinstance(max_variants, bool) or not isinstance(max_variants, int) or not 1 <= max_variants <= MAX_VARIANTS_LIMIT:
        raise ConfigError(f"{where}`max-variants` must be a whole number of at least 1 and at most {MAX_VARIANTS_LIMIT}, "
                          f"not {max_variants!r}")
    config.max_variants = max_variants
    if "exclude" in table:
        config.exclude = _strings(table["exclude"], "exclude", where)
    if "respect-gitignore" in table:
        if not isinstance(table["respect-gitignore"], bool):
            raise ConfigError(f"{where}`respect-gitignore` must be true or false, not {table['respect-gitignore']!r}")
        config.respect_gitignore = table["respect-gitignore"]
    return config


def _strings(value: Any, option: str, where: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{where}`{option}` must be a list of strings")
    return list(value)


def _severities(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ConfigError(f'{where}`severity` must be a table, e.g. severity = {{ {BATCH_SIZE_OUT_OF_RANGE} = "warning" }}')
    levels = [level.value for level in Severity]
    for key, level in value.items():
        if level not in levels:
            raise ConfigError(f"{where}`severity.{key}` must be one of {', '.join(levels)}, not {level!r}")
    return dict(value)


def _suggest(key: str) -> str:
    import difflib

    close = difflib.get_close_matches(key, OPTIONS, n=1)
    return f"; did you mean `{close[0]}`?" if close else f" (options: {', '.join(OPTIONS)})"
