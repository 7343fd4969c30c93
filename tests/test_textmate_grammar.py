"""The TextMate grammar (`editors/vscode/syntaxes/tune.tmLanguage.json`), tokenised by vscode-textmate and
vscode-oniguruma under node — the engine VS Code runs — over every example and fixture; and the VS Code
extension that declares it."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.editor_samples import LONG, LONG_ESCAPES, LONG_NUMBERS, TUNE_FILES

NODE = shutil.which("node")
VSCODE = REPO / "editors" / "vscode"
TEST_DIR = VSCODE / "test"
needs_node = pytest.mark.skipif(NODE is None, reason="node is not installed: the grammar is tokenised by "
                                                     "vscode-textmate under node")
BAD = {
    "number": "experiment e { seed = 8b }\n",
    "colon": "experiment e { task: lora }\n",
    "quote": "experiment e { task = 'lora' }\n",
    "escape": 'experiment e { description = "bad \\x escape" }\n',
}


def run_node(*args: str) -> str:
    result = subprocess.run([NODE, *args], cwd=TEST_DIR, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def tokenised(tmp_path_factory) -> dict[str, dict]:
    """Every example and fixture, and the samples below, tokenised in one run of node."""
    if not (TEST_DIR / "node_modules" / "vscode-textmate").is_dir():
        pytest.fail("vscode-textmate is not installed: run `npm ci --prefix editors/vscode/test` (.ci/run does)")
    samples = tmp_path_factory.mktemp("samples")
    for name, text in {"long": LONG, **BAD}.items():
        (samples / f"{name}.tune").write_text(text, encoding="utf-8")
    files = [*map(str, TUNE_FILES), *(str(samples / f"{name}.tune") for name in ["long", *BAD])]
    found = json.loads(run_node("tokenize.mjs", *files))
    return {Path(name).stem if name.startswith(str(samples)) else name: value for name, value in found.items()}


def scopes_by_character(file: dict) -> dict[tuple[int, int], list[str]]:
    return {(token["line"], column): token["scopes"] for token in file["tokens"]
            for column in range(token["start"], token["end"])}


@needs_node
@pytest.mark.parametrize("path", TUNE_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_example_and_fixture_tokenises_with_a_scope_for_each_character_and_none_invalid(tokenised, path):
    file = tokenised[str(path)]
    scopes = scopes_by_character(file)
    for number, line in enumerate(file["lines"]):
        for column, char in enumerate(line):
            if not char.isspace():
                assert len(scopes[(number, column)]) > 1, (number + 1, column + 1, line)
    assert not [s for found in scopes.values() for s in found if s.startswith("invalid")]
    assert file["depth"] == 1  # nothing left open at the end of the file


@needs_node
def test_every_kind_of_scope_appears_in_the_examples(tokenised):
    seen = {scope for path in TUNE_FILES for token in tokenised[str(path)]["tokens"] for scope in token["scopes"]}
    for expected in ("storage.type.experiment.tune", "storage.type.preset.tune", "storage.type.model.tune",
                     "keyword.control.import.tune", "storage.modifier.extends.tune", "entity.name.type.tune",
                     "entity.other.inherited-class.tune", "variable.other.property.tune",
                     "entity.name.section.block.tune", "constant.other.identifier.tune",
                     "constant.language.boolean.tune", "keyword.other.sweep.tune", "string.quoted.double.tune",
                     "constant.numeric.integer.tune", "constant.numeric.float.tune", "comment.line.number-sign.tune",
                     "keyword.other.noqa.tune", "keyword.operator.assignment.tune"):
        assert expected in seen, expected


@needs_node
def test_long_strings_escapes_and_numbers(tokenised):
    file = tokenised["long"]
    scopes = scopes_by_character(file)
    lines = file["lines"]
    first = lines[1].index('"""')
    inside = [(1, column) for column in range(first, len(lines[1]))] + \
        [(2, column) for column in range(len(lines[2]))] + [(3, column) for column in range(len(lines[3]))]
    assert all("string.quoted.triple.tune" in scopes[place] for place in inside)
    escapes = [lines[t["line"]][t["start"]:t["end"]] for t in file["tokens"]
               if "constant.character.escape.tune" in t["scopes"]]
    assert escapes == LONG_ESCAPES
    numbers = [lines[t["line"]][t["start"]:t["end"]] for t in file["tokens"]
               if any(s.startswith("constant.numeric") for s in t["scopes"])]
    assert numbers == LONG_NUMBERS
    assert file["depth"] == 1


