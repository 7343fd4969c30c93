"""tunespec's cache: a folder of what earlier runs learnt, kept outside the committed outputs, as ruff's
`.ruff_cache`.

Where: `TUNESPEC_CACHE_DIR` if set, else the configuration's `cache-dir` (relative to its file), else
`.tunespec_cache` beside the configuration file (or in the current folder when there is none). The
folder holds a `CACHEDIR.TAG` (backup tools skip it) and a `.gitignore` of `*` (git ignores it without a
line in the project's own), and one subfolder per tunespec version, so that another version's files are
never read. `--no-cache` neither reads nor writes it.

A cache only ever saves work: a missing, unreadable, corrupt or foreign file reads as empty, and a folder
that cannot be written (read-only, full) just means no cache. Files are replaced whole (written beside,
then renamed), so a reader never sees half of one. What the cache holds is machine-specific (inode
numbers, timestamps): that is why it is not in the output folders, whose `.tunespec-stamp` files are
deterministic and may be committed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from tunespec import __version__

NAME = ".tunespec_cache"
ENVIRONMENT = "TUNESPEC_CACHE_DIR"
FORMAT = 1
TAG = ("Signature: 8a477f597d28d172789f06886806bc55\n"
       "# This file is a cache directory tag created by tunespec.\n"
       "# For information about cache directory tags, see:\n"
       "#\thttps://bford.info/cachedir/\n")
IGNORE = "# Automatically created by tunespec.\n*\n"


def folder(config) -> Path:
    """The cache folder for a run under `config` (a `tunespec.config.Config`)."""
    given = os.environ.get(ENVIRONMENT)
    if given:
        return Path(given)
    if config.cache_dir is not None:
        return config.base / config.cache_dir  # (an absolute `cache-dir` replaces the base)
    return config.base / NAME


def load(path: Path) -> dict:
    """The entries of the cache file at `path` ({} when it is missing or not one of this version's)."""
    try:
        with open(path, "rb") as handle:
            document = json.loads(handle.read())
    except (OSError, ValueError, RecursionError):  # (UnicodeDecodeError is a ValueError)
        return {}
    if not isinstance(document, dict) or document.get("format") != FORMAT or document.get("tunespec") != __version__:
        return {}
    entries = document.get("entries")
    return entries if isinstance(entries, dict) else {}


def save(path: Path, entries: dict) -> bool:
    """Replace the cache file at `path` with `entries` (JSON data); False when it cannot be written."""
    document = {"format": FORMAT, "tunespec": __version__, "entries": entries}
    data = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        _place(path.parent.parent)
        path.parent.mkdir(exist_ok=True)
        with open(temporary, "wb") as handle:
            handle.write(data)
        os.replace(temporary, path)
    except (OSError, ValueError):
        try:
            os.unlink(temporary)
        except OSError:
            pass
        return False
    return True


def _place(root: Path) -> None:
    """Make the cache folder, with its tag and `.gitignore`, as ruff makes `.ruff_cache`."""
    root.mkdir(parents=True, exist_ok=True)
    for name, text in (("CACHEDIR.TAG", TAG), (".gitignore", IGNORE)):
        tagged = root / name
        if not tagged.exists():
            tagged.write_text(text, encoding="utf-8")


def versioned(root: Path, name: str) -> Path:
    """The path of the cache file `name` of this tunespec version under the cache folder `root`."""
    return root / __version__ / name
