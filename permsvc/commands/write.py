"""Write: delete and write tuples in one transaction (OpenFGA pkg/server/commands/write.go).

Checks, in OpenFGA's order: at least one operation; valid ``on_duplicate`` / ``on_missing``;
at most ``max_tuples`` operations; every written tuple fits the model (the explicit model or the
latest); deleted tuples are well-formed (they are not checked against the model, so tuples left
behind by an older model can still be removed); no tuple appears twice in the request. The
datastore then applies deletes before writes as one new revision.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import msgspec

from permsvc.commands.audit import audit_for
from permsvc.commands.errors import CommandError, InvalidInputError, InvalidTupleError
from permsvc.core.refs import (
    InvalidRefError,
    TupleKey,
    check_tuple_text,
    parse_object,
    parse_subject,
)
from permsvc.core.revision import Revision
from permsvc.model.tuple_validation import validate_tuple
from permsvc.settings import DEFAULT_MAX_TUPLES_PER_WRITE
from permsvc.store.protocol import AuditRecord, TupleWriter

if TYPE_CHECKING:
    from permsvc.commands.models import ModelResolver

__all__ = (
    "DuplicateTupleInRequestError",
    "ExceededEntityLimitError",
    "InvalidWriteRequestError",
    "WriteCommand",
    "WriteOutcome",
    "WriteParams",
    "check_well_formed",
)


class InvalidWriteRequestError(CommandError):
    """A Write with nothing to do (OpenFGA ``invalid_write_input``)."""

    openfga_name = "invalid_write_input"


class DuplicateTupleInRequestError(CommandError):
    """The same tuple twice in one Write (OpenFGA ``cannot_allow_duplicate_tuples_in_one_request``)."""

    openfga_name = "cannot_allow_duplicate_tuples_in_one_request"


class ExceededEntityLimitError(CommandError):
    """A request exceeds a size limit: operations per Write, types or bytes per model (OpenFGA
    ``exceeded_entity_limit``)."""

    openfga_name = "exceeded_entity_limit"


class WriteParams(msgspec.Struct, frozen=True, kw_only=True):
    store_id: str
    writes: tuple[TupleKey, ...] = ()
    deletes: tuple[TupleKey, ...] = ()
    on_duplicate: str = ""
    on_missing: str = ""
    authorization_model_id: str = ""


class WriteOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """The revision the write is visible at (the source of the consistency token)."""

    revision: Revision
    changed: int
    model_id: str = ""
    audit_id: int | None = None
    """The audit row's id when the write's own transaction appended it."""


def _describe(key: TupleKey) -> str:
    return f"user: '{key.user}', relation: '{key.relation}', object: '{key.object}'"


def _option(name: str, value: str) -> Literal["error", "ignore"]:
    """OpenFGA's ``on_duplicate`` / ``on_missing``: empty means ``error``."""
    if value in ("", "error"):
        return "error"
    if value == "ignore":
        return "ignore"
    raise InvalidInputError(f"invalid {name} option: {value}")


@dataclass(frozen=True, kw_only=True, slots=True)
class WriteCommand:
    """Validate and apply one OpenFGA Write."""

    writer: TupleWriter
    resolver: ModelResolver
    max_tuples: int = DEFAULT_MAX_TUPLES_PER_WRITE

    async def execute(
        self, params: WriteParams, *, audit: AuditRecord | None = None
    ) -> WriteOutcome:
        """Validate and apply the write; ``audit`` commits with it (see ``AuditRecord``)."""
        if not params.writes and not params.deletes:
            raise InvalidWriteRequestError(
                "Invalid input. Make sure you provide at least one write or delete"
            )
        on_duplicate = _option("on_duplicate", params.on_duplicate)
        on_missing = _option("on_missing", params.on_missing)
        if len(params.writes) + len(params.deletes) > self.max_tuples:
            raise ExceededEntityLimitError(
                f"The number of write operations exceeds the allowed limit of {self.max_tuples}"
            )
        model_id = ""
        if params.writes:
            ts = await self.resolver.resolve(params.store_id, params.authorization_model_id)
            model_id = ts.model_id
            for key in params.writes:
                if key.user == f"{key.object}#{key.relation}":
                    raise InvalidTupleError(
                        f"Invalid tuple '{key}'. Reason: cannot write a tuple that is implicit",
                        tuple_str=str(key),
                    )
                validate_tuple(ts, key)
        for key in params.deletes:
            check_well_formed(key)
        _reject_duplicates(params.writes, params.deletes)
        result = await self.writer.write(
            params.store_id,
            deletes=params.deletes,
            writes=params.writes,
            on_duplicate=on_duplicate,
            on_missing=on_missing,
            audit=audit_for(self.writer, audit),
        )
        return WriteOutcome(
            revision=result.revision,
            changed=result.changed,
            model_id=model_id,
            audit_id=result.audit_id,
        )


def check_well_formed(key: TupleKey, *, empty_relation: str = "malformed") -> None:
    """A tuple to delete, checked without the model: its text, a relation, an object and a user
    that parse (``InvalidTupleError``; an empty relation is reported as ``empty_relation``)."""
    check_tuple_text(key)
    try:
        if not key.relation:
            raise InvalidRefError(f"the 'relation' field is {empty_relation}")
        parse_object(key.object)
        parse_subject(key.user)
    except InvalidRefError as err:
        raise InvalidTupleError(
            f"Invalid tuple '{key}'. Reason: {err}", tuple_str=str(key)
        ) from err


def _reject_duplicates(writes: Sequence[TupleKey], deletes: Sequence[TupleKey]) -> None:
    seen: set[tuple[str, str, str]] = set()
    for verb, keys in (("write", writes), ("delete", deletes)):
        for key in keys:
            if key.key in seen:
                raise DuplicateTupleInRequestError(f"duplicate tuple in {verb}: {_describe(key)}")
            seen.add(key.key)
