"""Jinja2's compiled templates kept in the project's cache folder (`tunespec.cache`), `jinja2/` in it.

Each build process that renders compiles the templates it uses: about 70 ms of CPU for the built-in
targets' 18 templates, paid by every worker of every build that renders anything (a tenth of a worker's
share of a fresh build of 999 variants). Loaded from here instead, they cost about 2 ms. A build with
`--no-cache` neither reads nor writes them, as it does not the rest of the cache.

An entry is Jinja2's own bucket (`jinja2.bccache.Bucket`): it holds the SHA-1 of the template's source
and the Python version it was compiled for, and Jinja2 compiles the template again when either differs.
What else the compiled code depends on — Jinja2's version, tunespec's (whose environment options and
filters it was compiled with) and the options themselves — is part of the entry's name, so that no
other combination ever reads it. Only the built-in targets' templates are kept: a `--template-dir`
target's are compiled in each run, as they were. The cache is as trusted as the project's `__pycache__`
(the entries are Python code objects, `marshal`led); one that cannot be read or written changes nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

import jinja2
from jinja2.bccache import Bucket

from tunespec import __version__


class CompiledTemplates(jinja2.BytecodeCache):
    """The bucket of each template in `folder` (None: none is loaded or kept), for environments built with
    `options` (their keyword arguments, part of each entry's name). One for a process: its environments
    hold their templates once loaded, so a process building several projects (the API's) loads each
    template once, from the first one's cache or compiled."""

    def __init__(self, options: dict) -> None:
        self.folder: str | None = None
        self.made = False  # whether `folder` is known to exist
        self.tag = "|".join((__version__, jinja2.__version__, repr(sorted(options.items(), key=lambda item: item[0]))))

    def keep_in(self, folder: str | None) -> None:
        if folder != self.folder:
            self.folder, self.made = folder, False

    def get_cache_key(self, name: str, filename: str | None = None) -> str:
        return super().get_cache_key(f"{self.tag}|{name}", filename)

    def load_bytecode(self, bucket: Bucket) -> None:
        from tunespec.files import read_unlinked

        if self.folder is None:
            return
        data = read_unlinked(self._path(bucket))
        if data is None:
            return
        try:  # (a foreign or outdated entry leaves the bucket empty: Jinja2 compiles the template)
            bucket.bytecode_from_string(data)
        except Exception:  # a damaged one (pickle's and marshal's errors are of many kinds): the same
            bucket.reset()

    def dump_bytecode(self, bucket: Bucket) -> None:
        from tunespec.files import WriteError, write_atomically

        if self.folder is None:
            return
        try:
            if not self.made:
                from tunespec.cache import make_subfolder

                make_subfolder(self.folder)
                self.made = True
            write_atomically(Path(self._path(bucket)), bucket.bytecode_to_string(), 0o644)
        except (OSError, WriteError):
            pass  # a read-only checkout, a full disk: the next run compiles again

    def _path(self, bucket: Bucket) -> str:
        return os.path.join(self.folder, f"{bucket.key}.jinja2")
