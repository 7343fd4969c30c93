"""`tunespec build`: golden files, parse-back against the IR, schemas, determinism, atomic writes, bad input."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import EXAMPLES, GOLDEN, REPO, granite
from tunespec.api import build, resolve_paths
from tunespec.cli import main
from tunespec.compiler.ir import document
from tunespec.config import Config
from tunespec.templates.build import TEMPORARY
from tunespec.templates.stamp import STAMP
from tunespec.templates.render import compiled_checks, parse_back, verify_compiled
from tunespec.templates.targets import builtin_targets, today

SCHEMAS = Path(__file__).resolve().parent / "data" / "schemas"  # vendored, see NOTICE.md there
# The README build writes a subset of the all-targets golden files, byte for byte: its record is the list
# of the files it writes, and their contents are read from there.
BUILD_GOLDEN_FILES = GOLDEN / "readme-build-files.txt"
ALL_TARGETS_GOLDEN = GOLDEN / "all-targets"
ALL_TARGETS = sorted(builtin_targets())


def readme_build_command() -> list[str]:
    """The arguments of the README's first command, `... tunespec build examples/`."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    line = next(line for line in text.splitlines() if "tunespec build examples/" in line)
    words = shlex.split(line.split("tunespec ", 2)[-1])
    return words


@pytest.fixture
def examples(tmp_path, monkeypatch):
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    (tmp_path / "tunespec.toml").write_text("")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def files_under(folder: Path) -> dict[str, bytes]:
    """The job specs under `folder`; not the stamps, tunespec's bookkeeping, whose digests cover tunespec's
    own rendering code (tests/test_stamp.py is about them)."""
    return {path.relative_to(folder).as_posix(): path.read_bytes() for path in sorted(folder.rglob("*"))
            if path.is_file() and path.name != STAMP}


def test_readme_build_command_reproduces_the_golden_files(examples, capsys, request):
    argv = readme_build_command()
    assert argv[:2] == ["build", "examples/"]
    assert main(argv) == 0
    built = files_under(examples / "out")
    if request.config.getoption("--update-golden"):
        BUILD_GOLDEN_FILES.write_text("".join(f"{name}\n" for name in built), encoding="utf-8")
    names = BUILD_GOLDEN_FILES.read_text(encoding="utf-8").splitlines()
    assert built == {name: (ALL_TARGETS_GOLDEN / name).read_bytes() for name in names}
    targets_built = {name.split("/")[1] for name in built}
    assert targets_built == set(ALL_TARGETS), "every target has an example experiment"


def test_every_emitted_file_parses_back_to_the_ir(examples):
    result = build(["examples"], out="out", config=Config())
    assert result.written and not result.refused
    experiments = {exp.name: exp for exp in resolve_paths(["examples"], Config())[2] if not exp.is_preset}
    targets = builtin_targets()
    for written in result.written:
        path = Path(written)
        variant, target_name, file_name = path.parts[-3:]
        target, exp = targets[target_name], experiments[variant]
        file = next(f for f in target.files if f.output == file_name)
        text = path.read_text(encoding="utf-8")
        parse_back(text, file.format)
        checks = compiled_checks(target, file_name, exp.values["method"])
        verify_compiled(text, file.format, checks, document(exp), written)
        if target_name in ("yaml", "json"):
            assert parse_back(text, file.format) == document(exp)


def test_ir_validates_against_tunespec_schema(examples, capsys):
    import jsonschema

    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    jsonschema.Draft202012Validator.check_schema(schema)
    _, _, resolved = resolve_paths(["examples"], Config())
    for exp in resolved:
        if not exp.is_preset:
            jsonschema.validate(document(exp), schema)


def crd_schema():
    crd = yaml.safe_load((SCHEMAS / "kubeflow.org_pytorchjobs.yaml").read_text(encoding="utf-8"))
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")
    return version["schema"]["openAPIV3Schema"]


