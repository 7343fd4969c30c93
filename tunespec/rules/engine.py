"""The rule engine: declared rules, selection, `# noqa`, severities, and one report per place.

Rules never print, never decide severities and never name their own code: a check yields `Problem`s and
the engine stamps the code declared on its rule. The engine turns these findings, and those of the
compiler and the targets, into `Diagnostic`s, in one deterministic order.
"""

from __future__ import annotations

import fnmatch
import re
TYPE_CHECKING = False
if TYPE_CHECKING:  # (typing, for type checkers only, is not imported at run time)
    from typing import Any, Callable, Iterable, Iterator

from tunespec.codes import SYNTAX_ERROR, UNREADABLE_FILE, UNUSED_NOQA
from tunespec.record import Factory, Record
from tunespec.compiler.catalog import Catalog
from tunespec.compiler.loader import Program, SourceFile
from tunespec.compiler.resolve import ResolvedExperiment
from tunespec.location import Location, Span
from tunespec.diagnostics import Diagnostic, Finding, Severity
from tunespec.spelling import listed

SCOPE_COMPILER = "compiler"  # reported while loading and resolving (TS0xx); declared here for docs
SCOPE_VARIANT = "variant"  # called once per resolved variant
SCOPE_EXPERIMENT = "experiment"  # called once per declaration, with all its variants
SCOPE_ENGINE = "engine"  # reported by the engine itself (TS901, about suppressions)
SCOPE_TARGETS = "targets"  # reported from the targets' declarations (TS5xx)
SCOPE_RUN = "run"  # reported once every file of the run is resolved (TS015: folders shared across files)

DOC_HEADINGS = ("## What it does", "## Why is this bad?", "## Example", "## Use instead", "## Source")


class Rule(Record, compiled=False):
    """A rule's code, name, severity and check, and its summary and documentation: each given as text or as
    a function that writes it (from the catalog's numbers), called on first read. Only `rules`, `rule`,
    SARIF and the language server read them: a lint's start-up never fills them in."""

    code: str
    name: str
    severity: Severity
    summary_source: Any  # str, or () -> str
    doc_source: Any  # str, or () -> str
    check: Callable | None = None
    scope: str = SCOPE_VARIANT
    __extra_slots__ = ("_texts",)

    @property
    def summary(self) -> str:
        return self._text("summary", self.summary_source)

    @property
    def doc(self) -> str:
        return self._text("doc", self.doc_source)

    def _text(self, which: str, source) -> str:
        try:
            texts = self._texts
        except AttributeError:
            texts = self._texts = {}
        if which not in texts:
            texts[which] = source() if callable(source) else source
        return texts[which]


class RuleContext(Record):
    """What checks may read besides the experiment: the catalog, the program, every resolved variant being
    checked, a cache where a rule family keeps state for them, and `shared`, state that outlives one batch
    of files (the scans of data files, so that each is read once per process)."""

    catalog: Catalog
    program: Program | None = None
    resolved: list = Factory(list)
    cache: dict = Factory(dict)
    shared: dict = Factory(dict)


def rule(code: str, name: str, severity: Severity, summary: str, scope: str = SCOPE_VARIANT):
    """Declare a rule from a check function; its docstring is the rule's documentation. The catalog's
    numbers in the summary and the docstring are written as placeholders (`catalog_text`)."""

    def declare(check: Callable) -> Rule:
        return Rule(code, name, severity, lambda: catalog_text(summary),
                    lambda: catalog_text(dedent(check.__doc__ or "")), check, scope)

    return declare


def compiler_rule(code: str, name: str, severity: Severity, summary: str, doc: str) -> Rule:
    """A rule whose findings come from the parser, loader or resolver; declared for docs and selection."""
    return Rule(code, name, severity, summary, lambda: dedent(doc), None, SCOPE_COMPILER)


