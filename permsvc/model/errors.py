"""Errors of the modeling layer."""

from __future__ import annotations

import msgspec

from permsvc.core.errors import PermsvcError

__all__ = (
    "DslSyntaxError",
    "ModelError",
    "ModelIssue",
    "ModelJsonError",
    "ModelValidationError",
)


class ModelIssue(msgspec.Struct, frozen=True, kw_only=True):
    """One problem found in a model, located in its source where a source exists.

    ``line`` and ``column`` are 1-based; 0 means "no source position" (a model given as JSON).
    """

    message: str
    line: int = 0
    column: int = 0
    file: str = ""
    object_type: str = ""
    relation: str = ""
    rule: str = ""

    def format(self, default_file: str = "") -> str:
        where = self.file or default_file
        if self.line:
            return f"{where}:{self.line}:{self.column}: {self.message}"
        return f"{where}: {self.message}" if where else self.message


class ModelError(PermsvcError):
    """Base of modeling errors. ``issues`` lists every problem found (several at once)."""

    issues: tuple[ModelIssue, ...]

    def __init__(self, issues: list[ModelIssue] | tuple[ModelIssue, ...] | str) -> None:
        if isinstance(issues, str):
            issues = (ModelIssue(message=issues),)
        self.issues = tuple(issues)
        super().__init__("; ".join(i.format() for i in self.issues))


class DslSyntaxError(ModelError):
    """The DSL text does not parse."""


class ModelJsonError(ModelError):
    """The JSON form of a model is malformed (wrong shape, unknown node, bad types)."""


class ModelValidationError(ModelError):
    """The model parses but breaks OpenFGA's semantic rules."""
