"""The project's cache (`tunespec.cache`) and the importer search's use of it: an entry is used only while
the file it describes is unchanged, a cache that cannot be read or written changes nothing, and the folder
says what it is to git and to backup tools."""

from __future__ import annotations

import os
from pathlib import Path

from tests.conftest import git
from tunespec import cache, project
from tunespec.project import IMPORTERS_CACHE, IMPORTS_CACHE, dependents

LONG_AGO = 1_600_000_000  # seconds: older than the racy window, so that the search caches what it read


def write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    os.utime(path, (LONG_AGO, LONG_AGO))
    return path


def importers(root: Path, name: str) -> list[str]:
    return [display for _, display in dependents([name], root)]


def counting_reads(monkeypatch) -> list[str]:
    read = []
    original = project._imports
    monkeypatch.setattr(project, "_imports", lambda path, folder, info=None: read.append(os.path.basename(path)) or original(path, folder, info))
    return read


def small_project(root: Path) -> None:
    write(root, "tunespec.toml", "")
    write(root, "base.tune", 'preset base { seed = 1 }\n')
    write(root, "a.tune", 'import "base.tune"\nexperiment a extends base { model = "x" }\n')
    write(root, "b.tune", 'experiment b {\n  model = "a-model-with-a-long-name"\n}\n')


def test_a_second_search_reads_no_file_and_finds_the_same(tmp_path, monkeypatch):
    small_project(tmp_path)
    monkeypatch.chdir(tmp_path)
    read = counting_reads(monkeypatch)
    assert importers(tmp_path, "base.tune") == ["a.tune"]
    assert sorted(read) == ["a.tune", "b.tune", "base.tune"]
    read.clear()
    assert importers(tmp_path, "base.tune") == ["a.tune"]
    assert read == []


def test_a_file_changed_since_is_read_again_even_with_its_time_and_size_put_back(tmp_path, monkeypatch):
    """The stamp holds the change time too: an edit that restores the modification time (`touch -r`,
    an unpacked archive) and keeps the size is still seen."""
    small_project(tmp_path)
    monkeypatch.chdir(tmp_path)
    importers(tmp_path, "base.tune")
    before = (tmp_path / "b.tune").stat()
    write(tmp_path, "b.tune", 'import "base.tune"\nexperiment b { }\n'.ljust(before.st_size - 1) + "\n")
    assert (tmp_path / "b.tune").stat().st_size == before.st_size
    os.utime(tmp_path / "b.tune", ns=(before.st_atime_ns, before.st_mtime_ns))
    read = counting_reads(monkeypatch)
    assert importers(tmp_path, "base.tune") == ["a.tune", "b.tune"]
    assert read == ["b.tune"]


def test_a_file_changed_just_now_is_not_cached(tmp_path, monkeypatch):
    """Within the file system's clock tick a second edit may leave time and size as they were: a file
    changed in the last seconds is read on every run until it has settled (as git's racily clean files)."""
    small_project(tmp_path)
    (tmp_path / "b.tune").write_text('experiment b { model = "y" }\n', encoding="utf-8")  # now
    monkeypatch.chdir(tmp_path)
    importers(tmp_path, "base.tune")
    read = counting_reads(monkeypatch)
    importers(tmp_path, "base.tune")
    assert read == ["b.tune"]


def test_new_and_removed_files_are_seen(tmp_path, monkeypatch):
    small_project(tmp_path)
    monkeypatch.chdir(tmp_path)
    importers(tmp_path, "base.tune")
    write(tmp_path, "sub/c.tune", 'import "../base.tune"\nexperiment c extends base { }\n')
    (tmp_path / "a.tune").unlink()
    assert importers(tmp_path, "base.tune") == ["sub/c.tune"]
    paths = cache.load(tmp_path, IMPORTS_CACHE)[0]
    assert sorted(paths) == sorted(str(tmp_path / name) for name in ("b.tune", "base.tune", "sub/c.tune"))


