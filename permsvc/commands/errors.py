"""Errors raised by commands (request-level validation). Mapped to API codes in ``api/errors.py``."""

from __future__ import annotations

from permsvc.core.errors import PermsvcError

__all__ = (
    "CommandError",
    "InvalidContextError",
    "InvalidInputError",
    "InvalidRelationError",
    "InvalidTupleError",
    "LatestModelNotFoundError",
    "ThrottledError",
)


class CommandError(PermsvcError):
    """Base of command errors."""


class InvalidInputError(CommandError):
    """Generic request validation failure (OpenFGA ``validation_error`` 2000)."""


class InvalidTupleError(CommandError):
    """A tuple does not fit the model (OpenFGA ``invalid_tuple`` 2027 for writes; 2054 for contextual
    tuples is signalled with ``contextual=True``)."""

    def __init__(self, detail: str, *, tuple_str: str = "", contextual: bool = False) -> None:
        super().__init__(detail)
        self.tuple_str = tuple_str
        self.contextual = contextual


class InvalidRelationError(CommandError):
    """A relation used by a request is not usable there (e.g. not defined)."""


class InvalidContextError(CommandError):
    """The condition context of a request is malformed."""


class LatestModelNotFoundError(CommandError):
    """The store has no model (OpenFGA ``latest_authorization_model_not_found`` 2020)."""

    def __init__(self, store_id: str) -> None:
        super().__init__(f"No authorization models found for store '{store_id}'")
        self.store_id = store_id


class ThrottledError(CommandError):
    """The request was refused to protect the server."""