CATALOG_PLACEHOLDER = r"\{(range|min|max|advice|billions|models):([\w.]+)\}"  # compiled by `re` when docs need it


def catalog_text(text: str) -> str:
    """Rule text with the catalog's numbers filled in, so that a changed range or threshold changes the
    docs with it: `{range:FIELD}` (as `Range.describe` writes it), `{min:FIELD}`, `{max:FIELD}` (ranges.toml),
    `{advice:TABLE.KEY}` (advice.toml, with thousands separated by commas), `{billions:TABLE.KEY}` (a
    count of parameters in billions) and `{models:METHOD}` (the catalog's models documented for a method,
    by their short names)."""
    if "{" not in text:
        return text
    from tunespec.compiler.catalog import load_catalog

    catalog = load_catalog()
    return re.sub(CATALOG_PLACEHOLDER, lambda match: catalog_value(*match.groups(), catalog), text)


def catalog_value(kind: str, path: str, catalog: Catalog) -> str:
    """One placeholder of `catalog_text` (`range`, `min`, `max`, `advice`, `billions`, `models`) as the
    docs write it; a bound the range does not have is empty."""
    from tunespec.compiler.catalog import number_text

    if kind == "models":
        names = [model.aliases[0] if model.aliases else model.id for model in catalog.models.values()
                 if path in (model.methods or ())]
        return listed(names) or "none"
    if kind in ("range", "min", "max"):
        allowed = catalog.ranges[path]
        if kind == "range":
            return allowed.describe()
        bound = getattr(allowed, kind)
        return number_text(bound) if bound is not None else ""
    found = catalog.advice
    for part in path.split("."):
        found = found[part]
    return number_text(found / 1e9 if kind == "billions" else found)


def dedent(text: str) -> str:
    """`textwrap.dedent(text).strip()` for docstrings (indented with spaces), without importing `textwrap`
    at start-up for the 57 rules' documentation."""
    if "\t" in text:  # tabs in a margin: textwrap's rules
        import textwrap

        return textwrap.dedent(text).strip()
    lines = [line if line.strip(" ") else "" for line in text.split("\n")]
    margin = min((len(line) - len(line.lstrip(" ")) for line in lines if line), default=0)
    return "\n".join(line[margin:] for line in lines).strip()


class UnknownSelector(ValueError):
    pass


class Registry:
    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules: dict[str, Rule] = {}
        self.by_name: dict[str, Rule] = {}
        for item in rules:
            if item.code in self.rules or item.name in self.by_name:
                raise ValueError(f"rule {item.code} / {item.name} is declared twice")
            self.rules[item.code] = item
            self.by_name[item.name] = item

    def __iter__(self) -> Iterator[Rule]:
        return iter(sorted(self.rules.values(), key=lambda r: r.code))

    def find(self, code_or_name: str) -> Rule | None:
        key = code_or_name.strip()
        return self.rules.get(key.upper()) or self.by_name.get(key.lower())

    def expand(self, selector: str) -> set[str]:
        """Codes a selector means: `ALL`, a code, a prefix of codes (`TS1`, `TS10`), or a rule name."""
        key = selector.strip()
        if key.upper() == "ALL":
            return set(self.rules)
        found = self.find(key)
        if found is not None:
            return {found.code}
        prefix = key.upper()
        if re.fullmatch(r"TS\d{0,3}", prefix):
            codes = {code for code in self.rules if code.startswith(prefix)}
            if codes:
                return codes
        raise UnknownSelector(selector)


    def suggest(self, selector: str) -> str | None:
        """Help for a selector that selects nothing: codes are matched by prefix (`TS1x` -> the prefix `TS1`;
        `TS99` -> `TS901`, the code that shares most of it), names by spelling."""
        key = selector.strip()
        match = re.match(r"TS\d*", key.upper())
        if match and match.group():
            prefix = match.group()
            while len(prefix) > 2:
                codes = sorted(code for code in self.rules if code.startswith(prefix))
                if codes and prefix != key.upper():
                    return (f"did you mean `{codes[0]}`?" if len(codes) == 1 else
                            f"did you mean `{prefix}` (the prefix of {', '.join(codes)})?")
                if codes:
                    break
                prefix = prefix[:-1]
        from tunespec.spelling import did_you_mean

        return did_you_mean(key, [r.name for r in self.rules.values()])

    def with_prefix(self, selector: str) -> list[Rule]:
        """The rules a code prefix (`TS1`, `TS20`) selects; empty for anything else."""
        prefix = selector.strip().upper()
        if not re.fullmatch(r"TS\d{0,2}", prefix):
            return []
        return [item for item in self if item.code.startswith(prefix)]


