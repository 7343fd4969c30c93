"""Each file's build result kept in the cache (`tunespec.replay`): replayed when nothing it depends on
changed, redone — as a run without the cache would do it — when anything did."""

from __future__ import annotations

import marshal
import os
import shutil
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO
from tests.test_build import user_target
from tunespec import cache, cli, replay, runner
from tunespec.api import build
from tunespec.config import Config
from tunespec.rules import REGISTRY
from tunespec.templates import stamp

TARGETS = ["yaml", "peft"]
PRESETS = "preset base {\n  seed = 42\n  training { epochs = 3 }\n}\n"
EXPERIMENT = ('import "presets.tune"\n\nexperiment tickets extends base {\n  model = "ibm/granite-3-1-8b-base"\n'
              '  method = lora\n  data { train = "data/train.jsonl" }\n  training { max_seq_length = 512 }\n'
              '  resources { image = "registry/fms:1" }\n}\n')
DATA = '{"input": "a ticket", "output": "billing"}\n' * 3


@pytest.fixture
def settled(monkeypatch):
    """The run happens long after every file was written (else nothing is kept: git's racy rule)."""
    monkeypatch.setattr(replay, "moment", lambda: time.time_ns() + 10 * cache.RACY_NS)


@pytest.fixture
def compiled(monkeypatch):
    """The files each build compiles (those not replayed)."""
    seen: list[str] = []
    original = runner.compile_files

    def counted(files, *args, **kwargs):
        files = list(files)
        seen.extend(display for _, display in files)
        return original(files, *args, **kwargs)

    monkeypatch.setattr(runner, "compile_files", counted)
    return seen


def _write(project) -> None:
    project.write("presets.tune", PRESETS)
    project.write("t.tune", EXPERIMENT)
    project.write("data/train.jsonl", DATA)


def _build(**options):
    return build(options.pop("paths", ["t.tune"]), targets=options.pop("targets", TARGETS), out="out",
                 config=options.pop("config", Config()), **options)


def _seen(result) -> tuple:
    """What a build reports: its diagnostics, what it refused, wrote, left and found stale."""
    return ([d.to_json() for d in result.lint.diagnostics], result.refused, sorted(result.written),
            sorted(result.unchanged), sorted(result.stale), result.report().exit_code)


def _entries(project) -> list:
    return sorted((project.root / cache.FOLDER / replay.FOLDER).glob("*"))


def test_an_unchanged_file_is_replayed_not_compiled(project, settled, compiled):
    _write(project)
    first = _build()
    assert first.written and len(_entries(project)) == 1
    compiled.clear()
    again = _build()
    assert compiled == [] and again.written == [] and sorted(again.unchanged) == sorted(first.written)
    assert [d.to_json() for d in again.lint.diagnostics] == [d.to_json() for d in first.lint.diagnostics]
    checked = _build(check=True)
    assert compiled == [] and checked.stale == [] and sorted(checked.unchanged) == sorted(first.written)


def _change_file(project, monkeypatch):
    project.write("t.tune", EXPERIMENT.replace("max_seq_length = 512", "max_seq_length = 1024  epochs = 9"))


def _change_import(project, monkeypatch):
    project.write("presets.tune", PRESETS.replace("epochs = 3", "epochs = 7"))


def _change_data(project, monkeypatch):
    project.write("data/train.jsonl", DATA + '{"input": "no output"}\n')


def _remove_data(project, monkeypatch):
    os.unlink(project.root / "data" / "train.jsonl")


def _change_code(project, monkeypatch):
    monkeypatch.setattr(replay, "code_signature", lambda now=None: ("another tunespec", True))


