"""The pygls server: each request or notification of the protocol answered by the modules beside this one.

Positions: tunespec counts 1-based lines and columns in characters; the protocol counts 0-based lines and
columns in the units the client chose (UTF-16 unless it asked for another). The conversions are here,
and only here.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path

from tunespec import codes
from tunespec import __version__
from tunespec.location import Span
from tunespec.compiler.loader import normalised
from tunespec.diagnostics import Diagnostic, Severity
from tunespec.server.complete import candidates, context_at
from tunespec.server.documents import Analysis, Place, analyse, place_at
from tunespec.server.hover import hover_text

log = logging.getLogger("tunespec.server")

SEVERITIES = {
    Severity.ERROR: lsp.DiagnosticSeverity.Error,
    Severity.WARNING: lsp.DiagnosticSeverity.Warning,
    Severity.INFO: lsp.DiagnosticSeverity.Information,
}
COMPLETION_KINDS = {
    "field": lsp.CompletionItemKind.Field,
    "block": lsp.CompletionItemKind.Module,
    "value": lsp.CompletionItemKind.EnumMember,
    "model": lsp.CompletionItemKind.Value,
    "keyword": lsp.CompletionItemKind.Keyword,
    "reference": lsp.CompletionItemKind.Reference,
}


class TuneServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("tunespec", __version__, text_document_sync_kind=lsp.TextDocumentSyncKind.Incremental)
        self.analyses: dict[str, Analysis] = {}  # uri -> the analysis of its current text
        self.parsed: dict[str, Analysis] = {}  # uri -> the last analysis whose text parsed (names, models)
        self.config_problems_shown: set[str] = set()

    # --- positions ------------------------------------------------------------------------------------

    def units(self, text: str) -> int:
        return self.workspace.position_codec.client_num_units(text)

    def position(self, lines: list[str], line: int, column: int) -> lsp.Position:
        """A 1-based line and character column as the client counts."""
        if line > len(lines):
            return lsp.Position(line=max(len(lines) - 1, 0), character=self.units(lines[-1]) if lines else 0)
        return lsp.Position(line=line - 1, character=self.units(lines[line - 1][:max(column - 1, 0)]))

    def range(self, lines: list[str], span: Span) -> lsp.Range:
        return lsp.Range(start=self.position(lines, span.line, span.column),
                         end=self.position(lines, span.end_line, span.end_column))

    def place(self, lines: list[str], position: lsp.Position) -> tuple[int, int]:
        """The client's position as a 1-based line and character column."""
        text = lines[position.line] if position.line < len(lines) else ""
        units, column = 0, 0
        for char in text:
            if units >= position.character:
                break
            units += self.units(char)
            column += 1
        return position.line + 1, column + 1

    # --- documents ----------------------------------------------------------------------------------

    def text(self, uri: str) -> str:
        return normalised(self.workspace.get_text_document(uri).source)

    def refresh(self, uri: str) -> None:
        """Lint the buffer and publish its diagnostics."""
        document = self.workspace.get_text_document(uri)
        analysis = analyse(document.source, document_path(uri))
        self.analyses[uri] = analysis
        if analysis.module is not None:
            self.parsed[uri] = analysis
        if analysis.config_problem and analysis.config_problem not in self.config_problems_shown:
            self.config_problems_shown.add(analysis.config_problem)
            self.window_show_message(lsp.ShowMessageParams(
                type=lsp.MessageType.Warning,
                message=f"tunespec: {analysis.config_problem} (linting with the defaults)"))
        lines = analysis.lines
        diagnostics = [self.diagnostic(lines, item) for item in analysis.diagnostics()]
        self.text_document_publish_diagnostics(
            lsp.PublishDiagnosticsParams(uri=uri, version=document.version, diagnostics=diagnostics))

    def diagnostic(self, lines: list[str], item: Diagnostic) -> lsp.Diagnostic:
        span = Span(item.line, item.column, item.end_line, item.end_column)
        return lsp.Diagnostic(range=self.range(lines, span), severity=SEVERITIES[item.severity], code=item.code,
                              source="tunespec", message=item.message + (f"\nhelp: {item.help}" if item.help else ""))

    def place_of(self, params: lsp.TextDocumentPositionParams) -> tuple[Analysis, Place] | tuple[None, None]:
        """What is written at the request's position in the buffer's current text (which must parse)."""
        analysis = self.current(params.text_document.uri)
        if analysis is None:
            return None, None
        place = place_at(analysis.module, *self.place(analysis.lines, params.position))
        return (analysis, place) if place is not None else (None, None)

    def current(self, uri: str) -> Analysis | None:
        """The analysis of the buffer's current text, when that text parsed."""
        analysis = self.analyses.get(uri)
        if analysis is None or analysis.text != self.workspace.get_text_document(uri).source:
            self.refresh(uri)
            analysis = self.analyses[uri]
        return analysis if analysis.module is not None else None


def document_path(uri: str) -> Path:
    """The file a buffer will be saved as; an unsaved new buffer is taken to live in the current folder."""
    path = to_fs_path(uri) if uri.startswith("file:") else None
    return Path(path).absolute() if path else Path.cwd() / (re.split(r"[:/]", uri)[-1] or "untitled.tune")


