"""Tokens of the OpenFGA DSL, each with its 1-based line and column.

A plain index-based scanner over the whole text, linear in its length. It differs from a CEL or
general-purpose lexer in three ways that follow OpenFGA's grammar (``OpenFGALexer.g4``):

- ``#`` starts a comment when it begins a line or follows whitespace; elsewhere it is the ``#``
  of ``group#member``.
- ``but not`` (one space) is a single operator token; ``but`` or ``not`` alone are names.
- ``{`` opens a condition body, which is not tokenised: everything up to the first ``}`` outside a
  string literal or ``//`` comment becomes one ``CEL`` token, trimmed the way OpenFGA trims it
  (leading blanks dropped; spaces ending a line dropped; final line breaks dropped; ``//``
  comments removed).

Line breaks are significant (they end declarations), so they are tokens; runs of blank and
comment-only lines collapse into one ``NEWLINE``.
"""

from __future__ import annotations

import re
from enum import StrEnum

import msgspec

from permsvc.model.errors import ModelIssue

__all__ = ("Kind", "Token", "tokenize")


class Kind(StrEnum):
    NAME = "name"
    NUMBER = "number"
    PUNCT = "punct"
    BUT_NOT = "but not"
    NEWLINE = "newline"
    CEL = "condition expression"
    EOF = "end of file"


class Token(msgspec.Struct, frozen=True):
    kind: Kind
    text: str
    line: int
    column: int
    space_before: bool = False
    tab_before: bool = False
    """For a line end: code on the line is followed by blanks that include a tab (or form feed).
    OpenFGA rejects those after a type name, a relation definition and a condition's '}'."""

    def describe(self) -> str:
        """How an error message names this token."""
        match self.kind:
            case Kind.NEWLINE:
                return "end of line"
            case Kind.EOF:
                return "end of file"
            case Kind.CEL:
                return "condition expression"
        return f"'{self.text}'"


_TOKEN = re.compile(
    r"(?P<lead>[ \t\f]*)"
    r"(?:(?P<nl>\r\n|\r|\n)"
    r"|(?P<name>[A-Za-z_](?:[A-Za-z0-9_\-]|[./](?=[A-Za-z0-9_]))*)"
    r"|(?P<number>[0-9]+(?:\.[0-9]+)*)"
    r"|(?P<punct>[:,\[\](){}#*<>])"
    r"|(?P<end>\Z)"
    r"|(?P<bad>.))"
)
_NAME_CHAR = re.compile(r"[A-Za-z0-9_\-]")
_BLANK = " \t\f"
_LINE_END = re.compile(r"[\r\n]")
_BODY_STOP = re.compile(r"[}\"']|//")
_CEL_TEXT = re.compile(r"(?:==|!=|<=|>=|&&|\|\||[A-Za-z0-9_ \t\f\r\n#:,<>!\[\]{}().?+*/%-])+")
_BREAKS = re.compile(r"\r\n|\r|\n")


_SPACES_BEFORE_BREAK = re.compile(r" +\n")


def _trim_expression(raw: str) -> str:
    body = raw.lstrip(" \t\f\r\n")
    # As OpenFGA reads a body: spaces (not tabs) that end a line go, then the final line breaks
    # (but not a '\r', nor blanks after the last break), then '//' comments.
    body = _SPACES_BEFORE_BREAK.sub("\n", body).rstrip("\n")
    return _remove_comments(body)


def _remove_comments(body: str) -> str:
    if "//" not in body:
        return body
    out: list[str] = []
    i, n = 0, len(body)
    while i < n:
        c = body[i]
        if c in "\"'":
            end = _skip_string(body, i)
            out.append(body[i:end])
            i = end
        elif c == "/" and body.startswith("//", i):
            nl = body.find("\n", i)
            i = n if nl < 0 else nl
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _skip_string(text: str, i: int) -> int:
    """Index just past the string literal starting at ``text[i]`` (a quote)."""
    return _scan_string(text, i)[0]


def _scan_string(text: str, i: int) -> tuple[int, bool]:
    """(index just past the string literal starting at ``text[i]``, whether it was closed).

    An unclosed literal ends at its line break (or the end of the text for ``\"\"\"``).
    """
    quote = text[i]
    triple = text.startswith(quote * 3, i)
    delim = quote * 3 if triple else quote
    j = i + len(delim)
    n = len(text)
    while j < n:
        c = text[j]
        if c == "\\":
            j += 2
            continue
        if not triple and c in "\r\n":
            return j, False
        if text.startswith(delim, j):
            return j + len(delim), True
        j += 1
    return n, False


