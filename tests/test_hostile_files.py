"""Hostile files and paths (issue 11): what a user target, a symbolic link or a strange file name could make
tunespec read or write outside the places it was given. Each attack is refused with one line or a
diagnostic, and nothing outside is read or written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import granite
from tests.test_build import user_target
from tunespec.cli import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "internal error" not in err, err
    return code, out, err


def files_in(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# --- item 1: a user target's output paths stay inside the variant's folder ----------------------------

@pytest.mark.parametrize("output", ["/ABSOLUTE/victim.sh", "../../victim.sh", "../victim.sh", "a/../../victim.sh",
                                    "", ".", "a//b.sh", "a\\b.sh", "a/./b.sh", "nul\u0000.sh"])
def test_a_user_target_cannot_write_outside_its_folder(project, capsys, output):
    victim = project.root / "victim.sh"
    victim.write_text("original\n")
    output = output.replace("/ABSOLUTE", str(project.root))
    project.write("t.tune", granite(""))
    templates = user_target(project.root / "templates", "echo hi\n")
    declaration = templates / "mine" / "target.toml"
    declaration.write_text(declaration.read_text().replace('output = "out.txt"', f"output = {json_string(output)}"))
    code, out, err = run(capsys, "build", "t.tune", "--template-dir", str(templates), "--target", "mine")
    assert code == 2 and err.count("\n") == 1 and "target.toml" in err and "output" in err, err
    assert victim.read_text() == "original\n" and not (project.root / "out").exists()


def json_string(text: str) -> str:
    import json

    return json.dumps(text)


@pytest.mark.parametrize("field, value", [("name", "../escape"), ("name", "a/b"), ("name", ".."),
                                          ("template", "../../../etc/passwd"), ("template", "/etc/passwd")])
def test_a_user_target_name_and_template_are_plain_relative_names(project, capsys, field, value):
    project.write("t.tune", granite(""))
    templates = user_target(project.root / "templates", "echo hi\n")
    declaration = templates / "mine" / "target.toml"
    text = declaration.read_text()
    text = text.replace('name = "mine"', f"name = {json_string(value)}") if field == "name" else \
        text.replace('template = "out.txt.j2"', f"template = {json_string(value)}")
    declaration.write_text(text)
    code, out, err = run(capsys, "build", "t.tune", "--template-dir", str(templates))
    assert code == 2 and err.count("\n") == 1 and field in err, err
    assert not (project.root / "out").exists()


def test_a_user_target_may_write_into_a_subfolder_of_its_own(project):
    project.write("t.tune", granite(""))
    templates = user_target(project.root / "templates", "echo hi\n")
    declaration = templates / "mine" / "target.toml"
    declaration.write_text(declaration.read_text().replace('output = "out.txt"', 'output = "conf/run.sh"'))
    assert main(["build", "t.tune", "--template-dir", str(templates), "--target", "mine"]) == 0
    written = project.root / "out" / "tickets" / "mine" / "conf" / "run.sh"
    assert written.read_text() == "echo hi\n"


# --- item 4: templates include only templates inside their folder ---------------------------------------

def test_an_include_through_a_symlinked_subfolder_is_refused(project, capsys, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside")
    (outside / "secret.txt").write_text("TOP SECRET\n")
    project.write("t.tune", granite(""))
    templates = user_target(project.root / "templates", "{% include 'linked/secret.txt' %}\n")
    os.symlink(outside, templates / "mine" / "linked")
    code, out, err = run(capsys, "build", "t.tune", "--template-dir", str(templates), "--target", "mine")
    assert code == 2 and err.count("\n") == 1 and "outside" in err, err
    assert "TOP SECRET" not in out + err and not (project.root / "out").exists()


def test_a_template_file_that_is_a_symlink_out_of_the_folder_is_refused(project, capsys, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside")
    (outside / "secret.j2").write_text("TOP SECRET {{ 1 }}\n")
    project.write("t.tune", granite(""))
    templates = user_target(project.root / "templates", "")
    (templates / "mine" / "out.txt.j2").unlink()
    os.symlink(outside / "secret.j2", templates / "mine" / "out.txt.j2")
    code, out, err = run(capsys, "build", "t.tune", "--template-dir", str(templates), "--target", "mine")
    assert code == 2 and err.count("\n") == 1 and "outside" in err, err
    assert not (project.root / "out").exists()


def test_a_symlink_inside_the_template_folder_to_a_template_beside_it_is_fine(project):
    project.write("t.tune", granite(""))
    templates = user_target(project.root / "templates", "")
    (templates / "mine" / "real.j2").write_text("echo {{ model.hf_id | sh }}\n")
    (templates / "mine" / "out.txt.j2").unlink()
    os.symlink("real.j2", templates / "mine" / "out.txt.j2")
    assert main(["build", "t.tune", "--template-dir", str(templates), "--target", "mine"]) == 0


# --- item 22: build never writes through a symbolic link inside --out ----------------------------------

@pytest.mark.parametrize("link", ["tickets", "tickets/yaml"])
def test_build_refuses_to_write_through_a_symlinked_folder_inside_out(project, capsys, tmp_path_factory, link):
    outside = tmp_path_factory.mktemp("outside")
    project.write("t.tune", granite(""))
    (project.root / "out" / link).parent.mkdir(parents=True, exist_ok=True)
    os.symlink(outside, project.root / "out" / link)
    code, out, err = run(capsys, "build", "t.tune", "--target", "yaml,json")
    assert code == 2 and err.count("\n") == 1 and "symbolic link" in err, err
    assert files_in(outside) == {} and not list(outside.iterdir())
    assert not [p for p in (project.root / "out").rglob("*") if p.is_file()]


def test_an_output_file_that_is_a_symlink_is_replaced_not_written_through(project, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside")
    victim = outside / "victim.yaml"
    victim.write_text("original\n")
    project.write("t.tune", granite(""))
    assert main(["build", "t.tune"]) == 0
    written = project.root / "out" / "tickets" / "yaml" / "experiment.yaml"
    content = written.read_bytes()
    written.unlink()
    victim.write_bytes(content)  # the same content: a build that only compared would leave the link
    os.symlink(victim, written)
    assert main(["build", "t.tune"]) == 0
    assert not written.is_symlink() and written.read_bytes() == content and victim.read_bytes() == content


def test_out_itself_may_be_a_symlink(project, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("specs")
    os.symlink(elsewhere, project.root / "out")
    project.write("t.tune", granite(""))
    assert main(["build", "t.tune"]) == 0
    assert (elsewhere / "tickets" / "yaml" / "experiment.yaml").is_file()


# --- item 3: a symbolic link never leads a read out of the project ---------------------------------------

SECRET = "SECRET-FIRST-LINE: the contents of a file outside the project\n"


@pytest.fixture
def outside(tmp_path_factory):
    folder = tmp_path_factory.mktemp("outside")
    (folder / "secret.txt").write_text(SECRET)
    (folder / "presets.tune").write_text("preset outside_preset { seed = 1 }\n")
    return folder


def test_an_import_of_a_symlink_to_a_file_outside_is_ts006_and_reads_nothing(project, capsys, outside):
    os.symlink(outside / "secret.txt", project.root / "secret.tune")
    project.write("main.tune", 'import "secret.tune"\n' + granite(""))
    code, out, _ = run(capsys, "lint", "main.tune")
    assert code == 1 and "TS006" in out and "outside the project" in out and "SECRET" not in out
    assert "TS001" not in out


def test_an_import_through_a_symlinked_folder_outside_is_ts006(project, capsys, outside):
    os.symlink(outside, project.root / "shared")
    project.write("main.tune", 'import "shared/presets.tune"\n'
                               'experiment e extends outside_preset { method = lora }\n')
    code, out, _ = run(capsys, "lint", "main.tune")
    assert code == 1 and "TS006" in out and "outside the project" in out


@pytest.mark.parametrize("command", [["lint", "."], ["lint", "evil.tune"], ["lint", "--", "evil.tune"],
                                     ["show", "evil.tune"], ["fmt", "."], ["fmt", "--check", "evil.tune"],
                                     ["build", "."]])
def test_a_tune_file_that_links_outside_the_project_is_not_read(project, capsys, outside, command):
    os.symlink(outside / "secret.txt", project.root / "evil.tune")
    code, out, err = run(capsys, *command)
    assert code == 1 and "SECRET" not in out + err, out + err
    assert "TS014" in out + err and "outside the project" in out + err
    assert (outside / "secret.txt").read_text() == SECRET


def test_symlinks_that_stay_inside_the_project_are_followed(project, capsys):
    project.write("common/presets.tune", "preset base { seed = 3 }\n")
    os.symlink("common", project.root / "linked")
    os.symlink("common/presets.tune", project.root / "alias.tune")
    project.write("main.tune", 'import "linked/presets.tune"\n' + granite("").replace("experiment tickets {",
                                                                                       "experiment tickets extends base {"))
    code, out, _ = run(capsys, "lint", "main.tune", "alias.tune")
    assert code == 0, out


# --- item 7: fmt writes through a symbolic link to its target ----------------------------------------------

def test_fmt_of_a_symlinked_file_formats_its_target_and_keeps_the_link(project, capsys):
    target = project.write("real/t.tune", granite("").replace(" = ", "="))
    link = project.root / "t.tune"
    os.symlink("real/t.tune", link)
    code, out, _ = run(capsys, "fmt", "t.tune")
    assert code == 0 and "1 file reformatted" in out
    assert link.is_symlink() and os.readlink(link) == "real/t.tune"
    assert " = " in target.read_text() and link.read_text() == target.read_text()
    assert not [p for p in project.root.rglob("*tunespec-tmp*")]


# --- item 18: only regular files are read, and only as much as `stat` says -------------------------------

STAT_LIES = """
import os, sys
real_stat = os.stat
def lying_stat(path, *args, **kwargs):  # the file turned into a FIFO between `stat` and `open`
    info = real_stat(path, *args, **kwargs)
    if str(path).endswith(("pipe.tune", "pipe.jsonl", "pipe.toml")):
        return os.stat_result((0o100644,) + tuple(info)[1:])
    return info
