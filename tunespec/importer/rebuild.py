"""The config tunespec's own target writes for an imported experiment, to tell which of the keys left over
are lost: a key the rebuilt config holds with the same value (`stage: sft`, Axolotl's `roles_to_train` for
chat data, fms-hf-tuning's `save_model_dir`) is what tunespec writes anyway, and is not reported.

Asking the templates keeps this true as they change: a constant a template starts to write is recognised
without a table here. A draft that cannot be built (incomplete, a model the target cannot run) has no
rebuilt config, and only the backend's own defaults (`DEFAULTS` of its module) are recognised.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tunespec import codes
from tunespec.importer.draft import Draft


def rebuilt_config(draft: Draft, text: str, config: Path) -> Any | None:
    """The data of the file `config` would be if `tunespec build` wrote it from `text` (the draft's
    experiment), with the variant name and folder the config has; None when it cannot be built."""
    from tunespec.api import lint_text
    from tunespec.config import Config
    from tunespec.diagnostics import Severity
    from tunespec.templates.render import parse_back, render_target
    from tunespec.templates.targets import builtin_targets

    result = lint_text(text, draft.folder / f"{draft.name}.tune", Config(select=["TS0"]), cwd=draft.root)
    variants = [exp for exp in result.resolved if not exp.is_preset]
    errors = [d for d in result.diagnostics if d.severity is Severity.ERROR and d.code != codes.UNKNOWN_MODEL]
    if errors or len(variants) != 1:
        return None
    exp = variants[0].replace(name=draft.variant) if draft.variant else variants[0]
    target = builtin_targets()[draft.backend]
    folder = Path(os.path.relpath(config.absolute().parent, draft.root))
    to_root = Path(os.path.relpath(draft.root, config.absolute().parent)).as_posix()
    try:
        files = render_target(exp, target, folder.as_posix(), to_root)
    except Exception:  # noqa: BLE001 - a draft the target cannot render: the defaults alone decide, as documented
        return None
    # torchtune's config is YAML that OmegaConf reads ("omegaconf"): read as YAML here, as the import reads it
    as_read = {"json": "json", "yaml": "yaml", "omegaconf": "yaml"}
    data_formats = ("json",) if config.suffix == ".json" else ("yaml", "omegaconf")
    for file in target.files:
        if file.format in as_read and file.output == config.name:
            return parse_back(files[file.output], as_read[file.format])
    formats = [file for file in target.files if file.format in data_formats and file.output in files]
    return parse_back(files[formats[0].output], as_read[formats[0].format]) if formats else None


def value_at(data: Any, key: tuple) -> Any:
    """The value at `key` in `data`, or `MISSING_VALUE`."""
    for part in key:
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            return MISSING_VALUE
    return data


MISSING_VALUE = object()
