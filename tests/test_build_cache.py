"""The build cache (`.tunespec_cache`): an up-to-date folder whose files' signatures are unchanged is
trusted unread, and nothing the cache holds (or fails to hold) ever changes what a build writes or finds
stale."""

from __future__ import annotations

import marshal
import os
import time

import pytest

from tests.test_stamp import experiment
from tunespec import cache, cli
from tunespec.api import build
from tunespec.config import Config
from tunespec.files import STAMP, TEMPORARY
from tunespec.templates import known, render, stamp
from tunespec.templates.build import BuildError

TARGETS = ["yaml", "peft"]  # a YAML file, and scripts (executable)


def _build(**options):
    return build(["t.tune"], targets=TARGETS, out="out", config=options.pop("config", Config()), **options)


@pytest.fixture
def later(monkeypatch):
    """Verification happens long after the files were written (else they are too recent to trust)."""
    monkeypatch.setattr(known, "now", lambda: time.time_ns() + 10 * cache.RACY_NS)


@pytest.fixture
def reads(monkeypatch):
    """The output files (stamps included) the build reads."""
    seen: list[str] = []
    original = stamp.read_unlinked_stat

    def counted(path, executable=False):
        seen.append(os.fspath(path))
        return original(path, executable)

    monkeypatch.setattr(stamp, "read_unlinked_stat", counted)
    return seen


def _cached(project, later, reads):
    """A project built, then found up to date once (which records every folder in the cache)."""
    project.write("t.tune", experiment())
    first = _build()
    assert first.written and not first.refused, first.refused
    assert _build().written == []
    assert reads, "the second build verified the files by reading them"
    reads.clear()
    return first


def _cache_files(folder) -> list:
    return sorted(folder.glob("build-*"))


def _entries(path) -> dict:
    return cache.load(path.parent.parent, path.name) if path.parent.name == cache.FOLDER else None


def test_a_cached_up_to_date_build_reads_no_output_file(project, later, reads, monkeypatch):
    first = _cached(project, later, reads)
    monkeypatch.setattr(render, "render_target", lambda *a, **k: pytest.fail("rendered an up-to-date folder"))
    again = _build()
    assert again.written == [] and sorted(again.unchanged) == sorted(first.written)
    checked = _build(check=True)
    assert checked.stale == [] and sorted(checked.unchanged) == sorted(first.written)
    assert reads == []


def test_the_cache_folder_is_tagged_and_ignored_and_outside_the_outputs(project, later, reads):
    _cached(project, later, reads)
    folder = project.root / cache.FOLDER
    assert (folder / "CACHEDIR.TAG").read_text().startswith("Signature: 8a477f597d28d172789f06886806bc55")
    assert (folder / ".gitignore").read_text().splitlines()[-1] == "*"
    [path] = _cache_files(folder)
    entries = _entries(path)
    assert sorted(entries) == ["tickets/peft", "tickets/yaml"]
    stamps = [(project.root / "out" / name / STAMP).read_text() for name in entries]
    assert all("mtime" not in text and str(os.stat(project.root / "out").st_ino) not in text for text in stamps)


@pytest.mark.parametrize("check", [False, True])
def test_an_edit_that_keeps_size_and_times_is_still_found(project, later, reads, check):
    first = _cached(project, later, reads)
    path = next(p for p in first.written if p.endswith(".yaml"))
    before = os.stat(path)
    data = open(path, "rb").read()
    with open(path, "r+b") as handle:  # the same size, one byte changed, the times set back
        handle.write(b"#" if data[:1] != b"#" else b"!")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert os.stat(path).st_size == before.st_size and os.stat(path).st_mtime_ns == before.st_mtime_ns
    result = _build(check=check)
    if check:
        assert result.stale == [path] and open(path, "rb").read() != data  # nothing written
    else:
        assert result.written == [path] and open(path, "rb").read() == data


def test_a_file_replaced_or_made_unexecutable_is_found(project, later, reads):
    first = _cached(project, later, reads)
    yaml = next(p for p in first.written if p.endswith(".yaml"))
    script = next(p for p in first.written if p.endswith(".sh"))
    data = open(yaml, "rb").read()
    os.unlink(yaml)
    with open(yaml, "wb") as handle:  # same bytes, another inode
        handle.write(data)
    os.chmod(script, 0o644)
    result = _build()
    assert script in result.written and os.stat(script).st_mode & 0o100
    assert yaml in result.unchanged  # read again (its signature changed), and found to hold its bytes


