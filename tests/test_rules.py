"""Rules beyond their fixtures (tests/cases/rules/, run by tests/test_rule_cases.py): TS014, TS015, and the
messages and helps the catalog promises."""

from __future__ import annotations

import pytest

from pathlib import Path


from tests.conftest import granite, lint_source
from tunespec.config import Config
from tunespec.diagnostics import Severity


def test_unreadable_file_triggers_ts014_and_a_utf8_file_does_not(project):
    (project.root / "latin1.tune").write_bytes("# café\npreset p { }\n".encode("latin-1"))
    (project.root / "utf8.tune").write_bytes("# café\npreset p2 { }\n".encode("utf-8"))
    assert project.places("latin1.tune", "utf8.tune") == [("TS014", "latin1.tune", 1, 1)]


# --- messages and helps that the catalog promises ----------------------------------------------------

def message(project, source, code):
    return next(d for d in lint_source(project, source) if d.code == code)


def test_did_you_mean_for_fields_and_blocks(project):
    assert message(project, granite("training { learning_rte = 0.3 }"), "TS002").help == "did you mean `learning_rate`?"
    assert message(project, granite("traning { }"), "TS002").help == "did you mean `training`?"


def test_field_in_the_wrong_block_says_where_it_belongs(project):
    assert message(project, granite("training { rank = 8 }"), "TS002").help == "`rank` belongs in the `lora` block"


def test_method_none_suggests_full(project):
    assert message(project, "experiment e { method = none }", "TS005").help.startswith("did you mean `full`?")


def test_quoted_identifier_gets_the_identifier_as_help(project):
    assert message(project, 'experiment e { method = "lora" }', "TS004").help == "write `lora` without quotes"


def test_dropout_as_a_percentage_suggests_the_fraction(project):
    d = message(project, granite("lora { dropout = 10 }"), "TS106")
    assert d.help.startswith("did you mean 0.1 (10/100)?")


def test_range_message_gives_the_value_as_written_and_the_range(project):
    d = message(project, granite("training { learning_rate = 1e-6 }"), "TS103")
    assert d.message == "`training.learning_rate` is 1e-6, outside the documented range 0.00001–0.5"


def test_soft_context_window_is_a_warning(project):
    source = 'experiment e {\n  model = "google/flan-t5-xl"\n  method = prompt_tuning\n  training { max_seq_length = 1024 }\n}'
    d = message(project, source, "TS108")
    assert d.severity is Severity.WARNING and "soft" in d.message


def test_hard_context_window_is_an_error(project):
    source = 'experiment e {\n  model = "ibm/granite-13b-instruct-v2"\n  training { max_seq_length = 8193 }\n}'
    d = message(project, source, "TS108")
    assert d.severity is Severity.ERROR and "8192 tokens" in d.message


def test_ts011_lists_everything_missing_once(project):
    d = message(project, 'experiment e {\n  model = "mistralai/Mistral-7B-v0.1"\n  method = lora\n}', "TS011")
    assert d.message == ("experiment `e` lacks `data.train`, `training.batch_size`, `training.accumulate_steps`, "
                         "`training.learning_rate`, `training.epochs`, `lora.rank`, `lora.alpha`, `lora.dropout`, "
                         "`lora.target_modules` (no documented default)")


def test_ts011_asks_for_the_task_on_granite_13b(project):
    source = 'experiment e {\n  model = "ibm/granite-13b-instruct-v2"\n  method = prompt_tuning\n  data { train = "t.jsonl" }\n  prompt { init_method = random }\n}'
    assert "set `task`" in message(project, source, "TS011").help


def test_ts011_does_not_apply_to_presets(project):
    assert "TS011" not in [d.code for d in lint_source(project, "preset p { method = lora }")]


def test_ts012_too_many_variants_uses_max_variants(project):
    from tunespec.config import Config

    source = granite("training { epochs = sweep [1, 2, 3] batch_size = sweep [1, 2] }")
    assert "TS012" in [d.code for d in lint_source(project, source, config=Config(max_variants=5))]
    assert "TS012" not in [d.code for d in lint_source(project, source, config=Config(max_variants=6))]


def test_each_variant_is_checked_and_reported_once_per_place(project):
    diagnostics = lint_source(project, granite("training { batch_size = sweep [8, 32, 64] epochs = sweep [1, 2] }"),
                              config=Config(select=["TS1"]))
    assert [(d.code, d.line, d.column) for d in diagnostics] == [("TS101", 5, 37), ("TS101", 5, 41)]
    assert all(d.experiment == "tickets" for d in diagnostics)


