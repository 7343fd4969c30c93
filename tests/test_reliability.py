"""Files and processes: whatever happens to a run — SIGKILL, a full disk, a folder it may not write, a second
run into the same folder — every output and input file is afterwards either its old complete content or its
new complete content. And the output depends on nothing but the input: not the listing order of folders."""

from __future__ import annotations

import errno
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import REPO, granite
from tests.test_build import ALL_TARGETS, examples, files_under  # noqa: F401 - examples is a fixture
from tunespec import files as files_module
from tunespec.cli import main
from tunespec.templates.build import TEMPORARY

ENVIRONMENT = {**os.environ, "PYTHONPATH": str(REPO)}


def outputs(folder: Path) -> dict[str, bytes]:
    return {name: data for name, data in files_under(folder).items() if TEMPORARY not in name}


def wait_until(condition, process: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while process.poll() is None and time.monotonic() < deadline and not condition():
        time.sleep(0.0005)


# --- SIGKILL -------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_an_interrupted_fmt_leaves_every_file_old_or_new(tmp_path):
    """Kill `fmt` at random moments after it started rewriting; each file is the original or the formatted."""
    (tmp_path / "tunespec.toml").write_text("")
    source = granite("training { max_seq_length = 512 }")
    messy = source.replace("  ", "      ").replace(" = ", "=")
    originals = {f"f{index:03d}.tune": messy.replace("tickets", f"t{index}") for index in range(300)}
    formatted_dir = tmp_path / "formatted"
    formatted_dir.mkdir()
    for name, text in originals.items():
        (formatted_dir / name).write_text(text)
    subprocess.run([sys.executable, "-m", "tunespec", "fmt", "."], cwd=formatted_dir, env=ENVIRONMENT, check=True,
                   capture_output=True)
    formatted = {name: (formatted_dir / name).read_bytes() for name in originals}
    assert all(formatted[name] != text.encode() for name, text in originals.items())
    work = tmp_path / "work"
    rng = random.Random(7)
    for attempt in range(4):
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
        for name, text in originals.items():
            (work / name).write_text(text)
        process = subprocess.Popen([sys.executable, "-m", "tunespec", "fmt", "."], cwd=work, env=ENVIRONMENT,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        changed = lambda: any((work / name).read_bytes() == formatted[name] for name in list(originals)[:50])  # noqa: E731
        wait_until(changed, process)
        time.sleep(rng.random() * 0.05)
        process.kill()
        process.wait()
        for name, text in originals.items():
            assert (work / name).read_bytes() in (text.encode(), formatted[name]), name
        assert any((work / name).read_bytes() == formatted[name] for name in originals), "killed before it wrote"


@pytest.mark.slow
def test_builds_killed_at_random_moments_leave_only_old_or_new_files(examples):  # noqa: F811
    """The first build writes the old outputs; the input changes; builds of the new input are killed at
    random moments. Each output is then the old or the new version, complete."""
    command = [sys.executable, "-m", "tunespec", "build", "examples", "--out", "out", "--target", ",".join(ALL_TARGETS)]
    subprocess.run(command, cwd=examples, env=ENVIRONMENT, capture_output=True)  # 1: some targets refuse
    old = outputs(examples / "out")
    for tune in (examples / "examples").rglob("*.tune"):
        tune.write_text(tune.read_text().replace("epochs", "epochs = 7 #"))
    shutil.copytree(examples / "out", examples / "saved")
    subprocess.run(command, cwd=examples, env=ENVIRONMENT, capture_output=True)
    new = outputs(examples / "out")
    shutil.rmtree(examples / "out")
    os.rename(examples / "saved", examples / "out")
    changed = [name for name in old if new.get(name) != old[name]]
    assert changed
    rng = random.Random(3)
    for attempt in range(4):
        process = subprocess.Popen(command, cwd=examples, env=ENVIRONMENT, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        time.sleep(0.15 + rng.random() * 0.6)  # start-up, then somewhere in the run
        process.kill()
        process.wait()
        for name, data in outputs(examples / "out").items():
            assert data in (old.get(name), new.get(name)), name


# --- two runs at once ----------------------------------------------------------------------------------

@pytest.mark.slow
def test_two_builds_into_one_folder_at_once_both_finish_with_complete_files(examples):  # noqa: F811
    second = examples / "second"
    shutil.copytree(examples / "examples", second / "examples")
    (second / "tunespec.toml").write_text("")
    for tune in (second / "examples").rglob("*.tune"):
        tune.write_text(tune.read_text().replace("epochs", "epochs = 9 #"))
    out = examples / "out"
    versions = []
    for cwd in (examples, second):
        shutil.rmtree(out / "shared", ignore_errors=True)
        subprocess.run([sys.executable, "-m", "tunespec", "build", "examples", "--out", str(out / "shared")],
                       cwd=cwd, env=ENVIRONMENT, check=True, capture_output=True)
        versions.append(outputs(out / "shared"))
    for attempt in range(3):
        shutil.rmtree(out / "shared", ignore_errors=True)
        runs = [subprocess.Popen([sys.executable, "-m", "tunespec", "build", "examples", "--out", str(out / "shared")],
                                 cwd=cwd, env=ENVIRONMENT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                for cwd in (examples, second)]
        results = [run.communicate() + (run.returncode,) for run in runs]
        assert [code for _, _, code in results] == [0, 0], [err.decode()[-500:] for _, err, _ in results]
        shared = files_under(out / "shared")
        assert not [name for name in shared if TEMPORARY in name]
        assert set(shared) == set(versions[0])
        for name, data in shared.items():
            assert data in (versions[0][name], versions[1][name]), name


def test_leftovers_of_a_dead_run_are_removed_and_those_of_a_live_one_kept(tmp_path):
    dead = tmp_path / f"{TEMPORARY}999999999-0-experiment.yaml"
    dead.write_text("half")
    live = tmp_path / f"{TEMPORARY}{os.getppid()}-0-experiment.yaml"
    live.write_text("being written")
    files_module.remove_leftovers(tmp_path)
    assert not dead.exists() and live.exists()


def _stage_as_a_worker_and_exit(folder: str) -> None:
    files_module.join_run(os.getppid())  # what workers._serve does first
    files_module.stage(Path(folder) / "experiment.yaml", b"staged by a worker", 0o644)


def test_what_a_worker_staged_is_its_runs_while_the_run_lives_though_the_worker_exited(tmp_path):
    """A worker stages files and exits before its parent renames them: another build writing into the same
    folder must take them for a live run's, not a dead one's (it deleted them once, failing the first)."""
    import multiprocessing

    worker = multiprocessing.get_context("fork").Process(target=_stage_as_a_worker_and_exit, args=(str(tmp_path),))
    worker.start()
    worker.join()
    assert worker.exitcode == 0
    staged = [p for p in tmp_path.iterdir() if p.name.startswith(TEMPORARY)]
    assert len(staged) == 1
    other_build = "import sys; from tunespec.files import remove_leftovers; remove_leftovers(__import__('pathlib').Path(sys.argv[1]))"
    subprocess.run([sys.executable, "-c", other_build, str(tmp_path)], check=True, env=ENVIRONMENT)
    assert staged[0].exists()
    files_module.remove_leftovers(tmp_path, including_mine=True)  # the run's own sweep when it gives up
    assert not staged[0].exists()


def test_folders_staged_by_a_dead_run_are_removed_and_those_of_a_live_one_kept(tmp_path):
    dead = tmp_path / f"{TEMPORARY}999999999-0-yaml"
    (dead / "sub").mkdir(parents=True)
    (dead / "experiment.yaml").write_text("half")
    (dead / "sub" / "more.yaml").write_text("half")
    live = tmp_path / f"{TEMPORARY}{os.getppid()}-0-yaml"
    live.mkdir()
    (live / "experiment.yaml").write_text("being written")
    files_module.remove_leftovers(tmp_path)
    assert not dead.exists() and (live / "experiment.yaml").exists()


def test_a_staged_folder_whose_place_was_taken_meanwhile_goes_in_file_by_file(tmp_path):
    """Another build made the folder first: the files are renamed into it one by one, the others kept."""
    final = tmp_path / "yaml"
    temporary = files_module.stage_folder(str(final))
    (Path(temporary) / "sub").mkdir()
    files_module.write_new(os.path.join(temporary, "experiment.yaml"), b"new", 0o644)
    files_module.write_new(os.path.join(temporary, "sub", "more.yaml"), b"more", 0o644)
    final.mkdir()
    (final / "experiment.yaml").write_text("old")
    (final / "other.yaml").write_text("theirs")
    files_module.commit_folder(temporary, str(final), ["experiment.yaml", os.path.join("sub", "more.yaml")])
    assert files_under(final) == {"experiment.yaml": b"new", "other.yaml": b"theirs", "sub/more.yaml": b"more"}
    assert not os.path.exists(temporary)


def test_a_new_variant_folder_is_staged_whole_and_put_in_place_with_one_rename(project, monkeypatch):
    """A fresh build renames each new variant's folder into place once, its targets' folders, files and
    stamps inside it; a target added later, to a variant whose folder is there, goes in with one rename
    of its own folder."""
    project.write("t.tune", granite(""))
    renamed = []
    real_replace = os.replace

    def replace(source, destination):
        renamed.append((os.fspath(source), os.fspath(destination)))
        return real_replace(source, destination)

    monkeypatch.setattr(files_module.os, "replace", replace)
    for targets, expected in (("yaml,peft", ["tickets"]), ("yaml,peft,json", ["tickets/json"])):
        renamed.clear()
        assert main(["build", "t.tune", "--target", targets]) == 0
        into_out = [(source, destination) for source, destination in renamed  # (not the cache's files)
                    if os.path.relpath(destination, project.root).startswith("out" + os.sep)]
        assert [Path(os.path.relpath(destination, project.root / "out")).as_posix() for _, destination in into_out] \
            == expected
        assert all(os.path.basename(source).startswith(TEMPORARY) for source, _ in into_out)
    for target in ("yaml", "peft", "json"):
        assert (project.root / "out" / "tickets" / target / ".tunespec-stamp").is_file()
    assert not [p for p in (project.root / "out").rglob(TEMPORARY + "*")]


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=st.sets(st.sampled_from(["yaml", "json", "peft", "axolotl"])),
       second=st.sets(st.sampled_from(["yaml", "json", "peft", "axolotl"]), min_size=1),
       sweep=st.sampled_from(["1", "1, 2", "2, 3"]))
def test_a_variant_folder_staged_whole_holds_what_one_filled_target_by_target_holds(project, first, second, sweep):
    """The two ways a target's new folder is staged — inside its new variant's temporary folder, or beside
    it in the variant's existing folder — write the same bytes and stamps, and leave nothing else."""
    from tunespec.api import build

    project.write("t.tune", granite(f"training {{ epochs = sweep [{sweep}] }}"))
    out = project.root / "out"
    shutil.rmtree(out, ignore_errors=True)
    build(["t.tune"], sorted(second), "out", cache=False)
    fresh = {path.relative_to(out).as_posix(): path.read_bytes() for path in out.rglob("*") if path.is_file()}
    shutil.rmtree(out)
    if first:
        project.write("t.tune", granite("training { epochs = sweep [1, 4] }"))  # some variants only first
        build(["t.tune"], sorted(first), "out", cache=False)
        project.write("t.tune", granite(f"training {{ epochs = sweep [{sweep}] }}"))
    build(["t.tune"], sorted(second), "out", cache=False)
    again = {path.relative_to(out).as_posix(): path.read_bytes() for path in out.rglob("*") if path.is_file()}
    assert {name: data for name, data in again.items() if name.split("/")[1] in second and name in fresh} == fresh
    assert set(fresh) <= set(again)
    assert not [name for name in again if TEMPORARY in name]


def _staged_target(placement, variant: str, text: str):
    """Stage the yaml target of `variant` holding `text` (as a build's worker does)."""
    from tunespec.templates.build import Output, stage_outputs

    folder = placement.folder(variant, "yaml")
    return stage_outputs([Output(os.path.join(folder, "experiment.yaml"), text, False, "experiment.yaml")],
                         placement, (folder, "key", ()))


def test_a_variant_folder_that_appeared_meanwhile_gets_the_targets_one_by_one(tmp_path):
    """Another build put the variant's folder in place after this one staged it: the staged targets go
    into it one by one (what is already there stays), and the temporary folder goes."""
    from tunespec.templates.build import FolderCommit, Placement

    placement = Placement(tmp_path / "out", tmp_path)
    staged = _staged_target(placement, "v", "mine\n")
    assert staged.within is not None and os.path.dirname(staged.within[0]) == str(tmp_path / "out")
    (tmp_path / "out" / "v" / "json").mkdir(parents=True)
    (tmp_path / "out" / "v" / "json" / "theirs.json").write_text("{}")
    folders = FolderCommit()
    try:
        assert folders.put(staged) == [str(tmp_path / "out" / "v" / "yaml" / "experiment.yaml")]
    finally:
        folders.close()
    assert files_under(tmp_path / "out") == {"v/json/theirs.json": b"{}", "v/yaml/experiment.yaml": b"mine\n"}
    assert sorted(os.listdir(tmp_path / "out")) == ["v"]


def test_a_link_put_where_a_staged_variant_folder_goes_is_refused_and_nothing_written(tmp_path):
    from tunespec.files import WriteError
    from tunespec.templates.build import FolderCommit, Placement, discard_staged

    placement = Placement(tmp_path / "out", tmp_path)
    staged = _staged_target(placement, "v", "mine\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "out" / "v").symlink_to(elsewhere)
    folders = FolderCommit()
    with pytest.raises(WriteError, match="cannot write"):
        try:
            folders.put(staged)
        finally:
            folders.close()
    discard_staged([staged])
    assert os.listdir(elsewhere) == [] and sorted(os.listdir(tmp_path / "out")) == ["v"]


@pytest.mark.parametrize("kept", [0, 1])
def test_two_variants_of_one_name_in_a_batch_are_staged_apart_and_either_can_be_the_one_kept(tmp_path, kept):
    """Two variants of one batch with the same name (the run refuses one, `runner._Merge`): the second's
    target folder, whose name is taken in the variant's temporary folder, is staged in a second one; the
    one refused is discarded, and the other put in place, alone."""
    from tunespec.templates.build import FolderCommit, Placement, discard_staged

    placement = Placement(tmp_path / "out", tmp_path)
    both = [_staged_target(placement, "v", "first\n"), _staged_target(placement, "v", "second\n")]
    assert both[0].within != both[1].within
    discard_staged([both[1 - kept]])
    folders = FolderCommit()
    try:
        folders.put(both[kept])
    finally:
        folders.close()
    assert files_under(tmp_path / "out") == {"v/yaml/experiment.yaml": [b"first\n", b"second\n"][kept]}
    assert sorted(os.listdir(tmp_path / "out")) == ["v"]


def test_a_dead_runs_staged_variant_folder_goes_and_a_live_ones_is_neither_an_orphan_nor_pruned(project, capsys):
    project.write("t.tune", granite(""))
    assert main(["build", "t.tune", "--target", "yaml"]) == 0
    out = project.root / "out"
    dead = out / f"{TEMPORARY}999999999-0-0-tickets"
    live = out / f"{TEMPORARY}{os.getppid()}-0-0-tickets"
    for staging in (dead, live):  # (what a build stages: the variant's folder, its mark naming t.tune)
        shutil.copytree(out / "tickets", staging)
    capsys.readouterr()
    assert main(["build", "t.tune", "--target", "yaml", "--prune"]) == 0
    assert "orphaned" not in capsys.readouterr().out
    assert not dead.exists() and (live / "yaml" / "experiment.yaml").is_file()


# --- the disk says no ----------------------------------------------------------------------------------

@pytest.mark.parametrize("failure", [errno.ENOSPC, errno.EACCES, errno.EROFS])
def test_a_write_failing_halfway_changes_no_output(project, capsys, monkeypatch, failure):
    """The fifth file of a build cannot be written (a full disk, a folder not ours, a read-only file
    system): exit 2, one line, and every output still holds what the previous build wrote."""
    project.write("t.tune", granite("training { epochs = sweep [1, 2, 3] }"))
    assert main(["build", "t.tune", "--target", "yaml,json,peft"]) == 0
    before = outputs(project.root / "out")
    project.write("t.tune", granite("training { epochs = sweep [1, 2, 3]  max_seq_length = 512 }"))
    real_open = os.open
    opened = []

    def failing_open(path, flags, mode=0o777, *args, **kwargs):
        if TEMPORARY in str(path):
            opened.append(path)
            if len(opened) == 5:
                raise OSError(failure, os.strerror(failure), str(path))
        return real_open(path, flags, mode, *args, **kwargs)

    monkeypatch.setattr(files_module.os, "open", failing_open)
    capsys.readouterr()
    assert main(["build", "t.tune", "--target", "yaml,json,peft"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and os.strerror(failure).lower() in err
    assert outputs(project.root / "out") == before
    assert not [p for p in (project.root / "out").rglob(TEMPORARY + "*")]


def test_fmt_of_a_file_it_cannot_replace_reports_it_and_keeps_it(project, capsys, monkeypatch):
    project.write("t.tune", granite("").replace(" = ", "="))
    before = (project.root / "t.tune").read_bytes()

    def refused(source, destination):
        raise OSError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(files_module.os, "replace", refused)
    assert main(["fmt", "t.tune"]) == 2
    assert "permission denied" in capsys.readouterr().err
    assert (project.root / "t.tune").read_bytes() == before
    assert not [p for p in project.root.iterdir() if TEMPORARY in p.name]


# --- the output depends on the input alone ------------------------------------------------------------

def test_folder_listing_order_does_not_change_lint_or_build(examples, capsys, monkeypatch):  # noqa: F811
    assert main(["build", "examples", "--out", "out", "--jobs", "1"]) == 0
    forward_out = capsys.readouterr().out
    os.rename(examples / "out", examples / "forward")
    real_walk = os.walk

    def reversed_walk(top, *args, **kwargs):
        for folder, dirs, names in real_walk(top, *args, **kwargs):
            dirs.reverse()
            yield folder, dirs, list(reversed(names))

    from tunespec.compiler import loader

    monkeypatch.setattr(loader.os, "walk", reversed_walk)
    assert main(["build", "examples", "--out", "out", "--jobs", "1"]) == 0
    assert capsys.readouterr().out == forward_out
    assert files_under(examples / "forward") == files_under(examples / "out")


# --- a killed worker, Ctrl-C (issue 11, items 11 and 12) --------------------------------------------------

def many_experiments(folder: Path, count: int = 140, epochs: int = 2) -> None:
    (folder / "tunespec.toml").write_text("")
    (folder / "exp").mkdir(exist_ok=True)
    for index in range(count):
        text = granite(f"training {{ max_seq_length = 512  epochs = {epochs} }}").replace("tickets", f"t{index}")
        (folder / "exp" / f"t{index}.tune").write_text(text.replace("data/train.jsonl", "s3://bucket/train.jsonl"))


BUILD = [sys.executable, "-m", "tunespec", "build", "exp", "--out", "out", "--target", "yaml,peft"]


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as handle:
            return [int(child) for child in handle.read().split()]
    except OSError:
        return []


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="finds the worker processes in /proc")
def test_a_worker_killed_by_sigkill_ends_the_run_with_one_line_and_nothing_written(tmp_path):
    """The out-of-memory killer's SIGKILL to one worker: once the run waited forever for the batch it lost."""
    many_experiments(tmp_path)
    process = subprocess.Popen([*BUILD, "--jobs", "2"], cwd=tmp_path, env=ENVIRONMENT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, start_new_session=True)
    workers: list[int] = []
    deadline = time.monotonic() + 60
    while len(workers) < 2 and process.poll() is None and time.monotonic() < deadline:
        workers = children(process.pid)
        time.sleep(0.01)
    assert len(workers) == 2, "the build ended before its workers could be found"
    os.kill(workers[0], signal.SIGKILL)
    try:
        _, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        raise AssertionError("the run hangs after a worker was killed")
    assert process.returncode == 2 and err.decode().count("\n") == 1, err
    assert "worker process died" in err.decode() and "SIGKILL" in err.decode()
    assert not (tmp_path / "out").exists() or not [p for p in (tmp_path / "out").rglob("*") if p.is_file()]


def snapshot(folder: Path) -> dict[str, bytes]:
    return files_under(folder) if folder.exists() else {}


@pytest.mark.slow
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_ctrl_c_is_one_line_exit_130_no_temporary_file_and_the_output_all_old_or_all_new(tmp_path, jobs):
    """SIGINT to the process group (a terminal's Ctrl-C) at random moments of a build that changes every
    output: once a worker traceback, thousands of temporary files, and old files mixed with new."""
    many_experiments(tmp_path)
    command = [*BUILD, "--jobs", jobs]
    subprocess.run(command, cwd=tmp_path, env=ENVIRONMENT, check=True, capture_output=True)
    old = snapshot(tmp_path / "out")
    shutil.copytree(tmp_path / "out", tmp_path / "old")
    many_experiments(tmp_path, epochs=3)
    started = time.monotonic()
    subprocess.run(command, cwd=tmp_path, env=ENVIRONMENT, check=True, capture_output=True)
    duration = time.monotonic() - started
    new = snapshot(tmp_path / "out")
    assert new != old and set(new) == set(old)
    rng = random.Random(int(jobs))
    for attempt in range(2):
        shutil.rmtree(tmp_path / "out")
        shutil.copytree(tmp_path / "old", tmp_path / "out")
        process = subprocess.Popen(command, cwd=tmp_path, env=ENVIRONMENT, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, start_new_session=True)
        time.sleep(0.2 + rng.random() * duration * 0.8)
        os.killpg(process.pid, signal.SIGINT)
        _, err = process.communicate(timeout=60)
        if process.returncode == 0:
            assert snapshot(tmp_path / "out") == new  # finished before the signal
            continue
        assert process.returncode == 130 and err == b"tunespec: interrupted\n", err
        now = snapshot(tmp_path / "out")
        assert not [name for name in now if TEMPORARY in name]
        assert now in (old, new), "old and new files mixed"
