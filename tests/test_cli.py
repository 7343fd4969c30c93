"""The command line: output formats, exit codes, colour, `show`, `rules`, `rule`, and bad input."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import EXAMPLES, REPO, granite
from tunespec import __version__
from tunespec.cli import main

BROKEN = """experiment tickets {
  model  = "ibm/granite-3-1-8b-base"
  method = lora
  data { train = "data/train.jsonl" }
  training {
	batch_size    = 32
    learning_rte  = 0.3
  }
  lora { dropout = 10 }  # 10 percent
}
preset unicode_model { model = "acme/ünïcode-模型" }  # café
"""


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def examples(tmp_path, monkeypatch):
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    (tmp_path / "tunespec.toml").write_text("")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_examples_lint_without_errors(capsys, examples):
    """Only deliberate findings: prompt tuning and watsonx.ai fine tuning are deprecated (TS205, TS503),
    watsonx.ai's prompt tuning splits the sequence length (TS307), and its initialization matters little
    on granite-13b (TS308)."""
    code, out, _ = run(capsys, "lint", "--format", "json", "examples")
    assert code == 0 and sorted({item["code"] for item in json.loads(out)}) == ["TS205", "TS307", "TS308", "TS503"]


def test_lint_text_output_golden(capsys, project, golden):
    project.write("broken.tune", BROKEN)
    code, out, err = run(capsys, "lint", "broken.tune")
    assert code == 1 and err == ""
    golden("lint_broken.txt", out)


def test_lint_json_output_shape_and_order(capsys, project):
    project.write("b.tune", BROKEN)
    project.write("a.tune", granite("training { epochs = 99 }"))
    code, out, _ = run(capsys, "lint", "--format", "json", "b.tune", "a.tune")
    items = json.loads(out)
    assert code == 1
    assert list(items[0]) == ["code", "severity", "message", "path", "line", "column", "end_line", "end_column",
                              "help", "experiment"]
    keys = [(i["path"], i["line"], i["column"], i["code"]) for i in items]
    assert keys == sorted(keys) and keys[0][0] == "a.tune"
    assert {i["experiment"] for i in items} == {"tickets", "unicode_model"}


def test_json_output_is_an_empty_array_when_clean(capsys, project):
    project.write("ok.tune", granite("training { max_seq_length = 512 }"))
    assert run(capsys, "lint", "--format", "json", "ok.tune")[:2] == (0, "[]\n")


def test_warnings_pass_unless_strict(capsys, project):
    project.write("w.tune", 'experiment e {\n  model = "acme/x"\n  method = full\n  data { train = "t.jsonl" }\n'
                            "  training { batch_size = 1 accumulate_steps = 1 learning_rate = 1e-5 epochs = 1 }\n}\n")
    assert run(capsys, "lint", "w.tune")[0] == 0
    assert run(capsys, "lint", "--strict", "w.tune")[0] == 1


def test_colour_only_on_a_terminal_and_never_with_no_color(capsys, project, monkeypatch):
    project.write("bad.tune", granite("training { epochs = 99 }"))
    plain = run(capsys, "lint", "bad.tune")[1]
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    coloured = run(capsys, "lint", "bad.tune")[1]
    monkeypatch.setenv("NO_COLOR", "1")
    no_color = run(capsys, "lint", "bad.tune")[1]
    assert "\x1b[" not in plain and "\x1b[" in coloured and "\x1b[" not in no_color


def test_select_and_ignore_on_the_command_line(capsys, project):
    project.write("bad.tune", granite("training { epochs = 99  batch_size = 99 }"))
    out = run(capsys, "lint", "--format", "json", "--select", "TS1", "--ignore", "batch-size-out-of-range", "bad.tune")[1]
    assert [i["code"] for i in json.loads(out)] == ["TS104"]


def test_unknown_selector_is_a_usage_error(capsys, project):
    code, out, err = run(capsys, "lint", "--select", "TS999", ".")
    assert code == 2 and out == "" and err.count("\n") == 1 and "unknown rule `TS999`" in err


def test_bad_config_is_one_line_and_exit_2(capsys, project):
    project.write("tunespec.toml", "max-variants = 'many'\n")
    code, out, err = run(capsys, "lint", ".")
    assert code == 2 and out == "" and err.count("\n") == 1 and "max-variants" in err


def test_missing_config_file_option(capsys, project):
    code, _, err = run(capsys, "lint", "--config", "nope.toml", ".")
    assert code == 2 and "not found" in err


@pytest.mark.parametrize("argv", [["lint", "--format", "xml"], ["frobnicate"], ["lint", "--bogus"]])
def test_usage_errors_exit_2(capsys, argv):
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2


def test_no_command_prints_help_and_exits_2(capsys):
    assert run(capsys)[0] == 2


def test_missing_path_is_a_diagnostic_with_exit_1(capsys, project):
    code, out, _ = run(capsys, "lint", "gone.tune")
    assert code == 1 and "gone.tune:1:1: TS014 error" in out


def test_folder_without_tune_files(capsys, project):
    (project.root / "empty").mkdir()
    assert run(capsys, "lint", "empty")[:2] == (0, "No .tune files found.\n")


def test_internal_error_is_one_line_and_exit_2(capsys, project, monkeypatch):
    import tunespec.api

    def explode(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(tunespec.api, "run_lint", explode)
    monkeypatch.delenv("TUNESPEC_DEBUG", raising=False)
    code, out, err = run(capsys, "lint", ".")
    assert code == 2 and err == ("tunespec: internal error: RuntimeError: boom (this is a bug in tunespec; please "
                                 "report it with TUNESPEC_DEBUG=1 set for a traceback)\n")
    monkeypatch.setenv("TUNESPEC_DEBUG", "1")
    with pytest.raises(RuntimeError):
        main(["lint", "."])


def test_lint_never_changes_input_files(capsys, examples):
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in examples.rglob("*") if p.is_file()}
    run(capsys, "lint", "examples")
    after = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in examples.rglob("*") if p.is_file()}
    assert before == after


def test_version(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["--version"])
    assert caught.value.code == 0 and capsys.readouterr().out == f"tunespec {__version__}\n"


def test_python_dash_m_and_console_script_agree():
    result = subprocess.run([sys.executable, "-m", "tunespec", "--version"], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0 and result.stdout == f"tunespec {__version__}\n"


# --- show ---------------------------------------------------------------------------------------------

def test_show_text_golden(capsys, examples, golden):
    code, out, err = run(capsys, "show", "examples/experiments/tickets.tune")
    assert code == 0 and err == ""
    golden("show_tickets.txt", out)


def test_show_json_has_ir_and_provenance(capsys, examples, golden):
    code, out, _ = run(capsys, "show", "--format", "json", "--experiment", "llama_support", "examples")
    assert code == 0
    golden("show_llama_support.json", out)
    [item] = json.loads(out)
    assert item["ir"]["spec"]["lora"]["rank"] == 32
    assert item["provenance"]["lora.rank"] == "catalog: meta-llama/llama-3-1-8b lora default"


def test_show_filters_by_variant_name(capsys, examples):
    out = run(capsys, "show", "--format", "json", "--experiment", "tickets.learning_rate-3e-05", "examples")[1]
    assert [item["ir"]["metadata"]["name"] for item in json.loads(out)] == ["tickets.learning_rate-3e-05"]


def test_show_unknown_experiment_is_a_usage_error(capsys, examples):
    code, _, err = run(capsys, "show", "--experiment", "nope", "examples")
    assert code == 2 and "no experiment or variant named `nope`" in err


def test_show_reports_errors_on_stderr_and_exits_1(capsys, project):
    project.write("bad.tune", granite("training { epochs = 99 }"))
    code, out, err = run(capsys, "show", "bad.tune")
    assert code == 1 and out.startswith("tickets  (experiment tickets, bad.tune)")
    assert err == "bad.tune:5:23: TS104 `training.epochs` is 99, outside the documented range 1–50\n"


# --- rules and rule -----------------------------------------------------------------------------------

def test_rules_lists_every_rule(capsys):
    from tunespec.rules import REGISTRY

    code, out, _ = run(capsys, "rules")
    lines = out.splitlines()
    assert code == 0 and len(lines) == len(list(REGISTRY))
    assert lines[0].split()[:3] == ["TS001", "syntax-error", "error"]


@pytest.mark.parametrize("key", ["TS101", "ts101", "batch-size-out-of-range"])
def test_rule_prints_its_documentation(capsys, key):
    code, out, _ = run(capsys, "rule", key)
    assert code == 0 and out.startswith("# TS101 batch-size-out-of-range (error)")
    assert "## Example" in out and 'severity = { TS101 = "warning" }' in out


def test_unknown_rule_suggests(capsys):
    code, _, err = run(capsys, "rule", "batch-size-out-of-rang")
    assert code == 2 and "did you mean `batch-size-out-of-range`?" in err


@pytest.mark.parametrize("selector, expected", [
    ("TS1x", "did you mean `TS1` (the prefix of TS101,"), ("TS99", "did you mean `TS901`?"),
    ("TS1099", "did you mean `TS109`?"),
])
def test_unknown_codes_are_matched_by_prefix(capsys, selector, expected):
    """Issue 12: `TS1` is a prefix, not a typo of TS901; suggestions share the code's prefix."""
    code, _, err = run(capsys, "rule", selector)
    assert code == 2 and expected in err
    code, _, err = run(capsys, "lint", "--select", selector, ".")
    assert code == 2 and "`--select`" in err and expected in err


