"""Which `.tune` files a folder holds: the files below it, less those `exclude` patterns name and, by default,
those git ignores (`.gitignore` files, `.git/info/exclude`), as ruff finds them.

Exclusion applies to folders searched, never to a file named on the command line (`lint build/x.tune` lints
it, as ruff does). Patterns are gitignore patterns (the `pathspec` package); `exclude` in the configuration is
relative to the configuration's folder, `--exclude` to the current folder. `.gitignore` files count only
inside a git repository (a `.git` above), each relative to its own folder, the deepest deciding; the user's
global excludes file is not read.

With no pattern and no `.gitignore` in sight, nothing is imported and a folder is walked as before: a cold
`lint` does not pay for pathspec.
"""

from __future__ import annotations

import os
from pathlib import Path
TYPE_CHECKING = False
if TYPE_CHECKING:  # (typing, for type checkers only, is not imported at run time)
    from typing import Iterable

GITIGNORE = ".gitignore"


class Excluder:
    """Decides for paths below folders being searched. `patterns`: (base folder, gitignore patterns)."""

    def __init__(self, patterns: Iterable[tuple[Path, list[str]]] = (), gitignore: bool = True) -> None:
        self.patterns = [(os.path.abspath(base), lines) for base, lines in patterns if lines]
        self.gitignore = gitignore
        self._compiled: list | None = None
        self._ignore_files: dict[str, object] = {}  # folder -> its compiled .gitignore (or None)
        self._git_roots: dict[str, str | None] = {}

    def walk(self, folder: str) -> list[str]:
        """`*.tune` files below `folder`, sorted, skipping hidden folders and what is excluded (as
        `loader.find_tune_files`, which it is when nothing can be excluded)."""
        from tunespec.compiler.loader import find_tune_files

        git_root = self._git_root(os.path.abspath(folder)) if self.gitignore else None
        if not self.patterns and git_root is None:
            return find_tune_files(folder)
        return find_tune_files(folder, lambda path, is_folder: self.excluded(path, is_folder, git_root))

    def excluded_below(self, path: str, root: str) -> bool:
        """Whether the file `path`, or a folder between `root` and it, is excluded (for a file found without
        `walk`: the search for importers walks first and asks only about the files it finds)."""
        path, root = os.path.abspath(path), os.path.abspath(root)
        folder = os.path.dirname(path)
        folders = []
        while len(folder) > len(root) and folder.startswith(root):
            folders.append(folder)
            folder = os.path.dirname(folder)
        return any(self.excluded(f, True) for f in reversed(folders)) or self.excluded(path)

    def excluded(self, path: str, is_folder: bool = False, git_root: str | None = None) -> bool:
        """Whether the absolute `path` is excluded by a pattern or (inside `git_root`) ignored by git."""
        path = os.path.abspath(path)
        for base, spec in self._specs():
            if _decision(spec, path, base, is_folder):
                return True
        if git_root is None and self.gitignore:
            git_root = self._git_root(os.path.dirname(path))
        if git_root is None:
            return False
        folder = os.path.dirname(path)
        while True:  # the deepest .gitignore that has a say decides
            spec = self._ignore_file(folder)
            if spec is not None:
                decision = _decision(spec, path, folder, is_folder)
                if decision is not None:
                    return decision
            if folder == git_root or len(folder) <= len(git_root):
                break
            folder = os.path.dirname(folder)
        spec = self._info_exclude(git_root)
        return bool(spec is not None and _decision(spec, path, git_root, is_folder))

    def _specs(self) -> list:
        if self._compiled is None:
            self._compiled = [(base, _compile(lines)) for base, lines in self.patterns]
        return self._compiled

    def _git_root(self, folder: str) -> str | None:
        if folder not in self._git_roots:
            parent = os.path.dirname(folder)
            if os.path.exists(os.path.join(folder, ".git")):
                self._git_roots[folder] = folder
            else:
                self._git_roots[folder] = None if parent == folder else self._git_root(parent)
        return self._git_roots[folder]

    def _ignore_file(self, folder: str):
        if folder not in self._ignore_files:
            self._load_ignore_file(folder)
        return self._ignore_files[folder]

    def _load_ignore_file(self, folder: str) -> None:
        if folder not in self._ignore_files:
            self._ignore_files[folder] = _read_patterns(os.path.join(folder, GITIGNORE))

    def _info_exclude(self, git_root: str):
        key = os.path.join(git_root, ".git", "info", "exclude")
        if key not in self._ignore_files:
            self._ignore_files[key] = _read_patterns(key)
        return self._ignore_files[key]


def _read_patterns(path: str):
    from tunespec.files import read_regular

    try:
        lines = read_regular(path).decode("utf-8", "replace").splitlines()
    except (OSError, ValueError):
        return None
    return _compile(lines) if any(line.strip() and not line.startswith("#") for line in lines) else None


def _compile(lines: list[str]):
    import pathspec

    return pathspec.GitIgnoreSpec.from_lines(lines)


def _decision(spec, path: str, base: str, is_folder: bool) -> bool | None:
    """True: excluded; False: re-included by a `!` pattern; None: no pattern of `spec` matches."""
    relative = os.path.relpath(path, base)
    if relative.startswith(".."):
        return None
    relative = relative.replace(os.sep, "/") + ("/" if is_folder else "")
    return spec.check_file(relative).include