CHANGES = {
    "the file": (_change_file, {}),
    "a file it imports": (_change_import, {}),
    "a data file": (_change_data, {}),
    "a data file removed": (_remove_data, {}),
    "tunespec's code": (_change_code, {}),
    "the configuration": (None, {"config": Config(ignore=["TS307"], severity={"TS401": "info"})}),
    "--select": (None, {"selection": Config().selection(REGISTRY, select=["TS0", "TS5"])}),
    "--set": (None, {"overrides": ["training.epochs=5"]}),
    "--target": (None, {"targets": ["yaml"]}),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_a_change_to_what_a_result_depends_on_redoes_the_file(project, settled, compiled, monkeypatch, change):
    _write(project)
    _build()
    edit, options = CHANGES[change]
    if edit is not None:
        edit(project, monkeypatch)
    compiled.clear()
    redone = _build(**options)
    assert compiled == ["t.tune"]
    fresh = _build(cache=False, **options)  # what a run without the cache finds, and makes
    assert _seen(fresh)[:2] == _seen(redone)[:2] and fresh.written == [] and fresh.report().exit_code == \
        redone.report().exit_code
    compiled.clear()
    assert _seen(_build(**options)) == _seen(fresh) and compiled == []  # kept again, replayed


def test_another_root_redoes_the_file(project, settled, compiled):
    _write(project)
    (project.root / "elsewhere").mkdir()
    _build()
    compiled.clear()
    moved = _build(root="elsewhere")  # (paths in the specs are relative to the root)
    assert compiled == ["t.tune"] and moved.written
    assert _seen(_build(root="elsewhere", cache=False))[:2] == _seen(moved)[:2]


def test_a_project_marker_added_above_an_import_redoes_the_file(project, settled, compiled):
    _write(project)
    project.write("sub/t.tune", EXPERIMENT.replace('"presets.tune"', '"../presets.tune"')
                  .replace("data/train.jsonl", "../data/train.jsonl"))
    assert not _build(paths=["sub/t.tune"]).refused
    compiled.clear()
    _build(paths=["sub/t.tune"])
    assert compiled == []
    project.write("sub/pyproject.toml", "")  # sub/ is now a project of its own: the import leaves it
    again = _build(paths=["sub/t.tune"])
    assert compiled == ["sub/t.tune"] and "TS006" in {d.code for d in again.lint.diagnostics}


def test_a_template_folder_edited_redoes_the_file(project, settled, compiled, monkeypatch):
    _write(project)
    templates = user_target(project.root / "templates", "model {{ model }}\n")
    first = _build(targets=["yaml", "mine"], template_dirs=[str(templates)])
    assert not first.refused
    compiled.clear()
    assert _build(targets=["yaml", "mine"], template_dirs=[str(templates)]).written == [] and compiled == []
    (templates / "mine" / "out.txt.j2").write_text("the model: {{ model }}\n")
    monkeypatch.setattr(stamp, "_trees", {})  # (a new process: folders are digested once per process)
    _build(targets=["yaml", "mine"], template_dirs=[str(templates)])
    assert compiled == ["t.tune"]


def test_the_date_counts_when_a_target_has_removal_dates(project, settled, compiled, monkeypatch):
    project.write("f.tune", 'experiment tickets {\n  model = "ibm/granite-3-1-8b-base"\n  method = lora\n'
                  '  task = classification\n  data { train = "s3://b/train.jsonl" }\n}\n')
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1780000000")  # before watsonx.ai's removal of LoRA
    assert not _build(paths=["f.tune"], targets=["watsonx"]).refused
    compiled.clear()
    assert not _build(paths=["f.tune"], targets=["watsonx"]).refused and compiled == []
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1789000000")  # after it
    after = _build(paths=["f.tune"], targets=["watsonx"])
    assert compiled == ["f.tune"] and after.refused
    assert [d.severity.value for d in after.lint.diagnostics if d.code == "TS503"] == ["error"]


def test_an_edited_output_file_redoes_its_file(project, settled, compiled):
    _write(project)
    first = _build()
    path = next(p for p in first.written if p.endswith(".yaml"))
    good = open(path, "rb").read()
    with open(path, "ab") as handle:
        handle.write(b"# edited\n")
    compiled.clear()
    checked = _build(check=True)
    assert compiled == ["t.tune"] and checked.stale == [path]
    compiled.clear()
    again = _build()
    assert compiled == ["t.tune"] and again.written == [path] and open(path, "rb").read() == good


def test_a_file_changed_just_now_is_not_kept(project, compiled):
    _write(project)
    _build()
    _build()
    assert _entries(project) == []
    compiled.clear()
    _build()
    assert compiled == ["t.tune"]


def test_a_file_whose_import_fails_is_not_kept(project, settled, compiled):
    project.write("t.tune", EXPERIMENT.replace("presets.tune", "missing.tune"))
    _build()
    compiled.clear()
    result = _build()
    assert compiled == ["t.tune"] and _entries(project) == []
    assert "TS006" in {d.code for d in result.lint.diagnostics}


def test_each_file_is_kept_and_redone_on_its_own(project, settled, compiled):
    _write(project)
    project.write("u.tune", EXPERIMENT.replace("tickets", "other"))
    first = _build(paths=["t.tune", "u.tune"])
    _change_file(project, None)
    compiled.clear()
    again = _build(paths=["t.tune", "u.tune"])
    assert compiled == ["t.tune"] and len(_entries(project)) == 2
    assert _seen(_build(paths=["t.tune", "u.tune"], cache=False))[:2] == _seen(again)[:2]
    assert sorted(again.unchanged + again.written) == sorted(first.written)
    compiled.clear()
    _change_import(project, None)  # both import it
    _build(paths=["t.tune", "u.tune"])
    assert compiled == ["t.tune", "u.tune"]


NOQA_PROJECT = {
    "t.tune": EXPERIMENT.replace("  training { max_seq_length = 512 }\n",  # TS302 silenced, TS999 unused (TS901)
                                 "  training { max_seq_length = 512  learning_rate = 5 }  # noqa: TS302, TS999\n"),
    "u.tune": 'experiment broken {\n  model = "no/such-model"\n  method = lora\n}\n',
}


@pytest.mark.parametrize("format", ["text", "json"])
def test_a_replay_prints_what_the_build_printed_byte_for_byte(project, settled, compiled, capsys, format):
    _write(project)
    for name, text in NOQA_PROJECT.items():
        project.write(name, text)
    argv = ["build", "t.tune", "u.tune", "--target", "yaml,peft", "--format", format]
    printed = []
    for options in ([], [], ["--no-cache"], ["--check"], ["--check", "--no-cache"]):
        compiled.clear()
        code = cli.main(argv + options)
        out, err = capsys.readouterr()
        printed.append((code, out, err, bool(compiled)))
    assert printed[0][0] == 1 and printed[0][3] and "TS901" in printed[0][1] and " TS302 " not in printed[0][1]
    assert printed[1][:3] == printed[0][:3] and not printed[1][3]  # replayed
    assert printed[2][:3] == printed[1][:3]
    assert printed[3][:2] == printed[4][:2] and not printed[3][3] and printed[3][2] == printed[4][2]


@pytest.mark.parametrize("damage", [b"", b"\x00not marshal", "foreign", "shape", "fields"])
def test_a_damaged_or_foreign_entry_only_costs_time(project, settled, compiled, damage):
    _write(project)
    first = _build()
    [path] = _entries(project)
    data = cache.load(project.root, f"{replay.FOLDER}/{path.name}")
    if damage == "foreign":
        path.write_bytes(marshal.dumps((("tunespec cache", "0.0.0", "cpython-00"), data)))
    elif damage == "shape":
        cache.store(project.root, f"{replay.FOLDER}/{path.name}", {"a": data})
    elif damage == "fields":  # the right key, fields of the wrong types
        broken = list(data)
        broken[8] = [("out/x", 1, 2, None, (), (), "x", "yaml", 7)]
        cache.store(project.root, f"{replay.FOLDER}/{path.name}", tuple(broken))
    else:
        path.write_bytes(damage)
    compiled.clear()
    again = _build()
    assert compiled == ["t.tune"] and again.written == [] and sorted(again.unchanged) == sorted(first.written)
    assert [d.to_json() for d in again.lint.diagnostics] == [d.to_json() for d in first.lint.diagnostics]
    assert not (project.root / "out" / "x").exists()


def test_no_cache_neither_reads_nor_keeps_results(project, settled, compiled):
    _write(project)
    _build(cache=False)
    assert _entries(project) == []
    _build()
    compiled.clear()
    _build(cache=False)
    assert compiled == ["t.tune"]


@pytest.mark.slow
def test_two_builds_at_once_keep_the_cache_sound(project, compiled, capsys):
    _write(project)
    for index in range(12):
        project.write(f"e{index}.tune", EXPERIMENT.replace("tickets", f"run{index}"))
    time.sleep(cache.RACY_NS / 1e9 + 0.5)  # (older than the racy margin: kept)
    argv = [sys.executable, "-m", "tunespec", "build", ".", "--target", "yaml,peft", "-j", "1"]
    # (the tunespec this test imports: an installed copy's files would make another run key, and nothing replay)
    environment = {**os.environ, "PYTHONPATH": str(REPO)}
    runs = [subprocess.Popen(argv, cwd=project.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment)
            for _ in range(2)]
    outputs = [run.communicate() + (run.returncode,) for run in runs]
    assert outputs[0][2] == outputs[1][2] and outputs[0][0].splitlines()[:-1] == outputs[1][0].splitlines()[:-1]
    assert len(_entries(project)) == 14  # every file kept (by one run or the other), none torn
    assert all(cache.load(project.root, f"{replay.FOLDER}/{path.name}") is not None for path in _entries(project))
    compiled.clear()
    capsys.readouterr()
    code = cli.main(argv[3:])
    replayed = capsys.readouterr().out.encode().splitlines()
    assert compiled == [] and code == outputs[0][2] and replayed[:-1] == outputs[0][0].splitlines()[:-1]
    assert replayed[-1].startswith(b"Wrote 0 files (")
    assert cli.main([*argv[3:], "--no-cache"]) == code and capsys.readouterr().out.encode().splitlines() == replayed


@pytest.mark.slow
def test_replayed_and_built_batches_merge_in_order_with_workers(project, settled, capsys):
    """Above runner.PARALLEL_MINIMUM files, batches whose every file replays are replayed in the parent and
    the others built in workers: what is printed is what a run without the cache prints."""
    _write(project)
    count = runner.PARALLEL_MINIMUM + 2
    for index in range(count):  # (every fifth with an error: refused, and diagnostics to merge in order)
        text = EXPERIMENT.replace("tickets", f"run{index:03d}")
        project.write(f"e{index:03d}.tune", text.replace("method = lora", "method = lorax") if index % 5 == 0 else text)
    argv = ["build", *(f"e{index:03d}.tune" for index in range(count)), "--target", "yaml", "-j", "2",
            "--format", "json"]
    printed = []
    for edit in (None, None, 7, None):
        if edit is not None:
            path = project.root / f"e{edit:03d}.tune"
            path.write_text(path.read_text() + "# edited\n")
        printed.append((cli.main(argv), capsys.readouterr().out.splitlines()[:-1]))
        printed.append((cli.main([*argv, "--no-cache"]), capsys.readouterr().out.splitlines()[:-1]))
    assert len(_entries(project)) == count  # every file kept (the edited one again: its times are "old")
    assert all(item == printed[0] for item in printed) and printed[0][0] == 1


def _one_at_a_time(files, job, shared):
    """The path `runner._files_results` replaced: each file looked up, then compiled, checked, built and
    kept, before the next file is looked at."""
    results = []
    try:
        for file in files:
            found = runner._replayed(file, job, shared)
            if found is None:
                compiled = runner.compile_files([file], job.cwd, job.config, job.root, job.buffers,
                                                shared.setdefault("loader", {}), job.overrides)
                found, compiled = runner._run_files([file], job, shared, runner._check_batch(compiled, job, shared))
                runner._keep(file, found, compiled, job, shared)
            results.append(found)
    except BaseException:
        for result in results:
            runner.discard_built(result.built)
        raise
    return runner._combined(results)


# A batch's files, each of one kind: built, with an error (refused), with an import that fails (not kept),
# that does not parse, or two variants with one name in two files (TS015 across files).
KINDS = {
    "built": EXPERIMENT,
    "error": EXPERIMENT.replace("method = lora", "method = lorax"),
    "bad import": EXPERIMENT.replace("presets.tune", "missing.tune"),
    "syntax": EXPERIMENT.replace("extends base {", "extends base {{"),
    "same name": EXPERIMENT.replace("tickets", "shared"),
    "sweep": EXPERIMENT.replace("max_seq_length = 512", "max_seq_length = 512  learning_rate = sweep [1e-5, 2e-4]"),
}


def _batch_run(root, kinds, edited, monkeypatch, files_results, targets=TARGETS) -> list:
    """What two builds of the files find, write and keep (the second after `edited` files changed), with
    `runner._files_results` as given."""
    monkeypatch.setattr(runner, "_files_results", files_results)
    for index, kind in enumerate(kinds):
        (root / f"f{index}.tune").write_text(KINDS[kind], encoding="utf-8")
    paths = [f"f{index}.tune" for index in range(len(kinds))]
    seen = []
    for edit in (False, True):
        if edit:
            for index in edited:
                with open(root / paths[index], "a", encoding="utf-8") as handle:
                    handle.write("# edited\n")
        result = _build(paths=paths, targets=targets)
        entries = sorted((root / cache.FOLDER / replay.FOLDER).glob("*"))
        seen.append((_seen(result), [(path.name, _kept(cache.load(root, f"{replay.FOLDER}/{path.name}")))
                                     for path in entries],
                     sorted((str(path.relative_to(root)), path.read_bytes() if path.is_file() else None)
                            for path in (root / "out").rglob("*"))))
    return seen


def _kept(entry: tuple) -> tuple:
    """A kept result, less its files' signatures (the files were written again for each run)."""
    key, display, (files, data_files, roots), *result = entry
    return (display, [path for path, _ in files], [path for path, _ in data_files], roots, *result)


from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kinds=st.lists(st.sampled_from(sorted(KINDS)), min_size=1, max_size=6), edited=st.sets(st.integers(0, 5)))
def test_a_batch_built_in_passes_finds_and_keeps_what_one_file_at_a_time_did(project, settled, monkeypatch, kinds,
                                                                             edited):
    """Every file looked up, then compiled, then checked, then built, then kept: what the build reports,
    writes and keeps is what looking up, compiling, checking, building and keeping one file after the
    other did."""
    _write(project)
    edited = {index for index in edited if index < len(kinds)}
    found = {}
    for name, files_results in (("one at a time", _one_at_a_time), ("in passes", runner._files_results)):
        for leftover in ("out", cache.FOLDER):
            shutil.rmtree(project.root / leftover, ignore_errors=True)
        found[name] = _batch_run(project.root, kinds, edited, monkeypatch, files_results)
    assert found["in passes"] == found["one at a time"]


