"""Fuzzing tunespec: random programs from the grammar, then mutated, through the whole command line.

    python benchmarks/fuzz.py --budget 100000 [--seed 1] [--jobs 2] [--findings DIR]

Each input is a small project (one to four `.tune` files and a data file) written by a generator that knows
the language: every declaration kind, every field of DESIGN.md §1.3 with values of its type (and now and
then of another), strings from a hostile list, numbers at the edges, lists, sweeps, imports (relative,
missing, absolute, outside the project, cyclic), presets extending presets, self-`extends`. Half of the
inputs are then mutated at random: a byte flipped, a token deleted, the text cut short, a slice doubled,
random unicode inserted.

Some inputs also carry the attacks of issue 11: file names that look like options (`-oexperiments.tune`),
hold control characters or bytes that are not UTF-8; a `.tune` file that is a symbolic link out of the
project; data files that are JSON arrays, JSON nested thousands deep, or `/proc/self/status`; blocks nested
past the limit; values with OmegaConf interpolations (`${oc.env:HOME}`) and terminal escapes.

Every input goes through `lint`, `show`, `fmt` and `build` in this process, and must hold these invariants:
- no exception escapes (tunespec turns one into "internal error" and exit 2: that is a finding);
- exit codes are 0 or 1 (2 is for usage errors, which these commands, given files, never make);
- no raw control character (but the line break) reaches the terminal: text, GitHub and `show` output;
- `lint -- FILE...` with every file name given leaves every `.tune` file as it was;
- `fmt` is idempotent and keeps the meaning: the formatted project resolves to the same IR;
- every file `build` writes parses back (`json.loads`, `yaml.safe_load_all`, `ast.parse`, `shlex.split`),
  the `json` target's file is the IR that `show --format json` reports for the variant, and torchtune's
  config, read as OmegaConf reads it, holds the trainer's folder under the variant's `output_dir`.
A finding is written to `--findings` (default benchmarks/.fuzz/) as the project that caused it and the
message; the summary line counts inputs and findings.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import io
import json
import os
import random
import shlex
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

from tunespec.compiler.schema import EXPERIMENT_FIELDS, MODEL_FIELDS, Kind  # noqa: E402
from tunespec.files import STAMP  # noqa: E402

TARGETS = ["yaml", "json", "peft", "fms-hf-tuning", "watsonx", "axolotl", "llama-factory", "torchtune", "kubeflow"]
MODELS = ["ibm/granite-3-1-8b-base", "meta-llama/llama-3-1-8b", "mistralai/Mistral-7B-v0.1", "Qwen/Qwen2.5-7B",
          "meta-llama/llama-3-1-70b-gptq", "ibm/granite-13b-instruct-v2", "google/flan-t5-xl", "granite-8b",
          "no/such-model"]
HOSTILE = [
    "", " ", "plain", 'say "hi"', "it's", "back\\slash", "line\nbreak", "tab\there", "{{ name }}", "{% if x %}",
    "key: value", "# not a comment", "!!python/object:os.system", '"); import os #', "$(rm -rf /)", "`id`",
    "ünïcödé", "\u202eevil", "\u200b", "emoji 😀", "a" * 300, "--flag", "-", "null", "true", "1e5", "~", "&anchor",
    "*alias", "[1, 2]", "{a: b}", "'", '"""', "\r\n", "\x7f", "\u2028", "../../etc/passwd", "s3://bucket/x.jsonl",
    "data/train.jsonl", "C:\\path", "%s %d", "\\u0041",
    # issue 11: interpolations OmegaConf would resolve, terminal escapes, values that make one variant name
    "runs/${oc.env:HOME}", "a\\${b}", "$${x}", "\x1b]0;owned\x07", "\x1b[2J", "\x9bcsi", "\x00nul", "a/b", "a_b",
]
# Attack files of issue 11 (`Generator.attacks`): how each is named and what it holds.
OUTSIDE_LINK = "\x00symlink:"  # a file whose content starts so is written as a symbolic link to the rest
NUMBERS = ["0", "1", "-1", "8", "16", "32", "64", "128", "1_000", "4096", "2e-4", "1e-5", "0.05", "0.0", "1.5", "-0.1",
           "1e308", "3", "100000000000000000000", "5e-324", "7", "2", "512", "2048", "200_000"]
