"""The OpenFGA modeling language: lexer, recursive-descent parser, syntax tree and printer."""

from permsvc.model.dsl.parser import parse
from permsvc.model.dsl.printer import print_dsl

__all__ = ("parse", "print_dsl")