class _Lexer:
    def __init__(self, text: str, file: str) -> None:
        self.text = text
        self.file = file
        self.line = 1
        self.line_start = 0
        self.tokens: list[Token] = []
        self.issues: list[ModelIssue] = []

    def col(self, i: int) -> int:
        return i - self.line_start + 1

    def newline(self, at: int, trailing_tab: int | None) -> None:
        if self.tokens and self.tokens[-1].kind is not Kind.NEWLINE:
            self.tokens.append(self.line_end(Kind.NEWLINE, "\n", at, trailing_tab))
        self.line += 1
        self.line_start = at + 1

    def line_end(self, kind: Kind, text: str, at: int, trailing_tab: int | None) -> Token:
        """A NEWLINE or EOF token; ``trailing_tab`` is where a tabbed blank run after code starts."""
        if trailing_tab is not None and self.tokens and self.tokens[-1].line == self.line:
            return Token(kind, text, self.line, self.col(trailing_tab), True, True)
        return Token(kind, text, self.line, self.col(at))

    def run(self) -> None:
        text, n = self.text, len(self.text)
        tokens = self.tokens
        after_break = True
        i = 0
        while True:
            m = _TOKEN.match(text, i)
            assert m is not None  # every position matches: 'bad' takes any other character
            kind, end = m.lastgroup, m.end()
            lead_end = m.end("lead")
            space = after_break or lead_end > i
            tabbed = "\t" in text[i:lead_end] or "\f" in text[i:lead_end]
            column = lead_end - self.line_start + 1
            after_break = False
            if kind == "nl":
                self.newline(end - 1, i if tabbed else None)
                after_break = True
            elif kind == "name":
                word = m.group("name")
                if (
                    word == "but"
                    and text.startswith(" not", end)
                    and not _NAME_CHAR.match(text, end + 4)
                ):
                    tokens.append(Token(Kind.BUT_NOT, "but not", self.line, column, space))
                    end += 4
                else:
                    tokens.append(Token(Kind.NAME, word, self.line, column, space))
            elif kind == "number":
                tokens.append(Token(Kind.NUMBER, m.group("number"), self.line, column, space))
            elif kind == "punct":
                c = text[lead_end]
                if c == "#" and space:
                    line_end = _LINE_END.search(text, end)
                    end = line_end.start() if line_end else n
                    if (
                        tabbed
                        and tokens
                        and tokens[-1].kind is not Kind.NEWLINE
                        and tokens[-1].line == self.line
                    ):
                        self.issues.append(
                            ModelIssue(
                                message="a comment after code must be separated from it by spaces, not tabs",
                                line=self.line,
                                column=column,
                                file=self.file,
                                rule="syntax",
                            )
                        )
                    after_break = True  # what follows a comment is a line break (or the end)
                else:
                    tokens.append(Token(Kind.PUNCT, c, self.line, column, space))
                    if c == "{":
                        end = self.condition_body(end)
            elif kind == "bad":
                self.issues.append(
                    ModelIssue(
                        message=f"unexpected character {text[lead_end]!r}",
                        line=self.line,
                        column=column,
                        file=self.file,
                        rule="syntax",
                    )
                )
            else:
                tokens.append(self.line_end(Kind.EOF, "", n, i if tabbed else None))
                return
            i = end

    def condition_body(self, start: int) -> int:
        """Emit the ``CEL`` token of the body starting at ``start``; returns the index of its ``}``."""
        text, n = self.text, len(self.text)
        j = start
        while True:
            m = _BODY_STOP.search(text, j)
            self.check_expression_text(j, m.start() if m else n)
            if m is None:
                j = n
                break
            j = m.start()
            c = text[j]
            if c == "}":
                break
            if c == "/":
                nl = text.find("\n", j)
                j = n if nl < 0 else nl
            else:
                end, closed = _scan_string(text, j)
                if not closed:
                    self.body_issue(j, "unterminated string literal in a condition expression")
                j = end
        line, column = self.line, self.col(start)
        self.tokens.append(Token(Kind.CEL, _trim_expression(text[start:j]), line, column))
        breaks = list(_BREAKS.finditer(text, start, j))
        if breaks:
            self.line += len(breaks)
            self.line_start = breaks[-1].end()
        if j >= n:
            # A stand-in '}' lets the parser finish the declaration: the one error is reported here.
            self.tokens.append(Token(Kind.PUNCT, "}", self.line, self.col(j)))
            self.issues.append(
                ModelIssue(
                    message="condition body is not closed: expected '}'",
                    line=line,
                    column=column - 1,
                    file=self.file,
                    rule="syntax",
                )
            )
        return j

    def check_expression_text(self, start: int, end: int) -> None:
        """Report the first character outside string literals that starts no CEL token.

        A lone '=', '&' or '|', '@', '$', ';', non-ASCII, ...: OpenFGA's lexer rejects those.
        """
        i = start
        while i < end:
            m = _CEL_TEXT.match(self.text, i, end)
            if m is None:
                c = self.text[i]
                hint = {
                    "=": ": write '==' to compare",
                    "&": ": write '&&'",
                    "|": ": write '||'",
                }.get(c, "")
                self.body_issue(i, f"unexpected character {c!r} in a condition expression{hint}")
                return
            i = m.end()

    def body_issue(self, at: int, message: str) -> None:
        """Record an issue at text index ``at`` inside a condition body.

        Its line is counted from the text, as the body may start on an earlier line than the
        lexer's current one.
        """
        before = self.text.rfind("\n", 0, at)
        line = self.text.count("\n", 0, at) + 1
        self.issues.append(
            ModelIssue(
                message=message, line=line, column=at - before, file=self.file, rule="syntax"
            )
        )


def tokenize(text: str, file: str = "") -> tuple[list[Token], list[ModelIssue]]:
    """Split ``text`` into tokens; also returns the problems found (unknown characters, ...).

    Line breaks may be ``\\n``, ``\\r\\n`` or ``\\r``. The token list always ends with ``EOF``.
    """
    lexer = _Lexer(text, file)
    lexer.run()
    return lexer.tokens, lexer.issues
