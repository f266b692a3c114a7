"""The datastore backends that backend-parametrized suites (storage, conformance) run against.

Each entry maps a backend name to an async context-manager factory yielding a fresh, empty
:class:`~permsvc.store.protocol.Datastore`. Suites parametrize a ``datastore`` fixture over
``BACKENDS``; adding a backend here runs every such suite against it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from permsvc.store.memory import MemoryDatastore


@contextlib.asynccontextmanager
async def memory_backend(**_: Any) -> AsyncIterator[MemoryDatastore]:
    store = MemoryDatastore()
    try:
        yield store
    finally:
        await store.aclose()


BACKENDS: dict[str, Callable[..., contextlib.AbstractAsyncContextManager[Any]]] = {
    "memory": memory_backend,
}
