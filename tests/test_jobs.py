"""`--jobs`: files are checked in batches, here or in worker processes, and the output never depends on it.

The corpus spans several batches and holds what crosses them: a preset file every experiment imports (with a
finding and a `# noqa` that only experiments of a later batch use), a syntax error, two files declaring the
same experiment name in different batches, and one data file for all.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tunespec import runner, workers
from tunespec.api import build, run_lint
from tunespec.cli import main
from tunespec.config import Config
from tunespec.rules import datafiles
from tunespec.templates.build import TEMPORARY

FILES = 2 * runner.BATCH_FILES + 20  # three batches, enough to run in workers

PRESETS = """\
preset base {
  seed = 7
  training {
    batch_size     = 8
    learning_rate  = 2e-4
    max_seq_length = 1024
  }
  lora {
    rank    = 16
    alpha   = 32
    dropout = 0.05
  }
}

preset wide extends base {
  lora { rank = 4096 }  # noqa: TS105
}
"""


def experiment(index: int) -> str:
    base = "wide" if index > runner.BATCH_FILES + 5 else "base"  # only later batches use the noqa
    name = "twin" if index in (3, FILES - 3) else f"exp_{index:03d}"
    learning_rate = "sweep [1e-4, 2e-4]" if index % 7 == 0 else ("9.5" if index % 11 == 0 else "1e-4")
    return f"""\
import "presets.tune"