# A file that does not parse, or cannot be read, is checked for nothing else: hiding these would pass a
# broken file in silence, so no selection, ignore, per-file ignore or severity override applies to them.
UNSILENCEABLE = frozenset({SYNTAX_ERROR, UNREADABLE_FILE})


class Selection(Record):
    """Which rules run where, and at what severity (from `--select`/`--ignore` and the config file)."""

    enabled: set[str]
    per_file_ignores: list[tuple[str, set[str]]] = Factory(list)
    severity: dict[str, Severity] = Factory(dict)

    def allows(self, code: str, path: str) -> bool:
        if code in UNSILENCEABLE:
            return True
        if code not in self.enabled:
            return False
        for pattern, codes in self.per_file_ignores:
            if code in codes and _matches(path, pattern):
                return False
        return True


def _matches(path: str, pattern: str) -> bool:
    path = path.replace("\\", "/")
    candidates = [path, path.rpartition("/")[2]]
    return any(fnmatch.fnmatchcase(candidate, pattern) for candidate in candidates)


# A pattern, not a compiled one: `re` compiles it (and keeps it) on its first use, which the files without
# a `# noqa` comment never reach (compiling it cost every cold lint 0.3 ms).
NOQA = r"(?i)#\s*noqa(?::\s*(?P<codes>[A-Za-z0-9_-]+(?:\s*,\s*[A-Za-z0-9_-]+)*))?"


class Noqa(Record):
    """A `# noqa` comment: blanket (codes None) or for some codes; what it silenced feeds TS901."""

    path: str
    line: int
    column: int
    end_column: int
    codes: set | None
    used: set = Factory(set)  # the codes it silenced


def unused_noqa(comments: Iterable[Noqa], registry: Registry) -> Iterator[Finding]:
    for comment in comments:
        where = Location(comment.path, Span(comment.line, comment.column, comment.line, comment.end_column))
        if comment.codes is None:
            if not comment.used:
                yield Finding(UNUSED_NOQA, where, "unused `# noqa`: nothing on this line is reported",
                              "remove the comment")
            continue
        unused = sorted(comment.codes - comment.used)
        if unused:
            unknown = [code for code in unused if code not in registry.rules]
            note = f" ({', '.join(unknown)}: no such rule)" if unknown else ""
            yield Finding(UNUSED_NOQA, where, f"unused `# noqa` code{'s' if len(unused) > 1 else ''}: "
                          f"{', '.join(unused)}{note}", "remove the codes that silence nothing")


def noqa_maps(files: Iterable[SourceFile], registry: Registry) -> dict[str, dict[int, Noqa]]:
    """The `# noqa` comments of each file, by display path and line."""
    return {source.display: noqa_comments(source, registry) for source in files}


def noqa_comments(source: SourceFile, registry: Registry) -> dict[int, Noqa]:
    comments: dict[int, Noqa] = {}
    for comment in source.module.comments if source.module else ():
        match = re.search(NOQA, comment.text) if "noqa" in comment.text.lower() else None
        if match is None:
            continue
        codes = None
        if match.group("codes"):
            codes = set()
            for word in re.split(r"\s*,\s*", match.group("codes")):
                found = registry.find(word)
                codes.add(found.code if found else word.upper())
        span = comment.span
        comments[span.line] = Noqa(source.display, span.line, span.column, span.end_column, codes)
    return comments