IDENTS = ["lora", "qlora", "full", "prompt_tuning", "none", "generation", "classification", "random", "text",
          "yaml", "json", "peft", "kubeflow", "torchtune", "bogus", "Lora", "granite", "llama"]


def tune_string(text: str, rng: random.Random) -> str:
    """`text` as a .tune string literal (JSON escapes), or now and then a long string when it can be one."""
    if rng.random() < 0.1 and '"""' not in text and not text.endswith('"'):
        return f'"""{text}"""'
    return json.dumps(text, ensure_ascii=rng.random() < 0.3)


class Generator:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.names: list[str] = []
        self.attacked = False  # the project holds the files of an attack of issue 11

    def project(self) -> dict[str, str]:
        rng = self.rng
        count = rng.randint(1, 4)
        paths = [f"f{index}.tune" if rng.random() < 0.7 else f"sub/f{index}.tune" for index in range(count)]
        self.names = [f"n{index}" for index in range(rng.randint(1, 8))]
        files = {}
        for index, path in enumerate(paths):
            parts = [self.comment()] if rng.random() < 0.3 else []
            for other in rng.sample(paths, k=rng.randint(0, min(2, len(paths)))):
                if other != path or rng.random() < 0.1:
                    parts.append(f"import {json.dumps(self.import_path(path, other))}")
            if rng.random() < 0.1:
                parts.append(f"import {json.dumps(rng.choice(['missing.tune', '/abs.tune', '../../out.tune', 'x.txt']))}")
            for _ in range(rng.randint(0, 4)):
                parts.append(self.declaration())
            if rng.random() < 0.5:
                data = "../data/train.jsonl" if path.startswith("sub/") else "data/train.jsonl"
                parts.append(self.valid_experiment(f"v{index}", data))
            files[path] = "\n\n".join(parts) + ("\n" if rng.random() < 0.9 else "")
        files["data/train.jsonl"] = "".join(json.dumps({"input": f"text {i}", "output": "label"}) + "\n"
                                            for i in range(rng.choice([0, 5, 40, 200])))
        if rng.random() < 0.25:
            self.attacks(files)
            self.attacked = True
        return files

    def attacks(self, files: dict[str, str]) -> None:
        """Files of the attacks of issue 11 beside the generated ones."""
        rng = self.rng
        valid = self.valid_experiment(f"w{rng.randrange(100)}", "data/train.jsonl")
        kind = rng.randrange(7)
        if kind == 0:  # a name pre-commit would pass without `--`
            files[rng.choice(["-oexperiments.tune", "--output-file=x.tune", "-o.tune", "--strict.tune"])] = valid
        elif kind == 1:  # control characters and bytes that are not UTF-8 in a file name
            files[rng.choice(["esc\x1b[31m.tune", "bel\x07.tune", "caf\udce9.tune", "rtl\u202e.tune"])] = valid
        elif kind == 2:  # a symbolic link out of the project
            files["outside.tune"] = OUTSIDE_LINK + rng.choice(["/etc/hostname", "/etc/passwd", "/proc/self/status"])
        elif kind == 3:  # data files: a JSON array, JSON nested thousands deep, a /proc file
            depth = rng.choice([10, 2000, 50000])
            files["data/train.json"] = "[" + ", ".join(json.dumps({"input": f"t {i}", "output": "l"}) for i in range(60)) \
                + (", " + "[" * depth + "]" * depth if rng.random() < 0.5 else "") + "]"
            files["data/train.jsonl"] += "[" * depth + "]" * depth + "\n" if rng.random() < 0.3 else ""
            train = rng.choice(["data/train.json", "/proc/self/status", "data/train.jsonl"])
            files["data.tune"] = valid.replace('"data/train.jsonl"', json.dumps(train))
        elif kind == 4:  # blocks nested around the limit of 100
            depth = rng.choice([5, 99, 100, 101, 500])
            files["blocks.tune"] = ("experiment deep {\n" + "".join(f"b{i} {{\n" for i in range(depth)) + "x = 1\n"
                                    + "}\n" * depth + "}\n")
        elif kind == 5:  # values that make one variant name
            files["names.tune"] = valid.replace("  task = classification", '  description = sweep ["a/b", "a_b"]')
        else:  # interpolations in every free-text field, for torchtune (which reads them with OmegaConf)
            files["interpolated.tune"] = (valid.replace('"ibm/granite-3-1-8b-base"', '"meta-llama/llama-3-1-8b"')
                                          .replace("method = full", "method = lora").replace("method = qlora", "method = lora")
                                          .replace("method = prompt_tuning", "method = lora"))

    def import_path(self, importer: str, target: str) -> str:
        if importer.startswith("sub/") and not target.startswith("sub/"):
            return "../" + target
        if not importer.startswith("sub/") and target.startswith("sub/"):
            return target
        return target.rpartition("/")[2]

    def comment(self) -> str:
        return "# " + self.rng.choice(["note", "noqa", "noqa: TS101", "noqa: TS999, TS105", "tunespec", "é"])

    VALID = [("ibm/granite-3-1-8b-base", "lora"), ("meta-llama/llama-3-1-8b", "lora"), ("Qwen/Qwen2.5-7B", "qlora"),
             ("mistralai/Mistral-7B-v0.1", "full"), ("google/flan-t5-xl", "prompt_tuning"),
             ("meta-llama/llama-3-1-70b-gptq", "qlora"), ("ibm/granite-13b-instruct-v2", "prompt_tuning")]

    def valid_experiment(self, name: str, data_path: str) -> str:
        """An experiment most targets can build, with hostile text in its free-text fields."""
        rng = self.rng
        model, method = rng.choice(self.VALID)
        text = lambda: tune_string(rng.choice(HOSTILE), rng)  # noqa: E731
        lines = [f"experiment {name} {{", f'  model = "{model}"', f"  method = {method}",
                 "  task = classification", f"  description = {text()}"]
        if rng.random() < 0.5:
            lines.append(f"  output_dir = {text()}")
        if rng.random() < 0.3:
            lines.append(f"  seed = sweep [1, {rng.randint(2, 9)}]")
        lines += ["  data {", f"    train = {json.dumps(data_path)}"]
        if rng.random() < 0.5:
            lines += [f"    input_field = {text()}", f"    output_field = {text()}"]
        lines += ["  }", "  training {", f"    batch_size = {rng.choice([1, 4, 8])}", "    accumulate_steps = 1",
                  f"    learning_rate = {rng.choice(['1e-4', '2e-4', '3e-5'])}", f"    epochs = {rng.randint(1, 5)}",
                  "    max_seq_length = 1024", "  }"]
        if method in ("lora", "qlora"):
            modules = rng.choice(["[]", '["all-linear"]', '["q_proj", "v_proj"]'])
            lines += ["  lora {", "    rank = 8", "    alpha = 16", "    dropout = 0.05",
                      f"    target_modules = {modules}", "  }"]
        if method == "prompt_tuning":
            lines += ["  prompt {", "    init_method = text", f"    init_text = {text()}", "    num_virtual_tokens = 20", "  }"]
        if rng.random() < 0.5:
            lines += ["  resources {", f"    image = {text()}", f"    gpus_per_node = {rng.choice([1, 2])}", "  }"]
        lines.append("}")
        return "\n".join(lines)

    def declaration(self) -> str:
        rng = self.rng
        kind = rng.choices(["experiment", "preset", "model"], [5, 3, 1])[0]
        if kind == "model":
            model_id = rng.choice(["acme/model-7b", "x", "ibm/granite-3-1-8b-base", rng.choice(HOSTILE)])
            return f"model {tune_string(model_id, rng)} {self.body(MODEL_FIELDS, model=True)}"
        name = rng.choice(self.names)
        extends = f" extends {rng.choice(self.names + ['missing'])}" if rng.random() < 0.5 else ""
        return f"{kind} {name}{extends} {self.body(EXPERIMENT_FIELDS)}"

    def body(self, table: dict, model: bool = False) -> str:
        rng = self.rng
        lines = ["{"]
        paths = list(table)
        chosen = rng.sample(paths, k=rng.randint(0, min(len(paths), 10 if not model else 5)))
        if not model and rng.random() < 0.8:
            chosen = ["model", "method"] + [p for p in chosen if p not in ("model", "method")]
        blocks: dict[str, list[str]] = {}
        for path in chosen:
            block, _, field = path.rpartition(".")
            line = f"{field} = {self.value(table[path], path)}"
            if rng.random() < 0.05:
                line += "  " + self.comment()
            blocks.setdefault(block, []).append(line)
        if rng.random() < 0.05:
            blocks.setdefault(rng.choice(["", "training", "nowhere"]), []).append(f"unknwn = {rng.choice(NUMBERS)}")
        for block, members in blocks.items():
            if block:
                lines.append(f"  {block} {{")
                lines += [f"    {member}" for member in members]
                lines.append("  }")
            else:
                lines += [f"  {member}" for member in members]
        lines.append("}")
        return "\n".join(lines)

    def value(self, spec, path: str) -> str:
        rng = self.rng
        if rng.random() < 0.08:
            return self.any_value()
        if not spec.kind.is_list and rng.random() < 0.12 and path not in ("model", "method"):
            items = [self.scalar(spec, path) for _ in range(rng.randint(0, 4))]
            return f"sweep [{', '.join(items)}]"
        if spec.kind.is_list:
            items = [self.scalar(spec, path) for _ in range(rng.randint(0, 4))]
            trailing = "," if items and rng.random() < 0.3 else ""
            return f"[{', '.join(items)}{trailing}]"
        return self.scalar(spec, path)

    def scalar(self, spec, path: str) -> str:
        rng = self.rng
        kind = spec.kind
        if path == "model":
            return tune_string(rng.choice(MODELS + ["acme/model-7b", "x"]), rng)
        if path in ("data.train", "data.validation"):
            return tune_string(rng.choice(["data/train.jsonl", "../data/train.jsonl", "missing.jsonl",
                                           "s3://bucket/train.jsonl", rng.choice(HOSTILE)]), rng)
        if path == "lora.target_modules":
            return tune_string(rng.choice(["all-linear", "q_proj", "v_proj", "gate_proj", "nonsense", rng.choice(HOSTILE)]), rng)
        if kind in (Kind.STRING, Kind.STRING_LIST):
            return tune_string(rng.choice(HOSTILE), rng)
        if kind in (Kind.INT, Kind.FLOAT, Kind.NUMBER):
            return rng.choice(NUMBERS)
        if kind is Kind.BOOL:
            return rng.choice(["true", "false"])
        choices = list(spec.choices or ()) + (TARGETS if path == "targets" else []) + ["bogus"]
        return rng.choice(choices if rng.random() < 0.9 else IDENTS)

    def any_value(self) -> str:
        rng = self.rng
        shape = rng.randint(0, 4)
        if shape == 0:
            return tune_string(rng.choice(HOSTILE), rng)
        if shape == 1:
            return rng.choice(NUMBERS)
        if shape == 2:
            return rng.choice(["true", "false"] + IDENTS)
        if shape == 3:
            depth = rng.choice([1, 2, 5, 50])
            return "[" * depth + rng.choice(NUMBERS) + "]" * depth
        return f"sweep [sweep [{rng.choice(NUMBERS)}]]"


