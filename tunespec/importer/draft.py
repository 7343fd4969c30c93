"""The experiment an import builds up: each value converted to its field's type, with the key it came from.

A value the language cannot hold (`num_epochs: 1.5` for a whole number of epochs, a scheduler it does not
name) raises `Unexpressible` with the reason, and the backend reports the key as not imported instead.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any, Callable

from tunespec.compiler.schema import EXPERIMENT_FIELDS, MODEL_FIELDS, FieldSpec, Kind, is_uri
from tunespec.importer.reader import Reader, key_name
from tunespec.record import Factory, Record

IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")
RESERVED = {"import", "experiment", "preset", "model", "extends", "sweep", "true", "false"}


class Unexpressible(Exception):
    """A value the language has no way to write; the message says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Entry(Record):
    value: Any
    origin: str  # the comment written beside it: the key it came from


class ModelDraft(Record):
    """`model = "ID"`, and a `model "ID" { }` declaration when the catalog lacks it and the config says
    something about it."""

    id: str
    origin: str
    declared: dict = Factory(dict)  # model field -> Entry; empty: no declaration
    declare: bool = False


class Draft:
    def __init__(self, backend: str, root: Path, folder: Path) -> None:
        self.backend = backend  # the target name: axolotl, llama-factory, fms-hf-tuning, torchtune
        self.root = root  # what the config's relative paths are relative to (where the trainer runs)
        self.folder = folder  # where the .tune file goes: its paths are relative to it
        self.fields: dict[str, Entry] = {}
        self.model: ModelDraft | None = None
        self.name: str | None = None
        self.generated_by: str | None = None  # the experiment a tunespec-built config names in its header
        self.variant: str | None = None  # the variant a tunespec-built config's output folder names
        self.notes: list[str] = []  # comment lines for the top of the file

    def set(self, path: str, value: Any, origin: str) -> None:
        """Set `path`; a value that means what leaving it unset means is left unset (see UNSET_MEANS)."""
        value = convert(EXPERIMENT_FIELDS[path], value)
        if UNSET_MEANS.get(path, MISSING) == value and type(UNSET_MEANS[path]) is type(value):
            self.fields.pop(path, None)
            return
        self.fields[path] = Entry(value, origin)

    def default(self, path: str, value: Any, key: str, title: str) -> None:
        """A required or differing value the config leaves to the backend's default: written, so that the
        experiment trains as the config does."""
        if path not in self.fields:
            self.set(path, value, f"{key} unset: {title}'s default")

    def get(self, path: str, default: Any = None) -> Any:
        entry = self.fields.get(path)
        return entry.value if entry is not None else default

    def place(self, path: str) -> str:
        """A path the config wrote (relative to the root, where the trainer runs) as the .tune file must
        write it (relative to its own folder); URIs and absolute paths stay as written."""
        if is_uri(path) or os.path.isabs(path) or "://" in path:
            return path
        local = os.path.normpath(self.root / path)
        return Path(os.path.relpath(local, self.folder)).as_posix()


def put(reader: Reader, draft: Draft, key: tuple | str, path: str, how: Callable[[Any], Any] | None = None,
        origin: str | None = None) -> bool:
    """Import `key` into `path` (through `how`), or report it as not imported with the reason."""
    key = (key,) if isinstance(key, str) else tuple(key)
    if not reader.has(*key):
        return False
    raw = reader.value(*key)
    try:
        value = convert(EXPERIMENT_FIELDS[path], how(raw) if how else raw)
    except Unexpressible as problem:
        reader.lose(key, problem.reason)
        return False
    reader.take(*key)
    draft.set(path, value, origin or key_name(key))
    return True


# What a field left unset means where the language gives it no IR default and every backend agrees
# (LANGUAGE-v2): a config that says so explicitly (`peft_use_dora: false`, `report_to: none`) imports as unset,
# so that the experiment resolves to the same IR as one that never mentions it.
UNSET_MEANS = {
    "training.warmup_steps": 0, "training.warmup_ratio": 0.0, "training.weight_decay": 0.0,
    "training.packing": False, "training.report_to": [], "lora.use_rslora": False, "lora.use_dora": False,
    "data.messages_field": "messages",
    # the tokenizer's own template, which the targets use when none is named
    "data.chat_template": "model",
}
MISSING = object()


