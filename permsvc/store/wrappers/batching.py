"""BatchingTupleReader: the reads one request issues together go to the database as one query.

A store evaluated against the database (beyond the index memory budget, or no index at all) pays a
round trip per read. The engine issues the reads of a round together: over such a reader it
evaluates a node's union branches and the fan-out over userset and tuple-to-userset tuples as
concurrent tasks (``LocalChecker``), and those tasks reach their next reads within a few turns of
the event loop. This decorator (DataLoader's idea) parks each engine read on a future and, once a
loop turn passes without new reads (at most a few turns), sends everything parked as one
:meth:`~permsvc.store.protocol.MultiKeyTupleReader.read_many` statement: point lookups, userset
tuples and object-relation reads together, identical keys read once, at most
:data:`~permsvc.store.protocol.MAX_KEYS_PER_READ` keys per statement. So a round of evaluation
costs one query, not one per candidate. A lone read uses its single-key statement.

One instance per request (:func:`~permsvc.store.wrappers.request.wrap_for_request`): nothing is
shared or cached across requests, and every read sees what the inner reader would have shown it
(statements on the same pool as the single-key reads, so the request's consistency is unchanged).
A caller cancelled while parked (the first ``TRUE`` of a union, the deadline) just drops its
future; the statement of its batch completes for the others. A failed statement fails every read
of its batch with the same error.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from permsvc.store.protocol import MAX_KEYS_PER_READ, ManyKeys, MultiKeyTupleReader, unwrap
from permsvc.store.wrappers.proxy import TupleReaderProxy

if TYPE_CHECKING:
    from collections.abc import Sequence

    from permsvc.core.refs import TupleKey
    from permsvc.store.protocol import TupleReader

__all__ = ("BatchingTupleReader",)

_USERS, _USERSETS, _OBJECT_RELATIONS = 0, 1, 2
_MAX_TICKS = 8
"""Loop turns a batch may wait for more reads to join it (only while new ones keep arriving)."""

Parked = dict[tuple[str, tuple[str, ...]], list["asyncio.Future[Any]"]]


class BatchingTupleReader(TupleReaderProxy):
    """Coalesces the concurrent forward reads of one request over a database-backed ``inner``
    (which must also be a :class:`~permsvc.store.protocol.MultiKeyTupleReader`)."""

    def __init__(self, inner: TupleReader) -> None:
        super().__init__(inner)
        many = unwrap(inner, MultiKeyTupleReader)
        if many is None:
            raise TypeError(
                f"{type(inner).__name__} cannot read many keys at once (MultiKeyTupleReader)"
            )
        self._many = many
        self._parked: tuple[Parked, Parked, Parked] = ({}, {}, {})
        self._arrived = 0
        self._seen = 0
        self._ticks = 0
        self._scheduled = False
        self._running: set[asyncio.Task[None]] = set()
        self.queries = 0
        """Statements sent for the engine's reads (what tests and the benchmark count)."""

    async def read_user_tuple(
        self, store_id: str, object: str, relation: str, user: str
    ) -> TupleKey | None:
        return await self._park(_USERS, store_id, (object, relation, user))  # type: ignore[no-any-return]

    async def read_userset_tuples(
        self, store_id: str, object: str, relation: str
    ) -> Sequence[TupleKey]:
        return await self._park(_USERSETS, store_id, (object, relation))  # type: ignore[no-any-return]

    async def read_object_relation(
        self, store_id: str, object: str, relation: str
    ) -> Sequence[TupleKey]:
        return await self._park(_OBJECT_RELATIONS, store_id, (object, relation))  # type: ignore[no-any-return]

    def _park(self, kind: int, store_id: str, key: tuple[str, ...]) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        if not self._scheduled:
            self._scheduled = True
            self._ticks = 0
            self._seen = self._arrived
            loop.call_soon(self._tick)
        self._arrived += 1
        future: asyncio.Future[Any] = loop.create_future()
        self._parked[kind].setdefault((store_id, key), []).append(future)
        return future

    def _tick(self) -> None:
        """Once per loop turn while reads are parked: send them when a turn passed without new
        ones (every task of the round has reached its read) or after ``_MAX_TICKS`` turns."""
        self._ticks += 1
        if self._arrived != self._seen and self._ticks < _MAX_TICKS:
            self._seen = self._arrived
            asyncio.get_running_loop().call_soon(self._tick)
            return
        self._scheduled = False
        batch, self._parked = self._parked, ({}, {}, {})
        task = asyncio.get_running_loop().create_task(self._run(batch))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _run(self, batch: tuple[Parked, Parked, Parked]) -> None:
        stores = {store_id for parked in batch for store_id, _ in parked}
        for store_id in stores:
            keys = [[key for sid, key in parked if sid == store_id] for parked in batch]
            for chunk in _chunks(keys):
                try:
                    found = await self._read(store_id, chunk)
                except Exception as err:  # noqa: BLE001 - handed to every read of the chunk, raised there
                    for kind, kind_keys in enumerate(chunk):
                        for key in kind_keys:
                            _settle(batch[kind][(store_id, key)], error=err)
                    continue
                for kind, kind_keys in enumerate(chunk):
                    missing = None if kind == _USERS else ()
                    for key in kind_keys:
                        _settle(batch[kind][(store_id, key)], found[kind].get(key, missing))

    async def _read(
        self, store_id: str, keys: list[list[tuple[str, ...]]]
    ) -> list[dict[tuple[str, ...], Any]]:
        """One statement for ``keys`` (per kind): the answers by key, keys with nothing found left out."""
        self.queries += 1
        users, usersets, object_relations = keys
        if len(users) + len(usersets) + len(object_relations) == 1:  # the single-key statement
            if users:
                one = await self.inner.read_user_tuple(store_id, *users[0])
                return [{} if one is None else {users[0]: one}, {}, {}]
            if usersets:
                return [
                    {},
                    {usersets[0]: await self.inner.read_userset_tuples(store_id, *usersets[0])},
                    {},
                ]
            key = object_relations[0]
            return [{}, {}, {key: await self.inner.read_object_relation(store_id, *key)}]
        wanted = ManyKeys(users=users, usersets=usersets, object_relations=object_relations)  # type: ignore[arg-type]
        many = await self._many.read_many(store_id, wanted)
        out: list[dict[tuple[str, ...], Any]] = [{row.key: row for row in many.users}, {}, {}]
        for kind, rows in ((_USERSETS, many.usersets), (_OBJECT_RELATIONS, many.object_relations)):
            grouped = out[kind]
            for row in rows:
                grouped.setdefault((row.object, row.relation), []).append(row)
        return out


def _chunks(keys: list[list[tuple[str, ...]]]) -> list[list[list[tuple[str, ...]]]]:
    """``keys`` (one list per kind) cut into pieces of at most ``MAX_KEYS_PER_READ`` keys in all."""
    flat = [(kind, key) for kind, kind_keys in enumerate(keys) for key in kind_keys]
    out = []
    for start in range(0, len(flat), MAX_KEYS_PER_READ):
        chunk: list[list[tuple[str, ...]]] = [[], [], []]
        for kind, key in flat[start : start + MAX_KEYS_PER_READ]:
            chunk[kind].append(key)
        out.append(chunk)
    return out


def _settle(
    futures: list[asyncio.Future[Any]], result: Any = None, *, error: BaseException | None = None
) -> None:
    for future in futures:
        if future.done():  # its reader was cancelled
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)
