"""YAML text with bounded expansion: the one way permsvc reads YAML.

YAML aliases (``*a``) reuse an anchored value (``&a``), so a document of a few hundred bytes can
stand for billions of values (nine lists of nine aliases, seven levels deep, is 4.8 million), and
whatever walks it afterwards (validation, conversion, an error message) works through every one.
:func:`load_yaml` counts the values of the loaded document, an alias each time it is used, and
refuses a document beyond :data:`MAX_YAML_VALUES` before anything else sees it. A recursive
alias (``&a [*a]``) is refused the same way.
"""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ("MAX_YAML_VALUES", "YamlExpansionError", "load_yaml")

MAX_YAML_VALUES = 100_000
"""Values (scalars, lists, mappings; keys included) one YAML document may expand to."""


class YamlExpansionError(yaml.YAMLError):
    """The document expands to more than :data:`MAX_YAML_VALUES` values."""

    def __init__(self, limit: int) -> None:
        self.problem = (
            f"the document expands to more than {limit:,} values (aliases count each time they "
            "are used); write it without so many '*' aliases"
        )
        super().__init__(self.problem)


def check_expansion(doc: Any, limit: int = MAX_YAML_VALUES) -> None:
    """Raise :class:`YamlExpansionError` when ``doc`` holds more than ``limit`` values."""
    seen = 0
    stack = [doc]
    while stack:
        value = stack.pop()
        seen += 1
        if seen > limit:
            raise YamlExpansionError(limit)
        if isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)


def load_yaml(text: str, loader: type[yaml.SafeLoader] = yaml.SafeLoader) -> Any:
    """``yaml.load(text, loader)`` (a safe loader), refused beyond :data:`MAX_YAML_VALUES` values.

    Raises:
        yaml.YAMLError: not YAML, or :class:`YamlExpansionError`.
    """
    doc = yaml.load(text, Loader=loader)
    check_expansion(doc)
    return doc
