"""TS015 — two training runs that would write into one folder.

Each variant trains into `<output_dir>/<variant>/<target>` (`compiler.ir.run_folder`), so variants of one
experiment never meet; but two experiments (in two files, or with nested `output_dir`s) can still resolve
to the same folder or one inside the other. A trainer that finds another run's checkpoint there resumes it
(LLaMA-Factory trained 0 steps and overwrote the adapter). The check needs every variant of the run, so the
runner calls it once all batches are merged.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # (typing, for type checkers only, is not imported at run time)
    from typing import Iterable, Iterator

from tunespec import codes
from tunespec.compiler.ir import run_folder_of
from tunespec.compiler.resolve import ResolvedExperiment
from tunespec.diagnostics import Finding, Severity
from tunespec.location import Location
from tunespec.record import Record
from tunespec.rules.engine import SCOPE_RUN, Rule, dedent

OUTPUT_FOLDER_COLLISION = Rule(codes.OUTPUT_FOLDER_COLLISION, "output-folder-collision", Severity.ERROR,
                               "Two variants train into the same output folder", dedent("""
    ## What it does
    Reports a variant whose training output folder, `<output_dir>/<variant name>` (one folder per target
    below it), is the folder of another variant of the run, or lies inside it. It points at the
    `output_dir` that makes the second one (or at its experiment's name when `output_dir` is the default)
    and names the first.

    ## Why is this bad?
    The second run finds the first one's checkpoints and resumes from them, or overwrites its adapter:
    LLaMA-Factory run after PEFT in one folder "resumed", trained 0 steps and replaced the adapter.

    ## Example
    ```tune
    # file: a.tune
    experiment tickets {
      model      = "ibm/granite-3-1-8b-base"
      method     = lora
      output_dir = "runs/shared"
      data { train = "data/train.jsonl" }
    }
    # file: b.tune
    experiment tickets {
      model      = "ibm/granite-3-1-8b-base"
      method     = lora
      output_dir = "runs/shared"
      data { train = "data/other.jsonl" }
    }
    ```

    ## Use instead
    ```tune
    # file: a.tune
    experiment tickets {
      model      = "ibm/granite-3-1-8b-base"
      method     = lora
      output_dir = "runs/shared"
      data { train = "data/train.jsonl" }
    }
    # file: b.tune
    experiment tickets_other {
      model      = "ibm/granite-3-1-8b-base"
      method     = lora
      output_dir = "runs/shared"
      data { train = "data/other.jsonl" }
    }
    ```

    ## Source
    Hugging Face `Trainer` and LLaMA-Factory resume from the last `checkpoint-*` folder they find in
    `output_dir`; tunespec issue 10 (runs that collided in one folder).
    """), scope=SCOPE_RUN)


class OutputClaim(Record):
    """The folder one variant trains into, and where to point when it collides. A lint holds a claim for
    every variant of the run until the end, so the folder is worked out when asked (from `output_dir`, the
    variant's name and its experiment's, as `compiler.ir.run_folder` does), and what the variants of one
    declaration share is held once (which halves what a large file's claims take)."""

    output_dir: str | None
    location: Location
    experiment: str
    variant: str
    path: str  # the declaring file, for the message

    @property
    def folder(self) -> str:
        return run_folder_of(self.output_dir, self.variant, self.experiment)


def output_claims(resolved: Iterable[ResolvedExperiment]) -> list[OutputClaim]:
    claims: list[OutputClaim] = []
    for exp in resolved:
        if exp.is_preset or not exp.complete:
            continue
        output_dir, location = exp.values.get("output_dir"), exp.location_of("output_dir")
        if claims:  # the previous variant's, most often the same
            previous = claims[-1]
            output_dir = previous.output_dir if output_dir == previous.output_dir else output_dir
            location = previous.location if location == previous.location else location
        claims.append(OutputClaim(output_dir, location, exp.experiment, exp.name, exp.source))
    return claims


def folder_collisions(claims: list[OutputClaim]) -> Iterator[tuple[Finding, str, OutputClaim]]:
    """TS015 for each claim (after the first, in run order) whose folder equals, lies inside or holds an
    earlier claim's; each with its experiment's name and the claim. Linear in the claims (times the
    folders' depth)."""
    first: dict[str, OutputClaim] = {}  # folder -> the first claim of it
    holding: dict[str, OutputClaim] = {}  # folder -> the first claim of a folder inside it
    for claim in claims:
        folder = claim.folder
        parents = _parents(folder)
        other = first.get(folder) or next((first[p] for p in parents if p in first), None) \
            or holding.get(folder)
        if other is not None and (other.variant, other.path) != (claim.variant, claim.path):
            other_folder = other.folder
            relation = "the folder" if other_folder == folder else (
                "inside the folder" if folder.startswith(other_folder + "/") else "around the folder")
            yield Finding(codes.OUTPUT_FOLDER_COLLISION, claim.location,
                          f"`{claim.variant}` would train in `{folder}`, {relation} where `{other.variant}` "
                          f"({other.path}) trains: one run would resume from or overwrite the other's checkpoints",
                          "give one of them another `output_dir`, or another name"), claim.experiment, claim
        first.setdefault(folder, claim)
        for parent in parents:
            holding.setdefault(parent, claim)


def _parents(folder: str) -> list[str]:
    parts = folder.split("/")
    return ["/".join(parts[:end]) for end in range(1, len(parts))]


RULES = [OUTPUT_FOLDER_COLLISION]