def put_or_default(reader: Reader, draft: Draft, key: tuple | str, path: str, default: Any, title: str,
                   how: Callable[[Any], Any] | None = None) -> None:
    """`put`, or `title`'s default when the config leaves `key` unset (not when its value was not imported)."""
    key = (key,) if isinstance(key, str) else tuple(key)
    if not put(reader, draft, key, path, how) and not reader.has(*key):
        draft.default(path, default, key_name(key), title)


# --- conversions to the language's kinds ------------------------------------------------------------------

def convert(spec: FieldSpec, value: Any) -> Any:
    kind = spec.kind
    if kind is Kind.INT:
        return whole(value, spec.name)
    if kind in (Kind.FLOAT, Kind.NUMBER):
        number = real(value, spec.name)
        return float(number) if kind is Kind.FLOAT else number
    if kind is Kind.BOOL:
        return boolean(value, spec.name)
    if kind is Kind.STRING:
        if not isinstance(value, str):
            raise Unexpressible(f"tunespec's `{spec.name}` is a string")
        return value
    if kind is Kind.IDENT:
        return ident(value, spec)
    if kind is Kind.STRING_LIST:
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise Unexpressible(f"tunespec's `{spec.name}` is a list of strings")
        return list(value)
    if kind is Kind.IDENT_LIST:
        if not isinstance(value, list):
            raise Unexpressible(f"tunespec's `{spec.name}` is a list of names")
        return [ident(item, spec) for item in value]
    raise AssertionError(kind)


def whole(value: Any, name: str = "value") -> int:
    number = real(value, name)
    if isinstance(number, float):
        if not number.is_integer():
            raise Unexpressible(f"tunespec's `{name}` is a whole number")
        return int(number)
    return number


def real(value: Any, name: str = "value") -> int | float:
    """A number; numeric strings too (PyYAML reads `2e-4`, without a dot, as a string, and the trainers
    convert it)."""
    if isinstance(value, str):
        try:
            value = int(value.replace("_", "")) if re.fullmatch(r"\s*[-+]?\d[\d_]*\s*", value) else float(value)
        except ValueError:
            raise Unexpressible(f"tunespec's `{name}` is a number") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Unexpressible(f"tunespec's `{name}` is a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise Unexpressible(f"tunespec's `{name}` is a finite number")
    return value


def boolean(value: Any, name: str = "value") -> bool:
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if not isinstance(value, bool):
        raise Unexpressible(f"tunespec's `{name}` is true or false")
    return value


def ident(value: Any, spec: FieldSpec) -> str:
    if not isinstance(value, str) or not IDENT.match(value) or value in RESERVED:
        raise Unexpressible(f"tunespec's `{spec.name}` is a name" +
                            (f" ({', '.join(spec.choices)})" if spec.choices else ""))
    if spec.choices and value not in spec.choices:
        raise Unexpressible(f"tunespec's `{spec.name}` is one of {', '.join(spec.choices)}")
    return value


def model_entry(field: str, value: Any, origin: str) -> Entry:
    return Entry(convert(MODEL_FIELDS[field], value), origin)


def choose(table: dict[Any, Any], name: str) -> Callable[[Any], Any]:
    """A conversion through a table of the backend's values to tunespec's."""

    def converted(value: Any) -> Any:
        key = value.lower() if isinstance(value, str) else value
        if isinstance(key, (str, int, float, bool)) and key in table:
            return table[key]
        names = ", ".join(str(k) for k in table)
        raise Unexpressible(f"tunespec's `{name}` has no equivalent (it takes {names})")

    return converted


# --- where the run writes ---------------------------------------------------------------------------------

def split_output_folder(folder: str, target: str) -> tuple[str, str | None]:
    """(output_dir, variant) of a trainer folder `tunespec build` wrote, `<output_dir>/<variant>/<target>`;
    (folder, None) for any other folder."""
    head, _, last = folder.rstrip("/").rpartition("/")
    if last != target or not head:
        return folder, None
    output_dir, _, variant = head.rpartition("/")
    experiment = variant.partition(".")[0]
    if not output_dir or not IDENT.match(experiment) or experiment in RESERVED:
        return folder, None
    return output_dir, variant


def experiment_name(text: str) -> str:
    """An experiment name from a file or variant name: `qlora-1b.yml` -> `qlora-1b`."""
    if IDENT.match(text) and text not in RESERVED:
        return text
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_-") or "imported"
    if not IDENT.match(name) or name in RESERVED:
        name = f"exp_{name}"
    return name

