"""Hostile values and hostile templates (issue 11): what a backend's reader would do with a value beyond
parsing it (OmegaConf's interpolation), and what a user's template can do with time and errors."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.conftest import granite
from tests.test_build import user_target
from tunespec.cli import main
from tunespec.templates.render import omegaconf_escaped, omegaconf_read, parse_back

# --- item 5: `${` reaches torchtune (which reads its config with OmegaConf) as text --------------------

INTERPOLATING = ["runs/${oc.env:HOME}", "${output_dir}", "a\\${b}", "a\\\\${b}", "\\", "$${x}", "${", "x}${y",
                 "plain \\\\ text", "${oc.decode:'1'}"]


@pytest.mark.parametrize("value", INTERPOLATING)
def test_omegaconf_reads_back_what_was_escaped(value):
    assert omegaconf_read(omegaconf_escaped(value)) == value


def test_omegaconf_reading_marks_a_real_interpolation():
    assert omegaconf_read("runs/${oc.env:HOME}") != "runs/${oc.env:HOME}"
    assert omegaconf_read("no interpolation \\ here") == "no interpolation \\ here"


def torchtune_experiment(value: str) -> str:
    return f'''experiment tickets {{
  model  = "meta-llama/llama-3-1-8b"
  method = lora
  output_dir = {json.dumps(value)}
  data {{ train = "data/missing.jsonl"  input_field = {json.dumps(value)}  output_field = "out${{x}}" }}
  training {{ max_seq_length = 512 }}
}}
'''


@pytest.mark.parametrize("value", INTERPOLATING)
def test_torchtune_configs_escape_interpolations(project, capsys, value):
    project.write("t.tune", torchtune_experiment(value))
    assert main(["build", "t.tune", "--target", "torchtune"]) == 0, capsys.readouterr()
    text = (project.root / "out" / "tickets" / "torchtune" / "config.yaml").read_text()
    read = parse_back(text, "omegaconf")
    assert read["output_dir"] == value and read["dataset"]["column_map"]["input"] == value
    assert read["dataset"]["column_map"]["output"] == "out${x}"
    assert "${output_dir}" in text  # the template's own interpolation stays one
    omegaconf = pytest.importorskip("omegaconf")
    config = omegaconf.OmegaConf.to_container(omegaconf.OmegaConf.create(yaml.safe_load(text)), resolve=True)
    assert config["output_dir"] == value and config["checkpointer"]["output_dir"] == value


def test_targets_that_read_yaml_without_omegaconf_keep_the_value_as_written(project, capsys):
    """Axolotl reads its config with `yaml.safe_load`; LLaMA-Factory with OmegaConf but `to_container`
    without resolving (its `${` stays text): neither may see an escape."""
    project.write("t.tune", torchtune_experiment("runs/${oc.env:HOME}").replace("meta-llama/llama-3-1-8b",
                                                                                "ibm/granite-3-1-8b-base"))
    assert main(["build", "t.tune", "--target", "axolotl,llama-factory"]) == 0, capsys.readouterr()
    for target in ("axolotl", "llama-factory"):
        config = yaml.safe_load((project.root / "out" / "tickets" / target / "config.yaml").read_text())
        assert config["output_dir"] == "runs/${oc.env:HOME}"
