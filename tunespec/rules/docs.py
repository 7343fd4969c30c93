"""The rule catalog as a Markdown page (`tunespec rules --format markdown` writes docs/rules.md)."""

from __future__ import annotations

import re

from tunespec.rules.engine import Registry

FAMILIES = [
    ("TS0", "The language and the structure of a program"),
    ("TS1", "Documented ranges (watsonx.ai: Parameters for tuning foundation models)"),
    ("TS2", "Method and model consistency"),
    ("TS3", "Advice"),
    ("TS4", "Training data"),
    ("TS5", "Targets"),
    ("TS9", "Hygiene"),
]


def anchor(rule) -> str:
    """GitHub's anchor for the rule's heading (SARIF's helpUri points at it)."""
    return f"{rule.code.lower()}-{rule.name}"


def page(rule) -> str:
    """One rule's documentation as `tunespec rule CODE` prints it (and the language server's hover shows)."""
    return f"# {rule.code} {rule.name} ({rule.severity.value})\n\n{rule.summary}.\n\n{rule.doc}"


def markdown(registry: Registry) -> str:
    rules = list(registry)
    lines = ["# tunespec rules", "",
             "Generated from the rule registry by `tunespec rules --format markdown`; do not edit by hand.",
             "Every rule can be selected, ignored or given another severity by code, prefix or name "
             "(`[tool.tunespec]`, `--select`, `--ignore`), and silenced on a line with `# noqa: CODE`.", "",
             "| code | name | severity | summary |", "|---|---|---|---|"]
    lines += [f"| [{r.code}](#{anchor(r)}) | `{r.name}` | {r.severity.value} | {r.summary} |" for r in rules]
    for prefix, title in FAMILIES:
        family = [r for r in rules if r.code.startswith(prefix)]
        if not family:
            continue
        lines += ["", f"## {prefix}xx: {title}"]
        for rule in family:
            doc = re.sub(r"^## ", "#### ", rule.doc, flags=re.M)
            lines += ["", f"### {rule.code} {rule.name}", "",
                      f"*{rule.severity.value}*: {rule.summary}.", "", doc]
    return "\n".join(lines) + "\n"
