"""TS501–TS504, from the targets' declarations, beyond the fixtures in tests/cases/rules/."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings, strategies as st

from tests.conftest import lint_source
from tests.test_rules_models import experiment
from tunespec.config import Config

LLAMA = "meta-llama/llama-3-1-8b"
EVERYTHING = Config()


def test_config_targets_are_checked_when_the_experiment_names_none(project):
    source = experiment("google/flan-t5-xl", "prompt_tuning")
    assert "TS502" in [d.code for d in lint_source(project, source, config=Config(targets=["axolotl"]))]
    assert "TS502" not in [d.code for d in lint_source(project, source, config=Config())]


def test_ts501_says_what_is_dropped_and_from_which_files(project):
    source = experiment(LLAMA, "lora", "targets = [torchtune]",
                        'data { train = "data/train.jsonl"  validation = "data/v.jsonl" }')
    d = next(d for d in lint_source(project, source, config=EVERYTHING) if d.code == "TS501")
    assert d.message == ('`torchtune` cannot express `data.validation` ("data/v.jsonl"): it is dropped from '
                         "config.yaml, run.sh")


def test_builtin_targets_snapshot_is_current_and_makes_the_targets_their_toml_files_make():
    """`python -m tunespec.templates.snapshot_build` must be run after editing a built-in target.toml; the
    targets made from the snapshot are those `load_target` makes from the files (dates as strings)."""
    from tunespec.templates.snapshot import DECLARATIONS
    from tunespec.templates.snapshot_build import read_declarations
    from tunespec.templates.targets import BUILTIN, DECLARATION, builtin_targets, load_target

    assert DECLARATIONS == read_declarations()
    folders = sorted(folder for folder in BUILTIN.iterdir() if (folder / DECLARATION).is_file())
    assert list(DECLARATIONS) == [folder.name for folder in folders]
    assert builtin_targets() == {target.name: target for target in map(load_target, folders)}


# Values a sweep may take, for fields that TS501–TS504 read and fields they do not: equal values written
# alike and not (1 and 1.0), values of the wrong type (invalid), URIs and local paths, models a target has
# no builder for or cannot download, methods a target cannot run or has deprecated.
SWEEPABLE = {
    "model": ['"ibm/granite-3-1-8b-base"', '"meta-llama/llama-3-1-8b"', '"Qwen/Qwen2.5-7B"', '"google/flan-t5-xl"'],
    "method": ["lora", "qlora", "full", "prompt_tuning"],
    "seed": ["1", "2", "1.0", "true"],
    "data.train": ['"data/train.jsonl"', '"hf://datasets/a/b"', '"s3://bucket/train.jsonl"'],
    "training.learning_rate": ["1e-5", "2e-4", "1", "1.0"],
    "training.precision": ["bf16", "fp16", "fp32"],
    "training.warmup_steps": ["0", "10"],
    "training.max_seq_length": ["512", "2048"],
    "lora.target_modules": ['["q_proj"]', '["all-linear"]', '["gate_proj", "up_proj"]', "[]"],
    "lora.rank": ["8", "16"],
    "resources.image": ['"registry/a:1"', '"registry/b:2"'],
    "resources.volume": ['"pvc"', '"other"'],
    "resources.gpus_per_node": ["1", "2"],
}


def _swept_source(sweeps: dict[str, list[str]]) -> str:
    """An experiment sweeping each field over its values (`field = sweep [...]`), written in its block."""
    lines = ["experiment swept {"]
    blocks: dict[str, list[str]] = {}
    for path, values in sweeps.items():
        block, _, name = path.rpartition(".")
        text = f"{name} = sweep [{', '.join(values)}]" if len(values) > 1 else f"{name} = {values[0]}"
        blocks.setdefault(block, []).append(text)
    lines += [f"  {line}" for line in blocks.pop("", [])]
    lines += [f"  {block} {{ {'  '.join(items)} }}" for block, items in blocks.items()]
    return "\n".join(lines + ["}", ""])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sweeps=st.dictionaries(st.sampled_from(sorted(SWEEPABLE)), st.integers(1, 3), min_size=1, max_size=4),
       data=st.data())
def test_a_variant_reuses_its_declarations_target_findings_only_where_they_are_its_own(project, sweeps, data):
    """`findings_for` takes a variant's TS5xx for a target from its declaration's first variant when they
    differ in nothing the checks read: what it finds is what checking every variant against every target
    finds, finding for finding (messages, places, severities, in order)."""
    from tunespec import runner
    from tunespec.templates.targets import all_targets, findings_for, memo_key, target_findings

    chosen = {path: data.draw(st.lists(st.sampled_from(SWEEPABLE[path]), min_size=min(count, len(SWEEPABLE[path])),
                                       max_size=count, unique=True)) for path, count in sweeps.items()}
    project.write("swept.tune", _swept_source({"model": [SWEEPABLE["model"][0]], "method": ["lora"], **chosen}))
    resolved = runner.compile_files([("swept.tune", "swept.tune")], project.root, Config()).resolved
    targets = all_targets()
    names = sorted(targets)
    memo: dict = {}
    found = list(findings_for(resolved, None, targets, memo, names))
    expected, expected_memo = [], {}
    for exp in resolved:
        for name in names:
            each = list(target_findings(exp, targets[name]))
            expected_memo[memo_key(exp, name)] = each
            expected += [(finding, exp.experiment) for finding in each]
    assert found == expected and memo == expected_memo
    assert [repr(finding) for finding, _ in found] == [repr(finding) for finding, _ in expected]
