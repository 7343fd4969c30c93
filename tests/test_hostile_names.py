"""Names that must be unique (issue 11): each variant gets a folder of `out/`, each Kubeflow job a
Kubernetes name. Two values (or experiments) that would share one are an error naming both, never a
variant silently dropped or one job replacing another in the cluster."""

from __future__ import annotations

import pytest
import yaml

from tests.conftest import granite
from tunespec.cli import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "internal error" not in err, err
    return code, out, err


# --- item 9: sweep values that make one variant name --------------------------------------------------------

@pytest.mark.parametrize("values", ['"a/b", "a_b"', '"a/b", "a_b", "a_b-2"', '"x y", "x_y"', '"é", "_"'])
def test_sweep_values_that_make_one_variant_name_are_ts012(project, capsys, values):
    project.write("t.tune", granite(f"description = sweep [{values}]"))
    code, out, _ = run(capsys, "lint", "t.tune")
    assert code == 1 and "TS012" in out and "make one variant name" in out, out
    code, out, _ = run(capsys, "build", "t.tune")
    assert code == 1 and "not built, it has errors" in out
    assert not (project.root / "out").exists()


def test_sweep_values_with_distinct_names_build_one_folder_each(project, capsys):
    project.write("t.tune", granite('description = sweep ["a/b", "a-b", "a.b", "a+b"]'))
    code, out, _ = run(capsys, "build", "t.tune")
    assert code == 0, out
    assert sorted(path.name for path in (project.root / "out").iterdir()) == [
        "tickets.description-a+b", "tickets.description-a-b", "tickets.description-a.b", "tickets.description-a_b"]
