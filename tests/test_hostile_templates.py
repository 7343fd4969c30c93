"""Hostile values and hostile templates (issue 11): what a backend's reader would do with a value beyond
parsing it (OmegaConf's interpolation), and what a user's template can do with time and errors."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.conftest import granite
from tests.test_build import user_target
from tunespec.cli import main
from tunespec.compiler.ir import run_folder_of
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
    folder = trainer_folder(value, "torchtune")
    assert read["output_dir"] == folder and read["dataset"]["column_map"]["input"] == value
    assert read["dataset"]["column_map"]["output"] == "out${x}"
    assert "${output_dir}" in text  # the template's own interpolation stays one
    omegaconf = pytest.importorskip("omegaconf")
    config = omegaconf.OmegaConf.to_container(omegaconf.OmegaConf.create(yaml.safe_load(text)), resolve=True)
    assert config["output_dir"] == folder and config["checkpointer"]["output_dir"] == folder


def trainer_folder(output_dir: str, target: str) -> str:
    """The trainer's own folder, `<output_dir>/<variant>/<target>`, for the experiment `tickets`."""
    return f"{run_folder_of(output_dir, 'tickets', 'tickets')}/{target}"


def test_targets_that_read_yaml_without_omegaconf_keep_the_value_as_written(project, capsys):
    """Axolotl reads its config with `yaml.safe_load`; LLaMA-Factory with OmegaConf but `to_container`
    without resolving (its `${` stays text): neither may see an escape."""
    project.write("t.tune", torchtune_experiment("runs/${oc.env:HOME}").replace("meta-llama/llama-3-1-8b",
                                                                                "ibm/granite-3-1-8b-base"))
    assert main(["build", "t.tune", "--target", "axolotl,llama-factory"]) == 0, capsys.readouterr()
    for target in ("axolotl", "llama-factory"):
        config = yaml.safe_load((project.root / "out" / "tickets" / target / "config.yaml").read_text())
        assert config["output_dir"] == trainer_folder("runs/${oc.env:HOME}", target)


# --- item 19: a user template has a time budget, and its errors are template errors ---------------------

def build_user_template(project, capsys, template: str, includes: dict[str, str] | None = None):
    project.write("t.tune", granite(""))
    templates = user_target(project.root / "templates", template)
    for name, text in (includes or {}).items():
        (templates / "mine" / name).write_text(text)
    code = main(["build", "t.tune", "--template-dir", str(templates), "--target", "mine"])
    out, err = capsys.readouterr()
    assert "internal error" not in err and "bug in tunespec" not in err, err
    assert not (project.root / "out").exists()
    return code, err


@pytest.mark.parametrize("template, line, words", [
    ("echo\n{{ 1 / 0 }}\n", 2, "ZeroDivisionError: division by zero"),
    ("{% set x = [] %}\n\n{{ x[3] }}\n", 3, "no element 3"),
    ("{{ model.hf_id + 1 }}\n", 1, "TypeError"),
    ("{{ model.hf_id.nosuch() }}\n", 1, "nosuch"),
    ("{% macro m(n) %}{{ m(n + 1) }}{% endmacro %}\n{{ m(1) }}\n", 1, "RecursionError"),
    ("{{ 10 ** 100000000 }}\n", 1, "too large"),
    ("{{ (2 ** 4096) ** 4096 }}\n", 1, "too large"),
    ("{{ 'x' * 10 ** 10 }}\n", 1, "too large"),
    ("{{ [0] * 10 ** 10 }}\n", 1, "too large"),
    ("{{ lipsum(10 ** 9) }}\n", 1, "lipsum"),
])
def test_a_failing_user_template_is_a_template_error_with_its_file_and_line(project, capsys, template, line, words):
    code, err = build_user_template(project, capsys, template)
    assert code == 2 and err.count("\n") == 1, err
    assert "template error" in err and f"out.txt.j2, line {line}" in err and words in err, err


def test_an_error_in_an_included_template_names_that_template(project, capsys):
    code, err = build_user_template(project, capsys, "{% include 'part.j2' %}\n", {"part.j2": "ok\n\n{{ 1 // 0 }}\n"})
    assert code == 2 and "part.j2, line 3" in err and "ZeroDivisionError" in err, err


def test_a_user_template_that_runs_too_long_is_stopped(project, capsys, monkeypatch):
    import time

    from tunespec.templates import sandbox

    monkeypatch.setattr(sandbox, "TEMPLATE_SECONDS", 1.0)
    started = time.monotonic()
    code, err = build_user_template(project, capsys, "{% for i in range(100000) %}\n{% for j in range(100000) %}"
                                                     "{% endfor %}\n{% endfor %}\n")
    assert time.monotonic() - started < 30
    assert code == 2 and err.count("\n") == 1 and "template error" in err and "time budget" in err, err
    assert "out.txt.j2, line" in err


def test_the_time_budget_is_documented_and_generous():
    from tunespec.templates import sandbox

    assert sandbox.TEMPLATE_SECONDS >= 5
