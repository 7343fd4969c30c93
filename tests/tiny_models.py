"""Tiny randomly initialised models, a tokenizer and data sets, made offline for the training tests.

Nothing is downloaded: the tokenizer is a byte-level BPE trained here with `tokenizers` on the words of the
data sets, and the models are built from a config with `transformers` and random weights (seeded). They
are small enough that a run of a few epochs takes seconds on one CPU core, and real enough that every
backend loads them as it loads a checkpoint from the Hub (`config.json`, `model.safetensors`, tokenizer
files, in one folder).

The weights are stored in bf16, as most checkpoints on the Hub are (LLaMA-Factory, for one, keeps the frozen
weights in the checkpoint's dtype). Imported only by tests that need torch; the module itself imports
nothing heavy at import time.
"""

from __future__ import annotations

import json
from pathlib import Path

# A chat template in the chatml style: every turn ends with the EOS token, so a model trained on chat data
# learns to stop. `{% generation %}` marks what the assistant says (TRL's assistant-only loss reads it).
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>\n' }}"
    "{% if message['role'] == 'assistant' %}{% generation %}{{ message['content'] + eos_token }}{% endgeneration %}"
    "{% else %}{{ message['content'] + eos_token }}{% endif %}"
    "{{ '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"
)
SPECIAL_TOKENS = ["<pad>", "</s>", "<s>", "<unk>", "<|user|>", "<|assistant|>", "<|system|>"]
PAD, EOS, BOS, UNK = SPECIAL_TOKENS[:4]
EOS_ID = SPECIAL_TOKENS.index(EOS)  # special tokens take the first ids, in order

LABELS = ["billing", "shipping", "login", "refund"]
SUBJECTS = ["invoice", "parcel", "password", "money", "account", "order", "card", "address"]
PROBLEMS = ["is wrong", "never arrived", "does not work", "was charged twice", "is late", "is missing"]


