"""How results are printed (one module per format) and the one place that decides the exit code."""

from __future__ import annotations


from tunespec.record import Record
from tunespec.diagnostics import Diagnostic, Severity
from tunespec.spelling import listed

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a command stopped by Ctrl-C


class Report(Record):
    """What a command found, and from it the exit code: every command's comes from here. `failures`
    counts what fails a command besides diagnostics (stale or orphaned specs, variants not built, files
    `fmt --check` would change, keys `import` could not express); `unwritable`, an output that could not
    be written (exit 2)."""

    diagnostics: list[Diagnostic]
    files_checked: int
    strict: bool = False
    exit_zero: bool = False
    failures: int = 0
    unwritable: bool = False

    def count(self, severity: Severity) -> int:
        return sum(1 for d in self.diagnostics if d.severity is severity)

    @property
    def exit_code(self) -> int:
        if self.unwritable:
            return EXIT_USAGE
        if self.exit_zero:
            return EXIT_OK
        if self.failures or self.count(Severity.ERROR) or (self.strict and self.count(Severity.WARNING)):
            return EXIT_FINDINGS
        return EXIT_OK

    def summary(self) -> str:
        files = f"{self.files_checked} file{'s' if self.files_checked != 1 else ''}"
        if self.files_checked == 0:
            return "No .tune files found."
        parts = [plural(self.count(level), level.value) for level in Severity if self.count(level)]
        if not parts:
            return f"All checks passed ({files})."
        return f"Found {listed(parts)} in {files}."


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"