def test_finding_in_a_preset_is_reported_at_the_preset_once(project):
    project.write("common.tune", "preset wide {\n  training { batch_size = 17 }\n}\n")
    project.write("a.tune", 'import "common.tune"\n' + granite("").replace("experiment tickets {", "experiment a extends wide {"))
    project.write("b.tune", 'import "common.tune"\n' + granite("").replace("experiment tickets {", "experiment b extends wide {"))
    diagnostics = project.lint("a.tune", "b.tune")
    assert [(d.code, d.path, d.line, d.column, d.experiment) for d in diagnostics] == [
        ("TS101", "common.tune", 2, 27, "a")]


def test_range_findings_in_a_preset_alone(project):
    diagnostics = lint_source(project, "preset wide {\n  training { batch_size = 17 }\n}\n")
    assert [(d.code, d.experiment) for d in diagnostics] == [("TS101", "wide")]


# --- no cascades --------------------------------------------------------------------------------------

def test_invalid_value_counts_as_set_and_is_otherwise_ignored(project):
    codes = [d.code for d in lint_source(project, granite('training { batch_size = "lots" }'))]
    assert codes == ["TS004"]


def test_unknown_field_is_not_the_field_it_resembles(project):
    source = 'experiment e {\n  model = "mistralai/Mistral-7B-v0.1"\n  method = full\n  data { train = "t.jsonl" }\n  training { batch_sise = 8 accumulate_steps = 1 learning_rate = 1e-5 epochs = 1 }\n}'
    diagnostics = lint_source(project, source)
    assert sorted(d.code for d in diagnostics) == ["TS002", "TS011"]
    assert "`training.batch_size`" in next(d.message for d in diagnostics if d.code == "TS011")


def test_invalid_method_means_no_defaults_and_no_method_requirements(project):
    source = 'experiment e {\n  model = "ibm/granite-3-1-8b-base"\n  method = lorra\n  data { train = "t.jsonl" }\n}'
    diagnostics = lint_source(project, source)
    ts011 = next(d for d in diagnostics if d.code == "TS011")
    assert "`method`" not in ts011.message and "lora.rank" not in ts011.message
    assert "training.batch_size" in ts011.message  # no catalog defaults without a valid method


def test_unknown_model_does_not_excuse_ts011(project):
    codes = sorted(d.code for d in lint_source(project, 'experiment e { model = "acme/x" }'))
    assert codes == ["TS011", "TS013"]


def test_failed_extends_or_import_is_not_also_incomplete(project):
    assert [d.code for d in lint_source(project, "experiment e extends missing { }")] == ["TS008"]
    assert [d.code for d in lint_source(project, 'import "gone.tune"\nexperiment e extends base { }')] == ["TS006"]
    assert [d.code for d in lint_source(project, "preset a extends a { }\nexperiment e extends a { }")] == ["TS009"]


def test_import_with_a_syntax_error_reports_only_that(project):
    project.write("broken.tune", "preset base {\n")
    project.write("main.tune", 'import "broken.tune"\nexperiment e extends base { }\n')
    assert project.places("main.tune") == [("TS001", "broken.tune", 1, 14)]


def test_experiment_in_an_import_cycle_is_not_also_incomplete(project):
    project.write("other.tune", 'import "main.tune"\npreset base { }\n')
    project.write("main.tune", 'import "other.tune"\nexperiment e extends base { }\n')
    assert project.codes("main.tune") == ["TS007"]


# --- TS015: output folders across the run -------------------------------------------------------------

SHARED = 'experiment {name} {{\n  model = "ibm/granite-3-1-8b-base"\n  method = lora\n  output_dir = "{out}"\n' \
         '  data {{ train = "t.jsonl" }}\n  training {{ learning_rate = {rate} }}\n}}\n'


def test_ts015_two_files_one_output_folder(project):
    project.write("a.tune", SHARED.format(name="tickets", out="runs/shared", rate="0.00001"))
    project.write("b.tune", SHARED.format(name="tickets", out="runs/shared/", rate="0.00002"))
    found = [d for d in project.lint("a.tune", "b.tune") if d.code == "TS015"]
    assert [(d.path, d.line, d.column) for d in found] == [("b.tune", 4, 16)]
    assert "runs/shared/tickets" in found[0].message and "a.tune" in found[0].message


def test_ts015_a_folder_inside_another_runs_folder(project):
    project.write("a.tune", SHARED.format(name="tickets", out="runs", rate="0.00001")
                  + SHARED.format(name="other", out="runs/tickets", rate="0.00001"))
    found = [d for d in project.lint("a.tune") if d.code == "TS015"]
    assert len(found) == 1 and "inside the folder" in found[0].message