@needs_node
@pytest.mark.parametrize("name", BAD)
def test_what_the_grammar_rejects_is_marked_invalid(tokenised, name):
    assert any(scope.startswith("invalid.illegal") for token in tokenised[name]["tokens"] for scope in token["scopes"])


TEXTMATE_KINDS = [("comment.", "comment"), ("string.", "string"), ("constant.numeric.", "number"),
                  ("storage.", "keyword"), ("keyword.control.", "keyword"), ("keyword.other.sweep", "keyword"),
                  ("constant.language.", "keyword"), ("entity.name.type", "name"), ("entity.other.inherited", "name"),
                  ("variable.other.property", "field"), ("entity.name.section", "block"),
                  ("constant.other.identifier", "identifier"), ("keyword.operator", "punctuation"),
                  ("punctuation.", "punctuation")]


@needs_node
def test_the_textmate_grammar_and_the_pygments_lexer_agree_on_every_character_of_the_examples(tokenised):
    pygments = pytest.importorskip("pygments", reason="the pygments extra is not installed")
    from pygments.token import Comment, Keyword, Name, Number, Operator, Punctuation, String

    from tunespec.pygments_lexer import TuneLexer

    pygments_kinds = [(Comment, "comment"), (String, "string"), (Number, "number"), (Keyword, "keyword"),
                      (Name.Class, "name"), (Name.Attribute, "field"), (Name.Tag, "block"),
                      (Name.Constant, "identifier"), (Operator, "punctuation"), (Punctuation, "punctuation")]
    assert pygments
    for path in TUNE_FILES:
        file = tokenised[str(path)]
        textmate = {place: next(kind for prefix, kind in TEXTMATE_KINDS if scopes[1].startswith(prefix))
                    for place, scopes in scopes_by_character(file).items() if len(scopes) > 1}
        line = column = 0
        for token, value in TuneLexer(stripnl=False).get_tokens("\n".join(file["lines"])):
            kind = next((kind for parent, kind in pygments_kinds if token in parent), None)
            for char in value:
                if char == "\n":
                    line, column = line + 1, 0
                    continue
                if not char.isspace():
                    assert textmate.get((line, column)) == kind, (str(path), line + 1, column + 1, char)
                column += 1


# --- the extension ---------------------------------------------------------------------------------------

def test_the_extension_declares_the_language_the_grammar_and_the_comment_syntax():
    manifest = json.loads((VSCODE / "package.json").read_text(encoding="utf-8"))
    language = manifest["contributes"]["languages"][0]
    grammar = manifest["contributes"]["grammars"][0]
    assert language["id"] == grammar["language"] == "tune" and language["extensions"] == [".tune"]
    syntax = json.loads((VSCODE / grammar["path"]).read_text(encoding="utf-8"))
    assert syntax["scopeName"] == grammar["scopeName"] == "source.tune"
    configuration = json.loads((VSCODE / language["configuration"]).read_text(encoding="utf-8"))
    assert configuration["comments"] == {"lineComment": "#"}
    assert configuration["brackets"] == [["{", "}"], ["[", "]"]]
    assert (VSCODE / manifest["main"]).is_file()


@needs_node
@pytest.mark.parametrize("settings, command", [
    (None, {"command": "tunespec", "args": ["server"]}),
    ({"tunespec.server.command": [".venv/bin/tunespec", "server"]},
     {"command": ".venv/bin/tunespec", "args": ["server"]}),
    ({"tunespec.server.command": []}, None),
])
def test_the_extension_starts_the_server_command_of_its_settings(settings, command):
    found = json.loads(run_node("extension.test.cjs", json.dumps(settings)))
    if command is None:
        assert found["started"] == []
        return
    [client] = found["started"]
    assert client["server"] == command and client["stopped"]
    assert {"scheme": "file", "language": "tune"} in client["selector"]
