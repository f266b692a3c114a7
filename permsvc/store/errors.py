"""Storage errors. Messages are public and follow OpenFGA's wording where OpenFGA has one."""

from __future__ import annotations

import abc

from permsvc.core.errors import PermsvcError

__all__ = (
    "DEFAULT_RETRY_AFTER_S",
    "CollisionError",
    "DatabaseFault",
    "InvalidContinuationTokenError",
    "InvalidWriteInputError",
    "ModelNotFoundError",
    "NotFoundError",
    "StorageUnavailableError",
    "StoreError",
    "StoreNotFoundError",
    "TupleConditionConflictError",
    "WriteConflictError",
    "database_fault_of",
)


class StoreError(PermsvcError):
    """Base of storage errors."""


class NotFoundError(StoreError):
    """A stored entity does not exist."""


class StoreNotFoundError(NotFoundError):
    """OpenFGA ``store_id_not_found`` (404)."""

    def __init__(self, store_id: str) -> None:
        super().__init__("Store ID not found")
        self.store_id = store_id


class ModelNotFoundError(NotFoundError):
    """OpenFGA ``authorization_model_not_found`` (400)."""

    def __init__(self, model_id: str) -> None:
        super().__init__(f"Authorization Model '{model_id}' not found")
        self.model_id = model_id


class CollisionError(StoreError):
    """An entity with the same identity already exists."""


class InvalidWriteInputError(StoreError):
    """A write cannot be applied as asked: writing an existing tuple or deleting a missing one with
    ``on_duplicate``/``on_missing`` = ``error``. OpenFGA ``write_failed_due_to_invalid_input`` (400).
    """


class TupleConditionConflictError(StoreError):
    """``on_duplicate=ignore`` met an existing tuple with a different condition (OpenFGA: 409 Aborted)."""


class WriteConflictError(StoreError):
    """Concurrent writes collided and the write was not applied; safe to retry."""


class InvalidContinuationTokenError(StoreError):
    """OpenFGA ``invalid_continuation_token`` (400)."""

    def __init__(self, detail: str = "Invalid continuation token") -> None:
        super().__init__(detail)


class StorageUnavailableError(StoreError):
    """The database cannot be reached, or its schema is not current (503)."""


DEFAULT_RETRY_AFTER_S = 1
"""``Retry-After`` of a 503 caused by a database fault: the pool reconnects on the next request."""


class DatabaseFault(abc.ABC):
    """The class of exceptions that mean "the database could not serve this request": the server
    is down, restarting or unreachable, a connection was lost, refused or timed out, the driver's
    pool or protocol failed, the server ran out of resources or cancelled the statement.

    A virtual base class: ``isinstance(err, DatabaseFault)`` is how the API decides on
    ``503 unavailable`` + ``Retry-After`` (one place, ``permsvc.api.errors``). Each backend
    registers its driver's outage classes where it imports the driver (``DatabaseFault.register``),
    so no layer above ``store/`` names a driver class. Registered here: :class:`OSError` (which
    covers ``ConnectionError`` and ``TimeoutError``) and :class:`StorageUnavailableError`.

    Errors that a retry cannot cure are deliberately not members: constraint violations a backend
    did not translate, SQL errors and driver misuse are bugs (500, logged with a stack), and bad
    input is refused before it reaches a driver (see ``permsvc.core.refs.reject_control_characters``).
    """


DatabaseFault.register(OSError)
DatabaseFault.register(StorageUnavailableError)


def database_fault_of(exc: BaseException) -> BaseException | None:
    """``exc`` itself, or the first member of an exception group (nested groups included), when it
    is a :class:`DatabaseFault`; else ``None``. Concurrent reads (task groups) report a lost
    connection as a group."""
    if isinstance(exc, DatabaseFault):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            if (found := database_fault_of(inner)) is not None:
                return found
    return None