experiment {name} extends {base} {{
  model  = "ibm/granite-3-1-8b-base"
  method = lora
  description = "experiment {index}"
  data {{ train = "data/train.jsonl" }}
  training {{
    learning_rate = {learning_rate}
    epochs        = {1 + index % 4}
  }}
}}
"""


@pytest.fixture
def corpus(project) -> Path:
    project.write("experiments/presets.tune", PRESETS)
    for index in range(FILES):
        project.write(f"experiments/exp_{index:03d}.tune", experiment(index))
    project.write("experiments/exp_050.tune", "experiment broken {\n  model = \n}\n")
    (project.root / "experiments/data").mkdir()
    os.symlink(project.root / "data/train.jsonl", project.root / "experiments/data/train.jsonl")
    return project.root


def cli_output(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


@pytest.mark.parametrize("format", ["text", "json"])
def test_lint_prints_the_same_for_any_number_of_jobs(corpus, capsys, format):
    serial = cli_output(capsys, "lint", "experiments", "--format", format, "--jobs", "1")
    parallel = cli_output(capsys, "lint", "experiments", "--format", format, "--jobs", "2")
    assert serial == parallel
    assert serial[0] == 1 and "TS001" in serial[1] and "TS010" not in serial[1]
    assert "TS105" not in serial[1], "the noqa in the preset file is used by a later batch"
    assert "TS901" not in serial[1]


def test_a_noqa_no_batch_uses_is_reported_once(corpus, capsys):
    presets = corpus / "experiments/presets.tune"
    presets.write_text(presets.read_text().replace("seed = 7", "seed = 7  # noqa: TS101"))
    for jobs in ("1", "2"):
        code, out = cli_output(capsys, "lint", "experiments", "--jobs", jobs)
        assert out.count("TS901") == 1, out


def test_build_writes_the_same_bytes_for_any_number_of_jobs(corpus, capsys, monkeypatch):
    trees = []
    for jobs in ("1", "2"):
        code, out = cli_output(capsys, "build", "experiments", "--target", "yaml,peft", "--out", "out", "--jobs", jobs)
        trees.append((code, out, _tree(corpus / "out")))
        os.rename(corpus / "out", corpus / f"out-{jobs}")
    assert trees[0] == trees[1]
    code, out, files = trees[0]
    assert "has the same variant name" in out  # the second `twin`, in the last batch
    assert not [name for name in files if TEMPORARY in name]


def test_a_template_failing_in_a_late_batch_writes_nothing(corpus, capsys):
    user = corpus / "templates/needs-description"
    user.mkdir(parents=True)
    (user / "target.toml").write_text('summary = "a description file"\nmethods = ["lora"]\n'
                                      '[[files]]\ntemplate = "d.txt.j2"\noutput = "d.json"\nformat = "json"\n')
    (user / "d.txt.j2").write_text("{{ description.upper | json }}\n")
    late = corpus / f"experiments/exp_{FILES - 1:03d}.tune"
    late.write_text(late.read_text().replace('  description = "experiment', '  # description = "experiment'))
    for jobs in ("1", "2"):
        code, out = cli_output(capsys, "build", "experiments", "--template-dir", "templates", "--target",
                               "yaml,needs-description", "--out", "out", "--jobs", jobs)
        assert code == 2
        assert not (corpus / "out").exists() or not [p for p in (corpus / "out").rglob("*") if p.is_file()]


def test_each_data_file_is_read_once_per_process(corpus, monkeypatch):
    reads: list[Path] = []
    original = datafiles.DataFiles._read

    def counting(self, path, pairs):
        reads.append(path)
        return original(self, path, pairs)

    monkeypatch.setattr(datafiles.DataFiles, "_read", counting)
    run_lint(["experiments"], Config(), jobs=1, keep=False)
    assert len(reads) == 1


def test_the_api_keeps_what_it_resolved_in_one_batch(corpus):
    result = run_lint(["experiments"], Config())
    assert result.program is not None and len(result.roots) == FILES + 1
    assert {exp.experiment for exp in result.resolved} >= {"exp_000", "twin"}


def test_build_api_matches_the_command_line(corpus):
    result = build(["experiments"], ["yaml"], "out", config=Config(), jobs=2)
    assert result.written and any("same variant name" in line for line in result.refused)


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


@pytest.mark.parametrize("count, sizes", [
    (0, [0]), (1, [1]), (15, [4, 4, 4, 3]), (33, [1] + [4] * 8), (100, [16] * 4 + [4] + [4] * 8),
    (333, [16] * 18 + [13] + [4] * 8)])
def test_a_build_ends_in_small_batches_and_takes_every_file_once_in_order(count, sizes):
    """The same batches whatever --jobs is (they depend on the files alone); a build's last two batches'
    worth of files go in quarter-size batches, so that no worker is left with a whole batch at the end."""
    assert runner.BUILD_BATCH_FILES == 16  # (the sizes below)
    files = [(f"f{index}.tune", f"f{index}.tune") for index in range(count)]
    batches = runner._batches(files, runner.Job(Config(), None, Path.cwd(), build=runner.BuildPlan(Path("out"))))
    assert [len(batch) for batch in batches] == sizes
    assert [file for batch in batches for file in batch] == files
    lint = runner._batches(files, runner.Job(Config(), None, Path.cwd()))
    assert [file for batch in lint for file in batch] == files
    assert all(len(batch) == runner.BATCH_FILES for batch in lint[:-1])


# --- the pool ----------------------------------------------------------------------------------------------

_LOG = ""  # the file both processes note events in (set by the test before the worker is forked)


def _note(event: str) -> None:
    with open(_LOG, "a") as log:
        log.write(f"{event}\n")


def _wait_for(event: str, seconds: float = 10) -> None:
    """Wait until `event` is noted (or `seconds` have passed: the test then fails on the order)."""
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and event not in Path(_LOG).read_text().splitlines():
        time.sleep(0.01)


class _SlowToLoad:
    """A batch's result that the parent, unpickling it, finishes loading only once the worker has started the
    batch two further on (or after a while), and notes it."""

    def __init__(self, index: int) -> None:
        self.index = index

    def __reduce__(self):
        return _loaded, (self.index,)


def _loaded(index: int) -> _SlowToLoad:
    if index + workers.AHEAD < 4:
        _wait_for(f"started {index + workers.AHEAD}")
    _note(f"loaded {index}")
    return _SlowToLoad(index)


def _run_batch(files, job, shared):
    _note(f"started {files[0]}")
    return _SlowToLoad(files[0])


def test_a_worker_gets_its_next_batch_before_the_parent_unpickles_its_result(tmp_path, monkeypatch):
    """The parent gives a worker its next batch as soon as a result has arrived, and unpickles it after: the
    worker starts that batch while the parent is still at it. Results still come in batch order."""
    global _LOG
    _LOG = str(tmp_path / "log")
    (tmp_path / "log").write_text("")
    monkeypatch.setattr(runner, "run_batch", _run_batch)  # (the forked worker inherits it)
    results = list(workers.in_workers([[0], [1], [2], [3]], None, 1, lambda result: None))
    assert [result.index for result in results] == [0, 1, 2, 3]
    log = (tmp_path / "log").read_text().splitlines()
    assert log.index("started 2") < log.index("loaded 0") and log.index("started 3") < log.index("loaded 1")


def _run_batch_quickly(files, job, shared):
    _note(f"started {files[0]}")
    return files[0]


def test_a_worker_finds_its_next_batch_waiting_and_need_not_wait_for_the_parent(tmp_path, monkeypatch):
    """Each worker is given its next batch ahead: it starts it as soon as it has sent its answer, even while
    the parent is slow to come and read that answer; the results still come in batch order."""
    global _LOG
    _LOG = str(tmp_path / "log")
    (tmp_path / "log").write_text("")
    monkeypatch.setattr(runner, "run_batch", _run_batch_quickly)
    real_collect = workers._collect

    def slow_collect(*args):
        _wait_for("started 1")
        _note("parent reads")
        real_collect(*args)

    monkeypatch.setattr(workers, "_collect", slow_collect)
    assert list(workers.in_workers([[0], [1], [2], [3]], None, 1, lambda result: None)) == [0, 1, 2, 3]
    log = (tmp_path / "log").read_text().splitlines()
    assert log.index("started 1") < log.index("parent reads")


def test_a_workers_end_of_its_pipe_holds_a_whole_result_where_the_system_allows(tmp_path):
    """The socket a worker sends its results on is widened (as far as `net.core.wmem_max` allows), and
    still carries them."""
    import multiprocessing
    import socket

    mine, theirs = multiprocessing.get_context("fork").Pipe()
    endpoint = socket.socket(fileno=theirs.fileno())
    before = endpoint.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
    workers._room_for_results(theirs)
    after = endpoint.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
    endpoint.detach()
    limit = Path("/proc/sys/net/core/wmem_max")
    if limit.exists() and int(limit.read_text()) > before:
        assert after > before
    if after > 1_000_000:  # (else a send this size would wait for a reader)
        theirs.send(b"x" * 300_000)  # more than the default holds: sent with no reader yet
        assert mine.recv() == b"x" * 300_000


def test_a_batchs_result_comes_back_from_a_worker_as_it_was(corpus, monkeypatch):
    """A build batch's result is pickled with its `built` in columns (`runner._wire_built`): unpickled as it
    is sent (before the parent commits it), it equals the result, record for record, whether a target was
    refused, staged new, found up to date or compared (--check), as when each record went as itself."""
    import pickle

    from multiprocessing.reduction import ForkingPickler

    built: list = []
    original = runner.run_batch

    def sent(files, job, shared):
        result = original(files, job, shared)
        assert runner._wire_built(result.built) is not None
        back = pickle.loads(ForkingPickler.dumps(result))
        assert back == result and [type(item.files) for item in back.built] == [type(item.files) for item in result.built]
        built.extend(back.built)
        return result

    monkeypatch.setattr(runner, "run_batch", sent)
    build(["experiments"], ["yaml", "peft"], "out", config=Config(), jobs=1)
    build(["experiments"], ["yaml", "peft"], "out", config=Config(), jobs=1, check=True)
    (corpus / "experiments/exp_001.tune").write_text(experiment(1).replace("epochs        = 2", "epochs = 3"))
    build(["experiments"], ["yaml", "peft"], "out", config=Config(), jobs=1, check=True)
    assert {item.refused is None for item in built} == {True, False}
    made = [item.files for item in built if item.files is not None]
    assert any(files.folder and files.written and files.within for files in made)
    assert any(files.unchanged for files in made) and any(files.stale for files in made)


class _OtherBuilt(runner.Built):
    """A record of a class `_wire_built` does not put in columns."""


def test_a_result_with_records_of_other_kinds_is_pickled_as_they_are():
    """What `_wire_built` cannot put in columns (a record of another class, files of two kinds, or files
    that are not a Record) goes as it is; either way it comes back equal."""
    import pickle

    from tunespec.templates.build import Staged

    staged = runner.Built("out/a/yaml", "a.tune (experiment a)", "a (yaml)", files=Staged(written=["out/a/yaml/x"]),
                          variant=("a.tune", "a"), name="a", target="yaml", key="k")
    refused = runner.Built("", "", "b", "b: not built, it has errors", name="b")
    for built, in_columns in [([staged, refused], True), ([], True), ([refused], True),
                              ([staged, _OtherBuilt("f", "o", "l")], False),
                              ([staged, refused.replace(files=("x",))], False),
                              ([refused.replace(files=["not a record"])], False)]:
        result = runner.BatchResult([], {}, ["a.tune"], {}, built=built)
        assert (runner._wire_built(built) is not None) == in_columns
        back = pickle.loads(pickle.dumps(result))
        assert back == result and list(map(type, back.built)) == list(map(type, built))


class _Cyclic:
    """Garbage only the cyclic collector frees (it refers to itself)."""

    def __init__(self) -> None:
        self.me = self


class _PickledPaused:
    """Comes out of the pipe as whether the worker pickled it with its collection paused."""

    def __reduce__(self):
        import gc

        return bool, (not gc.isenabled(),)


def test_a_worker_collects_a_batchs_garbage_after_sending_its_result(monkeypatch):
    """A worker sends a batch's result with its collection still paused, and collects once the result is
    sent and dropped (the collection need not go through it): the batch's garbage is gone by the next batch."""
    import weakref

    def batch(files, job, shared):
        made = shared.setdefault("garbage", [])
        earlier_gone = all(ref() is None for ref in made)
        made.append(weakref.ref(_Cyclic()))
        return earlier_gone, _PickledPaused()

    monkeypatch.setattr(runner, "run_batch", batch)
    results = list(workers.in_workers([[1], [2], [3]], None, 1, lambda result: None))
    assert results == [(True, True)] * 3
