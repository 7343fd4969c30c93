"""Stage 3: the rules. `REGISTRY` is the explicit list of every rule, one module per family."""

from tunespec.rules import language, ranges
from tunespec.rules.engine import Registry, Rule

REGISTRY = Registry([*language.RULES, *ranges.RULES])

__all__ = ["REGISTRY", "Rule"]