os.stat = lying_stat
from tunespec.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("argv, code, words", [
    (["lint", "pipe.tune"], 1, "TS014 error: cannot read the file: it is a named pipe"),
    (["fmt", "pipe.tune"], 1, "TS014 error: cannot read the file: it is a named pipe"),
    (["lint", "data.tune"], 0, "TS401 warning: `data/pipe.jsonl` is not a file"),
    (["lint", "--config", "pipe.toml", "data.tune"], 2, "pipe.toml: cannot read the configuration: it is a named pipe"),
])
def test_a_file_that_stat_calls_regular_but_would_block_is_never_waited_for(project, argv, code, words):
    """A FIFO that `stat` reports as a regular file (as `/proc/kmsg` is one, or a FIFO swapped in after the
    `stat`): opened without blocking, checked with `fstat`, refused."""
    import subprocess
    import sys

    from tests.conftest import REPO

    os.mkfifo(project.root / "pipe.tune")
    os.mkfifo(project.root / "pipe.toml")
    os.mkfifo(project.root / "data" / "pipe.jsonl")
    project.write("data.tune", granite("").replace("data/train.jsonl", "data/pipe.jsonl"))
    done = subprocess.run([sys.executable, "-c", STAT_LIES, *argv], cwd=project.root, capture_output=True, text=True,
                          timeout=60, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert done.returncode == code and words in done.stdout + done.stderr, done.stdout + done.stderr


def test_a_regular_file_is_read_only_as_far_as_its_size(project, capsys):
    """`/proc` files are regular files of size 0 whose reads produce text (or block, as `/proc/kmsg` does,
    or consume something): tunespec reads what `stat` says is there, nothing past it."""
    status = "/proc/self/status"
    assert os.stat(status).st_size == 0 and open(status).read()
    project.write("t.tune", granite("").replace("data/train.jsonl", status))
    code, out, _ = run(capsys, "lint", "--select", "TS4", "t.tune")
    assert "the file is empty" in out and "line 1: not JSON" not in out, out
    code, out, _ = run(capsys, "lint", status)
    assert code == 0 and "Name:" not in out and "TS001" not in out, out
