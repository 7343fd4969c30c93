"""Issue 12, item 6: `--set path=value` on show and build, with the origin "command line"."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.conftest import granite
from tunespec.cli import main
from tunespec.compiler.overrides import OverrideError, parse_overrides


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def shown(capsys, *argv):
    code, out, err = run(capsys, "show", "--format", "json", *argv)
    assert code == 0, out + err
    return {variant["ir"]["metadata"]["name"]: variant for variant in json.loads(out)}


def test_show_says_a_value_came_from_the_command_line(project, capsys):
    project.write("a.tune", granite("training { learning_rate = 1e-5 }"))
    [variant] = shown(capsys, "--set", "training.learning_rate=3e-5", "--set", "lora.rank=16", "a.tune").values()
    assert variant["ir"]["spec"]["training"]["learning_rate"] == 3e-05 and variant["ir"]["spec"]["lora"]["rank"] == 16
    assert variant["provenance"]["training.learning_rate"] == variant["provenance"]["lora.rank"] == "command line"
    text = run(capsys, "show", "--set", "training.learning_rate=3e-5", "a.tune")[1]
    line = next(line for line in text.splitlines() if line.strip().startswith("training.learning_rate"))
    assert "3e-05" in line and line.rstrip().endswith("command line")


def test_a_set_replaces_a_sweep_and_changes_the_defaults_that_follow(project, capsys):
    project.write("a.tune", granite("training { learning_rate = sweep [1e-5, 2e-5] }"))
    variants = run(capsys, "show", "--set", "training.learning_rate=3e-5", "a.tune")[1]
    assert "tickets.learning_rate" not in variants  # one variant, named after the experiment
    text = run(capsys, "show", "--set", "model=llama-3-1-8b", "a.tune")[1]
    assert "catalog: meta-llama/llama-3-1-8b lora default" in text  # the new model's defaults


def test_build_writes_the_set_values(project, capsys):
    project.write("a.tune", granite(""))
    assert run(capsys, "build", "--set", "training.epochs=7", "--set", "data.train=data/train.jsonl", "a.tune")[0] == 0
    spec = yaml.safe_load((project.root / "out" / "tickets" / "yaml" / "experiment.yaml").read_text())
    assert spec["spec"]["training"]["epochs"] == 7
    assert spec["spec"]["data"]["train"] == "data/train.jsonl"  # relative to the current folder, as typed


def test_a_set_value_is_checked_by_the_rules(project, capsys):
    project.write("a.tune", granite(""))
    code, out, _ = run(capsys, "build", "--set", "training.batch_size=64", "a.tune")
    assert code == 1 and "TS101" in out and "tickets: not built, it has errors" in out
    assert not (project.root / "out").exists()


def test_an_unquoted_string_is_a_string():
    assert parse_overrides(["model=ibm/granite-3-1-8b-base"])["model"].value == "ibm/granite-3-1-8b-base"
    assert parse_overrides(['model="ibm/granite-3-1-8b-base"'])["model"].value == "ibm/granite-3-1-8b-base"
    assert parse_overrides(["targets=[yaml, peft]"])["targets"].value == ["yaml", "peft"]


@pytest.mark.parametrize("item, words", [
    ("training.lr=3", "is not a field of an experiment"),
    ("training.epochs=abc", "must be an integer"),
    ("training.epochs=sweep [1, 2]", "a sweep cannot be set"),
    ("epochs", "expected PATH=VALUE"),
    ("training.epochs=3\n  batch_size = 99", "must be an integer"),
    ("training.epochs=3 } experiment x { model = 1", "--set training.epochs=3 }"),
])
def test_a_bad_set_is_one_line_and_exit_2(project, capsys, item, words):
    with pytest.raises(OverrideError, match=words.replace("[", r"\[")):
        parse_overrides([item])
    project.write("a.tune", granite(""))
    code, out, err = run(capsys, "show", "--set", item, "a.tune")
    assert code == 2 and words in err and len(err.strip().splitlines()) == 1 and out == ""
