"""`tunespec import` over the example configs the trainers' own repositories ship, written up in
docs/import.md (between its `survey` markers): how many import with nothing lost, and which keys are lost
most often, and why.

    python benchmarks/import_survey.py axolotl=PATH llama-factory=PATH fms-hf-tuning=PATH torchtune=PATH

Each PATH is a checkout of that project (git's work tree, or an unpacked archive with `--commit NAME=SHA`);
nothing of them is copied. Each config is imported as its trainer runs it: from the checkout's root (where
LLaMA-Factory finds `data/dataset_info.json`). The files looked at per project:
- axolotl: examples/**/*.y*ml
- llama-factory: examples/**/*.{yaml,yml,json} (accelerate and DeepSpeed files among them)
- fms-hf-tuning: examples/** and the configs under tests/ (build/, artifacts/predefined_data_configs/,
  artifacts/testdata/trainercontroller/), plus the sft_trainer JSON examples in its Markdown files and
  the config.json a Kubernetes ConfigMap of examples/ carries (fms-hf-tuning documents its configs there)
- torchtune: recipes/configs/**/*.yaml
Every output is also linted: findings of the language (TS0xx) other than TS011 (a required value the
config could not give) and TS013 (a model the catalog lacks) would be a bug of the importer.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tunespec.api import lint_text  # noqa: E402
from tunespec.config import Config  # noqa: E402
from tunespec.importer.run import BACKENDS, ConfigProblem, import_config  # noqa: E402

TITLES = {"axolotl": "Axolotl", "llama-factory": "LLaMA-Factory", "fms-hf-tuning": "fms-hf-tuning",
          "torchtune": "torchtune"}
REPOSITORIES = {"axolotl": "axolotl-ai-cloud/axolotl", "llama-factory": "hiyouga/LLaMA-Factory",
                "fms-hf-tuning": "foundation-model-stack/fms-hf-tuning", "torchtune": "pytorch/torchtune"}
SUFFIXES = (".yaml", ".yml", ".json")
JSON_BLOCK = re.compile(r"```json\n(.*?)```", re.S)
SHELL_BLOCK = re.compile(r"```(?:bash|sh|shell)\n(.*?)```", re.S)
START, END = "<!-- survey:start -->", "<!-- survey:end -->"
TOP = 25


def files(project: str, root: Path, scratch: Path) -> list[Path]:
    """The files of `project` the survey imports (extracted ones are written under `scratch`)."""
    if project == "axolotl":
        return _under(root, "examples", (".yaml", ".yml"))
    if project == "llama-factory":
        return _under(root, "examples", SUFFIXES)
    if project == "torchtune":
        return _under(root, "recipes/configs", (".yaml", ".yml"))
    found = _under(root, "examples", SUFFIXES)
    for folder in ("build", "artifacts/predefined_data_configs", "artifacts/testdata/trainercontroller"):
        found += _under(root, f"tests/{folder}", SUFFIXES)
    return [*(path for path in found if not _config_map(path, scratch)), *_config_maps(found, scratch),
            *_markdown_configs(root, scratch)]


def _under(root: Path, folder: str, suffixes: tuple) -> list[Path]:
    return sorted(path for path in (root / folder).rglob("*") if path.suffix in suffixes and path.is_file())


def _config_map(path: Path, scratch: Path | None = None) -> bool:
    return path.suffix != ".json" and "kind: ConfigMap" in path.read_text(encoding="utf-8", errors="replace")


def _config_maps(found: list[Path], scratch: Path) -> list[Path]:
    import yaml

    extracted = []
    for path in found:
        if not _config_map(path, scratch):
            continue
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if isinstance(document, dict) and document.get("kind") == "ConfigMap":
                for name, text in (document.get("data") or {}).items():
                    if name.endswith(".json"):
                        extracted.append(_write(scratch, f"{path.name}#{name}", text))
    return extracted


def _markdown_configs(root: Path, scratch: Path) -> list[Path]:
    """sft_trainer's configs in the Markdown files: JSON blocks (their `$MODEL_PATH` placeholders quoted, their
    `//` comments dropped) and `sft_trainer` command lines (`--key value` pairs as JSON, as sft_trainer reads
    either)."""
    extracted = []
    for path in sorted([root / "README.md", *(root / "docs").glob("*.md")]):
        text = path.read_text(encoding="utf-8")
        for index, block in enumerate(JSON_BLOCK.findall(text)):
            if '"model_name_or_path"' in block and block.lstrip().startswith("{"):
                block = re.sub(r"//[^\n]*", "", re.sub(r":\s*(\$[A-Z_]+)", r': "\1"', block))
                extracted.append(_write(scratch, f"{path.name}#json{index + 1}.json", block))
        for index, block in enumerate(SHELL_BLOCK.findall(text)):
            config = _command_line(block)
            if config is not None:
                extracted.append(_write(scratch, f"{path.name}#command{index + 1}.json", json.dumps(config, indent=2)))
    return extracted


def _command_line(block: str) -> dict | None:
    import shlex

    joined = re.sub(r"\\[ \t]*(#[^\n]*)?\n", " ", block)  # continuations (and comments after them)
    for line in joined.splitlines():
        if "sft_trainer" not in line or "--model_name_or_path" not in line:
            continue
        try:
            words = shlex.split(line, comments=True)
        except ValueError:
            return None
        config, key = {}, None
        for word in words[words.index(next(w for w in words if "sft_trainer" in w)) + 1:]:
            if word.startswith("--"):
                key = word[2:].rstrip(":")
                config[key] = True
            elif key is not None:  # a value; several make a list (argparse's nargs="+")
                try:
                    value = json.loads(word)
                except ValueError:
                    value = word
                previous = config[key]
                config[key] = value if previous is True else [*previous, value] if isinstance(previous, list) \
                    else [previous, value]
        return config
    return None


def _write(scratch: Path, name: str, text: str) -> Path:
    path = scratch / name
    path.write_text(text, encoding="utf-8")
    return path


# --- the survey ------------------------------------------------------------------------------------------------

class Tally:
    def __init__(self) -> None:
        self.files = 0
        self.configs = 0
        self.clean = 0
        self.same_training = 0  # only keys lost that do not change what is trained
        self.refused: collections.Counter = collections.Counter()
        self.keys: collections.Counter = collections.Counter()  # configs losing the key
        self.reasons: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        self.kinds: dict[str, str] = {}
        self.lost_counts: list[int] = []
        self.training_lost: list[frozenset] = []  # per config: the keys lost that change what is trained
        self.lint_bugs: list[str] = []
        self.crashes: list[str] = []


def survey(project: str, root: Path, scratch: Path) -> Tally:
    tally = Tally()
    for path in files(project, root, scratch):
        tally.files += 1
        display = str(path.relative_to(root)) if path.is_relative_to(root) else f"{path.name} (extracted)"
        try:
            result = import_config(path, display=display, root=root, folder=root)
        except ConfigProblem as problem:
            tally.refused[_kind_of_refusal(problem.message)] += 1
            continue
        except Exception as error:  # the survey reports it: it is a bug
            tally.crashes.append(f"{display}: {type(error).__name__}: {error}")
            continue
        _count(tally, result, display, root)
    return tally


def _kind_of_refusal(message: str) -> str:
    if message.startswith("cannot tell"):
        return "no trainer's keys (accelerate, DeepSpeed, data or controller configs)"
    if message.startswith("this config could be"):
        return "keys of two trainers"
    if message.startswith("invalid") or "not a mapping" in message or "is empty" in message:
        return "not a single YAML or JSON mapping"
    return message.split(":")[0].replace("this is ", "")


def _count(tally: Tally, result, display: str, root: Path) -> None:
    tally.configs += 1
    tally.lost_counts.append(len(result.lost))
    if not result.lost:
        tally.clean += 1
    if all(item.kind != "training" for item in result.lost):
        tally.same_training += 1
    tally.training_lost.append(frozenset(_general(item.name) for item in result.lost if item.kind == "training"))
    for name in {_general(item.name) for item in result.lost}:
        tally.keys[name] += 1
    for item in result.lost:
        tally.reasons[_general(item.name)][item.reason] += 1
        tally.kinds[_general(item.name)] = item.kind
    diagnostics = lint_text(result.text, root / "imported.tune", Config(ignore=["TS401"])).diagnostics
    wrong = sorted({d.code for d in diagnostics if d.code < "TS100" and d.code not in ("TS011", "TS013")})
    if wrong:
        tally.lint_bugs.append(f"{display}: {', '.join(wrong)}")


def _general(name: str) -> str:
    return re.sub(r"\[\d+\]", "[i]", name) if not name.startswith("datasets[0]") else name


# --- the write-up ------------------------------------------------------------------------------------------------

def report(tallies: dict[str, Tally], commits: dict[str, str]) -> str:
    lines = ["| project (commit) | files | training configs imported | nothing lost | nothing lost that changes "
             "what is trained | keys lost per config (median) | not training configs |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for project, tally in tallies.items():
        refused = "; ".join(f"{count} {kind}" for kind, count in tally.refused.most_common()) or "—"
        median = sorted(tally.lost_counts)[len(tally.lost_counts) // 2] if tally.lost_counts else 0
        lines.append(f"| {TITLES[project]} ({commits.get(project, '?')[:10]}) | {tally.files} | {tally.configs} | "
                     f"{tally.clean} | {tally.same_training} | {median} | {refused} |")
    total = Tally()
    for tally in tallies.values():
        total.configs += tally.configs
        total.clean += tally.clean
        total.same_training += tally.same_training
    lines += ["", f"In all: {total.configs} training configs, {total.clean} imported with nothing lost, "
                  f"{total.same_training} with nothing lost that changes what is trained (only keys of housekeeping "
                  "— where logs, caches and checkpoints go, how the run is watched — or of performance — kernels, "
                  "attention implementations, sharding details — were lost)."]
    crashes = [crash for tally in tallies.values() for crash in tally.crashes]
    bugs = [bug for tally in tallies.values() for bug in tally.lint_bugs]
    lines += ["", f"Tracebacks: {len(crashes)}. Outputs with findings of the language other than TS011 and TS013: "
                  f"{len(bugs)}."]
    lines += [f"- {line}" for line in crashes + bugs]
    for project, tally in tallies.items():
        lines += ["", f"### {TITLES[project]}", "", "Keys that, made expressible one after the other (each the one "
                  "that completes most configs), would let these configs import with nothing lost that changes "
                  "what is trained:", ""]
        lines += [f"{index}. `{key}`: {clean} configs" for index, (key, clean) in enumerate(greedy(tally), 1)]
        lines += ["", f"The {TOP} keys lost most often:", "",
                  "| key | configs | changes | why (the most common reason) |", "|---|---:|---|---|"]
        for name, count in sorted(tally.keys.items(), key=lambda item: (-item[1], item[0]))[:TOP]:
            reason = min(tally.reasons[name].items(), key=lambda item: (-item[1], item[0]))[0]
            lines.append(f"| `{name}` | {count} | {tally.kinds[name]} | {reason.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


def greedy(tally: Tally, steps: int = 8) -> list[tuple[str, int]]:
    """(key, configs with nothing lost that changes training once it and the keys before it are expressible)."""
    remaining = [set(keys) for keys in tally.training_lost]
    chosen = []
    for _ in range(steps):
        candidates = collections.Counter(key for keys in remaining for key in keys)
        if not candidates:
            break
        completes = collections.Counter(next(iter(keys)) for keys in remaining if len(keys) == 1)
        key = max(candidates, key=lambda k: (completes[k], candidates[k], k))
        for keys in remaining:
            keys.discard(key)
        chosen.append((key, sum(1 for keys in remaining if not keys)))
    return chosen


def commit_of(root: Path, given: dict[str, str], project: str) -> str:
    if project in given:
        return given[project]
    try:
        return subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkouts", nargs="+", metavar="NAME=PATH", help=f"NAME one of {', '.join(BACKENDS)}")
    parser.add_argument("--commit", action="append", default=[], metavar="NAME=SHA",
                        help="the commit of a checkout that is not a git work tree")
    parser.add_argument("--docs", default=str(HERE.parent / "docs" / "import.md"), help="the page to update")
    args = parser.parse_args()
    roots = dict(item.split("=", 1) for item in args.checkouts)
    commits = dict(item.split("=", 1) for item in args.commit)
    unknown = set(roots) - set(BACKENDS)
    if unknown:
        parser.error(f"unknown project {', '.join(sorted(unknown))}")
    tallies = {}
    with tempfile.TemporaryDirectory() as scratch:
        for project in BACKENDS:
            if project in roots:
                root = Path(roots[project]).resolve()
                folder = Path(scratch) / project
                folder.mkdir()
                tallies[project] = survey(project, root, folder)
                commits[project] = commit_of(root, commits, project)
                print(f"{project}: {tallies[project].configs} configs, {tallies[project].clean} with nothing lost",
                      file=sys.stderr)
    text = report(tallies, commits)
    page = Path(args.docs)
    current = page.read_text(encoding="utf-8")
    before, _, rest = current.partition(START)
    _, _, after = rest.partition(END)
    page.write_text(f"{before}{START}\n{text}{END}{after}", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