def test_the_imports_map_is_kept_only_while_every_file_has_settled(tmp_path, monkeypatch):
    """The map of who imports what is reused whole when every file's stamp stands; a file changed in the
    last seconds has no stamp, and no map is kept until it has settled."""
    small_project(tmp_path)
    (tmp_path / "b.tune").write_text('import "base.tune"\nexperiment b extends base { }\n', encoding="utf-8")  # now
    monkeypatch.chdir(tmp_path)
    assert importers(tmp_path, "base.tune") == ["a.tune", "b.tune"]
    paths, stamps, imports = cache.load(tmp_path, IMPORTS_CACHE)
    assert stamps[paths.index(str(tmp_path / "b.tune"))] is None
    assert cache.load(tmp_path, IMPORTERS_CACHE) is None
    os.utime(tmp_path / "b.tune", (LONG_AGO, LONG_AGO))
    assert importers(tmp_path, "base.tune") == ["a.tune", "b.tune"]
    imported = cache.load(tmp_path, IMPORTERS_CACHE)[2]
    assert imported == {str(tmp_path / "base.tune"): [str(tmp_path / "a.tune"), str(tmp_path / "b.tune")]}
    read = counting_reads(monkeypatch)
    assert importers(tmp_path, "base.tune") == ["a.tune", "b.tune"]
    assert read == []


def test_a_file_found_under_two_paths_counts_once_cached_or_not(tmp_path, monkeypatch):
    """A hard link is one file: it imports under the first path the walk finds, on the run that reads it
    and on the runs that take the map from the cache."""
    small_project(tmp_path)
    os.link(tmp_path / "a.tune", tmp_path / "z.tune")
    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        assert importers(tmp_path, "base.tune") == ["a.tune"]


def test_files_of_two_projects_find_their_importers_in_each(tmp_path, monkeypatch):
    for name in ("one", "two"):
        small_project(tmp_path / name)
    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        found = [display for _, display in dependents(["one/base.tune", "two/base.tune"], tmp_path)]
        assert found == ["one/a.tune", "two/a.tune"]


def test_the_folder_is_marked_for_git_and_backup_tools(tmp_path, monkeypatch):
    small_project(tmp_path)
    git(tmp_path, "init", "-q")
    monkeypatch.chdir(tmp_path)
    importers(tmp_path, "base.tune")
    folder = tmp_path / cache.FOLDER
    assert (folder / "CACHEDIR.TAG").read_text().startswith("Signature: 8a477f597d28d172789f06886806bc55")
    assert (folder / IMPORTS_CACHE).is_file()
    status = __import__("subprocess").run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=tmp_path,
                                          capture_output=True, text=True, check=True).stdout
    assert cache.FOLDER not in status and "a.tune" in status


def test_a_damaged_or_foreign_cache_is_ignored_and_replaced(tmp_path, monkeypatch):
    small_project(tmp_path)
    monkeypatch.chdir(tmp_path)
    importers(tmp_path, "base.tune")
    entries = [tmp_path / cache.FOLDER / name for name in (IMPORTS_CACHE, IMPORTERS_CACHE)]
    for index in range(4):
        for entry in entries:
            damaged = (b"", b"\x00garbage", entry.read_bytes()[:-7],
                       __import__("marshal").dumps((("tunespec cache", "0.0.0", "cpython-00"), {})))[index]
            entry.write_bytes(damaged)
            assert cache.load(tmp_path, entry.name) is None
        read = counting_reads(monkeypatch)
        assert importers(tmp_path, "base.tune") == ["a.tune"]
        assert sorted(read) == ["a.tune", "b.tune", "base.tune"]
        monkeypatch.undo()
        monkeypatch.chdir(tmp_path)
    assert cache.load(tmp_path, IMPORTS_CACHE) is not None and cache.load(tmp_path, IMPORTERS_CACHE) is not None


def test_a_map_whose_stamps_differ_is_not_believed(tmp_path, monkeypatch):
    """The map of who imports what is used whole only for the paths and stamps it was made from: a map
    stored for other stamps (or other paths) is made again from each file's entry, reading none."""
    small_project(tmp_path)
    monkeypatch.chdir(tmp_path)
    importers(tmp_path, "base.tune")
    paths, digest, _ = cache.load(tmp_path, IMPORTERS_CACHE)
    wrong = {str(tmp_path / "base.tune"): [str(tmp_path / "b.tune")]}
    read = counting_reads(monkeypatch)
    for stored in ((paths, digest + 1, wrong), (paths[::-1], digest, wrong), (paths, digest, "not a map")):
        cache.store(tmp_path, IMPORTERS_CACHE, stored)
        assert importers(tmp_path, "base.tune") == ["a.tune"]
    assert read == []
    # the control: the same map with the paths and stamps found is believed (a.tune is not in it; b.tune is,
    # and its parse shows that it imports nothing)
    cache.store(tmp_path, IMPORTERS_CACHE, (paths, digest, wrong))
    assert importers(tmp_path, "base.tune") == []


