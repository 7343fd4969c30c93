"""A lint checks one declaration's variants at a time and drops them (issue 14: memory per source byte);
`show`, a build and the API keep them all. Both ways must report exactly the same diagnostics."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tunespec import runner
from tunespec.compiler import loader
from tunespec.compiler.ast import Outlined, members_of, parse_module
from tunespec.grammar import SyntaxProblem
from tunespec.api import run_lint
from tunespec.compiler.catalog import load_catalog
from tunespec.compiler.loader import Program
from tunespec.compiler.resolve import Resolver
from tunespec.config import Config

CASES = Path(__file__).parent / "cases"


def _both_ways(paths: list[str], config: Config) -> tuple[list, list]:
    kept = run_lint(paths, config, keep=True)
    streamed = run_lint(paths, config, keep=False)
    return [d.to_json() for d in kept.diagnostics], [d.to_json() for d in streamed.diagnostics]


@pytest.mark.parametrize("outline", [False, True])
def test_every_rule_fixture_reports_the_same_streamed_or_kept(project, monkeypatch, outline):
    """Every fixture of every rule (and the multi-file cases), linted in one run both ways; and with every
    file parsed in outline when streamed, as a large file is (each declaration's body parsed again)."""
    if outline:
        monkeypatch.setattr(loader, "OUTLINE_SIZE", 0)
    names = []
    for index, case in enumerate(sorted(CASES.glob("**/*.tune"))):
        name = f"case_{index}.tune"
        (project.root / name).write_bytes(case.read_bytes())
        names.append(name)
    kept, streamed = _both_ways(names, Config())
    assert len(kept) > 100
    assert streamed == kept


def test_a_data_file_asked_for_other_fields_by_a_later_declaration(project):
    """The data rules plan their reads from the variants being checked: a later declaration that asks a
    file for other field names gets it read again, with the same findings as one read for both."""
    project.write("data/pairs.jsonl", "".join(f'{{"prompt": "q{i}", "answer": "a{i}"}}\n' for i in range(40)))
    project.write("main.tune", """
        experiment first {
          model  = "ibm/granite-3-1-8b-base"
          method = lora
          data { train = "data/pairs.jsonl" }
        }
        experiment second {
          model  = "ibm/granite-3-1-8b-base"
          method = lora
          data {
            train        = "data/pairs.jsonl"
            input_field  = "prompt"
            output_field = "answer"
          }
        }
    """)
    kept, streamed = _both_ways(["main.tune"], Config())
    assert any(d["code"].startswith("TS4") for d in kept)
    assert streamed == kept


def test_the_resolver_forgets_declarations_nothing_extends(project):
    project.write("main.tune", """
        preset base { seed = 1 }
        experiment a extends base { model = "ibm/granite-3-1-8b-base"  method = lora }
        experiment b extends a { model = "ibm/granite-3-1-8b-base"  method = lora }
        experiment c { model = "ibm/granite-3-1-8b-base"  method = lora }
    """)
    program = Program(project.root)
    program.add_root("main.tune", "main.tune")
    resolver = Resolver(program, load_catalog())
    names = [[exp.experiment for exp in variants] for variants in resolver.declarations(forget=True)]
    assert names == [["a"], ["b"], ["c"], ["base"]]
    kept = {lineage.ref.decl.name.value for lineage in resolver._lineages.values()}
    assert kept == {"base", "a"}  # what `extends` names stays, for the declarations that extend it
    bodies = {decl.name.value: len(decl.members) for decl in program.roots[0].module.declarations}
    assert bodies == {"base": 1, "a": 2, "b": 0, "c": 0}  # and so do their bodies; the others' are dropped
    fresh = Program(project.root)
    fresh.add_root("main.tune", "main.tune")
    again = Resolver(fresh, load_catalog())
    assert [exp.name for exp in again.resolve_roots()] == ["a", "b", "c", "base"]
    assert [f.message for f, _ in again.findings] == [f.message for f, _ in resolver.findings]


def test_lines_at_is_split_without_the_list():
    rng = random.Random(14)
    for _ in range(500):
        count = rng.randrange(0, 300)
        lines = ["x" * rng.choice((0, 3, 70_000)) if rng.random() < 0.03 else "y" * rng.randrange(5)
                 for _ in range(count)]
        text = "\n".join(lines) + ("\n" if rng.random() < 0.3 else "")
        split = text.split("\n")
        numbers = sorted({rng.randrange(-1, count + 4) for _ in range(rng.randrange(30))})
        assert runner.lines_at(text, numbers) == {n: split[n - 1] for n in numbers if 0 < n <= len(split)}


def test_release_forgets_the_scopes_of_the_files_only_this_batch_read(project):
    """A scope refers back to its file; a lint releases its batch's scopes so that the syntax trees go as
    soon as the batch is checked, not at the next garbage collection. A shared file keeps its own."""
    project.write("common.tune", "preset base { seed = 1 }\n")
    project.write("main.tune", 'import "common.tune"\nexperiment a extends base { method = lora }\n')
    run: dict = {}
    program = Program(project.root, run=run)
    root = program.add_root("main.tune", "main.tune")
    [shared] = run["files"].values()
    program.scope(root)
    program.scope(shared)
    program.release()
    assert root.scope_cache is None
    assert shared.scope_cache is not None


def test_a_file_another_batch_may_import_keeps_its_bodies(project):
    """A file kept for the run's later batches (it was imported) keeps its declarations' bodies when it is
    linted itself: a later batch resolves what it declares again."""
    project.write("lib.tune", 'experiment shared { model = "ibm/granite-3-1-8b-base"  method = lora }\n')
    project.write("main.tune", 'import "lib.tune"\nexperiment mine { model = "ibm/granite-3-1-8b-base"  method = lora }\n')
    run: dict = {}
    program = Program(project.root, None, run)
    program.add_root("main.tune", "main.tune")
    program.add_root("lib.tune", "lib.tune")
    list(Resolver(program, load_catalog()).declarations(forget=True))
    bodies = {decl.name.value: len(decl.members) for source in program.roots for decl in source.module.declarations}
    assert bodies == {"mine": 0, "shared": 2}


def test_findings_are_dropped_as_their_diagnostics_are_made():
    items = [("a", None), ("b", "exp")]
    assert list(runner._drained(items)) == [("a", None), ("b", "exp")]
    assert items == [None, None]


OUTLINE_SAMPLE = """\
import "common.tune"  # a comment
preset base {
  seed = 42  # noqa: TS201
  training { learning_rate = sweep [1e-5, 2e-4]  epochs = 3 }
}

experiment x extends base {
  description = \"\"\"
    spans "lines" \\u00e9
  \"\"\"
  tags = [["a", "b\\n"], [], [true, false, -1_000, 0.5]]
  data { train = "d\\u00e9.jsonl" }
}
model "org/name-1" { parameters = 8e9  hidden_size = 4096 }
    experiment last { lora { target_modules = [q_proj, "v_proj"] } }
"""


def test_an_outlined_declaration_gives_back_its_body_node_for_node():
    whole = parse_module(OUTLINE_SAMPLE, "f.tune")
    outline = parse_module(OUTLINE_SAMPLE, "f.tune", outline=True)
    assert outline.comments == whole.comments and outline.imports == whole.imports
    assert len(outline.declarations) == len(whole.declarations) == 4
    for held, outlined in zip(whole.declarations, outline.declarations):
        assert isinstance(outlined, Outlined) and outlined.members is None
        assert (outlined.kind, outlined.name, outlined.extends, outlined.span) == \
            (held.kind, held.name, held.extends, held.span)
        again = members_of(outlined, OUTLINE_SAMPLE)
        assert again == held.members and members_of(held, OUTLINE_SAMPLE) is held.members
        assert [member.span for member in again] == [member.span for member in held.members]


@pytest.mark.parametrize("bad", ["experiment late { epochs = 1e999 }", 'experiment late { a = "\\q" }',
                                 "experiment late { a = [1 2] }", "experiment late {"])
def test_an_outline_finds_a_syntax_problem_late_in_the_file_as_a_whole_parse_does(bad):
    text = OUTLINE_SAMPLE + bad + "\n"
    problems = []
    for outline in (False, True):
        with pytest.raises(SyntaxProblem) as raised:
            parse_module(text, "f.tune", outline=outline)
        error = raised.value
        problems.append((error.message, error.help, error.line, error.column, error.end_line, error.end_column))
    assert problems[0] == problems[1]


def test_a_lint_parses_only_a_large_file_in_outline(project, monkeypatch):
    monkeypatch.setattr(loader, "OUTLINE_SIZE", 200)
    project.write("small.tune", 'experiment small { model = "ibm/granite-3-1-8b-base"  method = lora }\n')
    project.write("large.tune", "".join(f'experiment e{i} {{ model = "ibm/granite-3-1-8b-base"  method = lora }}\n'
                                        for i in range(5)))
    streamed = Program(project.root, outline=True)
    kept = Program(project.root)
    for program in (streamed, kept):
        for name in ("small.tune", "large.tune"):
            program.add_root(name, name)
    outlined = {source.display: [isinstance(decl, Outlined) for decl in source.module.declarations]
                for source in streamed.roots}
    assert outlined == {"small.tune": [False], "large.tune": [True] * 5}
    assert not any(isinstance(decl, Outlined) for source in kept.roots for decl in source.module.declarations)