def test_rule_with_a_prefix_lists_the_rules_it_selects(capsys):
    code, out, _ = run(capsys, "rule", "TS2")
    codes = [line.split()[0] for line in out.splitlines()]
    assert code == 0 and codes[0] == "TS201" and all(c.startswith("TS2") for c in codes) and len(codes) > 10


@pytest.mark.parametrize("how", [("--select", "TS1"), ("--ignore", "TS001"), ("--ignore", "syntax-error")])
def test_a_syntax_error_is_never_deselected(capsys, project, how):
    """Issue 12: `--select TS1` hid a syntax error; TS001 and TS014 stop a file from being checked at all."""
    project.write("bad.tune", "experiment e {\n  training { batch_size 8 }  # noqa\n}\n")
    project.write("tunespec.toml", '[severity]\nTS001 = "warning"\n[per-file-ignores]\n"*.tune" = ["TS001"]\n')
    code, out, _ = run(capsys, "lint", "--format", "json", *how, "bad.tune")
    assert code == 1 and [(d["code"], d["severity"]) for d in json.loads(out)] == [("TS001", "error")]


def test_lint_text_output_golden_for_an_unclosed_block_across_files(capsys, project, golden):
    project.write("common.tune", "preset base {\n  training {\n    epochs = 3\n  }\n")
    project.write("main.tune", 'import "common.tune"\nimport "/abs/path.tune"\n\nexperiment e extends base { }\n')
    code, out, _ = run(capsys, "lint", "main.tune")
    assert code == 1
    golden("lint_unclosed_import.txt", out)


