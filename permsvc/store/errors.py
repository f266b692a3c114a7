"""Storage errors. Messages are public and follow OpenFGA's wording where OpenFGA has one."""

from __future__ import annotations

from permsvc.core.errors import PermsvcError

__all__ = (
    "CollisionError",
    "InvalidContinuationTokenError",
    "InvalidWriteInputError",
    "NotFoundError",
    "StoreError",
    "StoreNotFoundError",
    "ModelNotFoundError",
    "TupleConditionConflictError",
    "WriteConflictError",
    "StorageUnavailableError",
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
    """The database cannot be reached (503)."""