def test_kubeflow_manifest_validates_against_the_crd_and_the_webhook_rules(examples):
    import jsonschema

    result = build(["examples"], out="out", targets=["kubeflow"], config=Config())
    manifests = [Path(p) for p in result.written if p.endswith("pytorchjob.yaml")]
    assert manifests
    for path in manifests:
        config_map, job = yaml.safe_load_all(path.read_text(encoding="utf-8"))
        jsonschema.Draft7Validator(crd_schema()).validate(job)
        # the admission webhook's rules, which the CRD schema does not carry
        assert re.fullmatch(r"[a-z]([-a-z0-9]*[a-z0-9])?", job["metadata"]["name"]) and len(job["metadata"]["name"]) <= 63
        specs = job["spec"]["pytorchReplicaSpecs"]
        assert set(specs) <= {"Master", "Worker"} and specs["Master"]["replicas"] == 1
        assert isinstance(job["spec"]["nprocPerNode"], str)
        for spec in specs.values():
            containers = spec["template"]["spec"]["containers"]
            assert any(c["name"] == "pytorch" and c["image"] for c in containers)
        config = json.loads(config_map["data"]["config.json"])
        assert config["output_dir"] and config_map["metadata"]["name"] == job["metadata"]["name"] + "-config"


def test_multi_node_job_has_workers(examples):
    result = build(["examples/experiments/llama70b_qlora.tune"], out="out", targets=["kubeflow"], config=Config())
    [manifest] = [p for p in result.written if p.endswith(".yaml")]
    _, job = yaml.safe_load_all(Path(manifest).read_text(encoding="utf-8"))
    specs = job["spec"]["pytorchReplicaSpecs"]
    assert specs["Worker"]["replicas"] == 1 and job["spec"]["nprocPerNode"] == "8"
    assert specs["Master"]["template"]["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 8


# --- the pitfalls BACKENDS.md names ----------------------------------------------------------------------

def built_text(project, source: str, target: str, file: str, name: str = "main.tune") -> str:
    project.write(name, source)
    result = build([name], out="out", targets=[target], config=Config())
    assert not result.refused, result.refused
    [path] = [p for p in result.written if p.endswith(file)]
    return Path(path).read_text(encoding="utf-8")


GPTQ = 'model "acme/llama-gptq" { family = llama  quantized = true  hf_id = "acme/llama-gptq" }'


def test_peft_gets_all_linear_as_a_string(project):
    text = built_text(project, granite("training { max_seq_length = 512 }"), "peft", "train.py")
    assert parse_back(text, "python")["SPEC"]["lora"]["target_modules"] == "all-linear"


def test_trl_gets_max_length_not_max_seq_length(project):
    text = built_text(project, granite("training { max_seq_length = 512 }"), "peft", "train.py")
    assert "max_length=SPEC[\"max_length\"]" in text and "max_seq_length" not in text.split("SPEC = ")[1].split("def ")[0]


@pytest.mark.parametrize("method, expected", [("lora", "lora"), ("qlora", "lora"), ("prompt_tuning", "pt"), ("full", None)])
def test_fms_peft_method_is_exact(project, method, expected):
    model = "acme/llama-gptq" if method == "qlora" else "mistralai/Mistral-7B-v0.1"
    body = 'training { batch_size = 2  accumulate_steps = 1  learning_rate = 0.0001  epochs = 2 }'
    if method in ("lora", "qlora"):
        body += '\n  lora { rank = 8  alpha = 16  dropout = 0.05  target_modules = ["q_proj", "v_proj"] }'
    if method == "prompt_tuning":
        body += '\n  prompt { init_method = random  num_virtual_tokens = 8 }'
    source = f'{GPTQ}\nexperiment e {{\n  model = "{model}"\n  method = {method}\n  data {{ train = "data/train.jsonl" }}\n  {body}\n}}\n'
    config = json.loads(built_text(project, source, "fms-hf-tuning", "config.json"))
    assert config.get("peft_method") == expected and config["output_dir"] == "runs/e/e/fms-hf-tuning"
    assert ("auto_gptq" in config) == (method == "qlora")


def test_qlora_on_a_16_bit_model_quantizes_at_load_in_every_backend(project):
    source = 'experiment e {\n  model = "mistralai/Mistral-7B-v0.1"\n  method = qlora\n  data { train = "data/train.jsonl" }\n' \
             '  training { batch_size = 2  accumulate_steps = 1  learning_rate = 0.0001  epochs = 2 }\n' \
             '  lora { rank = 8  alpha = 16  dropout = 0.05  target_modules = ["all-linear"] }\n}\n'
    assert json.loads(built_text(project, source, "fms-hf-tuning", "config.json"))["bnb_qlora"] == ["nf4"]
    axolotl = yaml.safe_load(built_text(project, source, "axolotl", "config.yaml"))
    assert axolotl["adapter"] == "qlora" and axolotl["load_in_4bit"] is True and "gptq" not in axolotl
    factory = yaml.safe_load(built_text(project, source, "llama-factory", "config.yaml"))
    assert factory["quantization_bit"] == 4 and factory["finetuning_type"] == "lora" and factory["lora_target"] == "all"
    assert parse_back(built_text(project, source, "peft", "train.py"), "python")["SPEC"]["load_in_4bit"] is True


def test_qlora_on_a_gptq_model_loads_it_as_it_is(project):
    source = GPTQ + '\nexperiment e {\n  model = "acme/llama-gptq"\n  method = qlora\n  data { train = "data/train.jsonl" }\n' \
             '  training { batch_size = 2  accumulate_steps = 1  learning_rate = 0.0001  epochs = 2 }\n' \
             '  lora { rank = 8  alpha = 16  dropout = 0.05  target_modules = ["q_proj", "v_proj"] }\n}\n'
    axolotl = yaml.safe_load(built_text(project, source, "axolotl", "config.yaml"))
    assert axolotl["gptq"] is True and axolotl["adapter"] == "lora" and "load_in_4bit" not in axolotl
    factory = yaml.safe_load(built_text(project, source, "llama-factory", "config.yaml"))
    assert "quantization_bit" not in factory
    assert parse_back(built_text(project, source, "peft", "train.py"), "python")["SPEC"]["load_in_4bit"] is False


def test_torchtune_maps_layers_to_its_modules(project):
    source = 'experiment e {\n  model = "meta-llama/llama-3-1-8b"\n  method = lora\n  data { train = "data/train.jsonl" }\n' \
             '  lora { target_modules = ["q_proj", "o_proj", "gate_proj", "up_proj", "down_proj"] }\n}\n'
    config = yaml.safe_load(built_text(project, source, "torchtune", "config.yaml"))
    assert config["model"]["lora_attn_modules"] == ["q_proj", "output_proj"]
    assert config["model"]["apply_lora_to_mlp"] is True
    assert config["optimizer"]["lr"] == 1e-05 and config["model"]["_component_"].endswith("lora_llama3_1_8b")


def test_llama_factory_dataset_info_points_at_the_data_from_its_folder(project):
    text = built_text(project, granite("training { max_seq_length = 512 }"), "llama-factory", "dataset_info.json")
    info = json.loads(text)
    config = yaml.safe_load((project.root / "out" / "tickets" / "llama-factory" / "config.yaml").read_text())
    assert (project.root / config["dataset_dir"] / info[config["dataset"]]["file_name"]).resolve() == \
        (project.root / "data" / "train.jsonl").resolve()


def test_watsonx_bodies_by_method(project, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1780000000")  # 2026-05-28: before watsonx.ai removed LoRA
    pt = 'experiment e {\n  model = "google/flan-t5-xl"\n  method = prompt_tuning\n  task = classification\n' \
         '  data { train = "data/train.jsonl" }\n  prompt { init_method = text  init_text = "Classify:" }\n}\n'
    body = json.loads(built_text(project, pt, "watsonx", "request.json"))
    assert body["prompt_tuning"]["init_method"] == "text" and body["prompt_tuning"]["tuning_type"] == "prompt_tuning"
    assert "parameters" not in body
    run = (project.root / "out" / "e" / "watsonx" / "run.sh").read_text()
    assert "/ml/v4/trainings?version=" in run
    lora = granite("task = classification").replace("experiment tickets", "experiment f")
    body = json.loads(built_text(project, lora, "watsonx", "request.json", "f.tune"))
    assert body["parameters"]["peft_parameters"]["type"] == "lora" and "prompt_tuning" not in body


@settings(max_examples=50, deadline=None)
@given(epoch=st.integers(min_value=0, max_value=253402300799))  # to the last second of 9999-12-31
def test_today_is_the_date_datetime_gives(epoch):
    import datetime

    with pytest.MonkeyPatch.context() as patched:
        patched.setenv("SOURCE_DATE_EPOCH", str(epoch))
        assert today() == datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).date().isoformat()
        patched.delenv("SOURCE_DATE_EPOCH")
        before, found, after = datetime.date.today(), today(), datetime.date.today()  # (a midnight between)
        assert found in (before.isoformat(), after.isoformat())


@pytest.mark.parametrize("epoch, refused", [("1780000000", False), ("1789000000", True)])  # 2026-05-28, 2026-09-10
def test_watsonx_refuses_lora_from_its_removal_date(project, monkeypatch, epoch, refused):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", epoch)
    project.write("f.tune", granite("task = classification"))
    result = build(["f.tune"], targets=["watsonx"], out="out", config=Config())
    assert bool(result.refused) is refused
    ts503 = [d for d in result.lint.diagnostics if d.code == "TS503"]
    assert [d.severity.value for d in ts503] == ["error" if refused else "warning"]
    if refused:
        assert "removed on 2026-09-10" in ts503[0].message


@pytest.mark.parametrize("target", ["fms-hf-tuning", "kubeflow", "axolotl", "llama-factory", "torchtune"])
def test_causal_only_targets_refuse_encoder_decoder_models(project, target):
    source = 'experiment e {\n  model = "google/flan-t5-xl"\n  method = lora\n  data { train = "s3://b/train.jsonl" }\n' \
             '  training { batch_size = 2  accumulate_steps = 1  learning_rate = 0.0001  epochs = 2 }\n' \
             '  lora { rank = 8  alpha = 16  dropout = 0.05  target_modules = ["q", "v"] }\n' \
             '  resources { image = "i" }\n}\n'
    project.write("e.tune", source)
    result = build(["e.tune"], targets=[target], out="out", config=Config())
    ts502 = [d for d in result.lint.diagnostics if d.code == "TS502"]
    assert result.refused and ts502 and ("encoder-decoder" in ts502[0].message or "no model builder" in ts502[0].message)


@pytest.mark.parametrize("target", ["peft", "fms-hf-tuning", "kubeflow", "axolotl", "llama-factory"])
def test_hugging_face_targets_refuse_models_without_a_checkpoint(project, target):
    source = 'experiment e {\n  model = "ibm/granite-13b-instruct-v2"\n  method = full\n  data { train = "hf://acme/tickets" }\n' \
             '  training { batch_size = 2  accumulate_steps = 1  learning_rate = 0.00001  epochs = 2 }\n' \
             '  resources { image = "i" }\n}\n'
    project.write("e.tune", source)
    result = build(["e.tune"], targets=[target, "yaml"], out="out", config=Config())
    assert [d.code for d in result.lint.diagnostics if d.severity.value == "error"] == ["TS502"]
    assert result.refused == [f"e ({target}): not built, see the TS5xx error above"]
    declared = 'model "ibm/granite-13b-instruct-v2" { family = gpt_bigcode  hf_id = "acme/granite-13b" }\n' + source
    project.write("e.tune", declared)
    assert not build(["e.tune"], targets=[target], out="out", config=Config()).refused


def test_kubeflow_needs_a_volume_for_local_data(project):
    source = granite('targets = [kubeflow]\n  resources { image = "i" }')
    project.write("e.tune", source)
    found = [d for d in build(["e.tune"], out="out", config=Config()).lint.diagnostics if d.code == "TS504"]
    assert found and "resources.volume" in found[0].message
    project.write("e.tune", source.replace('image = "i"', 'image = "i"  volume = "tuning"'))
    assert not [d for d in build(["e.tune"], out="out", config=Config()).lint.diagnostics if d.code == "TS504"]


def test_run_scripts_are_executable_and_cd_to_the_root(examples):
    result = build(["examples"], out="out", config=Config())
    scripts = [Path(p) for p in result.written if p.endswith("run.sh")]
    assert scripts and all(os.access(p, os.X_OK) for p in scripts)
    peft_script = next(p for p in scripts if p.parent.name == "peft")
    assert 'cd "$(dirname "$0")"/../../..' in peft_script.read_text()


# --- behaviour of the command ----------------------------------------------------------------------------

def test_experiments_with_errors_are_refused_and_the_rest_built(project, capsys):
    project.write("good.tune", granite("training { max_seq_length = 512 }"))
    project.write("bad.tune", granite("training { batch_size = 99 }").replace("tickets", "broken"))
    code = main(["build", "good.tune", "bad.tune", "--out", "out"])
    out = capsys.readouterr().out
    assert code == 1 and "broken: not built, it has errors" in out
    assert (project.root / "out" / "tickets" / "yaml" / "experiment.yaml").is_file()
    assert not (project.root / "out" / "broken").exists()


def test_target_that_cannot_run_the_method_is_skipped(project, capsys):
    project.write("pt.tune", 'experiment e {\n  model = "google/flan-t5-xl"\n  method = prompt_tuning\n'
                             '  data { train = "data/train.jsonl" }\n  prompt { num_virtual_tokens = 8 }\n}\n')
    assert main(["build", "pt.tune", "--target", "axolotl,peft"]) == 1
    out = capsys.readouterr().out
    assert "TS502" in out and not (project.root / "out" / "e" / "axolotl").exists()
    assert (project.root / "out" / "e" / "peft" / "train.py").is_file()


def test_check_reports_stale_and_missing_files_and_writes_nothing(project, capsys):
    project.write("t.tune", granite("training { max_seq_length = 512 }"))
    assert main(["build", "t.tune", "--check"]) == 1
    assert "stale: out/tickets/yaml/experiment.yaml" in capsys.readouterr().out and not (project.root / "out").exists()
    assert main(["build", "t.tune"]) == 0
    assert main(["build", "t.tune", "--check"]) == 0
    (project.root / "out" / "tickets" / "yaml" / "experiment.yaml").write_text("edited")
    assert main(["build", "t.tune", "--check"]) == 1


def test_targets_from_config_and_out_from_config(project):
    project.write("tunespec.toml", 'targets = ["json"]\nout = "specs"\n')
    project.write("t.tune", granite("training { max_seq_length = 512 }"))
    assert main(["build", "t.tune"]) == 0
    assert (project.root / "specs" / "tickets" / "json" / "experiment.json").is_file()


def test_builds_are_byte_identical_across_runs_hash_seeds_and_folders(examples, tmp_path):
    outputs = []
    for seed, folder in (("0", "a"), ("1", "b"), ("12345", "c")):
        copy = tmp_path / "copies" / folder
        shutil.copytree(examples / "examples", copy / "examples")
        (copy / "tunespec.toml").write_text("")  # each copy its own project (paths are relative to it)
        environment = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(REPO)}
        subprocess.run([sys.executable, "-m", "tunespec", "build", "examples", "--out", "out"],
                       cwd=copy, env=environment, check=True, capture_output=True)
        outputs.append(files_under(copy / "out"))
    assert outputs[0] == outputs[1] == outputs[2]


