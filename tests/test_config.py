"""Configuration: discovery, validation with clear messages, selection, severities, per-file ignores, noqa."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import granite
from tunespec.api import configuration
from tunespec.config import ConfigError, find_config, load_config
from tunespec.diagnostics import Severity
from tunespec.rules import REGISTRY

BAD = granite("training { batch_size = 32  learning_rate = 1e-6  max_seq_length = 512 }")


def write_config(project, text: str, name: str = "tunespec.toml") -> None:
    project.write(name, text)


def test_nearest_config_wins_and_pyproject_needs_its_table(project):
    project.write("sub/pyproject.toml", "[project]\nname = 'x'\n")
    project.write("sub/deeper/pyproject.toml", "[tool.tunespec]\nmax-variants = 3\n")
    assert find_config(project.root / "sub") == project.root / "tunespec.toml"
    assert find_config(project.root / "sub" / "deeper") == project.root / "sub" / "deeper" / "pyproject.toml"


def test_defaults_without_a_config_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = configuration(tmp_path)
    assert config.max_variants == 256 and config.select is None


@pytest.mark.parametrize("text, words", [
    ("selct = ['TS1']", "unknown option `selct`; did you mean `select`?"),
    ("select = ['TS999']", "unknown rule `TS999` in `select`"),
    ("ignore = 3", "`ignore` must be a list of strings"),
    ("severity = { TS101 = 'fatal' }", "`severity.TS101` must be one of error, warning, info"),
    ("severity = { TS8 = 'info' }", "unknown rule `TS8` in `severity`"),
    ("max-variants = 0", "`max-variants` must be a whole number of at least 1"),
    ("max-variants = true", "`max-variants` must be a whole number"),
    ("select = [", "invalid TOML"),
    ("per-file-ignores = { 'a/*.tune' = ['nonsense-rule'] }", "unknown rule `nonsense-rule`"),
    ("out = 3", "`out` must be a string"),
])
def test_invalid_configuration_is_a_clear_error(project, text, words):
    write_config(project, text)
    with pytest.raises(ConfigError) as caught:
        load_config(project.root / "tunespec.toml", REGISTRY)
    assert words in str(caught.value) and "tunespec.toml" in str(caught.value)


@pytest.mark.parametrize("text", ["", "\n", " \t\r\n\n  ", "\r", " \r ", "\ufeff", "\x0c", "x"])
def test_a_blank_configuration_is_read_as_tomllib_reads_it_without_importing_it(project, monkeypatch, text):
    """An empty tunespec.toml (a project's marker) is the defaults, read without `tomllib`; a file that
    only looks blank (a lone \\r, a BOM, a form feed) is still TOML's to judge, and invalid."""
    import sys
    import tomllib

    write_config(project, text)
    try:
        expected = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        expected = None
    if expected is not None:
        monkeypatch.setitem(sys.modules, "tomllib", None)  # importing it now fails
        assert load_config(project.root / "tunespec.toml", REGISTRY).written == set()
        return
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(project.root / "tunespec.toml", REGISTRY)


def test_pyproject_table_is_read(project):
    (project.root / "tunespec.toml").unlink()
    write_config(project, "[tool.tunespec]\nignore = ['TS101']\n", "pyproject.toml")
    project.write("main.tune", BAD)
    assert project.codes("main.tune", config=configuration()) == ["TS103"]


def test_select_by_code_prefix_and_name(project):
    project.write("main.tune", BAD)
    for selector in ("TS101", "TS10", "batch-size-out-of-range"):
        write_config(project, f"select = ['{selector}']\n")
        codes = project.codes("main.tune", config=configuration())
        assert "TS101" in codes and ("TS103" in codes) == (selector == "TS10")


def test_ignore_and_select_all(project):
    project.write("main.tune", BAD)
    write_config(project, "select = ['ALL']\nignore = ['learning-rate-out-of-range']\n")
    assert project.codes("main.tune", config=configuration()) == ["TS101"]


def test_severity_overrides_by_code_and_name(project):
    project.write("main.tune", BAD)
    write_config(project, "[severity]\nTS101 = 'warning'\nlearning-rate-out-of-range = 'info'\n")
    severities = {d.code: d.severity for d in project.lint("main.tune", config=configuration())}
    assert severities == {"TS101": Severity.WARNING, "TS103": Severity.INFO}


def test_per_file_ignores_are_relative_to_the_config_file(project):
    project.write("legacy/old.tune", BAD)
    project.write("new.tune", BAD)
    write_config(project, "ignore = ['TS401', 'TS015']\n[per-file-ignores]\n'legacy/*.tune' = ['TS1']\n")
    places = project.places(config=configuration())
    assert {(code, path) for code, path, _, _ in places} == {("TS101", "new.tune"), ("TS103", "new.tune")}


def test_command_line_select_replaces_and_ignore_adds(project):
    write_config(project, "select = ['TS101']\nignore = ['TS103']\n")
    config = configuration()
    selection = config.selection(REGISTRY, select=["TS1"], ignore=["TS102"])
    assert "TS104" in selection.enabled and "TS103" not in selection.enabled and "TS102" not in selection.enabled


def test_max_variants_from_config(project):
    project.write("main.tune", granite("training { epochs = sweep [1, 2, 3] }"))
    write_config(project, "max-variants = 2\n")
    assert project.codes("main.tune", config=configuration()) == ["TS012"]


def test_noqa_blanket_and_by_code_or_name(project):
    project.write("main.tune", granite(
        "training {\n    batch_size = 32  # noqa\n    learning_rate = 1e-6  # NOQA: TS101\n"
        "    epochs = 99  # noqa: epochs-out-of-range\n  }"))
    assert project.places("main.tune") == [("TS103", "main.tune", 7, 21), ("TS901", "main.tune", 7, 27),
                                           ("TS305", "main.tune", 8, 14)]  # TS305 is not the code silenced


def test_noqa_in_a_string_is_not_a_comment(project):
    project.write("main.tune", granite('description = "# noqa"  training { batch_size = 32 }'))
    assert project.codes("main.tune") == ["TS101"]


def test_noqa_applies_in_the_file_the_diagnostic_points_at(project):
    project.write("common.tune", "preset wide {\n  training { batch_size = 17 }  # noqa: TS101\n}\n")
    project.write("main.tune", 'import "common.tune"\n' + granite("").replace("experiment tickets {", "experiment a extends wide {"))
    assert project.codes("main.tune") == []


def test_syntax_errors_cannot_be_silenced_by_noqa(project):
    project.write("main.tune", "experiment e { a 1 }  # noqa\n")
    assert project.codes("main.tune") == ["TS001"]


def test_config_file_path_in_messages_is_the_real_file(project):
    write_config(project, "bogus = 1\n")
    with pytest.raises(ConfigError) as caught:
        configuration()
    assert str(caught.value).startswith(str(Path(project.root / "tunespec.toml")))


def test_config_that_is_not_utf8(project):
    (project.root / "tunespec.toml").write_bytes(b"select = ['\xff']\n")
    with pytest.raises(ConfigError) as caught:
        configuration()
    assert "not UTF-8" in str(caught.value)


def test_severity_for_a_soft_rule_still_wins(project):
    project.write("t.tune", 'experiment e {\n  model = "google/flan-t5-xl"\n  training { max_seq_length = 1024 }\n}')
    write_config(project, "[severity]\nTS108 = 'error'\n")
    d = next(d for d in project.lint("t.tune", config=configuration()) if d.code == "TS108")
    assert d.severity is Severity.ERROR
