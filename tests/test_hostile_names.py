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


# --- item 8: Kubernetes names ------------------------------------------------------------------------------

def kubeflow_experiment(name: str) -> str:
    return (f'experiment {name} {{\n  model = "ibm/granite-3-1-8b-base"\n  method = lora\n'
            '  data { train = "s3://bucket/train.jsonl" }\n  training { max_seq_length = 512 }\n'
            '  resources { image = "registry/fms:1" }\n}\n')


def job_name(project, variant: str) -> str:
    documents = list(yaml.safe_load_all((project.root / "out" / variant / "kubeflow" / "pytorchjob.yaml").read_text()))
    return documents[1]["metadata"]["name"]


def test_names_that_map_to_one_kubernetes_name_get_distinct_deterministic_ones(project, capsys):
    names = ["tickets_v2", "tickets-v2", "Tickets_V2", "tickets__v2"]
    for index, name in enumerate(names):
        project.write(f"k{index}.tune", kubeflow_experiment(name))
    code, out, _ = run(capsys, "build", "--target", "kubeflow", ".")
    assert code == 0, out
    jobs = {name: job_name(project, name) for name in names}
    assert len(set(jobs.values())) == len(names), jobs
    assert jobs["tickets-v2"] == "tickets-v2"  # already a valid name: kept as it is
    assert all(job.startswith("tickets-v2-") and len(job) <= 63 for name, job in jobs.items() if name != "tickets-v2")
    run(capsys, "build", "--target", "kubeflow", "--out", "again", ".")
    for name, job in jobs.items():
        again = list(yaml.safe_load_all((project.root / "again" / name / "kubeflow" / "pytorchjob.yaml").read_text()))
        assert again[1]["metadata"]["name"] == job


def test_two_variants_with_one_kubernetes_name_in_one_build_is_an_error_naming_both(project, capsys):
    from tunespec.templates.render import dns_label

    taken = dns_label("tickets_v2")  # an experiment may be named exactly what another one's name becomes
    project.write("a.tune", kubeflow_experiment("tickets_v2"))
    project.write("b.tune", kubeflow_experiment(taken))
    code, out, _ = run(capsys, "build", "--target", "kubeflow", "a.tune", "b.tune")
    assert code == 1, out
    [line] = [line for line in out.splitlines() if ": not built" in line]
    assert taken in line and "tickets_v2" in line and "a.tune" in line and "Kubernetes name" in line, line
    assert (project.root / "out" / "tickets_v2" / "kubeflow" / "pytorchjob.yaml").exists()
    assert not (project.root / "out" / taken).exists()