def records(count: int, offset: int = 0) -> list[dict[str, str]]:
    """Input/output records. The input ends with `Category:` and the output starts with a space, so every
    backend joins them into the same text whatever separator rule it applies."""
    result = []
    for index in range(offset, offset + count):
        subject = SUBJECTS[index % len(SUBJECTS)]
        problem = PROBLEMS[(index // len(SUBJECTS)) % len(PROBLEMS)]
        label = LABELS[index % len(LABELS)]
        result.append({"input": f"Ticket {index}: my {subject} {problem}.\nCategory:", "output": f" {label}"})
    return result


def chat_records(count: int, offset: int = 0) -> list[dict]:
    """The same examples as chat conversations (`messages`: a user turn and an assistant turn). They keep
    their `input` and `output` too, which the backends ignore for chat data: tunespec's data rules (TS403)
    still ask for them when `data.format = messages`."""
    return [{"messages": [{"role": "user", "content": r["input"]}, {"role": "assistant", "content": r["output"].strip()}],
             **r} for r in records(count, offset)]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def corpus() -> list[str]:
    texts = [r["input"] + r["output"] for r in records(96)]
    return texts * 4


def build_tokenizer(folder: Path):
    """A byte-level BPE tokenizer (no BOS added, EOS `</s>`, pad `<pad>` = id 0, a chat template)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE(unk_token=UNK))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=384, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train_from_iterator(corpus(), trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token=BOS, eos_token=EOS, pad_token=PAD,
                                   unk_token=UNK, model_max_length=256, padding_side="right")
    fast.chat_template = CHAT_TEMPLATE
    assert fast.eos_token_id == EOS_ID and fast.pad_token_id == 0
    fast.save_pretrained(folder)
    portable_tokenizer_config(folder)
    return fast


def portable_tokenizer_config(folder: Path) -> None:
    """Readable by transformers 4.55 and 5.x alike: 5.x writes its own class name (`TokenizersBackend`),
    which 4.55 does not know, and keeps the chat template in a file of its own, which older readers miss."""
    path = folder / "tokenizer_config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    config["tokenizer_class"] = "PreTrainedTokenizerFast"
    config["chat_template"] = CHAT_TEMPLATE
    path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")


def build_llama(folder: Path, tokenizer) -> Path:
    """A two-layer Llama (grouped-query attention, gated MLP): the layer names of the llama family. Its
    widths are multiples of 64, the block size of bitsandbytes' 4-bit quantization on the CPU."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=256, tie_word_embeddings=False,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    model = LlamaForCausalLM(config).to(torch.bfloat16)  # as checkpoints on the Hub are
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    portable_tokenizer_config(folder)
    return folder


def build_t5(folder: Path, tokenizer) -> Path:
    """A two-layer T5 v1.1 (gated-gelu: wi_0, wi_1), as flan-t5 is built."""
    import torch
    from transformers import T5Config, T5ForConditionalGeneration

    torch.manual_seed(0)
    config = T5Config(
        vocab_size=len(tokenizer), d_model=32, d_kv=8, d_ff=64, num_layers=2, num_decoder_layers=2, num_heads=4,
        feed_forward_proj="gated-gelu", tie_word_embeddings=False, dropout_rate=0.0,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.pad_token_id,
    )
    model = T5ForConditionalGeneration(config).to(torch.bfloat16)
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    portable_tokenizer_config(folder)
    return folder


def build_all(root: Path) -> dict[str, Path]:
    """{"llama": folder, "t5": folder} under `root`, each a complete local checkpoint."""
    tokenizer = build_tokenizer(root / "tokenizer")
    return {"llama": build_llama(root / "tiny-llama", tokenizer), "t5": build_t5(root / "tiny-t5", tokenizer)}


# --- a Llama 3 layout, for torchtune ------------------------------------------------------------------------

# The special tokens torchtune's Llama 3 tokenizer requires (torchtune/models/llama3/_tokenizer.py), with the
# small ids of a tiny vocabulary (read from tokenizer.json's added tokens: `special_tokens_path`).
LLAMA3_SPECIAL_TOKENS = ["<|begin_of_text|>", "<|end_of_text|>", "<|finetune_right_pad_id|>", "<|step_id|>",
                         "<|start_header_id|>", "<|end_header_id|>", "<|eom_id|>", "<|eot_id|>", "<|python_tag|>",
                         "<|image|>"]
# What the torchtune test tells `tune run` about this checkpoint (torchtune's builders take the architecture
# as arguments; the catalog's builder is Llama 3.1 8B's).
LLAMA3_ARCHITECTURE = {"vocab_size": 384, "num_layers": 2, "num_heads": 4, "num_kv_heads": 2, "embed_dim": 64,
                       "max_seq_len": 256, "intermediate_dim": 128, "norm_eps": 1e-5, "rope_base": 500000}


def build_llama3_layout(folder: Path) -> Path:
    """A tiny Llama with a Llama 3 checkpoint's layout: model.safetensors and config.json, tokenizer.json,
    and original/tokenizer.model, the tiktoken ranks torchtune's tokenizer reads (each token's bytes, ranked
    by id: a byte-level BPE's ids follow its merges)."""
    import base64

    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=LLAMA3_ARCHITECTURE["vocab_size"], special_tokens=LLAMA3_SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train_from_iterator(corpus(), trainer)
    (folder / "original").mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(folder / "tokenizer.json"))
    to_byte = {character: byte for byte, character in _bytes_to_unicode().items()}
    ranks = [f"{base64.b64encode(bytes(to_byte[c] for c in token)).decode()} {index}"
             for token, index in sorted(tokenizer.get_vocab().items(), key=lambda item: item[1])
             if token not in LLAMA3_SPECIAL_TOKENS]
    (folder / "original" / "tokenizer.model").write_text("\n".join(ranks) + "\n", encoding="utf-8")
    architecture = LLAMA3_ARCHITECTURE
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=architecture["vocab_size"], hidden_size=architecture["embed_dim"],
        intermediate_size=architecture["intermediate_dim"], num_hidden_layers=architecture["num_layers"],
        num_attention_heads=architecture["num_heads"], num_key_value_heads=architecture["num_kv_heads"],
        max_position_embeddings=architecture["max_seq_len"], rms_norm_eps=architecture["norm_eps"],
        rope_theta=float(architecture["rope_base"]), tie_word_embeddings=False,
        bos_token_id=LLAMA3_SPECIAL_TOKENS.index("<|begin_of_text|>"),
        eos_token_id=LLAMA3_SPECIAL_TOKENS.index("<|end_of_text|>"),
    )
    LlamaForCausalLM(config).to(torch.bfloat16).save_pretrained(folder, safe_serialization=True)
    return folder


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's map of bytes to the printable characters byte-level BPE vocabularies are written in."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    characters = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            characters.append(256 + extra)
            extra += 1
    return dict(zip(printable, map(chr, characters)))
