"""Stage 3: the rules. `REGISTRY` is the explicit list of every rule, one module per family."""

from tunespec.rules import advice, data, hygiene, language, method, outputs, ranges, targets, training
from tunespec.rules.engine import Registry, Rule

REGISTRY = Registry([*language.RULES, *outputs.RULES, *ranges.RULES, *method.RULES, *training.RULES, *advice.RULES, *data.RULES, *targets.RULES,
                     *hygiene.RULES])

__all__ = ["REGISTRY", "Rule"]