def test_a_failure_in_a_batch_leaves_nothing_staged(project, settled, monkeypatch):
    """A file whose build fails: what the batch's files before it staged (built or replayed) goes too."""
    _write(project)
    for index in range(3):
        project.write(f"f{index}.tune", EXPERIMENT.replace("tickets", f"run{index}"))
    paths = ["f0.tune", "f1.tune", "f2.tune"]
    _build(paths=paths[:1])  # f0 replays in the next build, f1 is built, f2 fails
    original = runner._Building.rendered

    def failing(self, exp, *args, **kwargs):
        if exp.source.endswith("f2.tune"):
            raise RuntimeError("broken")
        return original(self, exp, *args, **kwargs)

    monkeypatch.setattr(runner._Building, "rendered", failing)
    before = sorted(path.relative_to(project.root) for path in (project.root / "out").rglob("*"))
    with pytest.raises(RuntimeError):
        _build(paths=paths)
    assert sorted(path.relative_to(project.root) for path in (project.root / "out").rglob("*")) == before


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kinds=st.lists(st.sampled_from(sorted(KINDS)), min_size=1, max_size=5), edited=st.sets(st.integers(0, 4)),
       chunk=st.integers(1, 4))
def test_targets_built_one_target_at_a_time_make_what_building_variant_by_variant_made(project, settled, monkeypatch,
                                                                                         kinds, edited, chunk):
    """A batch's builds go one target at a time for every variant (`CHUNK_VARIANTS` variants at a time)
    before the next target: what the build reports, writes (byte for byte) and keeps is what building each
    variant's targets before the next variant's did."""
    _write(project)
    edited = {index for index in edited if index < len(kinds)}
    monkeypatch.setattr(runner, "CHUNK_VARIANTS", chunk)
    found = {}
    for name, order in (("variant by variant", list), ("target by target", runner._build_order)):
        for leftover in ("out", cache.FOLDER):
            shutil.rmtree(project.root / leftover, ignore_errors=True)
        monkeypatch.setattr(runner, "_build_order", order)
        found[name] = _batch_run(project.root, kinds, edited, monkeypatch, runner._files_results,
                                 ["yaml", "peft", "json", "kubeflow"])
    assert found["target by target"] == found["variant by variant"]


