"""Files and imports: TS006, TS007, TS010, TS014, and each file parsed once."""

from __future__ import annotations

import os

import pytest

from tunespec.compiler import ast as ast_module


def test_import_relative_to_the_importing_file(project):
    project.write("common/base.tune", "preset base { method = lora }")
    project.write("exp/a.tune", 'import "../common/base.tune"\npreset child extends base { }')
    assert project.codes("exp/a.tune") == []


def test_missing_import_points_at_the_path(project):
    project.write("a.tune", 'import "common/missing.tune"\n')
    [d] = project.lint("a.tune")
    assert (d.code, d.line, d.column, d.end_column) == ("TS006", 1, 8, 29)
    assert "no such file" in d.message


@pytest.mark.parametrize("path, words", [
    ("/etc/passwd.tune", "absolute"),
    ("notes.txt", "not a `.tune` file"),
    ("../outside.tune", "leaves the project root"),
    ("sub", "not a `.tune` file"),
    ("a\\u0000b.tune", "NUL character"),
])
def test_import_must_be_a_relative_tune_file_inside_the_project(project, path, words):
    (project.root / "sub").mkdir()
    project.write("notes.txt", "x")
    project.write("a.tune", f'import "{path}"\n')
    [d] = project.lint("a.tune")
    assert d.code == "TS006" and words in d.message


def test_a_path_with_a_nul_character_is_a_diagnostic(project):
    from tunespec.compiler.loader import read_text

    assert read_text(project.root / "a\x00.tune") == (None, "cannot read the file: no file name holds a NUL character")


def test_import_of_a_folder_named_like_a_tune_file(project):
    (project.root / "dir.tune").mkdir()
    project.write("a.tune", 'import "dir.tune"\n')
    [d] = project.lint("a.tune")
    assert d.code == "TS006" and "directory" in d.message


def test_project_root_is_the_nearest_marker_above_the_importing_file(project):
    project.write("inner/pyproject.toml", "")
    project.write("shared.tune", "preset base { }")
    project.write("inner/a.tune", 'import "../shared.tune"\n')
    [d] = project.lint("inner/a.tune")
    assert d.code == "TS006" and "project root `inner`" in d.message


def test_import_cycle_is_reported_once_at_the_closing_import(project):
    project.write("a.tune", 'import "b.tune"\n')
    project.write("b.tune", 'import "c.tune"\n')
    project.write("c.tune", 'import "a.tune"\n')
    diagnostics = project.lint("a.tune", "b.tune", "c.tune")
    assert [(d.code, d.path, d.line, d.column) for d in diagnostics] == [("TS007", "c.tune", 1, 8)]
    assert diagnostics[0].message == "import cycle: a.tune → b.tune → c.tune → a.tune"


def test_import_cycle_is_found_from_any_file_of_it(project):
    project.write("a.tune", 'import "b.tune"\n')
    project.write("b.tune", 'import "a.tune"\n')
    assert project.places("b.tune") == [("TS007", "b.tune", 1, 8)]


def test_self_import_is_a_cycle(project):
    project.write("a.tune", 'import "a.tune"\n')
    assert project.codes("a.tune") == ["TS007"]


def test_long_import_chain_does_not_recurse(project):
    count = 1500
    for index in range(count):
        project.write(f"f{index}.tune", f'import "f{index + 1}.tune"\n' if index < count - 1 else "preset end { }\n")
    assert project.codes("f0.tune") == []


def test_each_file_is_parsed_once(project, monkeypatch):
    calls = []
    original = ast_module.parse_text

    def counting(text, builder):
        calls.append(text)
        return original(text, builder)

    monkeypatch.setattr(ast_module, "parse_text", counting)
    project.write("common.tune", "preset base { method = lora }")
    project.write("a.tune", 'import "common.tune"\nexperiment a extends base { }')
    project.write("b.tune", 'import "common.tune"\nexperiment b extends base { }')
    project.lint("a.tune", "b.tune", "common.tune", "a.tune")
    assert len(calls) == 3


def test_name_clash_gives_both_places(project):
    project.write("a.tune", "preset base { }\n\npreset base { }\n")
    [d] = project.lint("a.tune")
    assert (d.code, d.line, d.column) == ("TS010", 3, 8)
    assert "a.tune:1:8" in d.message and "a.tune:3:8" in d.message


