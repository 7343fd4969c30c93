"""Guards of the design, not of the clock: what `lint` may import, and what it must never redo."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import EXAMPLES, REPO, granite
from tunespec.record import Factory, Record

PROBE = """
import json, sys
from tunespec.cli import main
code = main(["lint", "--format", "json", sys.argv[1]])
print(json.dumps(sorted(sys.modules)))
"""


def modules_loaded_by_lint(path) -> set[str]:
    result = subprocess.run([sys.executable, "-c", PROBE, str(path)], capture_output=True, text=True, cwd=REPO)
    assert result.returncode in (0, 1), result.stderr
    return set(json.loads(result.stdout.splitlines()[-1]))


def test_lint_imports_neither_jinja2_nor_lark_nor_dataclasses(tmp_path):
    plain = tmp_path / "plain.tune"
    plain.write_text((EXAMPLES / "experiments" / "mistral_full.tune").read_text().replace("targets", "seed = 1 #"))
    loaded = modules_loaded_by_lint(plain)
    assert "tunespec.compiler.resolve" in loaded
    # typing: for annotations only (test_modules_a_lint_loads_import_typing_only_for_type_checkers)
    for heavy in ("jinja2", "lark", "dataclasses", "tunespec.templates", "yaml", "tomllib", "hashlib", "difflib",
                  "typing"):
        assert heavy not in loaded, heavy


def test_lint_of_an_experiment_naming_targets_reads_their_declarations_without_tomllib():
    """The built-in targets' declarations come from their snapshot (templates/snapshot.py): importing
    tomllib (with typing, datetime and string) and parsing nine files cost such a lint 91M instructions."""
    loaded = modules_loaded_by_lint(EXAMPLES / "experiments" / "mistral_full.tune")
    assert "tunespec.templates.targets" in loaded
    for heavy in ("jinja2", "tunespec.templates.render", "tomllib", "typing", "datetime", "string"):
        assert heavy not in loaded, heavy


def test_lint_starts_without_the_modules_only_other_commands_need(tmp_path):
    """The pre-commit case: a cold `lint` of one file imports neither `shutil` (which argparse imports to
    measure the terminal for every option it adds, and which brings `bz2` and `lzma`) nor the modules of
    data files, documentation or other subcommands. Without `site`, so that nothing else imports them first."""
    target = tmp_path / "plain.tune"  # the example without its data files (reading those needs `json`)
    target.write_text((EXAMPLES / "experiments" / "mistral_full.tune").read_text().replace("data {", "x {"))
    result = subprocess.run([sys.executable, "-S", "-X", "importtime", "-m", "tunespec", "lint", "--jobs", "1",
                             str(target)], capture_output=True, text=True, cwd=tmp_path,
                            env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert result.returncode in (0, 1), result.stderr[-2000:]
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}
    assert "tunespec.rules.engine" in imported
    # decimal: the range rules write their numbers only for a message or the docs; signal: the process ends
    # with os._exit, with no teardown to guard from Ctrl-C; unicodedata: the report's lines are ASCII; _json:
    # the file's strings have no escapes; bisect: only a build asks where errors are; math: a shared library
    # for a ceiling and an isinf (0.5M instructions); tunespec.discovery: no folder is searched and no importer
    # found
    for unwanted in ("shutil", "bz2", "lzma", "json", "textwrap", "tunespec.rules.docs", "tunespec.templates.render",
                     "tunespec.importer", "tunespec.scaffold", "tunespec.format", "concurrent.futures", "decimal",
                     "signal", "unicodedata", "_json", "bisect", "math", "tunespec.discovery"):
        assert unwanted not in imported, unwanted


def test_only_the_invoked_subcommand_gets_a_parser():
    from tunespec import cli

    assert list(_subcommands(cli.build_parser("lint"))) == ["lint"]
    assert list(_subcommands(cli.build_parser())) == list(cli.SUBCOMMANDS) == list(cli.COMMANDS)


def _subcommands(parser) -> dict:
    import argparse

    return next(action.choices for action in parser._actions if isinstance(action, argparse._SubParsersAction))


def test_lint_of_an_experiment_that_names_targets_reads_their_declarations_without_jinja2():
    loaded = modules_loaded_by_lint(EXAMPLES / "experiments" / "tickets.tune")
    assert "tunespec.templates.targets" in loaded
    for heavy in ("jinja2", "lark", "yaml", "tunespec.templates.render", "tunespec.templates.build"):
        assert heavy not in loaded, heavy


def test_a_build_of_built_in_targets_does_not_import_the_sandbox(tmp_path):
    """Only a --template-dir target renders in the sandbox (and reads tracebacks for its errors): a build of
    built-in targets leaves its modules unimported (2 ms of CPU in each worker of a fresh build)."""
    (tmp_path / "t.tune").write_text(granite("training { max_seq_length = 512 }"))
    probe = ("import json, sys\nfrom tunespec.cli import main\ncode = main(sys.argv[1:])\n"
             "print(json.dumps([code, sorted(sys.modules)]))")
    result = subprocess.run([sys.executable, "-c", probe, "build", "--jobs", "1", "t.tune", "--target",
                             "yaml,peft,axolotl,llama-factory"], capture_output=True, text=True, cwd=tmp_path,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    code, loaded = json.loads(result.stdout.splitlines()[-1])
    assert code == 0 and "tunespec.templates.render" in loaded, result.stdout
    assert "tunespec.templates.sandbox" not in loaded and "jinja2.sandbox" not in loaded


def test_grammar_tables_and_catalog_are_loaded_once():
    from tunespec.compiler.catalog import load_catalog
    from tunespec.grammar import parser

    assert parser.tables() is parser.tables()
    assert load_catalog() is load_catalog()


def test_a_fresh_install_lints_without_building_or_caching_anything(tmp_path):
    """A copy of the package as pip installs it (no bytecode, no caches, a new home folder) lints a file
    without importing Lark, and writes nothing: the grammar's tables ship with the package."""
    import shutil

    package = tmp_path / "site" / "tunespec"
    shutil.copytree(REPO / "tunespec", package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    before = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    target = EXAMPLES / "experiments" / "mistral_full.tune"
    result = subprocess.run(
        [sys.executable, "-S", "-X", "importtime", "-m", "tunespec", "lint", "--jobs", "1", str(target)],
        capture_output=True, text=True, cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path / "site"), "PYTHONDONTWRITEBYTECODE": "1", "HOME": str(tmp_path),
             "PATH": "/usr/bin:/bin"})
    assert result.returncode in (0, 1), result.stderr[-2000:]
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}
    assert "tunespec.grammar.tables" in imported
    assert not {name for name in imported if name.split(".")[0] in ("lark", "jinja2", "yaml")}
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == before


