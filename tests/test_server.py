"""The language server end to end: a real LSP client (pytest-lsp) starts `tunespec server` over stdio and
checks what an editor would get — diagnostics as you type, hover, completion, definition, formatting —
against what the command line says of the same files."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from tests.conftest import EXAMPLES
from tunespec.compiler.catalog import load_catalog
from tunespec.compiler.schema import BLOCK_ORDER, METHODS, fields_in

pytestmark = pytest.mark.asyncio(loop_scope="module")

SERVER = ClientServerConfig(server_command=[sys.executable, "-m", "tunespec", "server"])


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A copy of the examples as a project of its own (a `tunespec.toml` at its root)."""
    root = tmp_path_factory.mktemp("project")
    shutil.copytree(EXAMPLES, root, dirs_exist_ok=True)
    (root / "tunespec.toml").write_text('ignore = ["TS307"]\n', encoding="utf-8")
    return root


@pytest_lsp.fixture(config=SERVER, scope="module")
async def client(lsp_client: LanguageClient, project: Path):
    await lsp_client.initialize_session(lsp.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"), root_uri=project.as_uri()))
    yield
    await lsp_client.shutdown_session()


def uri(path: Path) -> str:
    return path.as_uri()


versions: dict[str, int] = {}


async def publish(client: LanguageClient, path: Path, text: str) -> list[lsp.Diagnostic]:
    """Open the buffer (or change its whole text, unsaved) and wait for the diagnostics of that version."""
    key = uri(path)
    if key not in versions:
        versions[key] = 1
        client.text_document_did_open(lsp.DidOpenTextDocumentParams(
            text_document=lsp.TextDocumentItem(uri=key, language_id="tune", version=1, text=text)))
    else:
        versions[key] += 1
        client.text_document_did_change(lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=key, version=versions[key]),
            content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=text)]))
    while True:
        params = await client.wait_for_notification(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        if params.uri == key and params.version == versions[key]:
            return list(params.diagnostics)


def cli(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tunespec", *args], cwd=project, capture_output=True, text=True)


async def hover_at(client: LanguageClient, path: Path, position: lsp.Position) -> lsp.Hover | None:
    return await client.text_document_hover_async(lsp.HoverParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri(path)), position=position))


async def definition_at(client: LanguageClient, path: Path, position: lsp.Position):
    return await client.text_document_definition_async(lsp.DefinitionParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri(path)), position=position))


async def formatting(client: LanguageClient, path: Path):
    return await client.text_document_formatting_async(lsp.DocumentFormattingParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri(path)),
        options=lsp.FormattingOptions(tab_size=2, insert_spaces=True)))


def at(text: str, needle: str, offset: int = 0) -> lsp.Position:
    """The position of `needle`'s first occurrence in `text` (plus `offset` characters)."""
    index = text.index(needle) + offset
    line = text.count("\n", 0, index)
    return lsp.Position(line=line, character=index - (text.rfind("\n", 0, index) + 1))


# --- diagnostics -----------------------------------------------------------------------------------------

async def test_diagnostics_of_an_unsaved_buffer_are_the_lints_of_the_same_text_saved(client, project):
    path = project / "experiments" / "tickets.tune"
    saved = path.read_text(encoding="utf-8")
    text = saved.replace("task       = classification", "task       = classification\n  seed       = 4.5")
    text = text.replace("learning_rate = sweep", "batch_size    = 32\n    learning_rate = sweep")
    diagnostics = await publish(client, path, text)
    assert path.read_text(encoding="utf-8") == saved  # nothing was written
    # The command line on the same text saved under another name beside it (imports resolve the same way).
    twin = path.with_name("tickets_twin.tune")
    twin.write_text(text, encoding="utf-8")
    try:
        result = cli(project, "lint", "--format", "json", "experiments/tickets_twin.tune")
    finally:
        twin.unlink()
    import json

    expected = [(d["code"], d["line"] - 1, d["column"] - 1, d["message"]) for d in json.loads(result.stdout)]
    got = [(d.code, d.range.start.line, d.range.start.character, d.message.split("\nhelp: ")[0]) for d in diagnostics]
    assert got == expected
    assert {"TS004", "TS101"} <= {d.code for d in diagnostics}
    assert all(d.source == "tunespec" for d in diagnostics)
    # `extends granite_lora` resolved through `import "../common/granite.tune"`, read from disk.
    assert not [d for d in diagnostics if d.code in ("TS006", "TS008")]