def test_name_clash_with_an_import_points_at_the_own_declaration(project):
    project.write("common.tune", "preset base { }\n")
    project.write("a.tune", 'import "common.tune"\npreset base { }\n')
    assert project.places("a.tune") == [("TS010", "a.tune", 2, 8)]


def test_name_clash_between_two_imports_points_at_the_second_import(project):
    project.write("one.tune", "preset base { }\n")
    project.write("two.tune", "preset base { }\n")
    project.write("a.tune", 'import "one.tune"\nimport "two.tune"\n')
    [d] = project.lint("a.tune")
    assert (d.code, d.line, d.column) == ("TS010", 2, 8) and "one.tune:1:8" in d.message


def test_models_share_the_namespace(project):
    project.write("a.tune", 'model "x" { family = llama }\npreset x { }\n')
    assert project.codes("a.tune") == ["TS010"]


def test_imports_are_not_transitive(project):
    project.write("c.tune", "preset deep { }\n")
    project.write("b.tune", 'import "c.tune"\n')
    project.write("a.tune", 'import "b.tune"\nexperiment e extends deep { }\n')
    assert project.codes("a.tune") == ["TS008"]


# --- TS014 --------------------------------------------------------------------------------------------

def test_not_utf8_says_where(project):
    (project.root / "bad.tune").write_bytes(b"# caf\xe9\nexperiment e { }\n")
    [d] = project.lint("bad.tune")
    assert (d.code, d.line, d.column) == ("TS014", 1, 1)
    assert "byte 0xe9 at line 1, column 6" in d.message


def test_bom_and_crlf_are_accepted(project):
    (project.root / "ok.tune").write_bytes(b"\xef\xbb\xbfpreset p {\r\n  method = lora\r\n}\r\n")
    assert project.codes("ok.tune") == []


def test_missing_path_is_a_diagnostic(project):
    [d] = project.lint("nowhere.tune")
    assert (d.code, d.path, d.line, d.column) == ("TS014", "nowhere.tune", 1, 1)


def test_fifo_does_not_block(project):
    os.mkfifo(project.root / "pipe.tune")
    [d] = project.lint("pipe.tune")
    assert d.code == "TS014" and "named pipe" in d.message


def test_symlink_loop(project):
    os.symlink("loop.tune", project.root / "loop.tune")
    [d] = project.lint("loop.tune")
    assert d.code == "TS014" and "symbolic links" in d.message


def test_unreadable_file(project, monkeypatch):
    """Permission errors are simulated: the tests may run as root, who can read anything."""
    from tunespec import files

    path = project.write("secret.tune", "preset p { }")
    real_open = os.open

    def refuse(file, *args, **kwargs):
        if str(file).endswith("secret.tune"):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(files.os, "open", refuse)
    [d] = project.lint("secret.tune")
    assert path.exists() and d.code == "TS014" and "permission denied" in d.message


def test_file_with_syntax_error_reports_only_that(project):
    project.write("a.tune", "experiment e {\n  training { batch_size = 500 }\n  lora { rank = \n}\n")
    assert project.codes("a.tune") == ["TS001"]


def test_folders_are_searched_recursively_skipping_hidden_ones(project):
    project.write("a/b/deep.tune", "preset x { }")
    project.write(".hidden/skip.tune", "not valid")
    project.write("a/notes.txt", "not tune")
    from tunespec.api import run_lint
    from tunespec.config import Config

    result = run_lint(["."], Config())
    assert [source.display for source in result.program.roots] == ["a/b/deep.tune"]


@pytest.mark.parametrize("written, suggestion", [
    ("common/bsae.tune", 'did you mean `import "common/base.tune"`?'),
    ("comon/base.tune", 'did you mean `import "common/base.tune"`?'),
    ("nothing/x.tune", "check the path: imports are relative to the importing file"),
])
def test_a_missing_import_shows_where_it_looked_and_a_near_file(project, written, suggestion):
    """Issue 12: TS006 shows the resolved path and suggests a file close to the one named."""
    project.write("common/base.tune", "preset base { }")
    project.write("exp/main.tune", f'import "../{written}"\n')
    [d] = [d for d in project.lint("exp/main.tune") if d.code == "TS006"]
    assert f"(resolved to `{written}`)" in d.message
    assert d.help == suggestion.replace('import "', 'import "../')
