"""Index snapshots: a store's :class:`~.tuple_index.TupleIndex` serialised at a revision, so that a
starting replica loads it and catches up from the changelog after that revision instead of
reading (and re-indexing) every tuple.

The content is the index's own tables (:meth:`TupleIndex.relation_tables`): per
``(object_type, relation)`` the forward maps (object id -> users, plain and userset), the reverse
map (user -> object ids) and the conditions. It depends on the tuples only, never on a model.
They are written with :mod:`marshal`, which stores every repeated string once (a reference after
its first occurrence) and rebuilds dicts, tuples, sets and strings in C: loading takes a fraction
of a build from tuples and yields the same shared strings, so memory per tuple is unchanged.
Conditions are kept as ``(name, JSON context)`` pairs.

Layout of :attr:`IndexSnapshot.data`::

    b"PSIX" | header: format version u16, marshal version u16, revision i64, tuples i64,
             payload length u64 | BLAKE2b-128 of header + store id + payload | payload
    payload = zlib(level 1) of marshal((store_id, [(type, relation, direct, usersets,
                                                    objects, conditions), ...]))

:func:`decode` refuses (:class:`SnapshotError`) anything that is not exactly that: another
format or marshal version, a wrong length, a checksum mismatch (a truncated or altered blob),
another store's snapshot, or tables of the wrong shape. The caller then builds from tuples.
``marshal`` is not meant for untrusted input: the checksum is verified before it runs, and the
snapshot comes from the service's own database, whose writers can already change every tuple.
"""

from __future__ import annotations

import hashlib
import marshal
import struct
import zlib
from typing import TYPE_CHECKING, Any, NamedTuple

import msgspec

from permsvc.core.refs import TupleCondition
from permsvc.core.revision import Revision
from permsvc.store.index.tuple_index import TupleIndex, gc_paused
from permsvc.store.protocol import IndexSnapshot

if TYPE_CHECKING:
    from permsvc.store.index.tuple_index import RelationTables

__all__ = (
    "FORMAT",
    "FORMAT_VERSION",
    "Frozen",
    "SnapshotError",
    "decode",
    "encode",
    "freeze",
    "seal",
)

FORMAT_VERSION = 1
"""Bumped whenever the payload's structure changes: older snapshots are then ignored."""

FORMAT = f"tuple-index-v{FORMAT_VERSION}-marshal{marshal.version}"
"""The value of :attr:`IndexSnapshot.format` this process writes and reads (a Python whose
marshal version differs writes and reads its own)."""

_MAGIC = b"PSIX"
_HEADER = struct.Struct("<4sHHqqQ")
_DIGEST = 16


class SnapshotError(ValueError):
    """The snapshot cannot be loaded (another format, truncated, corrupt, another store's)."""


def _digest(header: bytes, store_id: str, payload: bytes | memoryview) -> bytes:
    h = hashlib.blake2b(header, digest_size=_DIGEST)
    h.update(store_id.encode())
    h.update(payload)
    return h.digest()


def _plain_conditions(
    conditions: dict[tuple[str, str], TupleCondition] | None,
) -> dict[tuple[str, str], tuple[str, bytes | None]] | None:
    if not conditions:
        return None
    encode = msgspec.json.encode
    return {
        key: (c.name, None if c.context is None else encode(c.context))
        for key, c in conditions.items()
    }


class Frozen(NamedTuple):
    """An index's contents marshalled at one revision (:func:`freeze`), not yet sealed."""

    store_id: str
    revision: Revision
    tuples: int
    raw: bytes


def freeze(index: TupleIndex) -> Frozen:
    """Marshal ``index`` at its current revision: one synchronous call (nothing is applied to the
    index meanwhile), the part of :func:`encode` that must run on the index's thread (measured:
    ~0.4 s per million tuples)."""
    tables = [
        (object_type, relation, direct, usersets, objects, _plain_conditions(conditions))
        for object_type, relation, direct, usersets, objects, conditions in index.relation_tables()
    ]
    raw = marshal.dumps((index.store_id, tables))
    return Frozen(index.store_id, index.revision, index.count, raw)


def seal(frozen: Frozen) -> IndexSnapshot:
    """Compress and checksum ``frozen``: the rest of :func:`encode`, which touches no index and
    releases the GIL for most of its time (run it on a worker thread)."""
    payload = zlib.compress(frozen.raw, 1)
    header = _HEADER.pack(
        _MAGIC, FORMAT_VERSION, marshal.version, frozen.revision, frozen.tuples, len(payload)
    )
    data = b"".join((header, _digest(header, frozen.store_id, payload), payload))
    return IndexSnapshot(revision=frozen.revision, format=FORMAT, tuples=frozen.tuples, data=data)


def encode(index: TupleIndex) -> IndexSnapshot:
    """``index`` serialised at its current revision."""
    return seal(freeze(index))


def decode(store_id: str, snapshot: IndexSnapshot) -> TupleIndex:
    """The index ``snapshot`` holds for ``store_id``.

    Raises:
        SnapshotError: it is not a complete, unaltered snapshot of ``store_id`` in :data:`FORMAT`.
    """
    data = snapshot.data
    if snapshot.format != FORMAT or len(data) < _HEADER.size + _DIGEST:
        raise SnapshotError(f"not a {FORMAT} snapshot")
    header = data[: _HEADER.size]
    magic, version, marshal_version, revision, count, length = _HEADER.unpack(header)
    if (magic, version, marshal_version) != (_MAGIC, FORMAT_VERSION, marshal.version):
        raise SnapshotError(f"not a {FORMAT} snapshot")
    if revision != snapshot.revision or count != snapshot.tuples:
        raise SnapshotError("header does not match the snapshot's revision and tuple count")
    start = _HEADER.size + _DIGEST
    if len(data) != start + length:
        raise SnapshotError(f"{len(data)} bytes where the header announces {start + length}")
    payload = memoryview(data)[start:]
    if _digest(header, store_id, payload) != data[_HEADER.size : start]:
        raise SnapshotError("checksum mismatch (altered, or another store's snapshot)")
    try:
        with gc_paused():
            body = marshal.loads(zlib.decompress(payload))
            return _index(store_id, revision, count, body)
    except SnapshotError:
        raise
    except (ValueError, TypeError, EOFError, zlib.error, msgspec.DecodeError) as err:
        raise SnapshotError(f"unreadable payload: {err}") from err


def _index(store_id: str, revision: Revision, count: int, body: Any) -> TupleIndex:
    if not (isinstance(body, tuple) and len(body) == 2 and body[0] == store_id):
        raise SnapshotError("payload is not this store's index")
    tables: list[RelationTables] = []
    for table in body[1]:
        object_type, relation, direct, usersets, objects, conditions = table
        if not (
            isinstance(object_type, str)
            and isinstance(relation, str)
            and type(direct) is dict
            and type(usersets) is dict
            and type(objects) is dict
            and (conditions is None or type(conditions) is dict)
        ):
            raise SnapshotError(f"malformed table for {object_type!r}#{relation!r}")
        if conditions is not None:
            conditions = {
                key: TupleCondition(
                    name=name, context=None if context is None else msgspec.json.decode(context)
                )
                for key, (name, context) in conditions.items()
            }
        tables.append((object_type, relation, direct, usersets, objects, conditions))
    return TupleIndex.from_tables(store_id, revision, count, tables)
