"""ReadChanges: the store's changelog, in commit order (OpenFGA pkg/server/commands/read_changes.go)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import msgspec

from permsvc.commands.errors import InvalidInputError
from permsvc.commands.read import validate_page
from permsvc.core.refs import reject_control_characters
from permsvc.store.protocol import ChangelogReader, Page, TupleChange

__all__ = ("InvalidStartTimeError", "ReadChangesParams", "ReadChangesQuery")


class InvalidStartTimeError(InvalidInputError):
    """``start_time`` is in the future (OpenFGA ``invalid_start_time``)."""

    openfga_name = "invalid_start_time"


class ReadChangesParams(msgspec.Struct, frozen=True, kw_only=True):
    store_id: str
    object_type: str = ""
    page_size: int | None = None
    continuation_token: str = ""
    start_time: dt.datetime | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class ReadChangesQuery:
    """Changes after a continuation token (or from ``start_time``), optionally of one object type.

    With no further changes the same token comes back, so a client can poll with it; the token
    records the type it was made for and is refused with another (the datastore enforces both).
    """

    changelog: ChangelogReader

    async def execute(self, params: ReadChangesParams) -> Page[TupleChange]:
        size = validate_page("ReadChangesRequest", params.page_size, params.continuation_token)
        reject_control_characters("ReadChangesRequest.type", params.object_type)
        if params.start_time is not None and params.start_time > dt.datetime.now(dt.UTC):
            raise InvalidStartTimeError("start_time cannot be in the future")
        return await self.changelog.read_changes(
            params.store_id,
            object_type=params.object_type,
            start_time=params.start_time,
            page_size=size,
            continuation_token=params.continuation_token,
        )