def test_ts015_near_miss_sweeps_and_distinct_names_get_their_own_folders(project):
    project.write("a.tune", SHARED.format(name="tickets", out="runs/shared", rate="sweep [0.00001, 0.00003]"))
    project.write("b.tune", SHARED.format(name="tickets_b", out="runs/shared", rate="0.00002"))
    assert "TS015" not in project.codes("a.tune", "b.tune")


def test_ts015_across_batches_and_workers(project):
    """The check needs every file of the run: batches (and worker processes) are merged first."""
    from tunespec.api import run_lint
    from tunespec.runner import BATCH_FILES

    for index in range(BATCH_FILES * 2 + 1):
        project.write(f"f{index:03}.tune", SHARED.format(name=f"e{index}", out="runs", rate="0.00001"))
    project.write("z.tune", SHARED.format(name="e0", out="runs", rate="0.00001"))
    for jobs in (1, 2):
        found = [d for d in run_lint(["."], Config(ignore=["TS307", "TS401"]), jobs=jobs).diagnostics if d.code == "TS015"]
        assert [(d.path, d.line) for d in found] == [("z.tune", 4)], jobs


def test_ts015_names_the_first_claim_in_each_relation(project):
    """The run keeps of each claim its folder and file (the variant's name is the folder's last part): the
    message names the earlier variant and its file whichever way the folders meet."""
    project.write("a.tune", SHARED.format(name="tickets", out="runs/deep/x", rate="0.00001"))
    project.write("b.tune", SHARED.format(name="x", out="runs/deep", rate="0.00002")
                  + SHARED.format(name="inner", out="runs/deep/x/tickets", rate="0.00002")
                  + SHARED.format(name="tickets", out="runs/deep/x", rate="0.00003"))
    found = [d.message for d in project.lint("a.tune", "b.tune") if d.code == "TS015"]
    assert found == [
        "`x` would train in `runs/deep/x`, around the folder where `tickets` (a.tune) trains: one run would "
        "resume from or overwrite the other's checkpoints",
        "`inner` would train in `runs/deep/x/tickets/inner`, inside the folder where `x` (b.tune) trains: one "
        "run would resume from or overwrite the other's checkpoints",
        "`tickets` would train in `runs/deep/x/tickets`, the folder where `tickets` (a.tune) trains: one run "
        "would resume from or overwrite the other's checkpoints",
    ]


@pytest.mark.parametrize("output_dir", [None, "runs", "/abs/out/", "../up/./there", "s3://bucket/runs/", "."])
def test_a_variants_name_is_the_last_part_of_its_folder(output_dir):
    from tunespec.compiler.ir import run_folder_of
    from tunespec.compiler.names import variant_name

    for values in ({}, {"training.learning_rate": 2e-05}, {"data.train": "../a/b/.."}, {"model": "x" * 80},
                   {"lora.rank": 8, "method": ".."}):
        variant = variant_name("tickets-v_2", values)
        assert run_folder_of(output_dir, variant, "tickets-v_2").rpartition("/")[2] == variant


def test_ts015_refuses_to_build_the_second_variant(project):
    from tunespec.api import build

    project.write("a.tune", SHARED.format(name="tickets", out="runs", rate="0.00001"))
    project.write("b.tune", SHARED.format(name="other", out="runs/tickets", rate="0.00002"))
    result = build(["a.tune", "b.tune"], targets=["yaml"], out="out", config=Config())
    assert result.refused == ["other (yaml): not built, its output folder is taken (TS015)"]
    assert [Path(p).parts[-3] for p in result.written] == ["tickets"]


def test_ts013_is_reported_before_its_knock_on_ts011(project):
    """Issue 12: an unknown model is the cause of the missing defaults; TS011 follows TS013 and names it."""
    project.write("a.tune", 'experiment e {\n  model = "acme/falcon-mini"\n  method = lora\n}\n')
    found = [(d.code, d.line, d.column) for d in project.lint("a.tune") if d.code in ("TS011", "TS013")]
    assert found == [("TS013", 2, 11), ("TS011", 2, 28)]
    assert "model `acme/falcon-mini` is unknown, see TS013" in [d for d in project.lint("a.tune") if d.code == "TS011"][0].message


def test_ts011_for_an_unknown_model_of_a_preset_stays_at_each_experiments_name(project):
    project.write("a.tune", 'preset p {\n  model = "acme/falcon-mini"\n  method = lora\n}\n'
                  'experiment a extends p { }\nexperiment b extends p { }\n')
    found = [(d.code, d.line) for d in project.lint("a.tune") if d.code == "TS011"]
    assert found == [("TS011", 5), ("TS011", 6)]