def test_a_run_in_batches_makes_the_parser_tables_once(tmp_path, monkeypatch):
    from tunespec import runner
    from tunespec.api import run_lint
    from tunespec.config import Config
    from tunespec.grammar import lalr, parser

    for index in range(runner.BATCH_FILES * 2 + 1):
        (tmp_path / f"e{index:03d}.tune").write_text(f'experiment e{index} {{ model = "x" }}\n')
    made = []
    original = lalr.Tables.__init__
    monkeypatch.setattr(lalr.Tables, "__init__", lambda self, data: made.append(1) or original(self, data))
    monkeypatch.setattr(parser, "_tables", None)
    monkeypatch.chdir(tmp_path)
    result = run_lint(["."], Config(), jobs=1, keep=False)
    assert result.files_checked == runner.BATCH_FILES * 2 + 1
    assert made == [1]


# What the resolver keeps for itself: the syntax tree behind a value (`settings`, `sweeps`, a setting's
# `node`), the chain of declarations (`lineage`, `ref`), and how values were recorded (`provenance`,
# `blocks`). Rules and targets ask the resolved experiment instead (`location_of`, `elements_of`,
# `written_by_itself`, `writes_along_extends`, `sweep_of`, `block_location`); so does the runner
# (`with_targets`, `declarations`).
RESOLVER_INTERNALS = {"settings", "sweeps", "node", "lineage", "ref", "provenance", "blocks"}


def test_rules_targets_and_the_runner_ask_the_resolved_experiment_instead_of_reading_its_internals():
    import ast

    reached = []
    paths = [*(REPO / "tunespec" / "rules").rglob("*.py"), *(REPO / "tunespec" / "templates").rglob("*.py"),
             REPO / "tunespec" / "runner.py"]
    for path in sorted(paths):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in RESOLVER_INTERNALS:
                reached.append(f"{path.relative_to(REPO)}:{node.lineno}: .{node.attr}")
    assert reached == []


def test_places_and_diagnostics_import_no_stage():
    """`location.py`, `codes.py` and `spelling.py` import nothing of tunespec, and `diagnostics.py` only them
    and `record.py`: every stage can report without an import that runs back up."""
    import ast

    allowed = {"location": set(), "codes": set(), "spelling": set(),
               "diagnostics": {"tunespec.location", "tunespec.record"}}
    for name, imports in allowed.items():
        tree = ast.parse((REPO / "tunespec" / f"{name}.py").read_text(encoding="utf-8"))
        found = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                 and node.module and node.module.startswith("tunespec")}
        found |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
                  if alias.name.startswith("tunespec")}
        assert found == imports, name