async def test_diagnostics_follow_typing_syntax_errors_then_their_fix(client, project):
    path = project / "experiments" / "typing.tune"  # never saved: the buffer is all there is
    broken = await publish(client, path, 'experiment typing {\n  model = "ibm/granite-3-1-8b-base"\n  training {\n')
    assert [(d.code, d.severity) for d in broken] == [("TS001", lsp.DiagnosticSeverity.Error)]
    assert "unclosed `{`" in broken[0].message
    fixed = await publish(client, path, 'experiment typing {\n  model = "ibm/granite-3-1-8b-base"\n  training {}\n}\n')
    assert "TS001" not in {d.code for d in fixed}
    assert "TS011" in {d.code for d in fixed}  # incomplete: the same engine as lint, not only the parser


async def test_columns_are_counted_in_the_clients_units(client, project):
    """VS Code counts UTF-16 code units: an emoji before a mistake moves it two columns, not one."""
    path = project / "experiments" / "emoji.tune"
    diagnostics = await publish(client, path, 'experiment e { description = "😀" seed = 4.5 }\n')
    seed = next(d for d in diagnostics if d.code == "TS004")
    assert seed.range.start.character == len('experiment e { description = "😀" seed = '.encode("utf-16-le")) // 2


# --- hover -------------------------------------------------------------------------------------------

async def test_hover_on_a_field_shows_its_range_defaults_source_and_resolved_values_as_show_does(client, project):
    path = project / "experiments" / "tickets.tune"
    text = path.read_text(encoding="utf-8")
    await publish(client, path, text)
    hover = await hover_at(client, path, at(text, "learning_rate", 3))
    value = hover.contents.value
    assert "`training.learning_rate`" in value and "0.00001–0.5" in value
    assert "watsonx.ai: Parameters for tuning foundation models" in value
    assert "`1e-05` (ibm/granite-3-1-8b-base lora)" in value
    shown = cli(project, "show", "experiments/tickets.tune").stdout
    rows = [re.split(r"\s{2,}", line.strip()) for line in shown.splitlines()
            if line.strip().startswith("training.learning_rate ")]
    assert len(rows) == 3
    for field, written, origin in rows:  # e.g. 3e-05  experiments/tickets.tune:14:34 (experiment tickets, sweep)
        assert f"`{field}` = `{written}` — {origin}" in value
    assert hover.range.start == at(text, "learning_rate")


async def test_hover_on_an_inherited_field_names_the_preset_it_comes_from(client, project):
    path = project / "experiments" / "tickets.tune"
    text = path.read_text(encoding="utf-8")
    await publish(client, path, text)
    hover = await hover_at(client, path, at(text, "task"))
    assert "classification" in hover.contents.value and "experiments/tickets.tune:5:16" in hover.contents.value
    assert "one of `classification`" in hover.contents.value


async def test_hover_on_a_rule_code_in_noqa_is_the_rules_page(client, project):
    path = project / "experiments" / "noqa.tune"
    text = ('import "../common/granite.tune"\n\nexperiment noqa extends granite_lora {\n'
            '  data { train = "../data/tickets/train.jsonl" }\n'
            '  training { batch_size = 32  # noqa: TS101, learning-rate-far-above-typical\n  }\n}\n')
    diagnostics = await publish(client, path, text)
    assert "TS101" not in {d.code for d in diagnostics}
    for word, code in (("TS101", "TS101"), ("learning-rate-far-above-typical", "TS302")):
        hover = await hover_at(client, path, at(text, word, 2))
        assert hover.contents.value == cli(project, "rule", code).stdout.rstrip("\n")


# --- completion ----------------------------------------------------------------------------------------