def test_entries_of_another_shape_are_read_again(tmp_path, monkeypatch):
    small_project(tmp_path)
    monkeypatch.chdir(tmp_path)
    cache.store(tmp_path, IMPORTS_CACHE, {str(tmp_path / "a.tune"): ("stamp", 3), str(tmp_path / "b.tune"): 7})
    assert importers(tmp_path, "base.tune") == ["a.tune"]


def test_a_project_that_cannot_be_written_is_searched_all_the_same(tmp_path, monkeypatch):
    small_project(tmp_path)
    (tmp_path / cache.FOLDER).write_text("not a folder")  # nothing can be stored below it
    monkeypatch.chdir(tmp_path)
    assert importers(tmp_path, "base.tune") == ["a.tune"]
    assert importers(tmp_path, "base.tune") == ["a.tune"]
    assert (tmp_path / cache.FOLDER).read_text() == "not a folder"


def test_store_and_load_round_trip_built_in_data(tmp_path):
    data = {"a": (1, 2.5, None, True), "b": [b"x", "y"]}
    cache.store(tmp_path, "some-entry-1", data)
    assert cache.load(tmp_path, "some-entry-1") == data
    assert cache.load(tmp_path, "another-entry-1") is None
    assert sorted(os.listdir(tmp_path / cache.FOLDER)) == [".gitignore", "CACHEDIR.TAG", "some-entry-1"]


# --- the configuration --------------------------------------------------------------------------------

def counting_parses(monkeypatch) -> list[str]:
    from tunespec import config

    parsed = []
    original = config._read_table
    monkeypatch.setattr(config, "_read_table", lambda path: parsed.append(path.name) or original(path))
    return parsed


def test_an_unchanged_configuration_is_not_parsed_again(tmp_path, monkeypatch):
    from tunespec.config import load_config
    from tunespec.rules import REGISTRY

    path = write(tmp_path, "tunespec.toml", 'ignore = ["TS401"]\nout = "specs"\n')
    parsed = counting_parses(monkeypatch)
    first = load_config(path, REGISTRY)
    second = load_config(path, REGISTRY)
    assert parsed == ["tunespec.toml"]
    assert (second.ignore, second.out, second.written, second.path) == (["TS401"], "specs", {"ignore", "out"}, path)
    assert second == first


def test_a_changed_configuration_is_parsed_again_even_with_its_time_and_size_put_back(tmp_path, monkeypatch):
    from tunespec.config import load_config
    from tunespec.rules import REGISTRY

    path = write(tmp_path, "pyproject.toml", '[tool.tunespec]\nout = "aaaa"\n')
    assert load_config(path, REGISTRY).out == "aaaa"
    write(tmp_path, "pyproject.toml", '[tool.tunespec]\nout = "bbbb"\n')  # same size, same time
    parsed = counting_parses(monkeypatch)
    assert load_config(path, REGISTRY).out == "bbbb"
    assert parsed == ["pyproject.toml"]


def test_a_configuration_in_error_is_reported_every_time(tmp_path):
    import pytest

    from tunespec.config import ConfigError, load_config
    from tunespec.rules import REGISTRY

    path = write(tmp_path, "tunespec.toml", 'select = ["TS999999"]\n')
    for _ in range(2):
        with pytest.raises(ConfigError, match="unknown rule `TS999999`"):
            load_config(path, REGISTRY)
    path = write(tmp_path, "tunespec.toml", "select = [\n")
    for _ in range(2):
        with pytest.raises(ConfigError, match="invalid TOML"):
            load_config(path, REGISTRY)