@pytest.mark.parametrize("files", [1, 2])
def test_a_build_reports_the_failure_building_variant_by_variant_meets_first(project, settled, monkeypatch, files):
    """Targets are built one target at a time, but of two failures the one reported is the one building
    each variant's targets in turn meets first: the first variant's second target, not the second
    variant's first (the variants of one file, or of two)."""
    from tunespec.templates import build as templates_build
    from tunespec.templates.targets import RenderError

    _write(project)
    if files == 1:
        project.write("t.tune", EXPERIMENT.replace("max_seq_length = 512", "max_seq_length = sweep [512, 1024]"))
    else:
        project.write("u.tune", EXPERIMENT.replace("tickets", "later").replace("max_seq_length = 512",
                                                                               "max_seq_length = 1024"))
    original = templates_build.render_outputs
    rendered = []

    def failing(exp, target, *args, **kwargs):
        rendered.append((exp.name, target.name))
        if (exp.values["training.max_seq_length"], target.name) in ((512, "peft"), (1024, "yaml")):
            raise RenderError(f"{exp.name} ({target.name}) failed")
        return original(exp, target, *args, **kwargs)

    monkeypatch.setattr(templates_build, "render_outputs", failing)
    with pytest.raises(RenderError, match=r"\(peft\) failed"):
        _build(paths=["t.tune", "u.tune"][:files])
    assert [target for _, target in rendered[:2]] == ["yaml", "yaml"]  # (one target at a time)
    assert not (project.root / "out").exists() or not any((project.root / "out").rglob("*.yaml"))