async def complete(client: LanguageClient, path: Path, text: str, marker: str = "|") -> list[lsp.CompletionItem]:
    position = at(text, marker)
    await publish(client, path, text.replace(marker, "", 1))
    result = await client.text_document_completion_async(lsp.CompletionParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri(path)), position=position))
    return result.items


async def test_completion_offers_each_blocks_fields_from_the_schema(client, project):
    path = project / "experiments" / "complete.tune"
    items = await complete(client, path, 'experiment c {\n  training {\n    lea|\n  }\n}\n')
    assert [item.label for item in items] == fields_in("training")
    edit = next(item for item in items if item.label == "learning_rate").text_edit
    assert (edit.range.start.character, edit.range.end.character) == (4, 7)  # replaces the word typed
    top = await complete(client, path, 'experiment c {\n  |\n}\n')
    assert [item.label for item in top] == fields_in("")
    assert {item.label for item in top if item.kind == lsp.CompletionItemKind.Module} == set(BLOCK_ORDER)


async def test_completion_offers_enum_values_and_catalog_models(client, project):
    path = project / "experiments" / "complete.tune"
    methods = await complete(client, path, 'experiment c {\n  method = |\n}\n')
    assert [item.label for item in methods] == list(METHODS)
    models = await complete(client, path, 'experiment c {\n  model = "ibm/gr|"\n}\n')
    catalog = load_catalog()
    names = {name for info in catalog.models.values() for name in (info.id, *info.aliases)}
    assert names <= {item.label for item in models}
    granite = next(item for item in models if item.label == "ibm/granite-3-1-8b-base")
    assert granite.text_edit.new_text == '"ibm/granite-3-1-8b-base"'
    # The string's quotes, the one typed and the one the editor closed, are both replaced.
    assert (granite.text_edit.range.start.character, granite.text_edit.range.end.character) == (10, 18)


async def test_completion_after_extends_offers_the_presets_in_scope(client, project):
    path = project / "experiments" / "complete.tune"
    await publish(client, path, 'import "../common/granite.tune"\n\nexperiment c extends granite_lora {}\n')
    items = await complete(client, path, 'import "../common/granite.tune"\n\nexperiment c extends |')
    assert "granite_lora" in {item.label for item in items}


# --- definition ---------------------------------------------------------------------------------------

async def test_definition_of_a_base_and_of_an_import(client, project):
    path = project / "experiments" / "tickets.tune"
    text = path.read_text(encoding="utf-8")
    await publish(client, path, text)
    base = await definition_at(client, path, at(text, "granite_lora", 4))
    preset = project / "common" / "granite.tune"
    assert base.uri == uri(preset)
    assert base.range.start == at(preset.read_text(encoding="utf-8"), "granite_lora")
    imported = await definition_at(client, path, at(text, "common/granite"))
    assert imported.uri == uri(preset) and imported.range.start == lsp.Position(line=0, character=0)


async def test_definition_of_a_declared_model(client, project):
    path = project / "experiments" / "acme_lora.tune"
    text = path.read_text(encoding="utf-8")
    await publish(client, path, text)
    found = await definition_at(client, path, at(text, '"acme/support-llama-3b"', 3))
    assert found.uri == uri(project / "models" / "acme.tune")


# --- formatting ----------------------------------------------------------------------------------------

async def test_formatting_is_fmt_and_refuses_a_buffer_with_a_syntax_error(client, project):
    from tunespec.format import formatted_or_raise

    path = project / "experiments" / "format.tune"
    messy = ('experiment f {\nmodel="ibm/granite-3-1-8b-base"   # the model\n'
             '    training { epochs=3\nbatch_size = 8 }\n}\n')
    await publish(client, path, messy)
    edits = await formatting(client, path)
    assert len(edits) == 1 and edits[0].new_text == formatted_or_raise(messy)
    assert edits[0].range.start == lsp.Position(line=0, character=0)
    await publish(client, path, edits[0].new_text)
    again = await formatting(client, path)
    assert list(again) == []
    await publish(client, path, 'experiment f {\n  model = \n}\n')
    refused = await formatting(client, path)
    assert refused is None
    assert "TS001" in client.messages[-1].message and "not formatted" in client.messages[-1].message
