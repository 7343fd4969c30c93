"""TS015 — two training runs that would write into one folder.

Each variant trains into `<output_dir>/<variant>/<target>` (`compiler.ir.run_folder`), so variants of one
experiment never meet; but two experiments (in two files, or with nested `output_dir`s) can still resolve
to the same folder or one inside the other. A trainer that finds another run's checkpoint there resumes it
(LLaMA-Factory trained 0 steps and overwrote the adapter). The check needs every variant of the run, so the
runner gives it each batch's claims as the batches are merged, in run order (`FolderClaims`).
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
    """The folder one variant trains into, and where to point when it collides. A batch holds a claim for
    each of its variants until it is merged, so the folder is worked out when asked (from `output_dir`,
    the variant's name and its experiment's, as `compiler.ir.run_folder` does), and what the variants of
    one declaration share is held once (which halves what a large file's claims take)."""

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


class FolderClaims:
    """TS015 over the claims of a run, given a batch at a time in run order (`add`): each claim whose
    folder equals, lies inside or holds an earlier claim's. Linear in the claims (times the folders' depth).

    What is kept of a claim is its folder and its file, not the claim: the variant's name is its folder's
    last part (`run_folder_of` puts it there, and a name holds no `/`), and its place is needed only if it
    collides, which is known as it is added. Holding every claim of a run to its end, then a map of their
    folders, made the peak memory of a lint grow with its variants: lint -j1 --select TS0 of the
    benchmark's ten thousand files (three variants each) peaked at 17.5 MB traced (tracemalloc), 10.1 MB so."""

    def __init__(self) -> None:
        self.first: dict[str, str] = {}  # folder -> the file of its first claim
        self.holding: dict[str, str] = {}  # folder -> the first claimed folder inside it

    def add(self, claims: Iterable[OutputClaim]) -> Iterator[tuple[Finding, str, OutputClaim]]:
        """The TS015 finding of each of `claims` that collides, with its experiment's name and the claim."""
        first, holding = self.first, self.holding
        for claim in claims:
            folder = claim.folder
            parents = _parents(folder)
            other = folder if folder in first else next((p for p in parents if p in first), None)
            if other is None:
                other = holding.get(folder)
            if other is not None:
                other_variant, other_path = other.rpartition("/")[2], first[other]
                if (other_variant, other_path) != (claim.variant, claim.path):
                    relation = "the folder" if other == folder else (
                        "inside the folder" if folder.startswith(other + "/") else "around the folder")
                    yield Finding(codes.OUTPUT_FOLDER_COLLISION, claim.location,
                                  f"`{claim.variant}` would train in `{folder}`, {relation} where `{other_variant}` "
                                  f"({other_path}) trains: one run would resume from or overwrite the other's checkpoints",
                                  "give one of them another `output_dir`, or another name"), claim.experiment, claim
            first.setdefault(folder, claim.path)
            for parent in parents:
                holding.setdefault(parent, folder)


def _parents(folder: str) -> list[str]:
    parts = folder.split("/")
    return ["/".join(parts[:end]) for end in range(1, len(parts))]


RULES = [OUTPUT_FOLDER_COLLISION]