def test_records_declare_dataclass_transform_for_type_checkers():
    from tunespec.record import Factory, Record

    transform = type(Record).__dataclass_transform__
    assert transform["eq_default"] is True and transform["field_specifiers"] == (Factory,)


def test_a_records_init_is_compiled_once_it_has_made_many_instances_and_both_agree():
    """A Record class starts with a generic __init__ and gets its compiled one after COMPILE_AFTER
    instances; both take the same arguments, give the same instances and refuse the same mistakes, and a
    misplaced default is refused when the class is defined."""
    import pytest

    from tunespec import record
    from tunespec.record import Factory, Record

    class Point(Record):
        x: int
        y: int = 0
        tags: list = Factory(list)

    class Named(Point):  # no fields of its own: Point's __init__
        pass

    generic = Point.__init__
    seen = []
    for _ in range(record.COMPILE_AFTER + 2):
        first, second, third = Named(1), Point(2, y=3), Point(x=4, tags=["t"])
        seen.append(Point.__init__ is generic)
        assert (first.x, first.y, first.tags, type(first)) == (1, 0, [], Named)
        assert second == Point(2, 3) and second.tags == [] and second.tags is not Point(2).tags
        assert (third.x, third.y, third.tags) == (4, 0, ["t"])
        assert second.replace(y=5) == Point(2, 5)
        for wrong in ((), (1, 2, [], 4)):
            with pytest.raises(TypeError):
                Point(*wrong)
        with pytest.raises(TypeError):
            Point(1, z=2)
    assert seen[0] and not seen[-1]

    class Fixed(Record, compiled=False):  # made a fixed few times: its generic __init__ stays
        x: int
        y: int = 0

    generic = Fixed.__init__
    assert [Fixed(n, y=1).y for n in range(record.COMPILE_AFTER + 2)][-1] == 1 and Fixed.__init__ is generic
    with pytest.raises(TypeError, match="'z' without a default follows one with a default"):
        class Bad(Record):
            y: int = 0
            z: int


def test_a_fields_kind_is_a_constant_that_survives_pickling():
    """Kind is a plain class of constants (not an Enum, for start-up): compared by identity, so a worker's
    pickled copy must come back as the same constant."""
    import pickle

    from tunespec.compiler.schema import EXPERIMENT_FIELDS, Kind

    kinds = {spec.kind for spec in EXPERIMENT_FIELDS.values()}
    assert Kind.STRING_LIST in kinds and Kind.BOOL in kinds
    for kind in kinds:
        assert pickle.loads(pickle.dumps(kind)) is kind and repr(kind) == f"Kind.{kind.name}"
        assert kind.is_list == kind.words.startswith("a list")


def test_a_records_fields_and_defaults_come_from_its_whole_mro():
    """With one base, its fields and defaults are taken as they are (they are its MRO's already); with a
    mixin beside it (slotted classes cannot share fields), from each class of the MRO, later ones
    overriding earlier defaults."""
    import pytest

    from tunespec.record import Record

    class Point(Record):
        x: int
        y: int = 0

    class Labelled(Point):
        label: str = "p"
        y: int = 1

    class Shape:
        __slots__ = ()

        def area(self) -> int:
            return 0

    class Both(Labelled, Shape):
        note: str = ""

    assert (Labelled._fields, Labelled._defaults) == (("x", "y", "label"), {"y": 1, "label": "p"})
    assert (Both._fields, Both._defaults) == (("x", "y", "label", "note"), {"y": 1, "label": "p", "note": ""})
    assert Labelled(5) == Labelled(5, 1, "p") and Both(x=2) == Both(2, 1, "p", "") and Both(2).area() == 0
    with pytest.raises(TypeError, match="may not start with `_`"):
        class Private(Record):
            _hidden: int = 0


