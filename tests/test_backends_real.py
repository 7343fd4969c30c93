"""The real backends read what tunespec emits. Optional: each test runs when its backend is importable
(`.ci/run` installs PEFT, transformers and TRL on the CPU in a separate environment; no model or data set
is downloaded: HF_HUB_OFFLINE=1)."""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES
from tunespec.api import build
from tunespec.config import Config

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture
def examples(tmp_path, monkeypatch):
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    (tmp_path / "tunespec.toml").write_text("")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def on_this_cpu(config: dict) -> dict:
    """The configuration with transformers' `use_cpu`: the specs ask for bf16 (the default precision), which
    transformers refuses without a GPU unless told to use the CPU, as run.sh's overrides do in a real run."""
    return {**config, "use_cpu": True}


def train_script(path: Path):
    """Import a generated train.py as a module (its main() is not run)."""
    spec = importlib.util.spec_from_file_location(f"generated_{abs(hash(str(path)))}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def peft_configs(example: str):
    result = build([f"examples/experiments/{example}"], targets=["peft"], out="out", config=Config())
    assert not result.refused, result.refused
    script = sorted(Path(p) for p in result.written if p.endswith("train.py"))[0]
    module = train_script(script)
    return module, module.build_configs({"use_cpu": True})


def test_lora_with_all_linear_builds_peft_and_trl_objects(examples):
    peft = pytest.importorskip("peft")
    trl = pytest.importorskip("trl")
    module, (config, quantization, args) = peft_configs("tickets.tune")
    assert isinstance(config, peft.LoraConfig)
    assert config.r == 8 and config.lora_alpha == 32 and config.lora_dropout == 0.05
    assert config.target_modules == "all-linear"  # the string: PEFT's special value
    assert quantization is None
    assert isinstance(args, trl.SFTConfig)
    assert args.per_device_train_batch_size == 8 and args.gradient_accumulation_steps == 1
    assert args.num_train_epochs == 10 and args.max_length == 1024
    assert args.output_dir == "runs/tickets/tickets.learning_rate-0.0001/peft"
    assert args.learning_rate == 0.0001  # the first variant, by name: tickets.learning_rate-0.0001


def test_prompt_tuning_builds_a_prompt_tuning_config(examples):
    peft = pytest.importorskip("peft")
    transformers = pytest.importorskip("transformers")
    module, (config, quantization, args) = peft_configs("flan_t5_prompt.tune")
    assert isinstance(config, peft.PromptTuningConfig)
    assert config.num_virtual_tokens == 20 and str(config.prompt_tuning_init).endswith("TEXT")
    assert config.tokenizer_name_or_path == "google/flan-t5-xl"
    assert str(config.task_type).endswith("SEQ_2_SEQ_LM")
    assert isinstance(args, transformers.Seq2SeqTrainingArguments) and args.learning_rate == 0.3


def test_full_fine_tuning_has_no_peft_config(examples):
    pytest.importorskip("trl")
    module, (config, quantization, args) = peft_configs("mistral_full.tune")
    assert config is None and quantization is None and args.learning_rate == 1e-05


def test_qlora_on_a_16_bit_model_builds_a_4_bit_nf4_config(project):
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("trl")
    project.write("q.tune", 'experiment q {\n  model = "mistralai/Mistral-7B-v0.1"\n  method = qlora\n'
                            '  data { train = "data/train.jsonl" }\n'
                            '  training { batch_size = 2  accumulate_steps = 1  learning_rate = 0.0001  epochs = 1 }\n'
                            '  lora { rank = 8  alpha = 16  dropout = 0.05  target_modules = ["q_proj", "v_proj"] }\n}\n')
    result = build(["q.tune"], targets=["peft"], out="out", config=Config())
    [script] = [Path(p) for p in result.written if p.endswith("train.py")]
    config, quantization, args = train_script(script).build_configs({"use_cpu": True})
    assert isinstance(quantization, transformers.BitsAndBytesConfig)
    assert quantization.load_in_4bit and quantization.bnb_4bit_quant_type == "nf4"
    assert sorted(config.target_modules) == ["q_proj", "v_proj"]


# fms-hf-tuning trains decoders only (the examples' prompt tuning is on flan-t5): a decoder's, written here.
DECODER_PROMPT_TUNING = ('experiment mistral_prompt {\n  model = "mistralai/Mistral-7B-v0.1"\n  method = prompt_tuning\n'
                         '  data { train = "../data/tickets/train.jsonl" }\n'
                         '  training { batch_size = 8  accumulate_steps = 1  learning_rate = 0.3  epochs = 2  '
                         'max_seq_length = 512 }\n'
                         '  prompt { init_method = text  init_text = "Classify the ticket:"  num_virtual_tokens = 20 }\n}\n')
FMS_EXAMPLES = [("tickets.tune", "lora"), ("mistral_prompt.tune", "pt"), ("mistral_full.tune", None)]


@pytest.mark.parametrize("example, peft_method", FMS_EXAMPLES)
def test_fms_hf_tuning_parses_the_emitted_config(examples, example, peft_method):
    sft_trainer = pytest.importorskip("tuning.sft_trainer")
    import json

    (examples / "examples" / "experiments" / "mistral_prompt.tune").write_text(DECODER_PROMPT_TUNING, encoding="utf-8")
    result = build([f"examples/experiments/{example}"], targets=["fms-hf-tuning"], out="out", config=Config())
    path = sorted(p for p in result.written if p.endswith("config.json"))[0]
    config = json.loads(Path(path).read_text(encoding="utf-8"))
    model, data, training, _, tune, quantization, quantized_lora, *_ = sft_trainer.parse_arguments(
        sft_trainer.get_parser(), on_this_cpu(config))
    assert model.model_name_or_path == config["model_name_or_path"]
    assert data.training_data_path == config["training_data_path"]
    assert training.output_dir == config["output_dir"] and training.learning_rate == config["learning_rate"]
    assert training.per_device_train_batch_size == config["per_device_train_batch_size"]
    assert training.max_seq_length == config["max_seq_length"]
    assert config.get("peft_method") == peft_method
    if peft_method == "lora":
        from tuning.config.peft_config import LoraConfig

        assert isinstance(tune, LoraConfig) and tune.r == config["r"]
        assert tune.target_modules == "all-linear"  # fms turns ["all-linear"] into the string PEFT needs
    elif peft_method == "pt":
        from tuning.config.peft_config import PromptTuningConfig

        assert isinstance(tune, PromptTuningConfig) and tune.num_virtual_tokens == 20
        assert tune.prompt_tuning_init == "TEXT"
    else:
        assert tune is None


def test_fms_hf_tuning_reads_the_gptq_qlora_shape(examples):
    sft_trainer = pytest.importorskip("tuning.sft_trainer")
    import json

    result = build(["examples/experiments/llama70b_qlora.tune"], targets=["fms-hf-tuning"], out="out", config=Config())
    [path] = [p for p in result.written if p.endswith("config.json")]
    config = json.loads(Path(path).read_text(encoding="utf-8"))
    model, _, training, _, tune, _, quantized_lora, *_ = sft_trainer.parse_arguments(sft_trainer.get_parser(),
                                                                                    on_this_cpu(config))
    assert quantized_lora.auto_gptq is not None and quantized_lora.auto_gptq.kernel == "triton_v2"
    assert model.torch_dtype in ("float16", "torch.float16") or str(model.torch_dtype).endswith("float16")
    assert training.fp16 is True and tune.r == 16


def llama_factory_args(path: Path):
    hparams = pytest.importorskip("llamafactory.hparams")
    import yaml

    return hparams.get_train_args(on_this_cpu(yaml.safe_load(path.read_text(encoding="utf-8"))))


def test_llama_factory_parses_the_emitted_config(examples):
    pytest.importorskip("llamafactory")
    import json

    result = build(["examples/experiments/tickets.tune"], targets=["llama-factory"], out="out", config=Config())
    path = sorted(Path(p) for p in result.written if p.endswith("config.yaml"))[0]
    model, data, training, finetuning, _ = llama_factory_args(path)
    assert model.model_name_or_path == "ibm-granite/granite-3.1-8b-base"
    assert finetuning.finetuning_type == "lora" and finetuning.lora_rank == 8 and finetuning.lora_target == ["all"]
    assert training.learning_rate == 0.0001 and data.cutoff_len == 1024
    assert data.dataset == ["train"] and data.eval_dataset == ["validation"]
    info = json.loads((Path(data.dataset_dir) / "dataset_info.json").read_text(encoding="utf-8"))
    assert (Path(data.dataset_dir) / info["train"]["file_name"]).resolve() == \
        (examples / "examples" / "data" / "tickets" / "train.jsonl").resolve()


def test_llama_factory_reads_qlora_and_full(project):
    pytest.importorskip("llamafactory")
    body = ("  data { train = \"data/train.jsonl\" }\n"
            "  training { batch_size = 2  accumulate_steps = 1  learning_rate = 0.0001  epochs = 1 }\n")
    project.write("q.tune", 'experiment q {\n  model = "mistralai/Mistral-7B-v0.1"\n  method = qlora\n' + body +
                  '  lora { rank = 8  alpha = 16  dropout = 0.05  target_modules = ["q_proj", "v_proj"] }\n}\n')
    project.write("f.tune", 'experiment f {\n  model = "mistralai/Mistral-7B-v0.1"\n  method = full\n' + body + "}\n")
    result = build(["q.tune", "f.tune"], targets=["llama-factory"], out="out", config=Config())
    configs = {Path(p).parts[-3]: Path(p) for p in result.written if p.endswith("config.yaml")}
    model, _, _, qlora, _ = llama_factory_args(configs["q"])
    assert qlora.finetuning_type == "lora" and model.quantization_bit == 4 and qlora.lora_target == ["q_proj", "v_proj"]
    _, _, _, full, _ = llama_factory_args(configs["f"])
    assert full.finetuning_type == "full"


# --- the launchers' and trainers' configurations, read by the backends themselves ---------------------------

STRATEGIES = [("ddp", 1), ("ddp", 4), ("fsdp", 4), ("deepspeed_zero2", 4), ("deepspeed_zero3", 4)]


@pytest.mark.parametrize("strategy, gpus", STRATEGIES)
def test_accelerate_reads_the_launcher_configuration(project, strategy, gpus):
    """accelerate.yaml loads as accelerate's ClusterConfig (which refuses unknown keys), and every key of its
    fsdp_config / deepspeed_config is an option of `accelerate launch` (where the launcher copies them)."""
    config_args = pytest.importorskip("accelerate.commands.config.config_args")
    from accelerate.commands.launch import launch_command_parser

    project.write("a.tune", 'experiment a {\n  model = "mistralai/Mistral-7B-v0.1"\n  method = full\n'
                            '  data { train = "data/train.jsonl" }\n'
                            '  training { batch_size = 2  accumulate_steps = 1  learning_rate = 0.0001  epochs = 1 }\n'
                            f'  resources {{ gpus_per_node = {gpus}  strategy = {strategy} }}\n}}\n')
    result = build(["a.tune"], targets=["peft"], out="out", config=Config())
    [path] = [p for p in result.written if p.endswith("accelerate.yaml")]
    config = config_args.load_config_from_file(path)
    options = {action.dest for action in launch_command_parser()._actions}
    nested = {**(config.fsdp_config or {}), **(config.deepspeed_config or {})}
    assert set(nested) <= options, set(nested) - options
    assert config.num_processes == gpus and config.mixed_precision == "bf16"


def test_fms_hf_tuning_knows_every_key_it_is_given(examples):
    """sft_trainer ignores keys it does not know (parse_dict(allow_extra_keys=True)): each emitted key must be
    a field of one of its argument classes, or one of the keys main() reads from the dict itself."""
    sft_trainer = pytest.importorskip("tuning.sft_trainer")
    import dataclasses
    import json

    fields = {field.name for klass in sft_trainer.get_parser().dataclass_types for field in dataclasses.fields(klass)}
    read_directly = {"peft_method", "quantization_method", "exp_metadata", "alora_invocation_string",
                     "accelerate_launch_args"}
    result = build(["examples"], targets=["fms-hf-tuning"], out="out", config=Config())
    for path in (p for p in result.written if p.endswith("config.json")):
        config = json.loads(Path(path).read_text(encoding="utf-8"))
        assert set(config) <= fields | read_directly, (path, set(config) - fields - read_directly)
        sft_trainer.parse_arguments(sft_trainer.get_parser(), on_this_cpu(config))


def llama_factory_variant(project, name: str, extra: str = "", data: str = 'train = "data/train.jsonl"',
                          training: str = "") -> Path:
    project.write(f"{name}.tune", f'experiment {name} {{\n  model = "mistralai/Mistral-7B-v0.1"\n  method = lora\n'
                                  f"  data {{ {data} }}\n"
                                  "  training { batch_size = 2  accumulate_steps = 1  learning_rate = 0.0001  epochs = 1 "
                                  f"{training}}}\n"
                                  '  lora { rank = 8  alpha = 16  dropout = 0.05  target_modules = ["q_proj", "v_proj"] }\n'
                                  f"  {extra}\n}}\n")
    result = build([f"{name}.tune"], targets=["llama-factory"], out="out", config=Config())
    return next(Path(p) for p in result.written if p.endswith("config.yaml"))


def test_llama_factory_reads_fsdp_chat_data_and_the_run_settings(project):
    """LLaMA-Factory refuses keys it does not know (parse_dict(allow_extra_keys=False)): each variant parses."""
    pytest.importorskip("llamafactory")
    import json

    path = llama_factory_variant(project, "f", "resources { gpus_per_node = 2  strategy = fsdp }")
    _, _, training, _, _ = llama_factory_args(path)
    assert training.fsdp and training.eval_strategy == "no" and training.optim == "adamw_torch"
    path = llama_factory_variant(project, "m", training="warmup_ratio = 0.1  report_to = [tensorboard] ",
                                 data='train = "data/train.jsonl"  format = messages  chat_template = "llama3"')
    _, data, training, finetuning, _ = llama_factory_args(path)
    assert data.template == "llama3" and training.warmup_steps == pytest.approx(0.1)
    info = json.loads((Path(data.dataset_dir) / "dataset_info.json").read_text(encoding="utf-8"))
    assert info["train"]["formatting"] == "sharegpt" and info["train"]["columns"] == {"messages": "messages"}


def test_axolotl_knows_every_key_it_is_given(examples):
    """Axolotl drops keys it does not know (pydantic's default): each emitted key must be a field of its
    config schema, and the config must validate."""
    schema = pytest.importorskip("axolotl.utils.schemas.config")
    import yaml

    known = set()
    for name, field in schema.AxolotlInputConfig.model_fields.items():
        known |= {name, field.alias} - {None}
    result = build(["examples"], targets=["axolotl"], out="out", config=Config())
    for path in (p for p in result.written if p.endswith("config.yaml")):
        config = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        assert set(config) <= known, (path, set(config) - known)
        schema.AxolotlInputConfig(**config)


def test_llama_factory_reads_a_hub_dataset_and_no_trackers(project):
    """An `hf://org/name` data path is the Hub dataset `org/name` in dataset_info.json (`hf_hub_url`: nothing
    is downloaded to read the list); `report_to = []` parses as no integration."""
    pytest.importorskip("llamafactory")
    from llamafactory.data.parser import get_dataset_list

    path = llama_factory_variant(project, "h", data='train = "hf://acme/tickets"  validation = "data/validation.jsonl"',
                                 training="report_to = [] ")
    _, data, training, _, _ = llama_factory_args(path)
    assert training.report_to == []
    [train] = get_dataset_list(data.dataset, data.dataset_dir)
    [validation] = get_dataset_list(data.eval_dataset, data.dataset_dir)
    assert (train.load_from, train.dataset_name) == ("hf_hub", "acme/tickets")
    assert validation.load_from == "file" and (Path(data.dataset_dir) / validation.dataset_name).resolve() == \
        (project.root / "data" / "validation.jsonl").resolve()


def test_llama_factory_reads_interpolation_syntax_as_text_and_omegaconf_reads_torchtune_escapes(project, monkeypatch):
    """LLaMA-Factory loads its YAML with OmegaConf but never resolves it (`to_container` without `resolve`):
    `${` must reach it unescaped. torchtune resolves: its config escapes `${`, and OmegaConf reads the value
    back. (Runs in the LLaMA-Factory environment, which has OmegaConf.)"""
    pytest.importorskip("llamafactory")
    omegaconf = pytest.importorskip("omegaconf")
    import sys

    from llamafactory.hparams.parser import read_args

    value = "runs/${oc.env:HOME}/a\\${b}"
    for model, name in (("ibm/granite-3-1-8b-base", "g"), ("meta-llama/llama-3-1-8b", "l")):
        project.write(f"{name}.tune", f'experiment {name} {{\n  model = "{model}"\n  method = lora\n'
                                      f'  output_dir = "{value.replace(chr(92), chr(92) * 2)}"\n'
                                      '  data { train = "data/train.jsonl" }\n  training { max_seq_length = 512 }\n}\n')
    result = build(["g.tune", "l.tune"], targets=["llama-factory", "torchtune"], out="out", config=Config())
    assert any(p.endswith("g/llama-factory/config.yaml") for p in result.written), result.refused
    monkeypatch.setattr(sys, "argv", ["llamafactory-cli", str(project.root / "out/g/llama-factory/config.yaml")])
    assert read_args()["output_dir"] == f"{value}/g/llama-factory"  # <output_dir>/<variant>/<target>
    torchtune = omegaconf.OmegaConf.load(project.root / "out/l/torchtune/config.yaml")
    resolved = omegaconf.OmegaConf.to_container(torchtune, resolve=True)
    assert resolved["output_dir"] == resolved["checkpointer"]["output_dir"] == f"{value}/l/torchtune"