# --- mutation ------------------------------------------------------------------------------------------

def mutate(text: str, rng: random.Random) -> str:
    """One mutation of the file's text. A byte flip works on the UTF-8 bytes and may leave them invalid:
    such bytes are carried as lone surrogates (`surrogateescape`) and written back as they were."""
    if not text:
        return rng.choice(["{", "\x00", "é", "\"", "experiment"])
    how = rng.randrange(7)
    where = rng.randrange(len(text))
    if how == 0:  # flip one character's bits
        flipped = chr(ord(text[where]) ^ (1 << rng.randrange(7)))
        return text[:where] + flipped + text[where + 1:]
    if how == 6:  # flip one bit of one byte
        data = bytearray(text.encode("utf-8", errors="surrogateescape"))
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        return bytes(data).decode("utf-8", errors="surrogateescape")
    if how == 1:  # delete a token (a run of word characters, or one other character)
        end = where + 1
        while end < len(text) and (text[end].isalnum() or text[end] == "_") and text[where].isalnum():
            end += 1
        return text[:where] + text[end:]
    if how == 2:  # cut short
        return text[:where]
    if how == 3:  # duplicate a slice
        end = min(len(text), where + rng.randint(1, 80))
        return text[:end] + text[where:end] + text[end:]
    if how == 4:  # random unicode
        pieces = [chr(rng.choice([0, 9, 10, 13, 34, 35, 92, 123, 125, 0x85, 0x2028, 0x202E, 0xFEFF, 0xFFFD,
                                  rng.randrange(0x20, 0x3000)])) for _ in range(rng.randint(1, 5))]
        return text[:where] + "".join(pieces) + text[where:]
    return text[:where] + rng.choice(["{", "}", "[", "]", "=", ",", "sweep", "extends", '"', '"""', "#"]) + text[where:]


