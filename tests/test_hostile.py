"""Hostile strings in every string field, through every target: they come back byte-exact when the emitted
file is parsed (the build's own verification raises otherwise), and nothing is pasted as code."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.test_build import ALL_TARGETS
from tunespec.api import build, resolve
from tunespec.compiler.ir import document
from tunespec.config import Config
from tunespec.templates.render import parse_back
from tunespec.templates.targets import builtin_targets

HOSTILE = [
    '"quoted" and \'single\'', "line one\nline two\r\n", "{{ 7 * 7 }}", "{% raw %}", "key: value", "# not a comment",
    "!!python/object:os.system", '"); import os #', "naïve 日本語 \U0001F600", "\u202eright-to-left", "tab\tand\x0bvt",
    "nul\x00byte", "$(rm -rf ~)", "`whoami`", "a\\back\\slash", "---\n...", "- item", "[1, 2]", "@at", "%percent",
    "\u2028line separator", "", " leading and trailing ",
]
TEXT = st.one_of(st.sampled_from(HOSTILE), st.text(st.characters(blacklist_categories=["Cs"]), max_size=40))


def tune_string(value: str) -> str:
    """A .tune string literal: the language's escapes are JSON's."""
    return json.dumps(value)


def source(method: str, text: dict[str, str]) -> str:
    model = {"lora": "ibm/granite-3-1-8b-base", "prompt_tuning": "google/flan-t5-xl"}[method]
    body = [
        f"description = {tune_string(text['description'])}",
        f"output_dir = {tune_string(text['output_dir'])}",
        "task = classification",
        f"data {{ train = {tune_string(text['train'])}  validation = {tune_string(text['validation'])}"
        f"  input_field = {tune_string(text['input_field'])}  output_field = {tune_string(text['output_field'])} }}",
        "training { max_seq_length = 256 }",
        f"resources {{ image = {tune_string(text['image'])} }}",
    ]
    if method == "prompt_tuning":
        body.append(f"prompt {{ init_method = text  init_text = {tune_string(text['init_text'])}  num_virtual_tokens = 8 }}")
    lines = "\n  ".join(body)
    return f'experiment hostile {{\n  model = "{model}"\n  method = {method}\n  {lines}\n}}\n'


FIELDS = ["description", "output_dir", "train", "validation", "input_field", "output_field", "image", "init_text"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(["lora", "prompt_tuning"]), st.fixed_dictionaries({field: TEXT for field in FIELDS}))
@example("lora", {field: HOSTILE[i % len(HOSTILE)] for i, field in enumerate(FIELDS)})
@example("prompt_tuning", {field: HOSTILE[(i + 5) % len(HOSTILE)] for i, field in enumerate(FIELDS)})
def test_hostile_strings_survive_every_target(project, method, text):
    project.write("hostile.tune", source(method, text))
    targets = builtin_targets()
    runnable = [name for name in ALL_TARGETS if method in targets[name].methods and name != "torchtune"]
    result = build(["hostile.tune"], targets=runnable, out="out", config=Config(select=["TS0", "TS5"]))
    [exp] = resolve("hostile.tune", Config())
    refused = " ".join(result.refused)
    assert "has errors" not in refused, [d.message for d in result.lint.diagnostics if d.severity.value == "error"]
    expected = document(exp)
    for written in result.written:
        path = Path(written)
        if path.parent.name in ("yaml", "json"):
            assert parse_back(path.read_text(encoding="utf-8"), path.parent.name) == expected
    spec = expected["spec"]
    assert spec["description"] == text["description"] and spec["resources"]["image"] == text["image"]
    assert spec["data"]["input_field"] == text["input_field"]


def test_a_one_megabyte_hostile_string_survives_every_target(project):
    huge = ("{{ x }}\n\"quoted\": !!tag # \u202e\x00 \\ " * 30_000)[:1_000_000]
    text = {field: huge if field == "description" else "plain" for field in FIELDS}
    text.update(train="data/train.jsonl", validation="data/train.jsonl")
    project.write("hostile.tune", source("lora", text))
    result = build(["hostile.tune"], targets=ALL_TARGETS[:-2], out="out", config=Config(select=["TS0", "TS5"]))
    assert result.written and not [line for line in result.refused if "has errors" in line]
    written = Path(next(p for p in result.written if p.endswith("experiment.json")))
    assert json.loads(written.read_text(encoding="utf-8"))["spec"]["description"] == huge


HOSTILE_MODEL_IDS = ['acme/"""triple', "acme/back\\N{slash}", "acme/new\nline", "acme/# -*- coding: latin-1 -*-",
                     "acme/{{ 7 * 7 }}", "acme/\u202eevil", "acme/' ; rm -rf ~"]


def test_hostile_model_ids_survive_every_target(project):
    for index, model_id in enumerate(HOSTILE_MODEL_IDS):
        project.write(f"m{index}.tune", f"model {tune_string(model_id)} {{ family = llama  hidden_size = 4096 }}\n"
                      f"experiment m{index} {{\n  model = {tune_string(model_id)}\n  method = lora\n"
                      '  data { train = "data/train.jsonl" }\n'
                      "  training { batch_size = 8  accumulate_steps = 1  learning_rate = 1e-4  epochs = 2 }\n"
                      '  lora { rank = 8  alpha = 16  dropout = 0.05  target_modules = ["q_proj"] }\n}\n')
    result = build([f"m{index}.tune" for index in range(len(HOSTILE_MODEL_IDS))], targets=ALL_TARGETS[:-2],
                   out="out", config=Config(select=["TS0", "TS5"]))
    assert not [line for line in result.refused if "has errors" in line], result.refused
    for index, model_id in enumerate(HOSTILE_MODEL_IDS):
        script = (project.root / "out" / f"m{index}" / "peft" / "train.py").read_text(encoding="utf-8")
        assert parse_back(script, "python")["SPEC"]["model"] == model_id
        assert "coding: latin-1" not in "\n".join(script.splitlines()[:2])
