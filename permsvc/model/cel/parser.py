"""CEL source text -> syntax tree.

A hand-written lexer and recursive-descent parser for the Common Expression Language grammar
(github.com/google/cel-spec ``doc/langdef.md``). Operators become :class:`Call` nodes named the way
cel-go names them (``_+_``, ``_<_``, ``@in``, ``!_``, ``-_``, ``_?_:_``) so the checker and the
interpreter share one overload table; the macros ``has``, ``all``, ``exists``, ``exists_one``,
``map`` and ``filter`` become :class:`Select` (test-only) and :class:`Comprehension` nodes at
parse time, as cel-go's parser does.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

__all__ = (
    "Call",
    "CelSyntaxError",
    "Comprehension",
    "Const",
    "Expr",
    "Ident",
    "ListLit",
    "MapLit",
    "Select",
    "parse",
)

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
UINT64_MAX = 2**64 - 1

MAX_EXPRESSION_LENGTH = 100_000
MAX_NESTING_DEPTH = 250


class CelSyntaxError(Exception):
    """The expression does not parse. ``offset`` is the 0-based character offset of the problem.

    ``message`` is worded as cel-go words it: grammar errors start with ``Syntax error:``; literal
    range errors and reserved identifiers do not.
    """

    def __init__(self, message: str, offset: int, *, grammar: bool = True) -> None:
        super().__init__(message)
        self.message = f"Syntax error: {message}" if grammar else message
        self.offset = offset


class Const(msgspec.Struct, frozen=True, tag="const"):
    """A literal. ``kind`` is the CEL type name of ``value`` (``int``, ``uint``, ``string``, ...)."""

    kind: str
    value: Any
    offset: int = 0


class Ident(msgspec.Struct, frozen=True, tag="ident"):
    name: str
    offset: int = 0


class Select(msgspec.Struct, frozen=True, tag="select"):
    """``operand.field``; ``test_only`` is the ``has(operand.field)`` macro."""

    operand: Expr
    field: str
    test_only: bool = False
    offset: int = 0


class Call(msgspec.Struct, frozen=True, tag="call"):
    """A function or operator call; ``target`` is the receiver of a member call (``t.f(args)``)."""

    function: str
    args: tuple[Expr, ...]
    target: Expr | None = None
    offset: int = 0


class ListLit(msgspec.Struct, frozen=True, tag="list"):
    elements: tuple[Expr, ...]
    offset: int = 0


class MapLit(msgspec.Struct, frozen=True, tag="map"):
    entries: tuple[tuple[Expr, Expr], ...]
    offset: int = 0


class Comprehension(msgspec.Struct, frozen=True, tag="comprehension"):
    """A macro over a list or map: ``range.macro(var, body)`` (``map`` may also carry a filter).

    ``macro`` is one of ``all``, ``exists``, ``exists_one``, ``map``, ``filter``. For the
    three-argument ``map(x, filter, transform)``, ``predicate`` is the filter and ``body`` the
    transform; otherwise ``predicate`` is None.
    """

    macro: str
    iter_range: Expr
    var: str
    body: Expr
    predicate: Expr | None = None
    offset: int = 0


Expr = Const | Ident | Select | Call | ListLit | MapLit | Comprehension

_RESERVED = frozenset(
    {
        "as", "break", "const", "continue", "else", "for", "function", "if", "import", "let",
        "loop", "package", "namespace", "return", "var", "void", "while",
    }
)  # fmt: skip

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>[ \t\r\n\f]+|//[^\n]*)
  | (?P<number>0[xX][0-9a-fA-F]+[uU]?|(?:[0-9]+\.[0-9]+(?:[eE][+-]?[0-9]+)?|[0-9]+[eE][+-]?[0-9]+|\.[0-9]+(?:[eE][+-]?[0-9]+)?)|[0-9]+[uU]?)
  | (?P<string>[rR]?[bB]?[rR]?(?:\"\"\"|'''|"|'))
  | (?P<ident>[_a-zA-Z][_a-zA-Z0-9]*)
  | (?P<op>\|\||&&|==|!=|<=|>=|[<>+\-*/%!?:.,\[\](){}])
    """,
    re.VERBOSE,
)

_ESCAPES = {
    "a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
    "\\": "\\", "'": "'", '"': '"', "`": "`", "?": "?",
}  # fmt: skip

_RELOPS = {"<": "_<_", "<=": "_<=_", ">": "_>_", ">=": "_>=_", "==": "_==_", "!=": "_!=_"}
_BINARY: dict[tuple[str, str], tuple[int, str]] = {
    ("op", "||"): (1, "_||_"),
    ("op", "&&"): (2, "_&&_"),
    **{("op", op): (3, function) for op, function in _RELOPS.items()},
    ("ident", "in"): (3, "@in"),
    **{("op", op): (4, f"_{op}_") for op in ("+", "-")},
    **{("op", op): (5, f"_{op}_") for op in ("*", "/", "%")},
}
"""CEL's binary operators by token (kind, text): (precedence, function), loosest first."""