class Engine:
    def __init__(self, registry: Registry, selection: Selection, context: RuleContext | None = None) -> None:
        self.registry = registry
        self.selection = selection
        self.context = context
        self._selected: tuple[list[Rule], list[Rule]] | None = None

    def check(self, resolved: list[ResolvedExperiment]) -> Iterator[tuple[Finding, str | None]]:
        """Every finding of the selected rules, in a deterministic order, each with its experiment."""
        self.context.resolved = resolved
        experiment_rules, variant_rules = self._checks()
        groups: dict[int, list[ResolvedExperiment]] = {}
        for exp in resolved:
            groups.setdefault(exp.declaration_key, []).append(exp)
        for variants in groups.values():
            owner = variants[0].experiment
            for item in experiment_rules:
                for problem in item.check(variants, self.context):
                    yield problem.stamped(item.code), owner
            for exp in variants:
                for item in variant_rules:
                    for problem in item.check(exp, self.context):
                        yield problem.stamped(item.code), owner

    def _checks(self) -> tuple[list[Rule], list[Rule]]:
        """The selected rules called once per declaration, and those called once per variant; chosen once
        per engine (a lint calls `check` for each declaration)."""
        if self._selected is None:
            enabled = self.selection.enabled
            self._selected = ([r for r in self.registry if r.scope == SCOPE_EXPERIMENT and r.code in enabled],
                              [r for r in self.registry if r.scope == SCOPE_VARIANT and r.code in enabled])
        return self._selected

    def reported(self, findings: Iterable[tuple[Finding, str | None]],
                 noqa: dict[str, dict[int, Noqa]]) -> list[Diagnostic]:
        """The findings that are reported: the first at each place, selected, not silenced by `# noqa`
        (whose `used` sets this fills in, for TS901)."""
        seen: set[tuple] = set()
        out: list[Diagnostic] = []
        for finding, experiment in findings:
            span = finding.location.span
            key = (finding.location.path, span.line, span.column, finding.code)
            if key in seen:
                continue
            seen.add(key)
            if not self.selection.allows(finding.code, finding.location.path):
                continue
            if _suppressed(finding, noqa.get(finding.location.path, {})):
                continue
            out.append(self._diagnostic(finding, experiment))
        return out

    def unused_suppressions(self, noqa: dict[str, dict[int, Noqa]], linted: Iterable[str]) -> list[Diagnostic]:
        """TS901 for the `# noqa` comments of the linted files (by display path) that silenced nothing."""
        out: list[Diagnostic] = []
        for display in linted:
            for finding in unused_noqa(noqa.get(display, {}).values(), self.registry):
                if self.selection.allows(finding.code, finding.location.path):
                    out.append(self._diagnostic(finding, None))
        return out

    def severity_of(self, finding: Finding) -> Severity:
        """The one place a finding's severity is decided: the configuration's override (never for TS001 and
        TS014), else what the finding says, else its rule's declared severity."""
        override = None if finding.code in UNSILENCEABLE else self.selection.severity.get(finding.code)
        return override or finding.severity or self.registry.rules[finding.code].severity

    def _diagnostic(self, finding: Finding, experiment: str | None) -> Diagnostic:
        severity = self.severity_of(finding)
        span = finding.location.span
        return Diagnostic(finding.code, severity, finding.message, finding.location.path, span.line,
                          span.column, span.end_line, span.end_column, finding.help, experiment)


def _suppressed(finding: Finding, comments: dict[int, Noqa]) -> bool:
    comment = comments.get(finding.location.span.line)
    if comment is None or finding.code in UNSILENCEABLE:
        return False
    if comment.codes is None or finding.code in comment.codes:
        comment.used.add(finding.code)
        return True
    return False