def test_finding_tune_files_walks_as_os_walk_would(tmp_path):
    """Sorted, hidden folders and links to folders left out, `excluded` asked about each folder and file."""
    import os

    from tunespec.compiler.loader import find_tune_files

    for name in ("b.tune", "a.tune", "notes.txt", "sub/z.tune", "sub/deeper/y.tune", ".hidden/x.tune",
                 "skip/w.tune", "dir.tune/v.tune", "sub2/u.tune"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    os.symlink(tmp_path / "sub", tmp_path / "linked")
    asked = []
    found = find_tune_files(tmp_path, lambda path, is_folder: asked.append(path) or path.endswith(("skip", "u.tune")))
    root = str(tmp_path)
    assert found == [f"{root}/{name}" for name in ("a.tune", "b.tune", "dir.tune/v.tune", "sub/z.tune",
                                                   "sub/deeper/y.tune")]
    assert f"{root}/skip" in asked and f"{root}/sub2/u.tune" in asked and f"{root}/.hidden" not in asked
    assert find_tune_files(tmp_path / "missing") == []


PLAIN_LINT_LINES = [
    ["lint"], ["lint", "--"], ["lint", "a.tune"], ["lint", "a.tune", "dir", "b.tune"], ["lint", "--", "a.tune", "-x.tune", "-"],
    ["lint", "--strict", "--exit-zero", "--show-settings", "--statistics", "--fix", "--no-dependents", "a.tune"],
    ["lint", "--no-dependents", "--", "a.tune"], ["lint", "--strict", "--strict", "--"], ["lint", "--", ""],
    ["lint", "--", "a", "--", "b"], ["lint", "a.tune", "--strict"], ["lint", "-", "a"], ["lint", "--format", "json", "a"],
    ["lint", "--format=json", "a"], ["lint", "-j", "1", "a"], ["lint", "--no-dep", "a"], ["lint", "--jobs", "2", "--", "a"],
    ["lint", ""], ["lint", "a", "-ob.tune"], ["show", "a"], ["fmt", "--check", "--", "a"], [],
]


def test_a_plain_lint_command_line_reads_as_argparse_reads_it_without_importing_argparse():
    """`cli._plain_lint` reads `lint [FLAG...] [--] [FILE...]` (pre-commit's command line) without argparse;
    whatever it reads, argparse reads the same, and it leaves every other command line to argparse. Its
    defaults are the lint parser's, option for option."""
    from tunespec import cli

    parser = cli.build_parser("lint")
    assert {**cli._LINT_DEFAULTS, "paths": ["."]} == vars(parser.parse_args(["lint"]))
    assert set(cli._LINT_FLAGS.values()) == {action.dest for action in _subcommands(parser)["lint"]._actions
                                            if action.nargs == 0 and action.const is True}
    read = 0
    for argv in PLAIN_LINT_LINES:
        plain = cli._plain_lint(list(argv))
        if plain is not None:
            read += 1
            assert vars(plain) == vars(parser.parse_args(argv)), argv
    assert read == 9
    result = subprocess.run([sys.executable, "-c", "import sys; from tunespec.cli import main; main(sys.argv[1:]); "
                             "print('argparse' in sys.modules)", "lint", "--no-dependents", "--", "missing.tune"],
                            capture_output=True, text=True, cwd=REPO)
    assert result.stdout.splitlines()[-1] == "False"


# None: compiler/ast.py's aliases (Value, Member), the last import of typing on a cold lint's path, are
# written `A | B` (typing cost 10M instructions of a cold one-file lint, by callgrind).
TYPING_AT_RUN_TIME: set[str] = set()


def test_modules_a_lint_loads_import_typing_only_for_type_checkers():
    """`typing` is for annotations (a string under `from __future__ import annotations`): the modules a
    lint loads import it under `if TYPE_CHECKING:` only, so that importing them does not import it."""
    import ast

    probe = ("import json, sys\nfrom tunespec.cli import main\nmain(['lint', '--format', 'json', sys.argv[1]])\n"
             "print(json.dumps(sorted(m for m in sys.modules if m.startswith('tunespec'))))")
    result = subprocess.run([sys.executable, "-c", probe, str(EXAMPLES / "experiments" / "tickets.tune")],
                            capture_output=True, text=True, cwd=REPO)
    loaded = json.loads(result.stdout.splitlines()[-1])
    assert "tunespec.templates.targets" in loaded and "tunespec.rules.datafiles" in loaded
    importing = []
    for name in loaded:
        path = REPO / (name.replace(".", "/") + ".py")
        path = path if path.exists() else REPO / name.replace(".", "/") / "__init__.py"
        for node in ast.parse(path.read_text(encoding="utf-8")).body:  # top-level statements: run at import
            if isinstance(node, ast.ImportFrom) and node.module == "typing" or \
                    isinstance(node, ast.Import) and any(alias.name == "typing" for alias in node.names):
                importing.append(name)
    assert set(importing) <= TYPING_AT_RUN_TIME


class _NoFields(Record):
    pass


class _OneField(Record):
    x: int


class _Fields(_OneField):
    y: int = 2
    z: list = Factory(list)


def test_a_records_values_are_its_fields_in_order_whatever_their_number():
    """`_values` (equality, hashing, pickling) comes from an `attrgetter` made per class (`_values_getter`),
    which gives one field's value bare: a record of none, one or many fields gives a tuple of them all."""
    import pickle

    records = [_NoFields(), _OneField(1), _Fields(1), _Fields(1, 3, [4])]
    assert [record._values() for record in records] == [(), (1,), (1, 2, []), (1, 3, [4])]
    assert _OneField(1) == _OneField(1) != _OneField(2) and hash(_OneField(1)) == hash((1,))
    for record in records:
        assert pickle.loads(pickle.dumps(record)) == record
