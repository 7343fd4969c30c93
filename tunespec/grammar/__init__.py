"""Stage 1: the `.tune` grammar and the parser that reads it.

The grammar stage knows nothing of fields, models or rules; it turns text into whatever the transformer
it is given builds (the compiler's AST), and turns Lark's errors into sentences a user can act on.
"""

from tunespec.grammar.parser import SyntaxProblem, parse, parse_again

__all__ = ["SyntaxProblem", "parse", "parse_again"]