def test_root_changes_the_paths_inside_specs(project):
    project.write("sub/t.tune", granite("training { max_seq_length = 512 }").replace("data/train.jsonl", "../data/train.jsonl"))
    build(["sub/t.tune"], out="sub/out", root="sub", config=Config())
    data = yaml.safe_load((project.root / "sub" / "out" / "tickets" / "yaml" / "experiment.yaml").read_text())
    assert data["spec"]["data"]["train"] == "../data/train.jsonl"


def staged(relative: Path) -> bool:
    """A temporary file, or a file in a folder staged whole: not an output (yet)."""
    return any(part.startswith(TEMPORARY) for part in relative.parts)


def wrote_an_output(out: Path) -> bool:
    """Whether a running build has put a file in place (a folder it stages may be renamed while this looks)."""
    try:
        return out.exists() and any(p.is_file() and not staged(p.relative_to(out)) for p in out.rglob("*"))
    except FileNotFoundError:
        return False


@pytest.mark.slow
def test_an_interrupted_build_leaves_only_complete_files(examples):
    """SIGKILL once the build has started writing; afterwards every output is complete (the temporary files
    and folders the killed run was writing are not outputs, and the next build removes them)."""
    import time

    environment = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "tunespec", "build", "examples", "--out", "out", "--target", ",".join(ALL_TARGETS)]
    subprocess.run(command, cwd=examples, env=environment, capture_output=True)
    expected = files_under(examples / "out")
    for attempt in range(3):
        shutil.rmtree(examples / "out")
        process = subprocess.Popen(command, cwd=examples, env=environment, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while process.poll() is None and time.monotonic() < deadline:
            if wrote_an_output(examples / "out"):
                break
            time.sleep(0.001)
        process.kill()
        process.wait()
        written = {name: data for name, data in files_under(examples / "out").items() if not staged(Path(name))}
        assert written, "the build was killed before it wrote anything"
        for name, data in written.items():
            assert data == expected[name], name
    subprocess.run(command, cwd=examples, env=environment, capture_output=True)
    assert not [p for p in (examples / "out").rglob(TEMPORARY + "*")]
    assert files_under(examples / "out") == expected


# --- bad input -------------------------------------------------------------------------------------------

def test_unknown_target_is_one_line_and_exit_2(project, capsys):
    project.write("t.tune", granite(""))
    assert main(["build", "t.tune", "--target", "axolotol"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown target `axolotol`; did you mean `axolotl`?" in err


def test_unknown_target_named_in_an_experiment_is_ts005(project):
    project.write("t.tune", granite("targets = [yaml, pefft]"))
    [d] = [d for d in project.lint("t.tune") if d.code == "TS005"]
    assert (d.line, d.column, d.help) == (5, 20, "did you mean `peft`?")


def test_unwritable_output_is_one_line_and_exit_2(project, capsys):
    project.write("t.tune", granite(""))
    (project.root / "out").write_text("a file where the output folder should be")
    assert main(["build", "t.tune"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot create" in err


def test_write_failure_leaves_no_partial_file(project, monkeypatch, capsys):
    from tunespec.templates import build as build_module

    project.write("t.tune", granite(""))

    def full_disk(source, destination):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(build_module.os, "replace", full_disk)
    assert main(["build", "t.tune"]) == 2
    assert "no space left on device" in capsys.readouterr().err
    assert not [p for p in (project.root / "out").rglob("*") if p.is_file()]


def user_target(folder: Path, template: str, name: str = "mine") -> Path:
    (folder / name).mkdir(parents=True)
    (folder / name / "target.toml").write_text(
        f'name = "{name}"\nsummary = "a user target"\nmethods = ["lora"]\n'
        '[[files]]\ntemplate = "out.txt.j2"\noutput = "out.txt"\nformat = "shell"\n'
        '[expresses]\nall = ["model", "method", "data.train"]\n')
    (folder / name / "out.txt.j2").write_text(template)
    return folder


@pytest.mark.parametrize("template, words", [
    ("{{ ''.__class__.__mro__ }}", "sandbox"),
    ("{{ lora.__init__.__globals__ }}", "sandbox"),
    ("{% import 'os' as os %}", "os"),
    ("{{ nothing_like_this }}", "nothing_like_this"),
    ("{% if %}", "line 1"),
])
def test_user_templates_are_sandboxed_and_strict(project, capsys, template, words):
    project.write("t.tune", granite(""))
    templates = user_target(project.root / "templates", template)
    assert main(["build", "t.tune", "--template-dir", str(templates), "--target", "mine"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err
    assert not (project.root / "out").exists()


def test_a_user_target_builds(project):
    project.write("t.tune", granite(""))
    templates = user_target(project.root / "templates", "echo {{ model.hf_id | sh }} {{ data.train | sh }}\n")
    result = build(["t.tune"], targets=["mine"], out="out", config=Config(), template_dirs=[str(templates)])
    [path] = result.written
    assert Path(path).read_text() == "echo ibm-granite/granite-3.1-8b-base data/train.jsonl\n"


def test_targets_command_lists_every_target(capsys):
    assert main(["targets"]) == 0
    out = capsys.readouterr().out
    for name in ALL_TARGETS:
        assert f"\n{name}: " in "\n" + out
    assert "torchtune" in out and "cannot express data.validation" in out


def test_every_target_for_every_example_matches_its_golden_files(examples, request):
    """All nine targets for every example experiment; pairs a target cannot run (TS502) or lacks a value
    for (TS504) are refused, and the refusals are part of the golden record too."""
    result = build(["examples"], targets=ALL_TARGETS, out="out", config=Config())
    built = files_under(examples / "out")
    built["REFUSED"] = ("\n".join(sorted(result.refused)) + "\n").encode()
    folder = ALL_TARGETS_GOLDEN
    if request.config.getoption("--update-golden"):
        shutil.rmtree(folder, ignore_errors=True)
        for name, data in built.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(data)
    assert built == files_under(folder)
    assert {name.split("/")[1] for name in built if "/" in name} == set(ALL_TARGETS)
