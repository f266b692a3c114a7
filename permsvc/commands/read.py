"""Read: stored tuples matching a filter, without evaluating rewrites (OpenFGA pkg/server/commands/read.go).

Also home of the page-size rule every paginated operation shares.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from permsvc.commands.errors import InvalidInputError
from permsvc.core.refs import reject_control_characters
from permsvc.core.revision import MINIMIZE_LATENCY, Consistency, Revision
from permsvc.settings import DEFAULT_MAX_PAGE_SIZE, DEFAULT_READ_PAGE_SIZE
from permsvc.store.consistency import reader_for
from permsvc.store.protocol import Page, ReadFilter, StoredTuple, TupleReader

__all__ = (
    "MAX_CONTINUATION_TOKEN_BYTES",
    "PageSizeInvalidError",
    "ReadOutcome",
    "ReadParams",
    "ReadQuery",
    "validate_page",
)

MAX_CONTINUATION_TOKEN_BYTES = 5120
"""OpenFGA's ``continuation_token`` limit (``max_bytes: 5120``)."""


class PageSizeInvalidError(InvalidInputError):
    """``page_size`` outside 1..100 (OpenFGA ``page_size_invalid``)."""

    openfga_name = "page_size_invalid"


def validate_page(request: str, page_size: int | None, continuation_token: str) -> int:
    """The effective page size (OpenFGA's default, 50, when unset); raises on out-of-range values.

    ``request`` names the OpenFGA request message, so messages read like OpenFGA's validator's.
    """
    if len(continuation_token.encode()) > MAX_CONTINUATION_TOKEN_BYTES:
        raise InvalidInputError(
            f"invalid {request}.ContinuationToken: value length must be at most "
            f"{MAX_CONTINUATION_TOKEN_BYTES} bytes"
        )
    if page_size is None:
        return DEFAULT_READ_PAGE_SIZE
    if not 1 <= page_size <= DEFAULT_MAX_PAGE_SIZE:
        raise PageSizeInvalidError(
            f"invalid {request}.PageSize: value must be inside range [1, {DEFAULT_MAX_PAGE_SIZE}]"
        )
    return page_size


class ReadParams(msgspec.Struct, frozen=True, kw_only=True):
    """The Read filter as OpenFGA's ``tuple_key``: ``object`` is ``type:id`` or ``type:`` (every
    object of the type); all three empty reads every tuple of the store."""

    store_id: str
    object: str = ""
    relation: str = ""
    user: str = ""
    page_size: int | None = None
    continuation_token: str = ""
    consistency: Consistency = MINIMIZE_LATENCY


class ReadOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """A page of stored tuples, read at ``revision`` or later."""

    page: Page[StoredTuple]
    revision: Revision


_FILTER_RULE = (
    "the 'tuple_key' field was provided but the object type field is required and both the object id "
    "and user cannot be empty"
)


@dataclass(frozen=True, kw_only=True, slots=True)
class ReadQuery:
    """Stored tuples matching a filter, oldest first, paginated.

    Pages always come from the database, which is at its head; the consistency (level and token)
    is still checked like every read's, so a token of another store or from the future is refused
    here as well, and the revision reported is a lower bound of what the page reflects.
    """

    reader: TupleReader

    async def execute(self, params: ReadParams) -> ReadOutcome:
        size = validate_page("ReadRequest", params.page_size, params.continuation_token)
        flt = read_filter(params)
        _, revision = await reader_for(self.reader, params.store_id, params.consistency)
        page = await self.reader.read_page(
            params.store_id, flt, page_size=size, continuation_token=params.continuation_token
        )
        return ReadOutcome(page=page, revision=revision)


def read_filter(params: ReadParams) -> ReadFilter:
    """OpenFGA's filter rules: with any field set, the object type is required and the object id
    and the user cannot both be empty."""
    reject_control_characters("TupleKey.object", params.object)
    reject_control_characters("TupleKey.relation", params.relation)
    reject_control_characters("TupleKey.user", params.user)
    if not (params.object or params.relation or params.user):
        return ReadFilter()
    object_type, sep, object_id = params.object.partition(":")
    if not sep or not object_type or (not object_id and not params.user):
        raise InvalidInputError(_FILTER_RULE)
    return ReadFilter(
        object_type=object_type, object_id=object_id, relation=params.relation, user=params.user
    )
