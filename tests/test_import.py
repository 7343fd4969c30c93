"""`tunespec import`: the fixtures under tests/data/import (configs in the shape of each project's own
examples), places of what is not imported, detection, the command line and its exit codes, hostile files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tunespec.api import lint_text
from tunespec.cli import main
from tunespec.compiler.ast import parse_module
from tunespec.config import Config
from tunespec.format import format_text
from tunespec.importer.run import ConfigProblem, import_config
from tunespec.importer.source import read_source
from tunespec.importer.writer import string

DATA = Path(__file__).resolve().parent / "data" / "import"
# fixture -> (backend, keys not imported)
FIXTURES = {
    "axolotl/lora-alpaca.yml": ("axolotl", [
        "datasets[0].type", "dataset_prepared_path", "val_set_size", "eval_sample_packing", "tf32", "flash_attention",
        "evals_per_epoch", "special_tokens"]),
    "axolotl/qlora-tickets.yml": ("axolotl", []),
    "axolotl/chat-declared.yml": ("axolotl", [
        "datasets[0].message_property_mappings", "datasets[0].roles_to_train", "num_epochs", "max_grad_norm",
        "lr_scheduler_kwargs"]),
    "llama-factory/qwen_lora_sft.yaml": ("llama-factory", [
        "trust_remote_code", "dataset", "dataset", "max_samples", "preprocessing_num_workers", "plot_loss",
        "overwrite_output_dir", "ddp_timeout"]),
    "llama-factory/llama3_qlora_tickets.yaml": ("llama-factory", []),
    "fms-hf-tuning/lora.json": ("fms-hf-tuning", ["response_template", "dataset_text_field"]),
    "fms-hf-tuning/prompt_tuning.json": ("fms-hf-tuning", []),
    "torchtune/8B_lora_single_device.yaml": ("torchtune", [
        "dataset", "clip_grad_norm", "log_peak_memory_stats", "log_level"]),
    "torchtune/instruct_full.yaml": ("torchtune", []),
}


def imported(name: str, **options):
    """Import a fixture as its trainer runs it: from its own folder."""
    path = DATA / name
    return import_config(path, display=path.name, root=path.parent, folder=path.parent, **options)


@pytest.mark.parametrize("name", FIXTURES)
def test_each_fixture_is_detected_and_reports_exactly_the_keys_it_cannot_import(name):
    backend, lost = FIXTURES[name]
    result = imported(name)
    assert result.backend == backend
    assert [item.name for item in result.lost] == lost
    assert all(item.reason for item in result.lost)


@pytest.mark.parametrize("name", FIXTURES)
def test_the_output_is_canonical_commented_and_lints_only_with_findings_true_of_the_experiment(name, golden):
    result = imported(name)
    assert format_text(result.text) == result.text
    golden(f"import/{name.replace('/', '__')}.txt", result.text)
    module = parse_module(result.text, "x.tune")
    values = [line for line in result.text.splitlines() if " = " in line and not line.lstrip().startswith("#")]
    assert values and all("  # " in line for line in values), "every value names the key it came from"
    assert len([c for c in module.comments if "not imported:" in c.text]) == len(result.lost)
    where = DATA / name.split("/")[0] / "imported.tune"
    diagnostics = lint_text(result.text, where, Config(ignore=["TS401"])).diagnostics
    language = {d.code for d in diagnostics if d.code < "TS100"}
    # TS013: a model the catalog lacks; TS011: a required value the config could not give (epochs = 1.5)
    assert language <= {"TS013", "TS011"}, [(d.code, d.message) for d in diagnostics]


def test_values_come_back_as_the_trainer_reads_them():
    result = imported("axolotl/qlora-tickets.yml")
    assert 'model      = "ibm/granite-3-1-8b-base"  # base_model (ibm-granite/granite-3.1-8b-base): in the catalog' \
        in result.text
    assert "strategy = deepspeed_zero2  # deepspeed" in result.text
    tune = imported("torchtune/8B_lora_single_device.yaml").text
    assert 'model "meta-llama/Meta-Llama-3.1-8B-Instruct" {' in tune  # the download command, not the builder's model
    assert 'path   = "/tmp/Meta-Llama-3.1-8B-Instruct"  # checkpointer.checkpoint_dir' in tune
    assert 'target_modules = ["q_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]' in tune
    factory = imported("llama-factory/qwen_lora_sft.yaml").text
    assert "alpha          = 32  # lora_alpha unset: LLaMA-Factory uses twice lora_rank" in factory
    assert has(factory, "train", '"data/identity.json"  # dataset: identity, file_name in dataset_info.json')


def has(text: str, field: str, rest: str) -> bool:
    """Whether `text` has the line `field = rest`, however `fmt` aligned it."""
    return any(line.split("=", 1)[0].strip() == field and line.split("=", 1)[1].strip() == rest
               for line in text.splitlines() if "=" in line)


def test_a_config_that_leaves_a_required_value_to_the_backend_gets_the_backends_default(tmp_path):
    config = tmp_path / "c.yml"
    config.write_text("base_model: x/y\nlearning_rate: 0.001\ndatasets:\n  - path: a.jsonl\n", encoding="utf-8")
    text = import_config(config, root=tmp_path, folder=tmp_path).text
    assert has(text, "batch_size", "1  # micro_batch_size unset: Axolotl's default")
    assert has(text, "epochs", "1  # num_epochs unset: Axolotl's default")
    assert has(text, "scheduler", "cosine  # lr_scheduler unset: Axolotl's default")
    assert has(text, "method", "full  # adapter unset: full fine-tuning")


# --- places --------------------------------------------------------------------------------------------------

def test_places_of_yaml_keys_and_list_items(tmp_path):
    config = tmp_path / "c.yml"
    config.write_text("base_model: x/y\ndatasets:\n  - path: a.jsonl\n    type: alpaca\n  -   path: b.jsonl\n"
                      "lr_scheduler_kwargs: {num_cycles: 3}\n", encoding="utf-8")
    places = {item.name: (item.line, item.column) for item in import_config(config, root=tmp_path).lost}
    assert places == {"datasets[0].type": (4, 5), "datasets[1]": (5, 7), "lr_scheduler_kwargs": (6, 1)}


def test_places_of_json_keys(tmp_path):
    config = tmp_path / "c.json"
    config.write_text('{"model_name_or_path": "x/y",\n "training_data_path": "t.jsonl",\n'
                      '   "accelerate_launch_args": {"num_processes": 2, "env": ["a"]},\n'
                      '\t"response_template": "\\n### Label:"}', encoding="utf-8")
    places = {item.name: (item.line, item.column) for item in import_config(config, root=tmp_path).lost}
    assert places == {"accelerate_launch_args.env": (3, 51), "response_template": (4, 2)}


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=30)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=6), JSON_VALUES, max_size=6), st.sampled_from([None, 0, 1, 3]),
       st.booleans())
def test_every_json_key_and_item_is_placed_where_it_is_written(tmp_path_factory, data, indent, ascii_only):
    path = tmp_path_factory.mktemp("json") / "c.json"
    text = json.dumps(data, indent=indent, ensure_ascii=ascii_only)
    path.write_text(text, encoding="utf-8")
    source = read_source(path, "c.json")
    lines = text.split("\n")
    for key, (line, column) in source.marks.items():
        at = lines[line - 1][column - 1:]
        if isinstance(key[-1], str):
            assert at.startswith(json.dumps(key[-1], ensure_ascii=ascii_only)), (key, at)
        else:
            assert at[0] not in " ,:]}", (key, at)
    assert len(source.marks) == _count_members(data)


def _count_members(value) -> int:
    if isinstance(value, dict):
        return sum(1 + _count_members(item) for item in value.values())
    if isinstance(value, list):
        return sum(1 + _count_members(item) for item in value)
    return 0


# --- detection and files that are not trainer configs ------------------------------------------------------

def test_an_undetectable_file_is_one_error_naming_what_was_looked_for(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("compute_environment: LOCAL_MACHINE\nnum_processes: 8\n", encoding="utf-8")
    with pytest.raises(ConfigProblem) as problem:
        import_config(config)
    message = problem.value.message
    for looked_for in ("base_model", "finetuning_type", "training_data_path", "_component_", "--from"):
        assert looked_for in message


def test_from_forces_the_backend(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("model_name_or_path: x/y\nlearning_rate: 0.001\n", encoding="utf-8")
    with pytest.raises(ConfigProblem):
        import_config(config)
    assert import_config(config, source_backend="fms-hf-tuning").backend == "fms-hf-tuning"
    assert import_config(config, source_backend="llama-factory").backend == "llama-factory"


@pytest.mark.parametrize("text, words", [
    ("model_name_or_path: x/y\ntemplate: llama3\nexport_dir: out\n", "export"),
    ("model_name_or_path: x/y\ntemplate: llama3\ninfer_backend: vllm\n", "inference"),
    ("model: Qwen/Qwen3-4B\nmodel_class: llm\ntrain_dataset: d.yaml\nmicro_batch_size: 1\ncutoff_len: 8\n", "v1"),
    ("model:\n  _component_: torchtune.models.llama3_2.llama3_2_1b\ntokenizer:\n  _component_: t\n", "generation"),
])
def test_configs_of_the_same_projects_that_are_not_training_runs_are_named(tmp_path, text, words):
    config = tmp_path / "c.yaml"
    config.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigProblem, match=words):
        import_config(config)


@pytest.mark.parametrize("content, where", [
    (b"base_model: [1, 2\n", (2, 1)),
    (b"a: 1\n---\nb: 2\n", (1, 1)),
    (b"- 1\n- 2\n", (1, 1)),
    (b"", (1, 1)),
    (b"base_model: \xff\xfe\n", (1, 13)),
    (b"a: &a [*a]\n" + b"b: " + b"[" * 5000 + b"]" * 5000 + b"\n", (1, 1)),
])
def test_files_that_are_not_configs_are_one_error_with_a_place_never_a_traceback(tmp_path, content, where):
    config = tmp_path / "c.yaml"
    config.write_bytes(content)
    with pytest.raises(ConfigProblem) as problem:
        import_config(config)
    assert (problem.value.line, problem.value.column)[0] >= 1
    if where != (1, 1):
        assert (problem.value.line, problem.value.column) == where


def test_an_alias_bomb_is_refused_before_it_is_walked(tmp_path):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    config = tmp_path / "c.yaml"
    config.write_text("base_model: x/y\n" + "\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ConfigProblem, match="more than"):
        import_config(config)


def test_deep_json_is_an_error_not_a_traceback(tmp_path):
    config = tmp_path / "c.json"
    config.write_text('{"model_name_or_path": "x/y", "a": ' + "[" * 100_000 + "]" * 100_000 + "}", encoding="utf-8")
    with pytest.raises(ConfigProblem):
        import_config(config)


# --- strings -----------------------------------------------------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_string_is_written_as_a_literal_that_reads_back_as_itself(text):
    module = parse_module(f"experiment x {{ description = {string(text)} }}\n", "x.tune")
    assert module.declarations[0].members[0].value.value == text


def test_hostile_values_stay_values_in_the_output(tmp_path):
    config = tmp_path / "c.yml"
    config.write_text('base_model: "x/y"\noutput_dir: "a\\"b\\n} experiment y { #\\u202e"\n'
                      'special_tokens: {pad_token: "\\n}\\u2028"}\n', encoding="utf-8")
    result = import_config(config, root=tmp_path, folder=tmp_path)
    assert format_text(result.text) == result.text
    module = parse_module(result.text, "x.tune")
    assert [d.name.value for d in module.declarations] == ["c"]
    assert len(result.text.splitlines()) == result.text.count("\n")


# --- the command line ---------------------------------------------------------------------------------------------

def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["import", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_stdout_gets_the_experiment_and_stderr_the_findings_exit_1(capsys, monkeypatch):
    monkeypatch.chdir(DATA / "axolotl")
    code, out, err = run(capsys, "lora-alpaca.yml")
    assert code == 1
    assert out.startswith("# Imported by `tunespec import`") and "experiment lora-alpaca {" in out
    assert err.splitlines()[0] == ("lora-alpaca.yml:9:5: not imported: datasets[0].type = \"alpaca\": a prompt format "
                                   "of Axolotl's own: tunespec's data formats are input_output (a prompt field and a "
                                   "response field, as they are) and messages")
    assert err.splitlines()[-1] == ("Imported lora-alpaca.yml (Axolotl) as experiment `lora-alpaca`: 21 values; "
                                    "8 keys not imported.")
    assert run(capsys, "lora-alpaca.yml", "--exit-zero")[0] == 0
    assert run(capsys, "qlora-tickets.yml")[0] == 0


def test_output_file_is_written_relative_paths_follow_it_and_never_overwritten(capsys, tmp_path, monkeypatch):
    shutil.copytree(DATA / "axolotl", tmp_path / "axolotl")
    monkeypatch.chdir(tmp_path / "axolotl")
    code, out, err = run(capsys, "qlora-tickets.yml", "-o", "../experiments/tickets.tune", "--name", "tickets")
    assert code == 0 and err == ""
    assert out.strip().endswith("as experiment `tickets` into ../experiments/tickets.tune: 30 values; nothing lost.")
    written = (tmp_path / "experiments" / "tickets.tune").read_text(encoding="utf-8")
    assert has(written, "train", '"../axolotl/data/tickets/train.jsonl"  # datasets[0].path')
    code, _, err = run(capsys, "qlora-tickets.yml", "-o", "../experiments/tickets.tune")
    assert code == 2 and "never overwrites" in err


def test_json_findings(capsys, monkeypatch):
    monkeypatch.chdir(DATA / "fms-hf-tuning")
    code, out, err = run(capsys, "lora.json", "--format", "json")
    report = json.loads(err)
    assert code == 1 and report["backend"] == "fms-hf-tuning" and report["experiment"] == "lora"
    assert report["not_imported"][0] == {"key": "response_template", "value": "\n### Label:", "line": 9, "column": 3,
                                         "reason": report["not_imported"][0]["reason"], "kind": "training"}


@pytest.mark.parametrize("args, message", [
    (["missing.yml"], "missing.yml:1:1: error: cannot read the file"),
    (["lora-alpaca.yml", "--name", "1st"], "cannot name an experiment"),
    (["lora-alpaca.yml", "--root", "nowhere"], "not a folder"),
])
def test_usage_problems_exit_2_with_one_line(capsys, monkeypatch, args, message):
    monkeypatch.chdir(DATA / "axolotl")
    code, out, err = run(capsys, *args)
    assert code == 2 and out == "" and message in err and len(err.strip().splitlines()) == 1


def test_lint_does_not_load_the_importer_and_the_templates_do_not_import_it():
    from tests.test_design import modules_loaded_by_lint
    from tests.conftest import EXAMPLES, REPO

    loaded = modules_loaded_by_lint(EXAMPLES / "experiments" / "tickets.tune")
    assert not {name for name in loaded if name.startswith("tunespec.importer")}
    for stage in ("grammar", "compiler", "rules", "templates"):
        for path in (REPO / "tunespec" / stage).rglob("*.py"):
            assert "tunespec.importer" not in path.read_text(encoding="utf-8"), path


def test_the_readme_example_is_what_import_prints(capsys, tmp_path, monkeypatch):
    import re

    from tests.conftest import REPO

    section = (REPO / "README.md").read_text(encoding="utf-8").split("## Importing a trainer's config")[1]
    blocks = re.findall(r"^```(\w*)\n(.*?)^```$", section.split("\n## ")[0], re.M | re.S)
    config, experiment, report = (text for language, text in blocks if language in ("yaml", "tune", ""))
    (tmp_path / "qlora.yml").write_text(config, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert run(capsys, "qlora.yml") == (1, experiment, report)


# --- any values under the keys the importers read -------------------------------------------------------------

def _keys_read() -> list[str]:
    """The keys the backend modules name (top-level and nested), from their source: the fuzz puts values of
    every type under each."""
    import re

    from tests.conftest import REPO

    names = set()
    for path in (REPO / "tunespec" / "importer").glob("*.py"):
        names |= set(re.findall(r'"([a-z_][a-z0-9_]*)"', path.read_text(encoding="utf-8")))
    return sorted(names)


KEYS = _keys_read()
ANY = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12) | st.sampled_from(KEYS),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.sampled_from(KEYS), children, max_size=4),
    max_leaves=12)


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@example(data={"lora_r": None, "deepspeed": {"zero_optimization": True}}, backend=None, as_json=False)
@given(st.dictionaries(st.sampled_from(KEYS), ANY, min_size=1, max_size=12),
       st.sampled_from([None, "axolotl", "llama-factory", "fms-hf-tuning", "torchtune"]), st.booleans())
def test_any_values_under_the_keys_read_import_or_are_one_error(tmp_path_factory, data, backend, as_json):
    import yaml

    folder = tmp_path_factory.mktemp("fuzz")
    path = folder / ("c.json" if as_json else "c.yaml")
    try:
        text = json.dumps(data) if as_json else yaml.safe_dump(data)
    except ValueError:  # NaN in JSON is not JSON
        return
    path.write_text(text, encoding="utf-8")
    try:
        result = import_config(path, source_backend=backend, root=folder, folder=folder)
    except ConfigProblem as problem:
        assert problem.message and problem.line >= 1
        return
    assert format_text(result.text) == result.text
    assert all(item.line >= 1 and item.column >= 1 and item.reason for item in result.lost)
