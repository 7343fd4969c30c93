"""`# noqa` and TS901, the unused-suppression rule."""

from __future__ import annotations

from tests.conftest import granite, lint_source

BAD_LINE = "training { batch_size = 17  max_seq_length = 512 }"


def places(project, source, name="main.tune"):
    return [(d.code, d.line, d.column) for d in lint_source(project, source, name)]


def test_used_noqa_is_silent(project):
    assert places(project, granite(BAD_LINE + "  # noqa: TS101")) == []


def test_blanket_noqa_that_silences_nothing(project):
    found = lint_source(project, granite("training { max_seq_length = 512 }  # noqa"))
    assert [(d.code, d.line, d.column, d.end_column) for d in found] == [("TS901", 5, 38, 44)]
    assert found[0].message == "unused `# noqa`: nothing on this line is reported"


def test_codes_that_silence_nothing_are_named(project):
    found = lint_source(project, granite(BAD_LINE + "  # noqa: TS101, TS302, lora-rank-out-of-range"))
    [d] = found
    assert d.code == "TS901" and d.message == "unused `# noqa` codes: TS105, TS302"


def test_unknown_codes_are_called_out(project):
    [d] = lint_source(project, granite(BAD_LINE + "  # noqa: TS101, TS999"))
    assert d.message == "unused `# noqa` code: TS999 (TS999: no such rule)"


def test_noqa_of_an_imported_file_that_is_not_linted_is_not_reported(project):
    project.write("common.tune", "preset p { method = lora }  # noqa: TS101\n")
    source = 'import "common.tune"\n' + granite("training { max_seq_length = 512 }")
    assert places(project, source) == []
    assert [d.code for d in project.lint("common.tune")] == ["TS901"]


def test_ts901_can_be_ignored(project):
    from tunespec.config import Config

    source = granite("training { max_seq_length = 512 }  # noqa")
    assert lint_source(project, source, config=Config(ignore=["TS901"])) == []
