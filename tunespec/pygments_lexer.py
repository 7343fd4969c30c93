"""A Pygments lexer for `.tune` files: `pygmentize -l tune`, and ```tune blocks in Sphinx and MkDocs.

Registered as the `pygments.lexers` entry point `tune` (`pip install 'tunespec[pygments]'`). Only Pygments
imports this module; tunespec itself never does, so Pygments is no run-time dependency.

It follows `tunespec/grammar/tune.lark`: reserved words are whole words (`-` continues a name, as in
`fms-hf-tuning`), `model` is a declaration before a string and a field before `=`, numbers are digits with
`_` between them, strings take JSON's escapes and `\"\"\"` strings span lines. What the grammar would reject
at the level of characters (a bad escape, `8b`, `'single quotes'`, `:`) is an error token.
"""

from __future__ import annotations

from pygments.lexer import RegexLexer, bygroups, include
from pygments.token import (
    Comment, Error, Keyword, Name, Number, Operator, Punctuation, String, Whitespace,
)

NAME = r"[A-Za-z_][A-Za-z0-9_-]*"
END = r"(?![A-Za-z0-9_-])"  # the end of a whole word (a name may hold `-`)
DIGITS = r"[0-9]+(?:_[0-9]+)*"
NUMBER_END = r"(?![A-Za-z0-9_.])"  # `8b` or `1.` is one malformed number, not a number and a name


class TuneLexer(RegexLexer):
    """Lexer for tunespec's `.tune` experiment files."""

    name = "tune"
    aliases = ["tune", "tunespec"]
    filenames = ["*.tune"]
    mimetypes = ["text/x-tune"]
    url = "https://github.com/your-org/tunespec"

    tokens = {
        "root": [
            (r"\s+", Whitespace),
            (r"#\s*noqa\b[^\n]*", Comment.Special),
            (r"#[^\n]*", Comment.Single),
            (r'"""', String.Double, "long-string"),
            (r'"', String.Double, "string"),
            (rf"(preset|experiment){END}(\s+)({NAME})", bygroups(Keyword.Declaration, Whitespace, Name.Class)),
            (rf"(extends){END}(\s+)({NAME})", bygroups(Keyword, Whitespace, Name.Class)),
            (rf"import{END}", Keyword.Namespace),
            (rf'model{END}(?=\s*")', Keyword.Declaration),
            (rf"{NAME}(?=\s*=)", Name.Attribute),
            (rf"{NAME}(?=\s*\{{)", Name.Tag),
            (rf"(true|false){END}", Keyword.Constant),
            (rf"sweep{END}", Keyword),
            (rf"(preset|experiment|extends|model){END}", Keyword),
            (NAME, Name.Constant),
            include("numbers"),
            (r"=", Operator),
            (r"[{}\[\],]", Punctuation),
        ],
        "numbers": [
            (rf"-?{DIGITS}(?:\.{DIGITS})?[eE][+-]?{DIGITS}{NUMBER_END}", Number.Float),
            (rf"-?{DIGITS}\.{DIGITS}{NUMBER_END}", Number.Float),
            (rf"-?{DIGITS}{NUMBER_END}", Number.Integer),
            (r"-?[0-9][A-Za-z0-9_.+-]*", Error),
        ],
        "string": [
            (r'\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})', String.Escape),
            (r'[^"\\\n]+', String.Double),
            (r'"', String.Double, "#pop"),
            (r"\\.?", Error),
            (r"\n", Error, "#pop"),  # a "..." string ends on its line
        ],
        "long-string": [
            (r'"""', String.Double, "#pop"),
            (r'[^"]+', String.Double),
            (r'"', String.Double),
        ],
    }
