"""Small builders shared by the storage suite's modules."""

from __future__ import annotations

from typing import Any

from permsvc.core.refs import TupleCondition, TupleKey, parse_tuple
from permsvc.store.protocol import Datastore, ReadFilter

__all__ = ("CountingPool", "read_all", "t")


def t(value: str, condition: str = "", context: dict[str, Any] | None = None) -> TupleKey:
    """``object#relation@user``, optionally with a condition name and persisted context."""
    key = parse_tuple(value)
    if not condition:
        return key
    return TupleKey(
        object=key.object,
        relation=key.relation,
        user=key.user,
        condition=TupleCondition(name=condition, context=context),
    )


async def read_all(
    datastore: Datastore, store_id: str, f: ReadFilter | None = None, *, page_size: int = 3
) -> list[TupleKey]:
    """Every tuple matching ``f``, following continuation tokens (small pages exercise them)."""
    out: list[TupleKey] = []
    token = ""
    while True:
        page = await datastore.read_page(
            store_id, f or ReadFilter(), page_size=page_size, continuation_token=token
        )
        out.extend(s.key for s in page.items)
        token = page.continuation_token
        if not token:
            return out


class CountingPool:
    """An asyncpg pool that counts the statements sent through ``fetch``/``fetchrow``/``fetchval``/
    ``execute`` (the engine's reads; transactions on acquired connections are not counted)."""

    def __init__(self, pool: Any) -> None:
        self.inner = pool
        self.statements = 0

    async def fetch(self, *args: Any, **kwargs: Any) -> Any:
        self.statements += 1
        return await self.inner.fetch(*args, **kwargs)

    async def fetchrow(self, *args: Any, **kwargs: Any) -> Any:
        self.statements += 1
        return await self.inner.fetchrow(*args, **kwargs)

    async def fetchval(self, *args: Any, **kwargs: Any) -> Any:
        self.statements += 1
        return await self.inner.fetchval(*args, **kwargs)

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        self.statements += 1
        return await self.inner.execute(*args, **kwargs)

    def acquire(self, *args: Any, **kwargs: Any) -> Any:
        return self.inner.acquire(*args, **kwargs)

    async def close(self) -> None:
        await self.inner.close()
