"""The fields of the language (DESIGN.md §1.3): where each may be written, its type and its values.

This is the language's own definition, not a documented fact about models, so it is code; facts that
the documentation states (ranges, defaults) live in `catalog/`.
"""

from __future__ import annotations

from tunespec.record import Record


class Kind:
    """A field's type: one of the constants below, told apart by identity. A plain class rather than an
    Enum: nothing here asks what an Enum adds (values, iteration, lookup by value), and making the Enum cost
    every cold lint 0.8M instructions (callgrind)."""

    __slots__ = ("name",)
    STRING: Kind
    INT: Kind
    FLOAT: Kind  # an int is accepted and becomes a float
    NUMBER: Kind  # an int or a float, kept as written
    BOOL: Kind
    IDENT: Kind
    STRING_LIST: Kind
    IDENT_LIST: Kind

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Kind.{self.name}"

    def __reduce__(self) -> str:
        return f"Kind.{self.name}"  # pickled as the constant itself, so that `is` still holds after

    @property
    def words(self) -> str:
        return KIND_WORDS[self]

    @property
    def is_list(self) -> bool:
        return self is Kind.STRING_LIST or self is Kind.IDENT_LIST


Kind.STRING = Kind("STRING")
Kind.INT = Kind("INT")
Kind.FLOAT = Kind("FLOAT")
Kind.NUMBER = Kind("NUMBER")
Kind.BOOL = Kind("BOOL")
Kind.IDENT = Kind("IDENT")
Kind.STRING_LIST = Kind("STRING_LIST")
Kind.IDENT_LIST = Kind("IDENT_LIST")

KIND_WORDS = {
    Kind.STRING: "a string",
    Kind.INT: "an integer",
    Kind.FLOAT: "a number",
    Kind.NUMBER: "a number",
    Kind.BOOL: "a boolean (`true` or `false`)",
    Kind.IDENT: "an identifier",
    Kind.STRING_LIST: "a list of strings",
    Kind.IDENT_LIST: "a list of identifiers",
}


class FieldSpec(Record, compiled=False):
    path: str  # "training.batch_size"; top-level fields have no dot
    kind: Kind
    choices: tuple[str, ...] | None = None  # for identifiers (and lists of them): the allowed values
    aliases: tuple[tuple[str, str], ...] = ()  # value -> what it is called here, for did-you-mean

    @property
    def name(self) -> str:
        return self.path.rpartition(".")[2]

    @property
    def block(self) -> str:
        return self.path.rpartition(".")[0]


METHODS = ("prompt_tuning", "lora", "qlora", "full")
TASKS = ("classification", "generation", "summarization", "extraction", "question_answering")
INIT_METHODS = ("random", "text")
LORA_METHODS = ("lora", "qlora")
URI_SCHEMES = ("s3://", "cos://", "hf://", "https://")
PRECISIONS = ("bf16", "fp16", "fp32")
SCHEDULERS = ("linear", "cosine", "constant", "constant_with_warmup")
OPTIMIZERS = ("adamw", "adamw_8bit", "paged_adamw", "paged_adamw_8bit", "sgd", "adafactor")
CADENCES = ("no", "epoch", "steps")
TRACKERS = ("tensorboard", "wandb", "mlflow")
DATA_FORMATS = ("input_output", "messages")
STRATEGIES = ("ddp", "fsdp", "deepspeed_zero2", "deepspeed_zero3")


def _fields(*specs: FieldSpec) -> dict[str, FieldSpec]:
    return {spec.path: spec for spec in specs}