def test_a_cold_lint_with_an_unchanged_configuration_does_not_import_tomllib(tmp_path):
    import subprocess
    import sys

    from tests.conftest import REPO

    small_project(tmp_path)
    write(tmp_path, "tunespec.toml", 'ignore = ["TS011"]\n')
    probe = "import sys; from tunespec.cli import main; main(sys.argv[1:]); print('tomllib' in sys.modules)"
    runs = [subprocess.run([sys.executable, "-c", probe, "lint", "a.tune"], capture_output=True, text=True,
                           cwd=tmp_path, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}) for _ in range(2)]
    assert [run.stdout.splitlines()[-1] for run in runs] == ["True", "False"]
    assert runs[0].stdout.splitlines()[:-1] == runs[1].stdout.splitlines()[:-1]


def test_a_cached_file_changed_just_now_loses_its_entry_until_it_has_settled(tmp_path, monkeypatch):
    small_project(tmp_path)
    monkeypatch.chdir(tmp_path)
    importers(tmp_path, "base.tune")
    (tmp_path / "b.tune").write_text('import "base.tune"\nexperiment b extends base { }\n', encoding="utf-8")  # now
    assert importers(tmp_path, "base.tune") == ["a.tune", "b.tune"]
    assert str(tmp_path / "b.tune") not in cache.load(tmp_path, IMPORTS_CACHE)
    read = counting_reads(monkeypatch)
    assert importers(tmp_path, "base.tune") == ["a.tune", "b.tune"]
    assert read == ["b.tune"]
    os.utime(tmp_path / "b.tune", (LONG_AGO, LONG_AGO))
    importers(tmp_path, "base.tune")
    read.clear()
    assert importers(tmp_path, "base.tune") == ["a.tune", "b.tune"]
    assert read == []


# --- the project's folders ------------------------------------------------------------------------------

def aged(root: Path) -> None:
    """Every file and folder below `root` (and itself) last changed long ago, deepest first."""
    for path in sorted(root.rglob("*"), key=lambda p: -len(p.parts)):
        os.utime(path, (LONG_AGO, LONG_AGO), follow_symlinks=False)
    os.utime(root, (LONG_AGO, LONG_AGO))


def counting_listings(monkeypatch) -> list[str]:
    from tunespec.compiler import loader

    listed = []
    original = loader.folder_listing
    monkeypatch.setattr(loader, "folder_listing", lambda folder: listed.append(folder) or original(folder))
    return listed


def test_the_search_walks_the_folders_find_tune_files_walks_and_lists_unchanged_ones_from_the_cache(tmp_path, monkeypatch):
    import time

    from tunespec.compiler.loader import find_tune_files

    for name in ("b.tune", "a.tune", "notes.txt", "sub/z.tune", "sub/deeper/y.tune", ".hidden/x.tune",
                 "out/w.tune", "dir.tune/v.tune", "sub2/u.tune"):
        write(tmp_path, name, "")
    os.symlink(tmp_path / "sub", tmp_path / "linked")
    aged(tmp_path)
    root, skipped = str(tmp_path), frozenset({str(tmp_path / "out")})
    expected = [path for path in find_tune_files(root) if not path.startswith(str(tmp_path / "out"))]

    def search() -> list[str]:  # the files, in order (each listed with its folder, the one its path is in)
        found = project._tune_files(root, skipped, time.time_ns() - project.RACY_NS)
        assert all(os.path.dirname(path) == folder for folder, paths in found for path in paths)
        return [path for _, paths in found for path in paths]

    listed = counting_listings(monkeypatch)
    assert search() == expected
    assert sorted(listed) == sorted([root, *(str(tmp_path / name) for name in ("sub", "sub/deeper", "dir.tune", "sub2"))])
    os.utime(tmp_path, (LONG_AGO, LONG_AGO))  # the cache's own folder made the root's times new
    search()
    listed.clear()
    assert search() == expected and listed == []
    write(tmp_path, "sub/new.tune", "")  # the folder's time put back: its change time still tells
    os.utime(tmp_path / "sub", (LONG_AGO, LONG_AGO))
    (tmp_path / "sub2" / "u.tune").unlink()
    (tmp_path / "sub2").rmdir()
    os.utime(tmp_path, (LONG_AGO, LONG_AGO))
    expected = [path for path in find_tune_files(root) if not path.startswith(str(tmp_path / "out"))]
    listed.clear()
    assert str(tmp_path / "sub" / "new.tune") in expected and search() == expected
    assert sorted(listed) == sorted([root, str(tmp_path / "sub")])
