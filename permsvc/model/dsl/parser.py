"""Recursive-descent parser for the OpenFGA modeling language, schema 1.1 and module files.

The grammar is OpenFGA's (``OpenFGAParser.g4`` in openfga/language), written here as EBNF;
line breaks (``NL``) end declarations, other blanks only separate tokens::

    file        = NL? (model | module) (NL (type | extend | condition))* NL? EOF
    model       = "model" NL "schema" VERSION
    module      = "module" NAME
    type        = "type" NAME [NL "relations" (NL define)+]
    extend      = "extend" "type" NAME [NL "relations" (NL define)+]      (module files only)
    define      = "define" NAME ":" rel_def
    rel_def     = (direct | operand | "(" rel_def ")") [partials]
    partials    = ("or" operand)+ | ("and" operand)+ | "but not" operand
    operand     = NAME ["from" NAME] | "(" operand_def ")"
    operand_def = operand [partials]                          (no direct restrictions inside)
    direct      = "[" restriction ("," restriction)* "]"       (line breaks allowed inside)
    restriction = NAME [":" "*" | "#" NAME] ["with" NAME]
    condition   = "condition" NAME "(" param ("," param)* ")" "{" CEL "}"
    param       = NAME ":" (SCALAR | ("map" | "list") "<" SCALAR ">")

Consequences kept from OpenFGA (each checked against its ``fga`` binary):

- ``or``/``and``/``but not`` do not mix without parentheses, ``but not`` does not chain, and an
  operator needs a blank on each side; ``[...]`` may only open a definition (or a parenthesised
  group that opens it); parentheses survive as nested operations;
- no blanks inside ``user:*``, ``group#member`` or ``map<string>``; a condition's parameter
  list stays on one line; type definitions come before conditions;
- only spaces, not tabs, may end the line of a type name, a definition or a condition's ``}``,
  or separate code from a trailing comment;
- keywords (``define``, ``relations``, ``condition``, ``and``, ``or``, ``from``, ``with``, ``in``,
  ``true``, ``false``, ``null``) are not names, but ``type``, ``model``, ``schema`` and the like
  are; type and relation names may contain ``.`` and ``/`` between word characters, condition,
  parameter and module names may not.

Deliberate deviations: the scalar parameter type ``any`` is accepted (OpenFGA's printer emits it
for ``TYPE_NAME_ANY`` but its parser rejects it, so its own output would not round-trip);
parentheses may nest at most :data:`MAX_NESTING` deep; and error messages are ours, written to say
what to change rather than which ANTLR token was expected. On an error the parser skips to the end
of the line and goes on, so one run reports every broken line.
"""

from __future__ import annotations

from typing import Literal, NoReturn

from permsvc.model.dsl.ast import (
    Computed,
    ConditionDecl,
    Direct,
    DslFile,
    FromParent,
    Name,
    Operation,
    Param,
    RelationDecl,
    RelationExpr,
    Restriction,
    TypeDecl,
)
from permsvc.model.dsl.lexer import Kind, Token, tokenize
from permsvc.model.errors import DslSyntaxError, ModelIssue
from permsvc.model.schema import SourcePos

__all__ = ("MAX_ISSUES", "MAX_NESTING", "SCALAR_PARAM_TYPES", "parse")

MAX_NESTING = 50
"""Deepest parenthesis nesting accepted in a relation definition."""

MAX_ISSUES = 100
"""Parsing stops after this many syntax errors."""

SCALAR_PARAM_TYPES = (
    "bool",
    "string",
    "int",
    "uint",
    "double",
    "duration",
    "timestamp",
    "ipaddress",
    "any",
)
_CONTAINER_PARAM_TYPES = ("map", "list")
_RESERVED = frozenset(
    {"define", "relations", "condition", "and", "or", "from", "with", "in", "true", "false", "null"}
)
_OPERATORS = {"or": "union", "and": "intersection", "but not": "difference"}


class _AbortDeclarationError(Exception):
    """Unwinds to the enclosing declaration after an error has been recorded."""


class _TooManyIssuesError(Exception):
    """Stops parsing after :data:`MAX_ISSUES` errors."""


