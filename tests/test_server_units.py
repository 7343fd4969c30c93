"""The language server's parts without a client: linting a buffer (`tunespec.api.lint_text`), what is
written at a place, the completion context of text that does not parse, and what `tunespec server` costs
the other commands (nothing)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import EXAMPLES, QUIET, REPO
from tunespec.api import lint_text
from tunespec.rules import REGISTRY

pytest.importorskip("pygls", reason="the language server's extra (tunespec[lsp]) is not installed")

from tunespec.server.complete import candidates, context_at  # noqa: E402
from tunespec.server.documents import analyse, place_at  # noqa: E402


# --- lint_text ------------------------------------------------------------------------------------------

def test_lint_text_lints_the_buffer_not_the_file_and_reads_imports_from_disk(project):
    project.write("common/base.tune", "preset base {\n  model = \"ibm/granite-3-1-8b-base\"\n  method = lora\n}\n")
    saved = project.write("exp/a.tune", 'import "../common/base.tune"\nexperiment a extends base {}\n')
    buffer = 'import "../common/base.tune"\nexperiment a extends base {\n  training { batch_size = 32 }\n}\n'
    result = lint_text(buffer, "exp/a.tune", QUIET)
    assert [(d.code, d.path, d.line) for d in result.diagnostics if d.code == "TS101"] == [("TS101", "exp/a.tune", 3)]
    assert not [d for d in result.diagnostics if d.code in ("TS006", "TS008")]
    assert saved.read_text() == 'import "../common/base.tune"\nexperiment a extends base {}\n'
    assert result.roots == ["exp/a.tune"] and result.resolved and result.program is not None


def test_lint_text_of_a_file_that_does_not_exist_yet(project):
    result = lint_text('experiment n { seed = "x" }\n', "new/n.tune", QUIET)
    assert ("TS004", "new/n.tune", 1) in [(d.code, d.path, d.line) for d in result.diagnostics]
    assert not (project.root / "new").exists()


def test_lint_text_reads_a_buffer_as_lint_reads_a_file(project):
    """A byte order mark and CRLF line ends change nothing, as they change nothing on disk."""
    text = 'experiment c {\n  seed = 4.5\n  training { epochs = 0 }\n}\n'
    plain = lint_text(text, "c.tune", QUIET).diagnostics
    assert plain and lint_text("\ufeff" + text.replace("\n", "\r\n"), "c.tune", QUIET).diagnostics == plain
    project.write("c.tune", text)
    assert project.lint("c.tune") == plain


def test_lint_text_names_the_file_relative_to_cwd(project):
    sub = project.root / "sub"
    sub.mkdir()
    result = lint_text("experiment x { seed = 1.5 }\n", "x.tune", QUIET, cwd=sub)
    assert {d.path for d in result.diagnostics} == {"x.tune"}


# --- what is written where ------------------------------------------------------------------------------

def test_place_at_finds_fields_blocks_bases_imports_and_rules():
    text = (EXAMPLES / "experiments" / "tickets.tune").read_text(encoding="utf-8")
    analysis = analyse(text + "# noqa: TS101, epochs-out-of-range\n", EXAMPLES / "experiments" / "tickets.tune")
    module = analysis.module
    found = {(line, column): place_at(module, line, column) for line, column in
             [(14, 5), (14, 28), (13, 3), (4, 30), (2, 12), (4, 13), (17, 10), (17, 17), (1, 3), (3, 1)]}
    summary = {key: (place.kind, place.name) if place else None for key, place in found.items()}
    assert summary == {
        (14, 5): ("field", "training.learning_rate"),  # on the name
        (14, 28): ("field", "training.learning_rate"),  # on the value
        (13, 3): ("block", "training"),
        (4, 30): ("extends", "granite_lora"),
        (2, 12): ("import", "../common/granite.tune"),
        (4, 13): ("declaration", "tickets"),
        (17, 10): ("rule", "TS101"),
        (17, 17): ("rule", REGISTRY.find("epochs-out-of-range").code),
        (1, 3): None,  # a comment without `noqa`
        (3, 1): None,  # a blank line
    }


# --- completion context ---------------------------------------------------------------------------------

@pytest.mark.parametrize("text, kind, where", [
    ("", "top", ""),
    ("exp", "top", ""),
    ("experiment x extends ", "extends", ""),
    ("experiment ", "none", ""),
    ("experiment x {\n  ", "member", ""),
    ("experiment x {\n  training {\n    lea", "member", "training"),
    ("experiment x {\n  training { epochs = 3 }\n  ", "member", ""),
    ("experiment x {\n  method = ", "value", "method"),
    ("experiment x {\n  method = lo", "value", "method"),
    ('experiment x {\n  model = "ibm/gr', "value", "model"),
    ("experiment x {\n  targets = [yaml, ", "value", "targets"),
    ("experiment x {\n  training {\n    learning_rate = sweep [1e-5, ", "value", "training.learning_rate"),
    ('model "acme/x" {\n  family = ', "value", "family"),
    ("experiment x {\n  # a comm", "none", ""),
    ('experiment x {\n  description = """a long\ntext', "none", ""),
    ('experiment x {\n  description = "done"', "none", ""),
    ("preset p {}\nexperiment x {\n  lora {}\n}\n", "top", ""),
])
def test_completion_context_of_text_that_need_not_parse(text, kind, where):
    context = context_at(text, len(text))
    assert context.kind == kind
    assert (context.field if kind == "value" else context.block) == where


