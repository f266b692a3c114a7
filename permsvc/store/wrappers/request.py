"""The one place a request's reader stack is composed (OpenFGA ``storagewrappers/request.go``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from permsvc.store.protocol import MultiKeyTupleReader, inline_reads, unwrap
from permsvc.store.wrappers.batching import BatchingTupleReader
from permsvc.store.wrappers.contextual import ContextualTupleReader

if TYPE_CHECKING:
    from collections.abc import Sequence

    from permsvc.core.refs import TupleKey
    from permsvc.store.protocol import TupleReader

__all__ = ("wrap_for_request",)


def wrap_for_request(
    reader: TupleReader, store_id: str, contextual_tuples: Sequence[TupleKey] = ()
) -> TupleReader:
    """The reader one request evaluates through: over a database (a reader without in-memory reads
    that can read many keys at once) the request's concurrent reads are batched
    (:class:`BatchingTupleReader`), and the contextual-tuple overlay goes on top when there are any."""
    if not inline_reads(reader) and unwrap(reader, MultiKeyTupleReader) is not None:
        reader = BatchingTupleReader(reader)
    if not contextual_tuples:
        return reader
    return ContextualTupleReader(reader, store_id, contextual_tuples)