def test_a_staging_failure_before_a_rendering_failure_is_the_one_reported(project, settled, monkeypatch):
    """A target is rendered for every variant, then staged: when staging the first variant's fails and
    rendering the second's fails, the staging's is reported, as building variant by variant meets it first."""
    from tunespec.templates import build as templates_build
    from tunespec.templates.build import BuildError
    from tunespec.templates.targets import RenderError

    _write(project)
    project.write("t.tune", EXPERIMENT.replace("max_seq_length = 512", "max_seq_length = sweep [512, 1024]"))
    render, stage = templates_build.render_outputs, templates_build.stage_outputs

    def rendering(exp, *args, **kwargs):
        if exp.values["training.max_seq_length"] == 1024:
            raise RenderError("rendering failed")
        return render(exp, *args, **kwargs)

    def staging(outputs, *args, **kwargs):
        if "512" in outputs[0].path:
            raise BuildError("staging failed")
        return stage(outputs, *args, **kwargs)

    monkeypatch.setattr(templates_build, "render_outputs", rendering)
    monkeypatch.setattr(templates_build, "stage_outputs", staging)
    with pytest.raises(BuildError, match="staging failed"):
        _build(targets=["yaml"])


@given(variants=st.lists(st.integers(1, 4), max_size=12), size=st.integers(1, 5))
def test_the_builds_chunks_are_whole_variants_in_order(variants, size):
    """`runner._chunks`: the items to build, in order, in pieces of whole variants, `CHUNK_VARIANTS` each."""
    owners = [object() for _ in variants]
    pending = [runner._ToBuild((0, index), owner, "target", None, "", None)
               for owner, count in zip(owners, variants) for index in range(count)]
    original, runner.CHUNK_VARIANTS = runner.CHUNK_VARIANTS, size
    try:
        chunks = list(runner._chunks(pending))
    finally:
        runner.CHUNK_VARIANTS = original
    assert [item for chunk in chunks for item in chunk] == pending
    counts = [len({id(item.exp) for item in chunk}) for chunk in chunks]
    assert all(count == size for count in counts[:-1]) and all(0 < count <= size for count in counts)
    assert sum(counts) == len(owners)  # (no variant in two pieces)