def test_a_leftover_of_a_killed_run_in_a_cached_folder_is_removed(project, later, reads):
    first = _cached(project, later, reads)
    leftover = os.path.join(os.path.dirname(first.written[0]), f"{TEMPORARY}999999999-0")
    open(leftover, "w").close()
    assert _build().written == [] and not os.path.exists(leftover)


def test_a_folder_written_just_now_is_not_trusted(project, reads):
    project.write("t.tune", experiment())
    _build()
    _build()  # (verifies every folder, but their files are too recent for their signatures to be kept)
    assert all(not _entries(path) for path in _cache_files(project.root / cache.FOLDER))
    reads.clear()
    _build()
    assert reads  # read again


def test_a_signature_too_recent_or_a_temporary_file_is_not_recorded(tmp_path):
    folder = tmp_path / "v" / "yaml"
    folder.mkdir(parents=True)
    (folder / STAMP).write_text("x")
    (folder / "a.yaml").write_text("a")
    infos = [os.lstat(folder), os.lstat(folder / STAMP), [("a.yaml", os.lstat(folder / "a.yaml"))]]
    signatures = known.Known({}, str(tmp_path))
    signatures.record(str(folder), "key", time.time_ns(), *infos, ())
    assert signatures.entries == {}
    signatures.record(str(folder), "key", time.time_ns() + 2 * cache.RACY_NS, *infos, ())
    assert list(signatures.entries) == ["v/yaml"] and signatures.trusted(str(folder), "key") is not None
    assert signatures.trusted(str(folder), "another key") is None
    (folder / f"{TEMPORARY}1-0").write_text("")
    assert signatures.trusted(str(folder), "key") is None  # the folder changed
    infos[0] = os.lstat(folder)
    signatures.record(str(folder), "key", time.time_ns() + 2 * cache.RACY_NS, *infos, ())
    assert signatures.entries == {} and signatures.take_changes() == {"v/yaml": None}


@pytest.mark.parametrize("damage", [b"", b"\xff\xfe not a cache\n", b"\x00" * 100, "foreign", "shape", "entries",
                                    "truncated"])
def test_a_corrupt_or_foreign_cache_file_is_ignored(project, later, reads, damage):
    first = _cached(project, later, reads)
    [path] = _cache_files(project.root / cache.FOLDER)
    if damage == "foreign":
        path.write_bytes(marshal.dumps((("tunespec cache", "0.0.0", "cpython-00"), _entries(path))))
    elif damage == "shape":
        cache.store(project.root, path.name, {name: [entry] for name, entry in _entries(path).items()})
    elif damage == "entries":  # the right header, entries of every wrong shape
        entries = _entries(path)
        one, other = sorted(entries)
        key = entries[one].split("\t")[0]
        entries[one] = "\t".join([key, "1:2", "x", "[[", "../../t.tune", "0"])
        assert "\t[]\t" in entries[other]
        entries[other] = entries[other].replace("\t[]\t", '\t{"a": [[[[}\t')
        entries["elsewhere"] = "text"
        cache.store(project.root, path.name, entries)
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:-40])
    else:
        path.write_bytes(damage)
    again = _build()
    assert again.written == [] and sorted(again.unchanged) == sorted(first.written)
    assert reads  # nothing trusted: read


def test_a_deleted_cache_is_made_again(project, later, reads):
    _cached(project, later, reads)
    for path in (project.root / cache.FOLDER).rglob("*"):
        if path.is_file():
            path.unlink()
    assert _build().written == [] and reads
    reads.clear()
    assert _build().written == [] and reads == []


def test_a_cache_that_cannot_be_written_means_no_cache(project, later, reads, monkeypatch):
    project.write("in-the-way", "a file where the cache folder would be made\n")
    monkeypatch.setenv(cache.ENVIRONMENT, str(project.root / "in-the-way" / "cache"))
    _cached(project, later, reads)
    assert _build().written == [] and reads  # read every time
    assert not (project.root / cache.FOLDER).exists()


def test_no_cache_neither_reads_nor_writes_it(project, later, reads):
    project.write("t.tune", experiment())
    _build(cache=False)
    _build(cache=False)
    reads.clear()
    assert _build(cache=False).written == [] and reads
    assert not (project.root / cache.FOLDER).exists()