EXPERIMENT_FIELDS = _fields(
    FieldSpec("model", Kind.STRING),
    FieldSpec("method", Kind.IDENT, METHODS, aliases=(("none", "full"),)),
    FieldSpec("task", Kind.IDENT, TASKS),
    FieldSpec("description", Kind.STRING),
    FieldSpec("output_dir", Kind.STRING),
    FieldSpec("targets", Kind.IDENT_LIST),
    FieldSpec("seed", Kind.INT),
    FieldSpec("data.train", Kind.STRING),
    FieldSpec("data.validation", Kind.STRING),
    FieldSpec("data.input_field", Kind.STRING),
    FieldSpec("data.output_field", Kind.STRING),
    FieldSpec("data.format", Kind.IDENT, DATA_FORMATS),
    FieldSpec("data.messages_field", Kind.STRING),
    FieldSpec("data.chat_template", Kind.STRING),
    FieldSpec("training.batch_size", Kind.INT),
    FieldSpec("training.accumulate_steps", Kind.INT),
    FieldSpec("training.learning_rate", Kind.FLOAT),
    FieldSpec("training.epochs", Kind.INT),
    FieldSpec("training.max_seq_length", Kind.INT),
    FieldSpec("training.max_input_tokens", Kind.INT),
    FieldSpec("training.max_output_tokens", Kind.INT),
    FieldSpec("training.precision", Kind.IDENT, PRECISIONS),
    FieldSpec("training.gradient_checkpointing", Kind.BOOL),
    FieldSpec("training.optimizer", Kind.IDENT, OPTIMIZERS),
    FieldSpec("training.scheduler", Kind.IDENT, SCHEDULERS),
    FieldSpec("training.warmup_steps", Kind.INT),
    FieldSpec("training.warmup_ratio", Kind.FLOAT),
    FieldSpec("training.weight_decay", Kind.FLOAT),
    FieldSpec("training.packing", Kind.BOOL),
    FieldSpec("training.eval_strategy", Kind.IDENT, CADENCES),
    FieldSpec("training.eval_steps", Kind.INT),
    FieldSpec("training.save_strategy", Kind.IDENT, CADENCES),
    FieldSpec("training.save_steps", Kind.INT),
    FieldSpec("training.logging_steps", Kind.INT),
    FieldSpec("training.report_to", Kind.IDENT_LIST, TRACKERS),
    FieldSpec("lora.rank", Kind.INT),
    FieldSpec("lora.alpha", Kind.INT),
    FieldSpec("lora.dropout", Kind.FLOAT),
    FieldSpec("lora.target_modules", Kind.STRING_LIST),
    FieldSpec("lora.use_rslora", Kind.BOOL),
    FieldSpec("lora.use_dora", Kind.BOOL),
    FieldSpec("prompt.init_method", Kind.IDENT, INIT_METHODS),
    FieldSpec("prompt.init_text", Kind.STRING),
    FieldSpec("prompt.num_virtual_tokens", Kind.INT),
    FieldSpec("resources.nodes", Kind.INT),
    FieldSpec("resources.gpus_per_node", Kind.INT),
    FieldSpec("resources.gpu_memory_gb", Kind.NUMBER),
    FieldSpec("resources.image", Kind.STRING),
    FieldSpec("resources.strategy", Kind.IDENT, STRATEGIES),
    FieldSpec("resources.volume", Kind.STRING),
    FieldSpec("resources.mount_path", Kind.STRING),
)

MODEL_FIELDS = _fields(
    FieldSpec("family", Kind.IDENT),
    FieldSpec("layers", Kind.STRING_LIST),
    FieldSpec("default_targets", Kind.STRING_LIST),
    FieldSpec("context_window", Kind.INT),
    FieldSpec("decoder_only", Kind.BOOL),
    FieldSpec("quantized", Kind.BOOL),
    FieldSpec("instruction_tuned", Kind.BOOL),
    FieldSpec("parameters", Kind.NUMBER),
    FieldSpec("hidden_size", Kind.INT),
    FieldSpec("num_layers", Kind.INT),
    FieldSpec("vocab_size", Kind.INT),
    FieldSpec("intermediate_size", Kind.INT),
    FieldSpec("num_key_value_heads", Kind.INT),
    FieldSpec("num_attention_heads", Kind.INT),
    FieldSpec("path", Kind.STRING),
    FieldSpec("methods", Kind.IDENT_LIST, METHODS),
    FieldSpec("hf_id", Kind.STRING),
    FieldSpec("watsonx_id", Kind.STRING),
)

BLOCK_ORDER = ("data", "training", "lora", "prompt", "resources")
# The order of the IR's `spec` (DESIGN.md §1.5): top-level fields around the blocks.
SPEC_ORDER = ("model", "method", "task", "description", *BLOCK_ORDER, "output_dir", "targets", "seed")

# Required after resolution (TS011); a value with no documented default must be written.
REQUIRED_ALWAYS = (
    "model", "method", "data.train", "training.batch_size", "training.accumulate_steps",
    "training.learning_rate", "training.epochs",
)
REQUIRED_BY_METHOD = {
    "lora": ("lora.rank", "lora.alpha", "lora.dropout", "lora.target_modules"),
    "qlora": ("lora.rank", "lora.alpha", "lora.dropout", "lora.target_modules"),
    "prompt_tuning": ("prompt.init_method",),
    "full": (),
}

# Values every experiment gets when it leaves them unset (DESIGN.md §1.4, step 3); those that depend on other
# values are in `compiler/defaults.py`.
LANGUAGE_DEFAULTS = {"data.input_field": "input", "data.output_field": "output", "data.format": "input_output"}


def fields_in(block: str, table: dict[str, FieldSpec] = EXPERIMENT_FIELDS) -> list[str]:
    """The names that may be written directly in `block` ("" for the top of a body): fields and blocks."""
    names = [spec.name for spec in table.values() if spec.block == block]
    if block == "" and table is EXPERIMENT_FIELDS:
        names += list(BLOCK_ORDER)
    return names


def is_uri(path: str) -> bool:
    return path.startswith(URI_SCHEMES)
