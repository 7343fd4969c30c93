"""Names vulture (`.ci/run`'s dead-code check) reports that are used where it cannot see: by name from outside
Python's static references. Each line says who uses it; anything else vulture reports is dead code to remove.

    vulture tunespec .ci/vulture_whitelist.py --min-confidence 60
"""
# ruff: noqa
# mypy: ignore-errors

_ = object()

__getattr__  # module __getattr__ (PEP 562): `tunespec.lint` etc. imported lazily
_.import_decl  # AstBuilder callbacks, called by the grammar's rule names (grammar/parser.py, tables' "call")
_.preset_decl
_.experiment_decl
_.model_decl
_.true
_.false
open_brace  # AstBuilder.body: the grammar passes the `{` token; the callback's signature follows the rule
weights  # MemoryEstimate parts, read by name through PARTS (compiler/memory.py) and by show/the tests
gradients
signum  # signal handlers' signature (files.py, workers.py)
event  # sys.settrace callbacks' signature (templates/sandbox.py)
canonical  # grammar/compile.py: development helpers the tests use with Lark (the `grammar` extra)
reference_parse
REDUCE  # grammar/lalr.py: names the action code 1 beside SHIFT = 0, as tables.py stores it
NUMBER_SHAPE  # compiler/ast.py: the pattern `number_shaped` checks without `re`, held to it by tests/test_grammar.py
GRAMMAR_DIGEST  # grammar/tables.py: what the tables were made from, checked by tests/test_grammar.py
TuneLexer  # the Pygments entry point (pyproject.toml: pygments.lexers) and its class attributes
filenames
mimetypes
url
_.reads  # rules/datafiles.py: files opened, the tests' proof that each is read once per run
_.__dataclass_transform__  # record.py: read by type checkers (PEP 681) and tests/test_design.py
DOC_HEADINGS  # rules/engine.py: the rule-doc headings tests/test_registry.py holds every rule to
did_open  # server/app.py: LSP handlers, registered by pygls decorators
did_change
did_save
did_close
hover
definition
completion
intercepted_binops  # templates/sandbox.py: read by Jinja2's SandboxedEnvironment
load_bytecode  # templates/compiled.py: called by Jinja2 (BytecodeCache)
dump_bytecode  # templates/compiled.py: called by Jinja2 (BytecodeCache)
# tunespec/codes.py: the codes of the range rules generated from ranges.toml, looked up by their rule's name
# (rules/ranges.py, range_rule)
BATCH_SIZE_OUT_OF_RANGE
ACCUMULATE_STEPS_OUT_OF_RANGE
LEARNING_RATE_OUT_OF_RANGE
EPOCHS_OUT_OF_RANGE
LORA_RANK_OUT_OF_RANGE
LORA_ALPHA_NOT_POSITIVE
NUM_VIRTUAL_TOKENS_BELOW_ONE
_.descend_resolver  # templates/render.py _VerifyingLoader: called by libyaml's composer (PyYAML's _yaml) around every node
_.ascend_resolver
context_class  # templates/render.py: _BuiltinEnvironment's, which Jinja2's Environment reads to make each template's context