def test_the_command_ends_without_teardown_yet_flushes_everything_and_keeps_its_exit_code(project, capsys):
    """`program` ends the process with `os._exit` after the exit handlers and a flush of stdout and stderr:
    a report larger than any buffer arrives whole through a pipe, the exit code is the report's, and an
    exit handler registered during the run still runs."""
    project.write("many.tune", "".join(f'experiment e{n} {{ model = "nope-{n}" }}\n' for n in range(300)))
    assert main(["lint", "--no-dependents", "many.tune"]) == 1
    expected = capsys.readouterr().out
    assert len(expected) > 65536
    result = subprocess.run([sys.executable, "-m", "tunespec", "lint", "--no-dependents", "many.tune"],
                            capture_output=True, text=True, cwd=project.root)
    assert (result.returncode, result.stdout, result.stderr) == (1, expected, "")
    probe = ("import atexit, sys; from tunespec import cli; atexit.register(lambda: print('handler ran', file=sys.stderr)); "
             "sys.argv = ['tunespec', 'lint', '--no-dependents', 'many.tune']; cli.program()")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=project.root,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert (result.returncode, result.stdout, result.stderr) == (1, expected, "handler ran\n")


@pytest.mark.parametrize("thread", [False, True])
def test_the_command_skips_the_teardown_after_worker_processes_but_not_while_a_thread_runs(project, thread):
    """`threading` imported (as `multiprocessing`, for a run's worker processes, imports it) does not keep
    the teardown: with no other thread alive, the process still ends at once (an object that speaks when
    the teardown frees it stays silent). A thread still running keeps Python's own exit, which waits for
    it and then tears down."""
    project.write("main.tune", 'experiment m { model = "nope" }\n')
    probe = ("import atexit, multiprocessing, sys, threading, time; from tunespec import cli\n"
             "class Spoken:\n    def __del__(self): print('torn down', file=sys.stderr)\n"
             "kept = Spoken()\n"
             + ("threading.Thread(target=lambda: (time.sleep(0.3), print('thread done', file=sys.stderr))).start()\n"
                if thread else "")
             + "sys.argv = ['tunespec', 'lint', '--no-dependents', 'main.tune']; raise SystemExit(cli.program())")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=project.root,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 1 and "TS" in result.stdout
    assert result.stderr == ("thread done\ntorn down\n" if thread else "")


def test_a_reader_gone_from_the_pipe_is_no_error(project):
    project.write("many.tune", "".join(f'experiment e{n} {{ model = "nope-{n}" }}\n' for n in range(300)))
    for argv in (["many.tune"], ["--no-dependents", "main.tune"]):
        project.write("main.tune", 'experiment m { model = "nope" }\n')
        reader = subprocess.Popen([sys.executable, "-m", "tunespec", "lint", *argv], cwd=project.root,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        reader.stdout.close()  # gone before anything is written
        assert reader.wait(timeout=60) in (0, 1)
        assert reader.stderr.read() == b""
        reader.stderr.close()


def test_lint_leaves_the_garbage_collector_as_it_found_it(project, capsys):
    """lint pauses the collector while it starts and freezes what its start made; afterwards (or after a
    usage error) the collector is as it was and nothing stays frozen."""
    import gc

    project.write("main.tune", granite(""))
    was = gc.isenabled()
    try:
        for enabled in (True, False):
            (gc.enable if enabled else gc.disable)()
            for argv in (["lint", "--no-dependents", "main.tune"], ["lint", "--select", "NOPE", "main.tune"]):
                main(argv)
                assert (gc.isenabled(), gc.get_freeze_count()) == (enabled, 0)
    finally:
        (gc.enable if was else gc.disable)()
    capsys.readouterr()