class _Tok(msgspec.Struct, frozen=True):
    kind: str  # number | string | ident | op | eof
    text: str
    offset: int
    value: Any = None


def _lex(text: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    pos = 0
    n = len(text)
    while pos < n:
        m = _TOKEN_RE.match(text, pos)
        if m is None:
            raise CelSyntaxError(f"token recognition error at: '{text[pos]}'", pos)
        kind = m.lastgroup or ""
        if kind == "ws":
            pos = m.end()
            continue
        if kind == "string":
            tok, pos = _lex_string(text, pos, m.group(0))
            tokens.append(tok)
            continue
        tokens.append(_Tok(kind, m.group(0), pos))
        pos = m.end()
    tokens.append(_Tok("eof", "<EOF>", n))
    return tokens


def _lex_string(text: str, start: int, prefix_and_quote: str) -> tuple[_Tok, int]:
    quote = prefix_and_quote.lstrip("rRbB")
    prefix = prefix_and_quote[: len(prefix_and_quote) - len(quote)].lower()
    raw = "r" in prefix
    is_bytes = "b" in prefix
    pos = start + len(prefix_and_quote)
    triple = len(quote) == 3
    chunks: list[str | int] = []
    n = len(text)
    while True:
        if pos >= n:
            raise CelSyntaxError("unterminated string literal", start)
        if text.startswith(quote, pos):
            pos += len(quote)
            break
        ch = text[pos]
        if ch == "\n" and not triple:
            raise CelSyntaxError("newline in single-quoted string literal", pos)
        if ch == "\\" and not raw:
            decoded, pos = _lex_escape(text, pos, is_bytes)
            chunks.append(decoded)
            continue
        if ch == "\\" and raw and pos + 1 < n:
            chunks.append(text[pos : pos + 2])
            pos += 2
            continue
        chunks.append(ch)
        pos += 1
    if is_bytes:
        # Characters of a bytes literal are UTF-8 encoded; \x and octal escapes are raw bytes.
        out = bytearray()
        for chunk in chunks:
            if isinstance(chunk, int):
                out.append(chunk)
            else:
                out.extend(chunk.encode("utf-8"))
        return _Tok("bytes", text[start:pos], start, bytes(out)), pos
    body = "".join(chr(c) if isinstance(c, int) else c for c in chunks)
    return _Tok("string", text[start:pos], start, body), pos


def _lex_escape(text: str, pos: int, is_bytes: bool) -> tuple[str | int, int]:
    if pos + 1 >= len(text):
        raise CelSyntaxError("invalid escape sequence at end of input", pos)
    ch = text[pos + 1]
    if ch in _ESCAPES:
        return _ESCAPES[ch], pos + 2
    if ch in "xX":
        code = _escape_code(text, pos, pos + 2, 2, 16, "\\x")
        return (code if is_bytes else chr(code)), pos + 4
    if ch in "uU":
        if is_bytes:
            raise CelSyntaxError("\\u escapes are not allowed in bytes literals", pos)
        width = 4 if ch == "u" else 8
        code = _escape_code(text, pos, pos + 2, width, 16, f"\\{ch}")
        if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            raise CelSyntaxError(f"invalid unicode code point in \\{ch} escape sequence", pos)
        return chr(code), pos + 2 + width
    if ch in "0123":
        code = _escape_code(text, pos, pos + 1, 3, 8, "octal")
        return (code if is_bytes else chr(code)), pos + 4
    raise CelSyntaxError(f"invalid escape sequence '\\{ch}'", pos)


def _escape_code(text: str, pos: int, start: int, width: int, base: int, what: str) -> int:
    """The code point of the ``width`` digits in ``base`` (16 or 8) at ``start`` of the escape at
    ``pos``; fewer digits, or one outside the base, is an invalid ``what`` escape."""
    digits = text[start : start + width]
    alphabet = "0123456789abcdefABCDEF" if base == 16 else "01234567"
    if len(digits) != width or not all(c in alphabet for c in digits):
        raise CelSyntaxError(f"invalid {what} escape sequence", pos)
    return int(digits, base)


def parse(text: str) -> Expr:
    """Parse a CEL expression.

    Raises:
        CelSyntaxError: the text is not a well-formed CEL expression (or is absurdly long or deep).
    """
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise CelSyntaxError(
            f"expression is {len(text)} characters long; the limit is {MAX_EXPRESSION_LENGTH}", 0
        )
    parser = _Parser(_lex(text))
    expr = parser.expr()
    tok = parser.peek()
    if tok.kind != "eof":
        raise CelSyntaxError(f"mismatched input '{tok.text}' expecting <EOF>", tok.offset)
    return expr


class _Parser:
    def __init__(self, tokens: list[_Tok]) -> None:
        self.tokens = tokens
        self.i = 0
        self.depth = 0

    def peek(self) -> _Tok:
        return self.tokens[self.i]

    def next(self) -> _Tok:
        tok = self.tokens[self.i]
        if tok.kind != "eof":
            self.i += 1
        return tok

    def at_op(self, text: str) -> bool:
        tok = self.tokens[self.i]
        return tok.kind == "op" and tok.text == text

    def expect_op(self, text: str) -> _Tok:
        tok = self.next()
        if tok.kind != "op" or tok.text != text:
            raise CelSyntaxError(f"mismatched input '{tok.text}' expecting '{text}'", tok.offset)
        return tok

    def _enter(self, offset: int) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING_DEPTH:
            raise CelSyntaxError(
                f"expression nesting exceeds the limit of {MAX_NESTING_DEPTH}", offset
            )

    def expr(self) -> Expr:
        self._enter(self.peek().offset)
        try:
            cond = self.binary()
            if self.at_op("?"):
                tok = self.next()
                truthy = self.binary()
                self.expect_op(":")
                falsy = self.expr()
                return Call("_?_:_", (cond, truthy, falsy), offset=tok.offset)
            return cond
        finally:
            self.depth -= 1

    def binary(self, least: int = 1) -> Expr:
        """The binary operators of :data:`_BINARY` that bind at least as tightly as ``least``, each
        grouping to the left (``a - b - c`` is ``(a - b) - c``; ``a || b && c`` is ``a || (b && c)``)."""
        left = self.unary()
        while True:
            tok = self.peek()
            found = _BINARY.get((tok.kind, tok.text))
            if found is None or found[0] < least:
                return left
            self.next()
            precedence, function = found
            left = Call(function, (left, self.binary(precedence + 1)), offset=tok.offset)

    def unary(self) -> Expr:
        tok = self.peek()
        if tok.kind == "op" and tok.text == "!":
            ops: list[_Tok] = []
            while self.at_op("!"):
                ops.append(self.next())
            operand: Expr = self.member()
            # As cel-go: an even run of '!' is the operand itself, an odd run one negation (so
            # '!!!!...x' cannot nest the tree as deep as the expression is long).
            return Call("!_", (operand,), offset=ops[0].offset) if len(ops) % 2 else operand
        if tok.kind == "op" and tok.text == "-":
            ops = []
            while self.at_op("-"):
                ops.append(self.next())
            nxt = self.peek()
            if nxt.kind == "number" and not self._number_followed_by_member():
                # '-9223372036854775808' is a literal, not the negation of an overflowing one.
                self.next()
                operand = self._number(nxt, negative=True)
                ops.pop()
            else:
                operand = self.member()
            # As cel-go: an even run of '-' is the operand itself (no overflow, no type error for
            # 'uint'), an odd run one negation.
            return Call("-_", (operand,), offset=ops[0].offset) if len(ops) % 2 else operand
        return self.member()

    def _number_followed_by_member(self) -> bool:
        after = self.tokens[self.i + 1]
        return after.kind == "op" and after.text in (".", "[")

    def member(self) -> Expr:
        operand = self.primary()
        while True:
            tok = self.peek()
            if tok.kind == "op" and tok.text == ".":
                self.next()
                name = self.next()
                if name.kind != "ident":
                    raise CelSyntaxError(
                        f"mismatched input '{name.text}' expecting IDENTIFIER", name.offset
                    )
                # cel-go's grammar lexes these as their own tokens; the other reserved words
                # (``as``, ``while``, ...) are plain identifiers after a dot.
                if name.text in ("true", "false", "null"):
                    raise CelSyntaxError(
                        f"mismatched input '{name.text}' expecting IDENTIFIER", name.offset
                    )
                if name.text == "in":
                    raise CelSyntaxError(
                        f"no viable alternative at input '.{name.text}'", name.offset
                    )
                if self.at_op("("):
                    paren = self.next()
                    args = self.arguments(")")
                    operand = self._member_call(operand, paren, name.text, args)
                else:
                    operand = Select(operand, name.text, offset=tok.offset)
            elif tok.kind == "op" and tok.text == "[":
                self.next()
                index = self.expr()
                self.expect_op("]")
                operand = Call("_[_]", (operand, index), offset=tok.offset)
            else:
                return operand

    def arguments(self, close: str) -> tuple[Expr, ...]:
        args: list[Expr] = []
        if self.at_op(close):
            self.next()
            return ()
        while True:
            args.append(self.expr())
            if self.at_op(","):
                self.next()
                if self.at_op(close) and close != ")":
                    self.next()
                    return tuple(args)
                continue
            self.expect_op(close)
            return tuple(args)

    def _member_call(self, target: Expr, paren: _Tok, macro: str, args: tuple[Expr, ...]) -> Expr:
        # cel-go locates a call at its opening parenthesis.
        at = paren.offset
        if macro in ("all", "exists", "exists_one", "filter") and len(args) == 2:
            return Comprehension(macro, target, self._iter_var(args[0]), args[1], None, at)
        if macro == "map" and len(args) in (2, 3):
            var = self._iter_var(args[0])
            if len(args) == 2:
                return Comprehension("map", target, var, args[1], None, at)
            return Comprehension("map", target, var, args[2], args[1], at)
        return Call(macro, args, target, offset=at)

    @staticmethod
    def _iter_var(arg: Expr) -> str:
        if not isinstance(arg, Ident):
            raise CelSyntaxError("argument must be a simple name", _offset_of(arg))
        return arg.name

    def primary(self) -> Expr:
        tok = self.next()
        if tok.kind == "op" and tok.text == ".":
            name = self.next()
            if name.kind != "ident":
                raise CelSyntaxError(
                    f"mismatched input '{name.text}' expecting IDENTIFIER", name.offset
                )
            tok = name
        if tok.kind == "ident":
            return self._ident_or_call(tok)
        if tok.kind == "number":
            return self._number(tok, negative=False)
        if tok.kind == "string":
            return Const("string", tok.value, tok.offset)
        if tok.kind == "bytes":
            return Const("bytes", tok.value, tok.offset)
        if tok.kind == "op" and tok.text == "(":
            inner = self.expr()
            self.expect_op(")")
            return inner
        if tok.kind == "op" and tok.text == "[":
            self._enter(tok.offset)
            try:
                return ListLit(self.arguments("]"), tok.offset)
            finally:
                self.depth -= 1
        if tok.kind == "op" and tok.text == "{":
            self._enter(tok.offset)
            try:
                return self._map_literal(tok)
            finally:
                self.depth -= 1
        raise CelSyntaxError(f"mismatched input '{tok.text}' expecting an expression", tok.offset)

    def _ident_or_call(self, tok: _Tok) -> Expr:
        name = tok.text
        if name in ("true", "false"):
            return Const("bool", name == "true", tok.offset)
        if name == "null":
            return Const("null", None, tok.offset)
        if name in _RESERVED or name == "in":
            raise CelSyntaxError(f"reserved identifier: {name}", tok.offset, grammar=False)
        if self.at_op("("):
            paren = self.next()
            args = self.arguments(")")
            if name == "has":
                if len(args) != 1 or not isinstance(args[0], Select):
                    raise CelSyntaxError("invalid argument to has() macro", paren.offset)
                sel = args[0]
                return Select(sel.operand, sel.field, True, paren.offset)
            return Call(name, args, None, paren.offset)
        if self.at_op("{"):
            raise CelSyntaxError(
                f"message construction is not supported: no message type '{name}' exists",
                tok.offset,
            )
        return Ident(name, tok.offset)

    def _map_literal(self, open_tok: _Tok) -> Expr:
        entries: list[tuple[Expr, Expr]] = []
        if self.at_op("}"):
            self.next()
            return MapLit((), open_tok.offset)
        while True:
            key = self.expr()
            self.expect_op(":")
            entries.append((key, self.expr()))
            if self.at_op(","):
                self.next()
                if self.at_op("}"):
                    self.next()
                    break
                continue
            self.expect_op("}")
            break
        return MapLit(tuple(entries), open_tok.offset)

    def _number(self, tok: _Tok, *, negative: bool) -> Const:
        text = tok.text
        sign = -1 if negative else 1
        if text[-1] in "uU":
            if negative:
                raise CelSyntaxError("invalid uint literal", tok.offset, grammar=False)
            value = int(text[:-1], 0)
            if value > UINT64_MAX:
                raise CelSyntaxError("invalid uint literal", tok.offset, grammar=False)
            return Const("uint", value, tok.offset)
        if text.lower().startswith("0x"):
            value = sign * int(text, 16)
        elif any(c in text for c in ".eE"):
            return Const("double", sign * float(text), tok.offset)
        else:
            value = sign * int(text, 10)
        if not INT64_MIN <= value <= INT64_MAX:
            raise CelSyntaxError("invalid int literal", tok.offset, grammar=False)
        return Const("int", value, tok.offset)


def _offset_of(expr: Expr) -> int:
    return expr.offset