def test_completion_of_a_models_block_offers_the_model_fields():
    from tunespec.compiler.schema import MODEL_FIELDS

    context = context_at('model "acme/x" {\n  ', len('model "acme/x" {\n  '))
    assert [c.label for c in candidates(context, None)] == list(MODEL_FIELDS)


def test_completion_of_target_modules_offers_the_models_layers():
    path = EXAMPLES / "experiments" / "tickets.tune"
    analysis = analyse(path.read_text(encoding="utf-8"), path)
    text = 'experiment tickets {\n  lora {\n    target_modules = ['
    labels = [c.label for c in candidates(context_at(text, len(text)), analysis)]
    assert labels[0] == "all-linear" and {"q_proj", "v_proj", "down_proj"} <= set(labels)


# --- the command ----------------------------------------------------------------------------------------

def test_server_without_pygls_says_which_extra_to_install():
    probe = ("import sys; sys.modules['pygls'] = None\n"
             "from tunespec.cli import main\nraise SystemExit(main(['server']))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 2
    assert "pip install 'tunespec[lsp]'" in result.stderr and "Traceback" not in result.stderr


def test_lint_imports_neither_the_server_nor_pygls():
    from tests.test_design import modules_loaded_by_lint

    loaded = modules_loaded_by_lint(EXAMPLES / "experiments" / "tickets.tune")
    assert not {name for name in loaded if name.split(".")[0] in ("pygls", "lsprotocol", "pygments")}
    assert not {name for name in loaded if name.startswith("tunespec.server") or name == "tunespec.pygments_lexer"}


def test_a_buffer_is_linted_from_its_project_folder_so_per_file_ignores_apply(project, tmp_path_factory, monkeypatch):
    """The editor's process runs anywhere; the buffer is linted as `tunespec lint` run beside the config."""
    (project.root / "tunespec.toml").write_text('[per-file-ignores]\n"exp/*.tune" = ["TS004"]\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
    analysis = analyse('experiment x { seed = 1.5 }\n', project.root / "exp" / "x.tune")
    assert analysis.cwd == project.root and analysis.display == "exp/x.tune"
    assert "TS004" not in {d.code for d in analysis.diagnostics()}
    other = analyse('experiment y { seed = 1.5 }\n', project.root / "y.tune")
    assert "TS004" in {d.code for d in other.diagnostics()}


def test_a_broken_configuration_is_reported_and_the_defaults_stand_in(project):
    (project.root / "tunespec.toml").write_text("selct = []\n", encoding="utf-8")
    analysis = analyse('experiment x { seed = 1.5 }\n', project.root / "x.tune")
    assert "unknown option `selct`" in analysis.config_problem
    assert "TS004" in {d.code for d in analysis.diagnostics()}