# --- running one input ---------------------------------------------------------------------------------

class Finding(Exception):
    pass


def call(*argv: str) -> tuple[int, str, str]:
    from tunespec.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as exit:  # argparse
            code = exit.code if isinstance(exit.code, int) else 2
    return code, out.getvalue(), err.getvalue()


def checked(command: str, *argv: str) -> tuple[int, str, str]:
    code, out, err = call(command, *argv)
    if code not in (0, 1):
        raise Finding(f"`{command}` exited {code}: {err.strip()[-2000:]}")
    return code, out, err


def write_project(folder: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if text.startswith(OUTSIDE_LINK):
            os.symlink(text[len(OUTSIDE_LINK):], path)
            continue
        path.write_bytes(text.encode("utf-8", errors="surrogateescape"))


def raw_controls(text: str) -> bool:
    """Whether text for a terminal holds a character the terminal would act on (the line break aside)."""
    return any((ord(char) < 32 and char != "\n") or 0x7f <= ord(char) <= 0x9f or 0x202a <= ord(char) <= 0x202e
               for char in text)


def checked_terminal(command: str, *argv: str) -> tuple[int, str, str]:
    code, out, err = checked(command, *argv)
    if raw_controls(out) or raw_controls(err):
        raise Finding(f"`{command} {' '.join(argv)}` printed a raw control character: {(out + err)[-500:]!r}")
    return code, out, err


def resolved_ir(folder: str) -> list:
    """The IR of every variant (`show --format json` without provenance, which names lines and columns)."""
    shown = checked("show", "--format", "json", folder)[1]
    return [item["ir"] for item in json.loads(shown)] if shown.strip() else []


def check_input(files: dict[str, str], work: Path, attacked: bool = False) -> bool:
    """Run the commands over one project; True when `build` wrote (or found up to date) some file."""
    project = work / "p"
    if project.exists():
        shutil.rmtree(project)
    project.mkdir()
    (project / "tunespec.toml").write_text("max-variants = 64\n")
    write_project(project, files)
    os.chdir(project)
    checked("lint", "--format", "json", "--jobs", "1", ".")
    checked_terminal("lint", "--jobs", "1", ".")
    if attacked:  # (only then: each command more costs a fifth of the inputs per second)
        checked_terminal("lint", "--format", "github", "--jobs", "1", ".")
        checked_terminal("show", ".")
        check_files_named_like_options(project)
    ir_before = resolved_ir(".")
    check_fmt(project)
    ir_after = resolved_ir(".")
    if ir_before != ir_after:
        raise Finding("fmt changed the meaning: `show --format json` differs before and after")
    return check_build(project)


def check_files_named_like_options(project: Path) -> None:
    """Every file name given after `--`, as the pre-commit hooks give them: no file changes."""
    names = sorted(str(p.relative_to(project)) for p in project.rglob("*.tune") if not p.is_symlink())
    before = {name: (project / name).read_bytes() for name in names}
    checked("lint", "--format", "json", "--jobs", "1", "--", *names)
    checked("fmt", "--check", "--", *names)
    changed = [name for name in names if (project / name).read_bytes() != before[name]]
    if changed or any(p.name.startswith("x.tune") for p in project.iterdir()):
        raise Finding(f"lint or fmt --check changed {changed}")


def check_fmt(project: Path) -> None:
    checked_terminal("fmt", "--check", ".")
    checked("fmt", ".")
    first = {p: p.read_bytes() for p in sorted(project.rglob("*.tune")) if not p.is_symlink()}
    _, out, _ = checked("fmt", "--check", ".")
    if "would reformat" in out:
        raise Finding(f"fmt is not idempotent: after one fmt, `fmt --check` says: {out.strip()[-500:]}")
    if {p: p.read_bytes() for p in sorted(project.rglob("*.tune")) if not p.is_symlink()} != first:
        raise Finding("fmt is not idempotent: a second fmt changed files")


def check_build(project: Path) -> bool:
    checked("build", "--target", ",".join(TARGETS), "--out", "out", "--jobs", "1", ".")
    out_folder = project / "out"
    if not out_folder.exists():
        return False
    documents: dict[str, list[dict]] = {}
    for ir in resolved_ir("."):  # two files may declare one name (TS010); build writes the one without errors
        documents.setdefault(ir["metadata"]["name"], []).append(ir)
    for path in sorted(out_folder.rglob("*")):
        if not path.is_file() or path.name == STAMP:  # the stamp is tunespec's bookkeeping, not a target's file
            continue
        if ".tunespec-tmp-" in path.name:
            raise Finding(f"a temporary file was left behind: {path}")
        text = path.read_text(encoding="utf-8")
        try:
            if path.suffix == ".json":
                data = json.loads(text)
            elif path.suffix == ".yaml":
                import yaml

                list(yaml.safe_load_all(text))
                data = None
            elif path.suffix == ".py":
                ast.parse(text)
                data = None
            else:
                for line in text.splitlines():
                    if line.strip() and not line.lstrip().startswith("#"):
                        shlex.split(line)
                data = None
        except Exception as error:  # noqa: BLE001 - any failure to parse back is the finding
            raise Finding(f"{path.relative_to(project)} does not parse back: {type(error).__name__}: {error}")
        variant, target = path.parent.parent.name, path.parent.name
        if target == "json" and variant in documents and data not in documents[variant]:
            raise Finding(f"{path.relative_to(project)} is not the IR `show` reports")
        if target == "torchtune" and path.name == "config.yaml" and variant in documents:
            from tunespec.compiler.ir import run_folder_of
            from tunespec.templates.render import parse_back

            read = parse_back(text, "omegaconf")["output_dir"]
            # the trainer's own folder, <output_dir>/<variant>/<target>
            folders = [f"{run_folder_of(ir['spec'].get('output_dir'), ir['metadata']['name'], ir['metadata']['experiment'])}"
                       f"/{target}" for ir in documents[variant]]
            if read not in folders:
                raise Finding(f"{path.relative_to(project)}: OmegaConf would read output_dir as {read!r}")
    return True


# --- the campaign --------------------------------------------------------------------------------------

def one(seed: int, work: Path) -> tuple[str | None, str]:
    """Run input number `seed`: (the finding's text or None, what kind of input it was)."""
    rng = random.Random(seed)
    generator = Generator(rng)
    files = generator.project()
    mutated = rng.random() < 0.5
    if mutated:
        name = rng.choice([n for n in files if n.endswith(".tune")])
        for _ in range(rng.randint(1, 3)):
            files[name] = mutate(files[name], rng)
    kind = "mutated" if mutated else "generated"
    try:
        built = check_input(files, work, generator.attacked)
        return None, kind + (", built" if built else "")
    except Finding as finding:
        return f"{finding}", kind
    except Exception:  # noqa: BLE001 - TUNESPEC_DEBUG lets tunespec's own exceptions reach here
        return "exception: " + traceback.format_exc()[-3000:], kind
    finally:
        os.chdir(work)


def worker(arguments: tuple[int, int, int, str]) -> tuple[list[tuple[int, str]], dict[str, int]]:
    start, stop, step, findings_dir = arguments
    os.environ["TUNESPEC_DEBUG"] = "1"
    work = Path(tempfile.mkdtemp(prefix="tunespec-fuzz-"))
    found, kinds = [], {}
    try:
        for count, seed in enumerate(range(start, stop, step), 1):
            message, kind = one(seed, work)
            kinds[kind] = kinds.get(kind, 0) + 1
            if count % 2000 == 0:
                print(f"worker from seed {start}: {count} inputs, {len(found)} findings", file=sys.stderr, flush=True)
            if message is not None:
                found.append((seed, message))
                save(Path(findings_dir), seed, message)
    finally:
        os.chdir(HERE)
        shutil.rmtree(work, ignore_errors=True)
    return found, kinds


def save(folder: Path, seed: int, message: str) -> None:
    """The reproducer: the seed (the project is `Generator(Random(seed))`, then mutated) and the message."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"seed-{seed}.txt").write_text(f"python benchmarks/fuzz.py --replay {seed}\n\n{message}\n")


def replay(seed: int) -> int:
    work = Path(tempfile.mkdtemp(prefix="tunespec-fuzz-"))
    os.environ["TUNESPEC_DEBUG"] = "1"
    message, _ = one(seed, work)
    project = work / "p"
    print(f"project kept in {project}")
    print(message or "no finding")
    return 1 if message else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--budget", type=int, default=2000, help="how many inputs to try")
    parser.add_argument("--seed", type=int, default=0, help="the first input's number")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--findings", default=str(HERE / ".fuzz"), help="where reproducers are written")
    parser.add_argument("--replay", type=int, metavar="SEED", help="run one input again, keeping its project")
    args = parser.parse_args(argv)
    if args.replay is not None:
        return replay(args.replay)
    started = time.perf_counter()
    chunks = [(args.seed + offset, args.seed + args.budget, args.jobs, args.findings) for offset in range(args.jobs)]
    if args.jobs > 1:
        import multiprocessing

        with multiprocessing.get_context("fork").Pool(args.jobs) as pool:
            parts = pool.map(worker, chunks)
    else:
        parts = [worker(chunks[0])]
    results = [item for found, _ in parts for item in found]
    kinds: dict[str, int] = {}
    for _, counted in parts:
        for kind, count in counted.items():
            kinds[kind] = kinds.get(kind, 0) + count
    elapsed = time.perf_counter() - started
    print("inputs: " + ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items())))
    for seed, message in sorted(results)[:20]:
        print(f"seed {seed}: {message.splitlines()[0] if message else ''}")
    print(f"{args.budget} inputs in {elapsed:.0f} s ({args.budget / elapsed:.0f}/s): {len(results)} findings"
          + (f", reproducers in {args.findings}" if results else ""))
    return 1 if results else 0


if __name__ == "__main__":
    raise SystemExit(main())