server = TuneServer()


@server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: TuneServer, params: lsp.DidOpenTextDocumentParams) -> None:
    ls.refresh(params.text_document.uri)


@server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
def did_change(ls: TuneServer, params: lsp.DidChangeTextDocumentParams) -> None:
    ls.refresh(params.text_document.uri)


@server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
def did_save(ls: TuneServer, params: lsp.DidSaveTextDocumentParams) -> None:
    """A saved file may be imported by the other open ones: lint them all again."""
    for uri in list(ls.analyses):
        if uri in ls.workspace.text_documents:
            ls.refresh(uri)


@server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: TuneServer, params: lsp.DidCloseTextDocumentParams) -> None:
    uri = params.text_document.uri
    ls.analyses.pop(uri, None)
    ls.parsed.pop(uri, None)
    ls.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=uri, diagnostics=[]))


@server.feature(lsp.TEXT_DOCUMENT_HOVER)
def hover(ls: TuneServer, params: lsp.HoverParams) -> lsp.Hover | None:
    analysis, place = ls.place_of(params)
    text = hover_text(analysis, place) if place is not None else None
    if text is None:
        return None
    return lsp.Hover(contents=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=text),
                     range=ls.range(analysis.lines, place.span))


@server.feature(lsp.TEXT_DOCUMENT_DEFINITION)
def definition(ls: TuneServer, params: lsp.DefinitionParams) -> lsp.Location | None:
    analysis, place = ls.place_of(params)
    if place is None:
        return None
    if place.kind == "import":
        link = next((link for link in analysis.source.imports if link.node.path.span == place.span), None)
        if link is None or link.target is None:
            return None
        start = lsp.Position(line=0, character=0)
        return lsp.Location(uri=from_fs_path(str(link.target.path)), range=lsp.Range(start=start, end=start))
    name = place.name if place.kind == "extends" else _declared_model(place)
    if name is None:
        return None
    ref = analysis.result.program.scope(analysis.source).names.get(name)
    if ref is None or ref.file.text is None:
        return None
    return lsp.Location(uri=from_fs_path(str(ref.file.path)),
                        range=ls.range(ref.file.text.split("\n"), ref.decl.name.span))


def _declared_model(place) -> str | None:
    """The model a `model = "ID"` names (its declaration, when the file declares or imports one)."""
    if place.kind == "field" and place.name == "model" and place.decl.kind != "model":
        value = place.member.value
        return value.value if isinstance(getattr(value, "value", None), str) else None
    return None


@server.feature(lsp.TEXT_DOCUMENT_COMPLETION, lsp.CompletionOptions(trigger_characters=["=", '"', "["]))
def completion(ls: TuneServer, params: lsp.CompletionParams) -> lsp.CompletionList:
    uri = params.text_document.uri
    text = ls.text(uri)
    lines = text.split("\n")
    line, column = ls.place(lines, params.position)
    offset = sum(len(item) + 1 for item in lines[:line - 1]) + column - 1
    context = context_at(text, offset)
    start, end = _line_column(text, context.start), _line_column(text, context.end)
    edit_range = lsp.Range(start=ls.position(lines, *start), end=ls.position(lines, *end))
    items = [lsp.CompletionItem(label=item.label, kind=COMPLETION_KINDS[item.kind], detail=item.detail or None,
                                filter_text=item.insert, sort_text=f"{index:04d}",
                                text_edit=lsp.TextEdit(range=edit_range, new_text=item.insert))
             for index, item in enumerate(candidates(context, ls.parsed.get(uri)))]
    return lsp.CompletionList(is_incomplete=False, items=items)


def _line_column(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


@server.feature(lsp.TEXT_DOCUMENT_FORMATTING)
def formatting(ls: TuneServer, params: lsp.DocumentFormattingParams) -> list[lsp.TextEdit] | None:
    """The whole buffer in `tunespec fmt`'s layout; a buffer with a syntax error is left as it is."""
    from tunespec.format import FormatError, formatted_or_raise
    from tunespec.grammar import SyntaxProblem

    uri = params.text_document.uri
    source = ls.workspace.get_text_document(uri).source
    try:
        formatted = formatted_or_raise(normalised(source))
    except SyntaxProblem as error:
        where = os.path.basename(document_path(uri))
        ls.window_show_message(lsp.ShowMessageParams(type=lsp.MessageType.Warning, message=(
            f"{where}:{error.line}:{error.column}: {codes.SYNTAX_ERROR} {error.message} (not formatted)")))
        return None
    except FormatError as error:
        ls.window_show_message(lsp.ShowMessageParams(type=lsp.MessageType.Error, message=f"tunespec fmt: {error}"))
        return None
    if formatted == source:
        return []
    lines = source.split("\n")
    end = lsp.Position(line=len(lines) - 1, character=ls.units(lines[-1]))
    return [lsp.TextEdit(range=lsp.Range(start=lsp.Position(line=0, character=0), end=end), new_text=formatted)]


def serve() -> None:
    """Answer one client over stdin and stdout until it says exit."""
    logging.basicConfig(level=logging.WARNING, format="tunespec server: %(levelname)s: %(message)s")
    server.start_io()
