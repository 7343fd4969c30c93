"""Issue 12, item 7: stdin, --show-settings, --statistics, --color, progress on a terminal, shell completion
(tested in the real shells)."""

from __future__ import annotations

import io
import os
import pty
import shutil
import subprocess
import sys

import pytest

from tests.conftest import REPO, granite
from tunespec.cli import main
from tunespec.progress import Progress

ENV = {**os.environ, "PYTHONPATH": str(REPO)}
TUNESPEC = [sys.executable, "-m", "tunespec"]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_lint_reads_stdin_as_the_file_named(project):
    project.write("common/base.tune", 'preset base {\n  model = "ibm/granite-3-1-8b-base"\n  method = lora\n}\n')
    text = 'import "../common/base.tune"\n\nexperiment x extends base {\n  data { train = "../data/train.jsonl" }\n' \
           '  training { batch_size = 64 }\n}\n'
    done = subprocess.run([*TUNESPEC, "lint", "--stdin-filename", "exp/x.tune", "-"], input=text, text=True,
                          capture_output=True, cwd=project.root, env=ENV)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "exp/x.tune:5:27: TS101 error" in done.stdout and "TS006" not in done.stdout  # the import was followed
    assert not (project.root / "exp" / "x.tune").exists()
    unnamed = subprocess.run([*TUNESPEC, "lint", "-"], input=granite(""), text=True, capture_output=True,
                             cwd=project.root, env=ENV)
    assert unnamed.returncode == 0 and "1 file" in unnamed.stdout, unnamed.stdout + unnamed.stderr


@pytest.mark.parametrize("argv, words", [
    (["lint", "--stdin-filename", "x.tune", "a.tune"], "--stdin-filename goes with the path `-`"),
    (["lint", "-", "a.tune"], "cannot be linted with other paths"),
    (["lint", "--fix", "-"], "cannot fix stdin"),
])
def test_stdin_misuse_is_exit_2(project, argv, words):
    done = subprocess.run([*TUNESPEC, *argv], input="", text=True, capture_output=True, cwd=project.root, env=ENV)
    assert done.returncode == 2 and words in done.stderr


def test_fmt_formats_stdin_to_stdout(project):
    messy = granite("").replace("method = lora", "method=lora")
    done = subprocess.run([*TUNESPEC, "fmt", "-"], input=messy, text=True, capture_output=True, cwd=project.root, env=ENV)
    assert done.returncode == 0 and "method = lora" in done.stdout
    broken = subprocess.run([*TUNESPEC, "fmt", "--stdin-filename", "b.tune", "-"], input="experiment b {\n", text=True,
                            capture_output=True, cwd=project.root, env=ENV)
    assert broken.returncode == 1 and broken.stdout == "" and "b.tune:1:" in broken.stderr


def test_statistics_counts_per_rule(project, capsys):
    project.write("a.tune", granite("training { batch_size = 64 }"))
    project.write("b.tune", granite("training { batch_size = 32\n epochs = 99 }").replace("tickets", "b"))
    code, out, _ = run(capsys, "lint", "--statistics", "--ignore", "TS3", ".")
    lines = out.splitlines()
    assert lines[0].split() == ["2", "TS101", "batch-size-out-of-range"]
    assert lines[1].split() == ["1", "TS104", "epochs-out-of-range"]
    assert lines[-1].startswith("Found 3 errors") and code == 1


def test_show_settings_says_where_each_option_came_from(project, capsys):
    (project.root / "tunespec.toml").write_text('ignore = ["TS307"]\nout = "specs"\n')
    code, out, _ = run(capsys, "lint", "--show-settings", "--ignore", "TS4", "--exclude", "tmp/")
    settings = {line.split(" = ")[0].strip(): line for line in out.splitlines() if " = " in line}
    assert settings["ignore"].endswith("# " + str(project.root / "tunespec.toml") + " and command line")
    assert '["TS307", "TS4"]' in settings["ignore"]
    assert settings["out"].endswith("tunespec.toml") and '"specs"' in settings["out"]
    assert settings["exclude"].endswith("# command line") and settings["max-variants"].endswith("# default")
    assert "rules enabled:" in out and code == 0


def lint_on_a_terminal(project, *argv, env=None):
    """Run lint with stdout on a pseudo-terminal; what it printed."""
    project.write("a.tune", granite("training { batch_size = 64 }"))
    leader, follower = pty.openpty()
    done = subprocess.run([*TUNESPEC, "lint", *argv, "a.tune"], stdout=follower, stderr=subprocess.PIPE,
                          cwd=project.root, env=env or ENV)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert done.returncode == 1
    return b"".join(chunks).decode()


