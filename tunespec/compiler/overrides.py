"""`--set path=value`: a value given on the command line, over whatever the experiments and their presets
write (as LLaMA-Factory's `key=value` arguments), shown with the origin "command line".

The value is read as the language reads it, by the same parser and field table: `training.epochs=3`,
`method=qlora`, `targets=[yaml, peft]`, `model="ibm/granite-3-1-8b-base"`. A value that is not valid
`.tune` syntax on its own is taken as a string (`model=ibm/granite-3-1-8b-base`), so that paths and ids
need no shell quoting of their quotes. An unknown field, a wrong type or a sweep is an `OverrideError`
(the command line says it in one line and exits 2): the language's own messages, naming the `--set`.
"""

from __future__ import annotations

from pathlib import Path

from tunespec.compiler.ast import parse_module, source_text
from tunespec.compiler.layers import Provenance, Setting, build_layer
from tunespec.compiler.loader import DeclRef, SourceFile
from tunespec.compiler.schema import EXPERIMENT_FIELDS
from tunespec.grammar import SyntaxProblem
from tunespec.spelling import did_you_mean

ORIGIN = "command line"


class OverrideError(ValueError):
    """A `--set` that cannot be applied: the message names it."""


def parse_overrides(items: list[str]) -> dict[str, Setting]:
    """The `path=value` items as settings, by path (a later item for one path wins)."""
    settings: dict[str, Setting] = {}
    for item in items:
        path, equals, value = item.partition("=")
        path = path.strip()
        if not equals or not path:
            raise OverrideError(f"--set {item}: expected PATH=VALUE, such as training.learning_rate=3e-5")
        if path not in EXPERIMENT_FIELDS:
            hint = did_you_mean(path, EXPERIMENT_FIELDS)
            raise OverrideError(f"--set {item}: `{path}` is not a field of an experiment"
                                + (f"; {hint}" if hint else ""))
        settings[path] = _setting(item, path, value.strip())
    return settings


def _setting(item: str, path: str, value: str) -> Setting:
    import json

    first_problem = None
    for text in (value, json.dumps(value)):
        if "\n" in text or "\r" in text:
            continue  # one value, never more lines of a body
        try:
            ref = _declaration(path, text)
            layer = build_layer(ref)
        except SyntaxProblem as error:
            first_problem = first_problem or error.message
            continue
        if layer.findings:
            first_problem = first_problem or layer.findings[0].message
            continue
        setting = layer.settings.get(path)
        if setting is None or len(layer.settings) != 1 or len(ref.file.module.declarations) != 1:
            continue  # the text was more than one value (`3 } experiment x {`): not a value
        if setting.swept:
            raise OverrideError(f"--set {item}: a sweep cannot be set on the command line")
        setting.made[None] = Provenance(origin=ORIGIN, text=source_text(setting.node))  # what show says of it
        return setting
    raise OverrideError(f"--set {item}: {first_problem or 'not a value of this field'}")


def _declaration(path: str, value: str) -> DeclRef:
    block, _, field = path.rpartition(".")
    body = f"  {field} = {value}\n" if not block else f"  {block} {{\n    {field} = {value}\n  }}\n"
    text = f"experiment command_line {{\n{body}}}\n"
    module = parse_module(text, ORIGIN)
    source = SourceFile(Path(ORIGIN), ORIGIN, text, module)
    return DeclRef(module.declarations[0], source)
