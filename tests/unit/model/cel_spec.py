"""Read cel-spec's simple conformance tests (protobuf text format ``SimpleTestFile``).

A small reader for the subset of the protobuf text format the files use: fields ``name: value``
or ``name { ... }`` (``:`` optional before a message, ``<...>`` as an alternative to braces),
repeated fields by repetition or ``[a, b]``, extension and ``Any`` names in ``[...]``, adjacent
string literals concatenated, C escapes (``\\n``, ``\\x00``, ``\\012``, ``\\u00e9``), ``#``
comments. A message is a dict from field name to the list of its values; strings stay ``bytes``
until the schema (``simple.proto``, ``value.proto``) says whether a field is ``string`` or
``bytes``, as protobuf does.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

__all__ = ("Message", "SimpleTest", "load_file", "parse_text_format")

Message = dict[str, list[Any]]

_TOKEN = re.compile(
    r"""
    (?P<space>\s+|\#[^\n]*)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<bracket>\[[A-Za-z0-9_./]+\])
  | (?P<number>-?\s*(?:0[xX][0-9a-fA-F]+|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)[fFuU]?)
  | (?P<ident>-?[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>[{}<>\[\]:,;])
    """,
    re.VERBOSE,
)

_SIMPLE_ESCAPES = {
    "a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11,
    "\\": 92, "'": 39, '"': 34, "?": 63,
}  # fmt: skip


def _unescape(body: str) -> bytes:
    out = bytearray()
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out += ch.encode("utf-8")
            i += 1
            continue
        esc = body[i + 1]
        if esc in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[esc])
            i += 2
        elif esc in "xX":
            m = re.match(r"[0-9a-fA-F]{1,2}", body[i + 2 :])
            assert m, body
            out.append(int(m.group(), 16))
            i += 2 + len(m.group())
        elif esc in "01234567":
            m = re.match(r"[0-7]{1,3}", body[i + 1 :])
            assert m, body
            out.append(int(m.group(), 8) & 0xFF)
            i += 1 + len(m.group())
        elif esc in "uU":
            width = 4 if esc == "u" else 8
            out += chr(int(body[i + 2 : i + 2 + width], 16)).encode("utf-8")
            i += 2 + width
        else:
            raise ValueError(f"unknown escape \\{esc} in {body!r}")
    return bytes(out)


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise ValueError(f"text format: unexpected {text[pos : pos + 20]!r} at {pos}")
        pos = m.end()
        kind = m.lastgroup
        assert kind is not None
        if kind != "space":
            tokens.append((kind, m.group()))
    return tokens


class _Reader:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.pos = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def message(self, close: str | None) -> Message:
        fields: Message = {}
        while True:
            tok = self.peek()
            if tok is None:
                assert close is None, "unterminated message"
                return fields
            if tok[1] == close:
                self.take()
                return fields
            kind, name = self.take()
            assert kind in ("ident", "bracket"), tok
            name = name.strip("[]")
            if self.peek() == ("punct", ":"):
                self.take()
            if self.peek() == ("punct", "["):
                self.take()
                while self.peek() != ("punct", "]"):
                    fields.setdefault(name, []).append(self.value())
                    if self.peek() == ("punct", ","):
                        self.take()
                self.take()
            else:
                fields.setdefault(name, []).append(self.value())
            if self.peek() in (("punct", ","), ("punct", ";")):
                self.take()

    def value(self) -> Any:
        kind, text = self.take()
        if text in ("{", "<"):
            return self.message("}" if text == "{" else ">")
        if kind == "string":
            data = _unescape(text[1:-1])
            while self.peek() is not None and self.peek()[0] == "string":  # type: ignore[index]
                data += _unescape(self.take()[1][1:-1])
            return data
        if kind == "number":
            return _number(text)
        if kind == "ident":
            lowered = text.lower().lstrip("-")
            if lowered in ("inf", "infinity"):
                return -math.inf if text.startswith("-") else math.inf
            if lowered == "nan":
                return math.nan
            return text  # enum value or true/false, resolved by the schema
        raise ValueError(f"text format: unexpected {text!r}")


def _number(text: str) -> int | float:
    text = text.replace(" ", "")
    if text[-1] in "uU":
        text = text[:-1]
    if text[-1] in "fF" and not text.lower().startswith(("0x", "-0x")):
        return float(text[:-1])
    if re.fullmatch(r"-?0[xX][0-9a-fA-F]+", text):
        return int(text, 16)
    if re.fullmatch(r"-?[0-9]+", text):
        return int(text)
    return float(text)


def parse_text_format(text: str) -> Message:
    """The top-level message of a text-format document (untyped: see the module docstring)."""
    return _Reader(text).message(None)


# ---------------------------------------------------------------------------------------------
# The schema: SimpleTestFile -> SimpleTest


def _one(message: Message, name: str, default: Any = None) -> Any:
    values = message.get(name)
    return values[-1] if values else default


def _string(message: Message, name: str) -> str:
    value = _one(message, name, b"")
    return value.decode("utf-8")


def _bool(message: Message, name: str) -> bool:
    return _one(message, name, "false") in ("true", "True", "t", 1)


class SimpleTest:
    """One test of a file, with the fields this suite uses (raw messages for the matchers)."""

    __slots__ = (
        "bindings",
        "check_only",
        "container",
        "disable_check",
        "disable_macros",
        "eval_error",
        "expr",
        "name",
        "raw",
        "section",
        "type_env",
        "typed_result",
        "value",
    )

    def __init__(self, section: str, message: Message) -> None:
        self.section = section
        self.raw = message
        self.name = _string(message, "name")
        self.expr = _string(message, "expr")
        self.disable_check = _bool(message, "disable_check")
        self.disable_macros = _bool(message, "disable_macros")
        self.check_only = _bool(message, "check_only")
        self.container = _string(message, "container")
        self.type_env: list[Message] = message.get("type_env", [])
        self.bindings: dict[str, Message] = {
            _string(entry, "key"): _one(entry, "value", {}) for entry in message.get("bindings", [])
        }
        self.value: Message | None = _one(message, "value")
        self.eval_error: Message | None = _one(message, "eval_error")
        self.typed_result: Message | None = _one(message, "typed_result")

    @property
    def matcher(self) -> str:
        """Which ``result_matcher`` the test sets (``value`` when none: true is expected)."""
        for name in ("value", "typed_result", "eval_error", "any_eval_errors", "unknown",
                     "any_unknowns"):  # fmt: skip
            if name in self.raw:
                return name
        return "value"


def load_file(path: Path) -> tuple[str, list[SimpleTest]]:
    """A ``SimpleTestFile``: its name and its tests in order."""
    message = parse_text_format(path.read_text(encoding="utf-8"))
    tests = [
        SimpleTest(_string(section, "name"), test)
        for section in message.get("section", [])
        for test in section.get("test", [])
    ]
    return _string(message, "name"), tests