class _Parser:
    def __init__(self, tokens: list[Token], issues: list[ModelIssue], file: str) -> None:
        # Extra EOF tokens let peek(1) look past the end without a bounds check; advance() never
        # moves past the first EOF.
        self.tokens = [*tokens, tokens[-1], tokens[-1]]
        self.k = 0
        self.issues = issues
        self.file = file
        self.module = False

    def pos(self, tok: Token) -> SourcePos:
        return SourcePos(tok.line, tok.column, self.file)

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[self.k + ahead]

    def advance(self) -> Token:
        tok = self.tokens[self.k]
        if tok.kind is not Kind.EOF:
            self.k += 1
        return tok

    def report(self, tok: Token, message: str) -> None:
        self.report_at(self.pos(tok), message)

    def fail(self, tok: Token, message: str) -> NoReturn:
        self.report(tok, message)
        raise _AbortDeclarationError

    def is_word(self, tok: Token, word: str) -> bool:
        return tok.kind is Kind.NAME and tok.text == word

    def is_punct(self, tok: Token, char: str) -> bool:
        return tok.kind is Kind.PUNCT and tok.text == char

    def at_line_end(self) -> bool:
        return self.peek().kind in (Kind.NEWLINE, Kind.EOF)

    def expect_punct(self, char: str, context: str) -> Token:
        tok = self.peek()
        if not self.is_punct(tok, char):
            self.fail(tok, f"expected '{char}' {context}, found {tok.describe()}")
        return self.advance()

    def expect_name(self, what: str, *, simple: bool = False, glued: bool = False) -> Name:
        """The next token as a name.

        Args:
            what: how the error message calls the expected name.
            simple: only letters, digits, ``_`` and ``-`` (condition and parameter names), not
                the ``.`` and ``/`` that type and relation names may contain.
            glued: no blank may precede it (``group#member``, ``user:*``).
        """
        tok = self.peek()
        if tok.kind is not Kind.NAME:
            self.fail(tok, f"expected {what}, found {tok.describe()}")
        if tok.text in _RESERVED:
            self.fail(tok, f"'{tok.text}' is a keyword and cannot be used as {what}")
        if simple and ("." in tok.text or "/" in tok.text):
            self.fail(
                tok, f"'{tok.text}' is not valid as {what}: use only letters, digits, '_' and '-'"
            )
        if glued and tok.space_before:
            self.fail(tok, f"unexpected blank before {what}")
        self.advance()
        return Name(text=tok.text, pos=self.pos(tok))

    def expect_glued_punct(self, char: str, context: str) -> Token:
        tok = self.expect_punct(char, context)
        if tok.space_before:
            self.fail(tok, f"unexpected blank before '{char}' {context}")
        return tok

    def expect_line_end(self, after: str, *, no_trailing_tab: bool = False) -> None:
        tok = self.peek()
        if tok.kind not in (Kind.NEWLINE, Kind.EOF):
            self.fail(
                tok, f"unexpected {tok.describe()} after {after}; expected the end of the line"
            )
        if no_trailing_tab and tok.tab_before:
            self.fail(tok, f"unexpected tab after {after}: only spaces may end this line")

    def skip_line(self) -> None:
        while self.peek().kind not in (Kind.NEWLINE, Kind.EOF):
            self.advance()

    def skip_block(self) -> None:
        """Skip the rest of a broken declaration, including its indented 'relations'/'define' lines."""
        self.skip_line()
        while self.peek().kind is Kind.NEWLINE and (
            self.is_word(self.peek(1), "relations") or self.is_word(self.peek(1), "define")
        ):
            self.advance()
            self.skip_line()

    def skip_condition(self) -> None:
        """Skip a broken condition up to its closing '}' (or the next declaration)."""
        while True:
            tok = self.peek()
            if tok.kind is Kind.EOF:
                return
            if tok.kind is Kind.NEWLINE and (
                self.is_word(self.peek(1), "type") or self.is_word(self.peek(1), "condition")
            ):
                return
            self.advance()
            if self.is_punct(tok, "}"):
                return

    def skip_newlines(self) -> None:
        while self.peek().kind is Kind.NEWLINE:
            self.advance()

    # -- file ------------------------------------------------------------------------------

    def parse_file(self) -> DslFile:
        self.skip_newlines()
        start = self.peek()
        schema_version, module = "", ""
        try:
            schema_version, module = self.header()
        except _AbortDeclarationError:
            self.skip_line()
        self.module = bool(module)
        types: list[TypeDecl] = []
        conditions: list[ConditionDecl] = []
        while True:
            self.skip_newlines()
            tok = self.peek()
            if tok.kind is Kind.EOF:
                break
            in_condition = self.is_word(tok, "condition")
            try:
                if self.is_word(tok, "type") or self.is_word(tok, "extend"):
                    if conditions:
                        self.report(tok, "type definitions must come before the first condition")
                    types.append(self.type_decl())
                elif self.is_word(tok, "condition"):
                    conditions.append(self.condition_decl(conditions))
                elif self.is_word(tok, "define") or self.is_word(tok, "relations"):
                    self.fail(
                        tok,
                        f"'{tok.text}' must be inside a type: indent it under 'type <name>' "
                        "and a 'relations' line",
                    )
                elif self.is_word(tok, "model") or self.is_word(tok, "module"):
                    self.fail(tok, f"'{tok.text}' may appear only once, at the top of the file")
                else:
                    self.fail(tok, f"expected 'type' or 'condition', found {tok.describe()}")
            except _AbortDeclarationError:
                if in_condition:
                    self.skip_condition()
                else:
                    self.skip_block()
        return DslFile(
            schema_version=schema_version,
            module=module,
            types=tuple(types),
            conditions=tuple(conditions),
            file=self.file,
            pos=self.pos(start),
        )

    def header(self) -> tuple[str, str]:
        tok = self.peek()
        if self.is_word(tok, "model"):
            self.advance()
            if self.peek().kind is not Kind.NEWLINE:
                self.fail(self.peek(), "expected a line break after 'model', then 'schema 1.1'")
            self.advance()
            tok = self.peek()
            if not self.is_word(tok, "schema"):
                self.fail(
                    tok, f"expected 'schema 1.1' on the line after 'model', found {tok.describe()}"
                )
            self.advance()
            ver = self.peek()
            if ver.kind is not Kind.NUMBER or ver.text.count(".") != 1:
                self.fail(
                    ver,
                    f"expected a schema version such as 1.1 after 'schema', found {ver.describe()}",
                )
            self.advance()
            self.expect_line_end("the schema version")
            return ver.text, ""
        if self.is_word(tok, "module"):
            self.advance()
            name = self.expect_name("a module name", simple=True)
            self.expect_line_end("the module name")
            return "", name.text
        self.fail(
            tok,
            f"a model must start with 'model' followed by 'schema 1.1' on the next line "
            f"(or 'module <name>' in a module file), found {tok.describe()}",
        )

    # -- types -----------------------------------------------------------------------------

    def type_decl(self) -> TypeDecl:
        first = self.advance()
        extend = first.text == "extend"
        if extend:
            if not self.module:
                self.fail(
                    first,
                    "'extend type' is only allowed in module files (files that start with 'module')",
                )
            if not self.is_word(self.peek(), "type"):
                self.fail(
                    self.peek(), f"expected 'type' after 'extend', found {self.peek().describe()}"
                )
            self.advance()
        name = self.expect_name("a type name")
        self.expect_line_end("the type name", no_trailing_tab=True)
        relations: list[RelationDecl] = []
        if self.peek().kind is Kind.NEWLINE and self.is_word(self.peek(1), "relations"):
            self.advance()
            relations_tok = self.advance()
            try:
                self.expect_line_end("'relations'")
            except _AbortDeclarationError:
                self.skip_line()
            if not (self.peek().kind is Kind.NEWLINE and self.is_word(self.peek(1), "define")):
                self.report(
                    relations_tok,
                    f"'relations' of type '{name.text}' must be followed by at least one "
                    "'define <relation>: ...' line",
                )
            seen: dict[str, RelationDecl] = {}
            while self.peek().kind is Kind.NEWLINE and self.is_word(self.peek(1), "define"):
                self.advance()
                try:
                    decl = self.relation_decl()
                except _AbortDeclarationError:
                    self.skip_line()
                    continue
                if decl.name.text in seen:
                    self.report_at(
                        decl.name.pos, f"'{decl.name.text}' is already defined in '{name.text}'"
                    )
                    continue
                seen[decl.name.text] = decl
                relations.append(decl)
        return TypeDecl(name=name, relations=tuple(relations), extend=extend, pos=self.pos(first))

    def report_at(self, pos: SourcePos, message: str) -> None:
        self.issues.append(
            ModelIssue(
                message=message, line=pos.line, column=pos.column, file=self.file, rule="syntax"
            )
        )
        if len(self.issues) >= MAX_ISSUES:
            raise _TooManyIssuesError

    def relation_decl(self) -> RelationDecl:
        define = self.advance()
        name = self.expect_name("a relation name")
        self.expect_punct(
            ":", f"after the relation name '{name.text}' (write 'define {name.text}: ...')"
        )
        expr = self.rel_def(allow_direct=True, depth=0)
        self.expect_line_end(f"the definition of '{name.text}'", no_trailing_tab=True)
        return RelationDecl(name=name, expr=expr, pos=self.pos(define))

    # -- relation expressions ---------------------------------------------------------------

    def rel_def(self, *, allow_direct: bool, depth: int) -> RelationExpr:
        first_tok = self.peek()
        first = self.operand(allow_direct=allow_direct, depth=depth)
        tok = self.peek()
        op_word = self.operator(tok)
        if op_word is None:
            return first
        children = [first]
        op = _OPERATORS[op_word]
        while True:
            op_tok = self.advance()
            if not op_tok.space_before or not (self.peek().space_before or self.at_line_end()):
                self.fail(op_tok, f"'{op_word}' must have a blank on each side")
            children.append(self.operand(allow_direct=False, depth=depth))
            nxt = self.peek()
            nxt_word = self.operator(nxt)
            if nxt_word is None:
                break
            if nxt_word != op_word or op_word == "but not":
                self.fail(
                    nxt,
                    f"'{nxt_word}' cannot follow '{op_word}' without parentheses: group the operands, "
                    f"e.g. '(a {op_word} b) {nxt_word} c'",
                )
        kind: Literal["union", "intersection", "difference"] = op  # type: ignore[assignment]
        return Operation(op=kind, children=tuple(children), pos=self.pos(first_tok))

    def operator(self, tok: Token) -> str | None:
        if tok.kind is Kind.BUT_NOT:
            return "but not"
        if tok.kind is Kind.NAME and tok.text in ("or", "and"):
            return tok.text
        return None

    def operand(self, *, allow_direct: bool, depth: int) -> RelationExpr:
        tok = self.peek()
        if self.is_punct(tok, "["):
            if not allow_direct:
                self.fail(
                    tok,
                    "direct type restrictions '[...]' must come first in a definition, "
                    "e.g. 'define viewer: [user] or editor'",
                )
            return self.direct()
        if self.is_punct(tok, "("):
            if depth + 1 > MAX_NESTING:
                self.fail(tok, f"parentheses nested deeper than {MAX_NESTING} levels")
            self.advance()
            inner = self.rel_def(allow_direct=allow_direct, depth=depth + 1)
            self.expect_punct(
                ")", f"to close the '(' opened at line {tok.line}, column {tok.column}"
            )
            return inner
        if tok.kind is Kind.NAME and tok.text not in _RESERVED:
            self.advance()
            rel = Name(text=tok.text, pos=self.pos(tok))
            if self.is_word(self.peek(), "from"):
                self.advance()
                tupleset = self.expect_name(f"the relation to follow after '{tok.text} from'")
                return FromParent(relation=rel, tupleset=tupleset, pos=self.pos(tok))
            return Computed(relation=rel, pos=self.pos(tok))
        what = "a relation name, '(' or '[...]'" if allow_direct else "a relation name or '('"
        self.fail(tok, f"expected {what}, found {tok.describe()}")

    def direct(self) -> Direct:
        open_tok = self.advance()
        restrictions: list[Restriction] = []
        while True:
            self.skip_newlines()
            tok = self.peek()
            if self.is_punct(tok, "]"):
                if not restrictions:
                    self.fail(
                        tok, "empty type restriction '[]': name at least one type, e.g. '[user]'"
                    )
                self.fail(tok, "expected a type after ',', found ']'")
            restrictions.append(self.restriction())
            self.skip_newlines()
            tok = self.peek()
            if self.is_punct(tok, ","):
                self.advance()
                continue
            if self.is_punct(tok, "]"):
                self.advance()
                return Direct(restrictions=tuple(restrictions), pos=self.pos(open_tok))
            self.fail(
                tok, f"expected ',' or ']' in the type restriction list, found {tok.describe()}"
            )

    def restriction(self) -> Restriction:
        start = self.peek()
        type_name = self.expect_name("a type name in '[...]'")
        relation: Name | None = None
        wildcard = False
        tok = self.peek()
        if self.is_punct(tok, ":"):
            star = self.peek(1)
            if tok.space_before or not self.is_punct(star, "*") or star.space_before:
                self.fail(
                    star if not tok.space_before else tok,
                    f"a wildcard is written '{type_name.text}:*', with no blanks",
                )
            self.advance()
            self.advance()
            wildcard = True
            if self.is_punct(self.peek(), "#") or self.is_punct(self.peek(), ":"):
                self.fail(
                    self.peek(),
                    f"a wildcard '{type_name.text}:*' cannot be followed by "
                    f"'{self.peek().text}': use '{type_name.text}:*' or '{type_name.text}#<relation>'",
                )
        elif self.is_punct(tok, "#"):
            self.advance()
            relation = self.expect_name(f"a relation name after '{type_name.text}#'", glued=True)
            if self.is_punct(self.peek(), ":"):
                self.fail(
                    self.peek(),
                    f"a userset '{type_name.text}#{relation.text}' cannot also be a wildcard",
                )
        condition: Name | None = None
        if self.is_word(self.peek(), "with"):
            self.advance()
            condition = self.expect_name("a condition name after 'with'", simple=True)
        return Restriction(
            type=type_name,
            relation=relation,
            wildcard=wildcard,
            condition=condition,
            pos=self.pos(start),
        )

    # -- conditions ------------------------------------------------------------------------

    def condition_decl(self, previous: list[ConditionDecl]) -> ConditionDecl:
        kw = self.advance()
        name = self.expect_name("a condition name", simple=True)
        if any(c.name.text == name.text for c in previous):
            self.report_at(name.pos, f"condition '{name.text}' is already defined in the model")
        self.expect_punct("(", f"after the condition name '{name.text}'")
        params: list[Param] = []
        while True:
            tok = self.peek()
            if self.is_punct(tok, ")") and not params:
                self.fail(
                    tok, f"condition '{name.text}' needs at least one parameter, e.g. '(x: int)'"
                )
            if tok.kind is Kind.NEWLINE:
                self.fail(tok, "a condition's parameter list must be written on one line")
            param = self.param()
            if any(p.name.text == param.name.text for p in params):
                self.report_at(
                    param.name.pos,
                    f"parameter '{param.name.text}' is already defined in the condition '{name.text}'",
                )
            else:
                params.append(param)
            tok = self.peek()
            if self.is_punct(tok, ","):
                self.advance()
                continue
            if self.is_punct(tok, ")"):
                self.advance()
                break
            if tok.kind is Kind.NEWLINE:
                self.fail(tok, "a condition's parameter list must be written on one line")
            self.fail(tok, f"expected ',' or ')' after a parameter, found {tok.describe()}")
        self.expect_punct("{", f"to open the body of condition '{name.text}'")
        body = self.peek()
        if body.kind is not Kind.CEL:
            self.fail(body, f"expected the condition expression of '{name.text}'")
        self.advance()
        self.expect_punct("}", f"to close the body of condition '{name.text}'")
        self.expect_line_end(f"the body of condition '{name.text}'", no_trailing_tab=True)
        return ConditionDecl(
            name=name, params=tuple(params), expression=body.text, pos=self.pos(kw)
        )

    def param(self) -> Param:
        name = self.expect_name("a parameter name", simple=True)
        self.expect_punct(
            ":", f"after the parameter name '{name.text}' (write '{name.text}: <type>')"
        )
        tok = self.peek()
        if tok.kind is not Kind.NAME:
            self.fail(tok, f"expected the type of parameter '{name.text}', found {tok.describe()}")
        self.advance()
        if tok.text in SCALAR_PARAM_TYPES:
            return Param(name=name, type_name=tok.text, pos=name.pos)
        if tok.text in _CONTAINER_PARAM_TYPES:
            self.expect_glued_punct(
                "<", f"after '{tok.text}': it needs an element type, e.g. '{tok.text}<string>'"
            )
            inner = self.peek()
            if inner.kind is not Kind.NAME or inner.text not in SCALAR_PARAM_TYPES:
                self.fail(
                    inner,
                    f"'{tok.text}<...>' takes one scalar element type "
                    f"({', '.join(SCALAR_PARAM_TYPES)}), found {inner.describe()}",
                )
            if inner.space_before:
                self.fail(inner, f"unexpected blank in '{tok.text}<{inner.text}>'")
            self.advance()
            self.expect_glued_punct(">", f"to close '{tok.text}<{inner.text}'")
            return Param(name=name, type_name=tok.text, generic=inner.text, pos=name.pos)
        self.fail(
            tok,
            f"unknown parameter type '{tok.text}'; expected one of "
            f"{', '.join(SCALAR_PARAM_TYPES)}, map<T>, list<T>",
        )


def parse(text: str, file: str = "") -> DslFile:
    """Parse one DSL file into its syntax tree.

    Raises:
        DslSyntaxError: listing every syntax error found (up to :data:`MAX_ISSUES`), each with its
            line and column.
    """
    tokens, issues = tokenize(text, file)
    parser = _Parser(tokens, issues, file)
    try:
        result = parser.parse_file()
    except _TooManyIssuesError:
        result = None
    if issues or result is None:
        raise DslSyntaxError(sorted(issues, key=lambda i: (i.line, i.column)))
    return result
