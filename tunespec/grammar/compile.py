"""Lark compiles `tune.lark` into the tables that `lalr.py` runs; regenerate them after editing the grammar:

    python -m tunespec.grammar.compile

Lark is the parser generator: it analyses the grammar (LALR(1)), orders and merges the terminals exactly
as its basic lexer does, and decides how each rule builds its node (`_rule` inlined, `?rule` passing a
single child through, aliases). This module writes those decisions down as plain data, so that parsing at
run time needs neither Lark's import (~50 ms, more than a whole yamllint run) nor a grammar analysis.
`reference_parse` parses with Lark itself; the tests hold the two to the same result.

Lark is a development dependency (the `grammar` extra), pinned to `LARK_VERSION`: `tables_data` reads its
internals (`_create_unless`, `_parse_table`), which another version may change without notice.
"""

from __future__ import annotations

import pprint
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

TABLES = Path(__file__).with_name("tables.py")
GRAMMAR = Path(__file__).with_name("tune.lark")
LARK_OPTIONS = {"parser": "lalr", "lexer": "basic", "maybe_placeholders": False}
LARK_VERSION = "1.3.1"  # the version whose internals `tables_data` reads; pinned by the `grammar` extra


class WrongLark(RuntimeError):
    pass


def grammar_text() -> str:
    return GRAMMAR.read_text(encoding="utf-8")


def grammar_digest(text: str | None = None) -> str:
    """What the tables were made from: the grammar and Lark's options."""
    import hashlib

    text = grammar_text() if text is None else text
    return hashlib.sha256((text + repr(sorted(LARK_OPTIONS.items()))).encode()).hexdigest()


@lru_cache(maxsize=1)
def build_lark():
    try:
        import lark
    except ImportError:
        raise WrongLark(f"Lark is not installed: pip install 'tunespec[grammar]' (lark=={LARK_VERSION})") from None
    if lark.__version__ != LARK_VERSION:
        raise WrongLark(f"the tables are made with Lark {LARK_VERSION}, whose internals this module reads; "
                        f"Lark {lark.__version__} is installed: pip install 'tunespec[grammar]'")
    return lark.Lark(grammar_text(), **LARK_OPTIONS)


def tables_data(parser=None) -> dict[str, Any]:
    """The lexer and parser tables of the grammar as Lark makes them (`lalr.runtime_form` turns them into
    the form tables.py holds)."""
    from lark.lexer import PatternStr, _create_unless

    parser = parser or build_lark()
    lexer = parser.parser.lexer
    terminals, callbacks = _create_unless(lexer.terminals, lexer.g_regex_flags, lexer.re, lexer.use_bytes)
    keywords = {}
    for name, callback in callbacks.items():
        keywords[str(name)] = {str(t.pattern.value): str(t.name) for t in callback.scanner.terminals
                               if isinstance(t.pattern, PatternStr)}
    table = parser.parser.parser._parse_table
    rules = {}
    states = {}
    for state, actions in table.states.items():
        row = {}
        for symbol, (action, argument) in actions.items():
            if action.name == "Shift":
                row[str(symbol)] = (0, argument)
            else:
                rules.setdefault(id(argument), argument)
                row[str(symbol)] = (1, _rule_key(argument))
        states[state] = row
    return {
        "terminals": [(str(t.name), t.pattern.to_regexp()) for t in terminals],
        "keywords": keywords,
        "ignore": sorted(str(name) for name in lexer.ignore_types),
        "start_state": table.start_states["start"],
        "end_state": table.end_states["start"],
        "states": states,
        "rules": {_rule_key(rule): _rule_row(rule) for rule in rules.values()},
    }


def _rule_key(rule) -> str:
    return f"{rule.origin.name}: {' '.join(s.name for s in rule.expansion)}" + (f" -> {rule.alias}" if rule.alias else "")


def _rule_row(rule) -> tuple:
    """(origin, length, positions kept, positions spliced, how the node is built, callback name)."""
    options = rule.options
    kept = [i for i, s in enumerate(rule.expansion) if options.keep_all_tokens or not (s.is_term and s.filter_out)]
    spliced = [i for i in kept if not rule.expansion[i].is_term and rule.expansion[i].name.startswith("_")]
    origin = str(rule.origin.name)
    if origin.startswith("_"):
        how = "inline"
    elif options.expand1 and not rule.alias:
        how = "expand1"
    else:
        how = "call"
    return (origin, len(rule.expansion), tuple(kept), tuple(spliced), how, str(rule.alias or origin))


def canonical(data: dict[str, Any]) -> dict[str, Any]:
    """The tables with their states numbered in one order (breadth first from the start state, symbols in
    sorted order): Lark numbers the states differently from one interpreter to the next (set order varies
    with the hash seed), so two makings of the same tables are compared by this form."""
    states = data["states"]
    order = {data["start_state"]: 0}
    queue = [data["start_state"]]
    for state in queue:
        for symbol in sorted(states[state]):
            action, argument = states[state][symbol]
            if action == 0 and argument not in order:
                order[argument] = len(order)
                queue.append(argument)
    for state in sorted(states):  # states no shift reaches (none in an LALR table, but be total)
        order.setdefault(state, len(order))
    renumbered = {order[state]: {symbol: (action, order[argument] if action == 0 else argument)
                                 for symbol, (action, argument) in row.items()}
                  for state, row in states.items()}
    return {**data, "start_state": 0, "end_state": order[data["end_state"]], "states": renumbered}


def stored_form(data: dict[str, Any] | None = None) -> dict[str, Any]:
    """What tables.py holds: the run-time form (`lalr.runtime_form`) of the canonically numbered tables,
    so that the same grammar always writes the same file."""
    from tunespec.grammar.lalr import runtime_form

    return runtime_form(canonical(data or tables_data()))


def tables_source(data: dict[str, Any] | None = None) -> str:
    body = pprint.pformat(stored_form(data), width=110, sort_dicts=True)
    return (
        '"""Generated by `python -m tunespec.grammar.compile` from tune.lark; do not edit."""\n\n'
        f"GRAMMAR_DIGEST = {grammar_digest()!r}\n\n"
        f"TABLES = {body}\n"
    )


def reference_parse(text: str, builder: Any) -> Any:
    """Parse with Lark's own LALR parser and feed the tree to `builder`, bottom-up and without recursion."""
    from lark import Tree

    tree = build_lark().parse(text)
    results: dict[int, Any] = {}
    stack: list[tuple[Tree, bool]] = [(tree, False)]
    while stack:
        node, visited = stack.pop()
        if not visited:
            stack.append((node, True))
            stack.extend((child, False) for child in node.children if isinstance(child, Tree))
            continue
        children = [results.pop(id(child)) if isinstance(child, Tree) else child for child in node.children]
        results[id(node)] = getattr(builder, node.data)(*children)
    return results[id(tree)]


def main() -> int:
    try:
        source = tables_source()
    except WrongLark as error:
        print(f"tunespec.grammar.compile: {error}", file=sys.stderr)
        return 2
    TABLES.write_text(source, encoding="utf-8")
    print(f"wrote {TABLES}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
