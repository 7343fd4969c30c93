"""The stamps of output folders: an up-to-date build renders nothing, and a stamp never vouches for a file
that is not what rendering would make."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import REPO
from tunespec.api import build
from tunespec.config import Config
from tunespec.templates import render, stamp
from tunespec.templates.known import Known
from tunespec.templates.stamp import STAMP

TARGETS = ["yaml", "peft", "kubeflow"]  # a YAML file, scripts (executable), a target with `unique` names


def experiment(extra: str = "") -> str:
    return ('experiment tickets {\n  model = "ibm/granite-3-1-8b-base"\n  method = lora\n'
            '  data { train = "s3://bucket/train.jsonl" }\n  training { max_seq_length = 512 }\n'
            '  resources { image = "registry/fms:1" }\n' + extra + '}\n')


def _build(project, **options):
    return build(["t.tune"], targets=options.pop("targets", TARGETS), out="out", config=Config(), **options)


@pytest.fixture
def built(project):
    project.write("t.tune", experiment())
    first = _build(project)
    assert first.written and not first.refused, first.refused
    return project, first


def _never_render(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("rendered a target whose folder is up to date")

    monkeypatch.setattr(render, "render_target", refuse)


def test_an_up_to_date_build_renders_nothing(built, monkeypatch):
    project, first = built
    _never_render(monkeypatch)
    again = _build(project)
    assert again.written == [] and sorted(again.unchanged) == sorted(first.written)
    checked = _build(project, check=True)
    assert checked.stale == [] and sorted(checked.unchanged) == sorted(first.written)


def test_each_output_folder_has_a_stamp_that_is_not_counted_as_a_file(built):
    project, first = built
    folders = {os.path.dirname(path) for path in first.written}
    assert folders and all(os.path.isfile(os.path.join(folder, STAMP)) for folder in folders)
    assert not [path for path in first.written if path.endswith(STAMP)]
    lines = (project.root / sorted(folders)[0] / STAMP).read_text().splitlines()
    listed = {json.loads(line.split(" ", 3)[3]) for line in lines if line.startswith("file ")}
    assert listed == {os.path.basename(p) for p in first.written if p.startswith(sorted(folders)[0] + os.sep)}


def test_builds_with_nothing_changed_import_no_jinja2(built):
    project, _ = built
    probe = ("import json, sys\nfrom tunespec.cli import main\n"
             "code = main(sys.argv[1:])\nprint(json.dumps([code, sorted(sys.modules)]))")
    for extra in ([], ["--check"]):
        result = subprocess.run([sys.executable, "-c", probe, "build", *extra, "t.tune", "--target", ",".join(TARGETS)],
                                capture_output=True, text=True, cwd=project.root,
                                env={**os.environ, "PYTHONPATH": str(REPO)})
        code, modules = json.loads(result.stdout.splitlines()[-1])
        assert code == 0, result.stdout
        assert "jinja2" not in modules and "tunespec.templates.render" not in modules, extra


def test_an_edited_removed_or_unexecutable_file_is_rendered_again(built):
    project, first = built
    yaml_file = next(project.root / p for p in first.written if p.endswith(".yaml") and "/yaml/" in p)
    script = next(project.root / p for p in first.written if p.endswith(".sh"))
    other = next(project.root / p for p in first.written if "kubeflow" in p)
    original = {path: path.read_bytes() for path in (yaml_file, script, other)}
    yaml_file.write_bytes(original[yaml_file] + b"# edited\n")
    os.chmod(script, 0o644)
    other.unlink()
    checked = _build(project, check=True)
    assert sorted(map(str, checked.stale)) == sorted(str(p.relative_to(project.root)) for p in (yaml_file, other))
    again = _build(project)
    assert sorted(again.written) == sorted(str(p.relative_to(project.root)) for p in (yaml_file, script, other))
    assert all(path.read_bytes() == data for path, data in original.items())
    assert os.stat(script).st_mode & 0o100


def test_a_changed_experiment_or_template_renders_again(built, tmp_path, monkeypatch):
    project, _ = built
    project.write("t.tune", experiment("  seed = 7\n"))
    changed = _build(project)
    assert any(path.endswith(".yaml") for path in changed.written)
    user = tmp_path / "targets"
    shutil.copytree(REPO / "tunespec" / "templates" / "yaml", user / "mine")
    (user / "mine" / "target.toml").write_text((user / "mine" / "target.toml").read_text().replace(
        'name = "yaml"', 'name = "mine"'))
    first = _build(project, targets=["mine"], template_dirs=[str(user)])
    assert first.written
    assert _build(project, targets=["mine"], template_dirs=[str(user)]).written == []
    template = next((user / "mine").glob("*.j2"))
    template.write_text("# a comment a user added\n" + template.read_text())
    monkeypatch.setattr(stamp, "_trees", {})  # a new run (a process reads templates and their digests once)
    monkeypatch.setattr(render, "_environments", {})
    assert _build(project, targets=["mine"], template_dirs=[str(user)]).written == first.written


def test_a_damaged_or_foreign_stamp_only_means_rendering_again(built):
    project, first = built
    for stamp in (project.root / "out").rglob(STAMP):
        lines = stamp.read_text().splitlines()
        stamp.write_text("\n".join(lines[:2] + ['file 0 0 "../../t.tune"'] + lines[2:]) + "\n")
    again = _build(project)
    assert again.written == [] and sorted(again.unchanged) == sorted(first.written)
    assert all(STAMP not in path for path in again.unchanged)
    assert _build(project).written == []  # the stamps were written anew


def test_stamps_are_deterministic(project, tmp_path):
    project.write("t.tune", experiment())
    stamps = []
    for attempt in range(2):
        shutil.rmtree(project.root / "out", ignore_errors=True)
        _build(project)
        stamps.append({p.relative_to(project.root): p.read_bytes() for p in (project.root / "out").rglob(STAMP)})
    assert stamps[0] == stamps[1] and stamps[0]


# --- the stamp's text, made with shared encoders, is what `json.dumps` would make ------------------------

_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()


@settings(max_examples=60, deadline=None)
@given(files=st.dictionaries(st.text(min_size=1), st.binary(max_size=64), max_size=4), executable=st.data(),
       names=st.lists(st.tuples(st.text(), _SCALARS), max_size=3))
def test_stamp_content_is_the_documented_text(files, executable, names):
    scripts = executable.draw(st.sets(st.sampled_from(sorted(files)))) if files else set()
    lines = [f"tunespec-stamp {stamp.FORMAT}", "key k"]
    lines += [f"file {hashlib.sha256(files[name]).hexdigest()} {int(name in scripts)} "
              f"{json.dumps(name, ensure_ascii=False)}" for name in sorted(files)]
    lines += [f"name {json.dumps(list(pair), ensure_ascii=False, allow_nan=False)}" for pair in names]
    assert stamp.content("k", files, scripts, tuple(names)) == ("\n".join(lines) + "\n").encode("utf-8", "surrogatepass")


def test_a_name_that_is_not_json_still_makes_no_stamp():
    with pytest.raises(ValueError):
        stamp.content("k", {}, set(), (("kubeflow", float("nan")),))


_DATA = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
                     max_leaves=12)


@settings(max_examples=60, deadline=None)
@given(ir=_DATA, name=st.text(), extra=st.one_of(_DATA, st.tuples(st.integers(), st.text()), st.just(object)))
def test_the_variant_digest_is_that_of_its_sorted_json(ir, name, extra):
    inputs = (ir, name, "e", "t.tune", extra)  # (`default=repr`: a value JSON has no form for is written as its repr)
    text = json.dumps(list(inputs), sort_keys=True, ensure_ascii=False, default=repr, separators=(",", ":"))
    assert stamp.variant_digest(inputs) == hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def test_a_folder_that_is_not_there_is_not_fresh_and_its_entry_is_forgotten(tmp_path):
    out = tmp_path / "out"
    known = Known({os.path.join("v", "yaml"): "key\tfolder\tstamp\t[]\t"}, str(out))
    assert stamp.fresh(str(out / "v" / "yaml"), "key", known) is None
    assert known.take_changes() == {os.path.join("v", "yaml"): None}
    assert stamp.fresh(str(out / "w" / "yaml"), "key", known) is None and known.take_changes() == {}