def test_color_auto_always_never_and_no_color(project, capsys):
    assert "\x1b[" in lint_on_a_terminal(project)
    assert "\x1b[" not in lint_on_a_terminal(project, env={**ENV, "NO_COLOR": "1"})
    assert "\x1b[" not in lint_on_a_terminal(project, "--color", "never")
    code, out, _ = run(capsys, "lint", "--color", "always", "a.tune")
    assert "\x1b[" in out  # not a terminal, but asked for
    code, out, _ = run(capsys, "lint", "a.tune")
    assert "\x1b[" not in out


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_shows_after_a_second_and_is_erased():
    now = [0.0]
    stream = FakeTerminal()
    progress = Progress("building", stream, clock=lambda: now[0])
    progress(64, 256)
    assert stream.getvalue() == ""  # under a second: nothing
    now[0] = 1.5
    progress(128, 256)
    assert stream.getvalue() == "\rbuilding: 128/256 files (50%)\x1b[K"
    progress.close()
    assert stream.getvalue().endswith("\r\x1b[K")


def test_progress_never_goes_to_a_pipe(project):
    now = [5.0]
    pipe = io.StringIO()
    progress = Progress("building", pipe, clock=lambda: now.__setitem__(0, now[0] + 10) or now[0])
    progress(1, 2)
    progress.close()
    assert pipe.getvalue() == ""
    for index in range(130):  # two batches
        project.write(f"e{index:03d}.tune", granite("").replace("tickets", f"e{index}"))
    done = subprocess.run([*TUNESPEC, "build", "--quiet", "."], capture_output=True, text=True, cwd=project.root, env=ENV)
    assert done.returncode == 0 and done.stderr == ""


def completion(shell: str) -> str:
    return subprocess.run([*TUNESPEC, "completion", shell], capture_output=True, text=True, env=ENV, check=True).stdout


@pytest.mark.parametrize("words, expected", [
    (["li"], ["lint"]),
    (["lint", "--form"], ["--format"]),
    (["lint", "--format", ""], ["text", "json", "sarif", "github"]),
    (["build", "--pru"], ["--prune"]),
    (["lint", ""], ["a.tune", "data", "sub"]),  # folders and .tune files; not notes.txt
])
def test_bash_completion_in_real_bash(project, words, expected):
    project.write("a.tune", "")
    project.write("notes.txt", "")
    (project.root / "sub").mkdir()
    script = project.root / "c.bash"
    script.write_text(completion("bash"))
    line = " ".join(f"'{w}'" if w else "''" for w in ["tunespec", *words])
    done = subprocess.run(["bash", "-c", f'source c.bash; COMP_WORDS=({line}); COMP_CWORD={len(words)}; _tunespec; '
                                         'printf "%s\\n" "${COMPREPLY[@]}"'],
                          capture_output=True, text=True, cwd=project.root)
    assert sorted(done.stdout.split()) == sorted(expected), done.stderr


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed (.ci/run installs it when apt-get can)")
def test_zsh_completion_in_real_zsh(tmp_path):
    """The script under zsh, with compadd and _arguments (zsh's completion builtins, which need a live
    completion widget) replaced by functions that print what they are given."""
    script = tmp_path / "_tunespec"
    script.write_text(completion("zsh"))
    assert subprocess.run(["zsh", "-n", str(script)], capture_output=True, text=True).returncode == 0
    stubs = 'compdef() { :; }; compadd() { shift; print -l -- "$@"; }; _arguments() { print -l -- "$@"; }'
    first = subprocess.run(["zsh", "-f", "-c", f"{stubs}; source {script}; words=(tunespec li); CURRENT=2; _tunespec"],
                           capture_output=True, text=True)
    assert "lint" in first.stdout.split() and "completion" in first.stdout.split(), first.stderr
    options = subprocess.run(["zsh", "-f", "-c", f"{stubs}; source {script}; words=(tunespec lint --f); CURRENT=3; _tunespec"],
                             capture_output=True, text=True)
    assert "--format[--format]:value:(text json sarif github)" in options.stdout.splitlines(), options.stdout + options.stderr


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed (.ci/run installs it when apt-get can)")
@pytest.mark.parametrize("line, expected", [
    ("tunespec li", {"lint"}),
    ("tunespec lint --for", {"--format"}),
    ("tunespec lint --format ", {"text", "json", "sarif", "github"}),
])
def test_fish_completion_in_real_fish(tmp_path, line, expected):
    script = tmp_path / "tunespec.fish"
    script.write_text(completion("fish"))
    done = subprocess.run(["fish", "--no-config", "-c", f"source {script}; complete -C '{line}'"],
                          capture_output=True, text=True)
    assert {row.split("\t")[0] for row in done.stdout.splitlines()} == expected, done.stdout + done.stderr