def test_check_writes_the_cache_but_no_output(project, later, reads):
    project.write("t.tune", experiment())
    first = _build()
    stamps = sorted((project.root / "out").rglob(STAMP))
    before = {path: (path.stat().st_mtime_ns, path.read_bytes()) for path in stamps}
    assert _build(check=True).stale == []
    assert {path: (path.stat().st_mtime_ns, path.read_bytes()) for path in stamps} == before
    reads.clear()
    assert sorted(_build(check=True).unchanged) == sorted(first.written) and reads == []


def test_where_the_cache_goes(project, later, reads, monkeypatch):
    project.write("t.tune", experiment())
    monkeypatch.setenv(cache.ENVIRONMENT, str(project.root / "elsewhere" / "cache"))
    assert cli.main(["build", "t.tune", "--target", "yaml", "-q"]) == 0
    assert cli.main(["build", "t.tune", "--target", "yaml", "-q"]) == 0
    assert (project.root / "elsewhere" / "cache" / "CACHEDIR.TAG").is_file()
    assert _cache_files(project.root / "elsewhere" / "cache")
    monkeypatch.delenv(cache.ENVIRONMENT)
    assert cli.main(["build", "t.tune", "--target", "yaml", "-q", "--no-cache"]) == 0
    assert not (project.root / cache.FOLDER).exists()


def test_a_stamp_edited_in_place_in_a_cached_folder_is_written_again(project, later, reads):
    first = _cached(project, later, reads)
    stamp_path = os.path.join(os.path.dirname(first.written[0]), STAMP)
    good = open(stamp_path, "rb").read()
    with open(stamp_path, "r+b") as handle:  # the folder's own signature does not move
        handle.write(b"X")
    again = _build()
    assert again.written == [] and open(stamp_path, "rb").read() == good


def test_a_cached_folder_replaced_by_a_link_is_not_trusted(project, later, reads):
    first = _cached(project, later, reads)
    folder = os.path.dirname(first.written[0])
    os.rename(folder, str(project.root / "moved"))
    os.symlink(project.root / "moved", folder)
    with pytest.raises(BuildError, match="symbolic link"):
        _build()
    assert os.path.islink(folder)


@pytest.fixture
def marks(monkeypatch):
    """The output files the orphan search reads for their mark."""
    from tunespec import orphans

    seen: list[str] = []
    original = orphans._source_of

    def counted(path):
        seen.append(path)
        return original(path)

    monkeypatch.setattr(orphans, "_source_of", counted)
    return seen


def test_a_build_of_other_files_judges_cached_folders_unread(project, later, reads, marks):
    first = _cached(project, later, reads)
    project.write("u.tune", experiment().replace("tickets", "other"))
    marks.clear()
    other = build(["u.tune"], targets=TARGETS, out="out", config=Config())
    assert other.written and other.orphans == [] and marks == []  # t.tune's folders: known, not read
    os.unlink(project.root / "t.tune")
    marks.clear()
    gone = build(["u.tune"], targets=TARGETS, out="out", config=Config(), prune=True)
    assert marks == [] and sorted(orphan.folder for orphan in gone.orphans) == ["out/tickets/peft", "out/tickets/yaml"]
    assert all("t.tune is gone" in orphan.why for orphan in gone.orphans)
    assert not (project.root / "out" / "tickets").exists() and all(not os.path.exists(p) for p in first.written)


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_cached_folder_holding_another_file_is_left_alone(project, later, reads, marks, when):
    if when == "before":  # (recorded as holding something else: its source is not kept)
        project.write("t.tune", experiment())
        _build()
        project.write("out/tickets/yaml/notes.txt", "mine\n")
        _build()
    else:
        _cached(project, later, reads)
        project.write("out/tickets/yaml/notes.txt", "mine\n")
    os.unlink(project.root / "t.tune")
    project.write("u.tune", experiment().replace("tickets", "other"))
    marks.clear()
    result = build(["u.tune"], targets=TARGETS, out="out", config=Config(), prune=True)
    assert [orphan.folder for orphan in result.orphans] == ["out/tickets/peft"]
    assert (project.root / "out" / "tickets" / "yaml" / "notes.txt").is_file()
    assert all("tickets/yaml" in path for path in marks)  # the changed folder is walked again, no other
