"""PostgresChangeListener: LISTEN ``permsvc_changes`` on a dedicated connection to wake the index.

The PostgreSQL backend ends every committed tuple write with ``pg_notify('permsvc_changes',
'<store_id>:<revision>')``. A notification only *wakes* the follower: it then reads the changelog in
revision order, so a lost notification (connection drop, server restart) delays a change until the
next poll but never loses it. After a reconnect ``on_reconnect`` asks for a full catch-up.

Failover: the URL may name several hosts (``postgresql://h1,h2/db``); the connection then goes to
the one that accepts writes (a standby cannot LISTEN, and would never see a notification). When
the primary dies the connection's termination wakes the supervisor, which retries (every
``_RECONNECT_DELAYS``, at most 1 s apart, so a promoted standby is found within about a second)
until some host accepts, LISTENs there again and asks for the catch-up.

Model writes and store deletions notify ``permsvc_models`` (``'<store_id>:model'`` /
``'<store_id>:deleted'``) in their transaction, so one session receives both channels in commit
order; ``on_models`` hears them (see :mod:`.model_versions`).

The connection is a plain ``asyncpg.connect`` outside the datastore's pool (a LISTENing session
must not be handed to other requests).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import asyncpg

from permsvc.store.postgres.connect import connect_options

__all__ = ("CHANNEL", "MODELS_CHANNEL", "PostgresChangeListener")

CHANNEL = "permsvc_changes"
MODELS_CHANNEL = "permsvc_models"
_RECONNECT_DELAYS = (0.05, 0.1, 0.2, 0.5, 1.0)

_log = logging.getLogger("permsvc.index")


class PostgresChangeListener:
    """Calls ``on_change(store_id, revision)`` for every notification, on the event loop, and
    ``on_models(store_id, deleted)`` for every model-channel one."""

    def __init__(
        self,
        url: str,
        *,
        on_change: Callable[[str, int], None],
        on_reconnect: Callable[[], None],
        on_models: Callable[[str, bool], None] | None = None,
    ) -> None:
        self._url = url
        self._on_change = on_change
        self._on_models = on_models
        self._on_reconnect = on_reconnect
        self._conn: asyncpg.Connection | None = None
        self._lost = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Connect and LISTEN (raising if the first connection fails), then supervise."""
        await self._connect()
        self._task = asyncio.create_task(self._supervise(), name="permsvc-index-listener")

    @property
    def connected(self) -> bool:
        return self._conn is not None and not self._conn.is_closed()

    async def _connect(self) -> None:
        conn = await asyncpg.connect(self._url, **connect_options(self._url))
        try:
            await conn.add_listener(CHANNEL, self._notified)
            if self._on_models is not None:
                await conn.add_listener(MODELS_CHANNEL, self._models_notified)
        except BaseException:
            conn.terminate()
            raise
        conn.add_termination_listener(lambda _conn: self._lost.set())
        self._lost.clear()
        self._conn = conn

    def _notified(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        store_id, _, revision = payload.rpartition(":")
        try:
            self._on_change(store_id, int(revision))
        except ValueError:
            _log.warning("ignoring malformed %s notification %r", CHANNEL, payload)

    def _models_notified(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        store_id, _, event = payload.rpartition(":")
        if self._on_models is None or event not in ("model", "deleted"):
            _log.warning("ignoring malformed %s notification %r", MODELS_CHANNEL, payload)
            return
        self._on_models(store_id, event == "deleted")

    async def _supervise(self) -> None:
        while True:
            await self._lost.wait()
            _log.warning("index change listener lost its PostgreSQL connection; reconnecting")
            attempt = 0
            while True:
                with contextlib.suppress(Exception):
                    if self._conn is not None:
                        await self._conn.close(timeout=1)
                try:
                    await self._connect()
                    break
                except asyncio.CancelledError:
                    raise
                except Exception as err:  # noqa: BLE001 - refused, timed out, only standbys left (TargetServerAttributeNotMatched), auth: all retried
                    delay = _RECONNECT_DELAYS[min(attempt, len(_RECONNECT_DELAYS) - 1)]
                    _log.warning(
                        "index change listener cannot reconnect (%s); retrying in %.2fs", err, delay
                    )
                    attempt += 1
                    await asyncio.sleep(delay)
            _log.warning(
                "index change listener LISTENs again after %d failed attempts; catching up", attempt
            )
            self._on_reconnect()

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._conn is not None and not self._conn.is_closed():
            with contextlib.suppress(Exception):
                await self._conn.close(timeout=2)
