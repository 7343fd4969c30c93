"""`tunespec import`: which trainer a config is for, its experiment, and what could not be imported."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from types import ModuleType
from typing import Any

from tunespec.importer.draft import Draft, experiment_name
from tunespec.importer.reader import Lost, Reader, key_name
from tunespec.importer.source import ConfigProblem, read_source
from tunespec.importer.writer import write
from tunespec.record import Record

# --from NAME (the target of the same name builds the config back) -> module
BACKENDS = {"axolotl": "axolotl", "llama-factory": "llama_factory", "fms-hf-tuning": "fms_hf_tuning",
            "torchtune": "torchtune"}
NO_FIELD = "no tunespec field"


class Imported(Record):
    text: str  # the .tune file
    backend: str
    title: str
    name: str  # the experiment's
    lost: list  # Lost, in file order
    imported: int  # values written into the experiment
    same: int  # keys set to what tunespec's target does anyway (the backend's default)


def backend(name: str) -> ModuleType:
    return importlib.import_module(f"tunespec.importer.{BACKENDS[name]}")


def detect(data: dict) -> ModuleType:
    """The backend whose distinctive keys the config has most of; a clear error when none or a tie."""
    scores = {name: _score(backend(name), data) for name in BACKENDS}
    best = max(scores.values())
    leaders = [name for name, score in scores.items() if score == best]
    if best == 0:
        looked = "; ".join(f"{backend(name).TITLE}'s {_signature(backend(name))}" for name in BACKENDS)
        raise ConfigProblem(f"cannot tell which trainer this config is for: it has none of {looked}. "
                            f"Name it with --from ({', '.join(BACKENDS)})")
    if len(leaders) > 1:
        raise ConfigProblem(f"this config could be for {' or '.join(backend(n).TITLE for n in leaders)}: "
                            f"name it with --from ({', '.join(leaders)})")
    return backend(leaders[0])


def _score(module: ModuleType, data: dict) -> int:
    scoring = getattr(module, "score", None)
    return scoring(data) if scoring else sum(1 for key in module.SIGNATURE if key in data)


def _signature(module: ModuleType) -> str:
    return getattr(module, "SIGNATURE_TEXT", None) or ", ".join(module.SIGNATURE)


def import_config(path: Path, *, display: str | None = None, source_backend: str | None = None,
                  root: Path | None = None, folder: Path | None = None, name: str | None = None) -> Imported:
    """The experiment of the trainer config at `path`. Relative paths in the config are relative to `root`
    (where the trainer runs; default: the current folder); the .tune file's own paths are written relative
    to `folder` (where it will be saved; default: the current folder). Raises ConfigProblem when the file
    cannot be imported at all."""
    display = display or str(path)
    source = read_source(path, display)
    module = backend(source_backend) if source_backend else detect(source.data)
    refusal = getattr(module, "refusal", lambda data: None)(source.data)
    if refusal:
        raise ConfigProblem(refusal)
    cwd = Path.cwd()
    draft = Draft(module.NAME, (root or cwd).absolute(), (folder or cwd).absolute())
    reader = Reader(source)
    module.read(reader, draft)
    same = _settle_leftovers(reader, module)
    draft.name = name or draft.name or experiment_name(path.name.partition(".")[0])
    draft.set("targets", [module.NAME], f"imported from a config for {module.TITLE}")
    lost = sorted(reader.lost, key=lambda item: (item.line, item.column))
    text = write(draft, lost, display, f"a config for {module.TITLE}")
    imported = len(draft.fields) - 1 + (draft.model is not None)
    return Imported(text, module.NAME, module.TITLE, draft.name, lost, imported, same)


def _settle_leftovers(reader: Reader, module: ModuleType) -> int:
    """Report every key the backend did not take, unless it holds the backend's own default (which says
    nothing). Returns how many keys were at their default."""
    same = 0
    for key, value in list(reader.leftovers()):
        name = key_name(key)
        if name in module.DEFAULTS and _equal(module.DEFAULTS[name], value):
            reader.take(*key)
            same += 1
            continue
        top = str(key[0])
        general = re.sub(r"\[\d+\]", "[]", name)
        reason = module.REASONS.get(name) or module.REASONS.get(general) or module.REASONS.get(top, NO_FIELD)
        reader.lose(key, reason, housekeeping=module.housekeeping(top))
    return same


def _equal(default: Any, value: Any) -> bool:
    """Equal as config values: `0 == 0.0`, but `false` is not `0`."""
    if isinstance(default, bool) or isinstance(value, bool):
        return type(default) is type(value) and default == value
    return default == value


__all__ = ["BACKENDS", "ConfigProblem", "Imported", "Lost", "detect", "import_config"]
