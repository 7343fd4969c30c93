"""TS9xx — hygiene of the files themselves. TS901 is reported by the engine, which alone knows what each
`# noqa` comment silenced; it is declared here for documentation and selection."""

from __future__ import annotations

from tunespec import codes
from tunespec.diagnostics import Severity
from tunespec.rules.engine import SCOPE_ENGINE, Rule, dedent

UNUSED_NOQA = Rule(codes.UNUSED_NOQA, "unused-noqa", Severity.INFO, "A `# noqa` comment that silenced nothing", dedent("""
    ## What it does
    Reports a `# noqa` comment in a linted file that silenced no diagnostic on its line, or the codes of a
    `# noqa: CODE, ...` that silenced nothing (a code of no rule included).

    ## Why is this bad?
    A stale suppression hides the next real problem on that line, and tells readers a problem is there
    when it is not.

    ## Example
    ```tune
    experiment tickets {
      model  = "ibm/granite-3-1-8b-base"  # noqa: TS013
      method = lora
      data { train = "data/train.jsonl" }
    }
    ```

    ## Use instead
    ```tune
    experiment tickets {
      model  = "ibm/granite-3-1-8b-base"
      method = lora
      data { train = "data/train.jsonl" }
    }
    ```

    ## Source
    tunespec, after ruff's RUF100 (unused-noqa).
    """), None, SCOPE_ENGINE)

RULES = [UNUSED_NOQA]
