"""Where a user's `--template-dir` templates run: Jinja2's sandbox, confined to the template folder, with a
time budget, and with their failures reported as template errors that name the template and the line.

Built-in templates are tunespec's own code and run without these limits: their failures are bugs.

The budget is wall-clock time per file rendered, checked on every line a template executes (a trace
function on the template's own frames only). One C-level operation runs to its end before the check,
so the two that can take unbounded time or memory from a line of template text are refused up front:
`**` with a result of more than 100,000 bits and `*` repeating a string or list past 1,000,000 items.
(Jinja2's sandbox already caps `range` at 100,000 items; `lipsum` is removed.)
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

TEMPLATE_SECONDS = 10.0
MAX_POWER_BITS = 100_000
MAX_REPEAT = 1_000_000


class TemplateTimeout(Exception):
    """A user template ran past its time budget."""


class ConfinedLoader(jinja2.FileSystemLoader):
    """Templates from the folders it is given and from nowhere else: Jinja2's own loader refuses `..` in a
    template's name but follows symbolic links, so that `{% include "linked/secret" %}` through a linked
    subfolder (or a template file that is itself a link) would read outside. The resolved path of every
    template must lie inside the resolved folder it was found in."""

    def get_source(self, environment: jinja2.Environment, template: str):
        source, filename, uptodate = super().get_source(environment, template)
        real = os.path.realpath(filename)
        found_in = next(folder for folder in self.searchpath
                        if os.path.normpath(filename).startswith(os.path.normpath(folder) + os.sep))
        if real.startswith(os.path.realpath(found_in) + os.sep):
            return source, filename, uptodate
        raise jinja2.exceptions.SecurityError(
            f"template `{template}` resolves to {real}, outside the template folder (through a symbolic link)")


class BudgetedSandbox(SandboxedEnvironment):
    """Jinja2's sandbox, with `*` and `**` checked before they run (see the module's docstring)."""

    intercepted_binops = frozenset({"*", "**"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.globals.pop("lipsum", None)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and _power_too_large(left, right):
            raise jinja2.exceptions.SecurityError(f"`{left!r} ** {right!r}` would be too large")
        if operator == "*" and _repeat_too_large(left, right):
            raise jinja2.exceptions.SecurityError("repeating a string or list that often would be too large")
        return super().call_binop(context, operator, left, right)


def _power_too_large(base: Any, exponent: Any) -> bool:
    if type(base) not in (int, bool) or type(exponent) not in (int, bool) or exponent <= 1 or abs(base) <= 1:
        return False
    return abs(base).bit_length() * exponent > MAX_POWER_BITS


def _repeat_too_large(left: Any, right: Any) -> bool:
    for sequence, times in ((left, right), (right, left)):
        if isinstance(sequence, (str, list, tuple)) and type(times) in (int, bool):
            return len(sequence) * times > MAX_REPEAT
    return False


def render_within_budget(template: jinja2.Template, values: dict[str, Any], folder: str) -> str:
    """Render a user template, stopping it (TemplateTimeout) once it has run TEMPLATE_SECONDS.

    Only frames of code compiled from templates in `folder` are traced, so that the cost falls on the
    template's own lines; the trace in place before (a debugger's, coverage's) is put back after."""
    prefix = os.path.normpath(folder) + os.sep
    deadline = time.monotonic() + TEMPLATE_SECONDS

    def on_line(frame: Any, event: str, argument: Any):
        if time.monotonic() > deadline:
            raise TemplateTimeout(f"it ran longer than its time budget ({TEMPLATE_SECONDS:g} s per file)")
        return on_line

    def on_call(frame: Any, event: str, argument: Any):
        return on_line if frame.f_code.co_filename.startswith(prefix) else None

    previous = sys.gettrace()
    sys.settrace(on_call)
    try:
        return template.render(values)
    finally:
        sys.settrace(previous)


def template_error(error: BaseException, target: str, template: str, folder: str) -> str:
    """One line for a failing user template: the template file and line it failed on (an included
    template's, when the failure is there), and what went wrong."""
    place, line = template, getattr(error, "lineno", None)
    prefix = os.path.normpath(folder) + os.sep
    for frame in traceback.extract_tb(error.__traceback__):
        if frame.filename.startswith(prefix):  # Jinja2 maps its frames back to the template's lines
            place, line = frame.filename[len(prefix):], frame.lineno
    if getattr(error, "filename", None) and isinstance(error, jinja2.TemplateSyntaxError):
        place = os.path.relpath(error.filename, folder)
    what = _what(error)
    where = f"{os.path.join(folder, place)}" + (f", line {line}" if line else "")
    return f"template error in {where} (target `{target}`): {what}"


def _what(error: BaseException) -> str:
    if isinstance(error, jinja2.exceptions.SecurityError):
        return f"the sandbox refused it: {error}"
    if isinstance(error, TemplateTimeout):
        return str(error)
    if isinstance(error, jinja2.TemplateError):
        return error.message or str(error)
    if isinstance(error, RecursionError):
        return "RecursionError: it calls itself too deeply"
    return f"{type(error).__name__}: {error}"
