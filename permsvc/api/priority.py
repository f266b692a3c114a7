"""Writes are not starved by reads: while a write is in progress, reads enter a few per loop step.

A worker's event loop runs, in every step, each callback that was ready when the step began, in
order. A check answered from the in-memory index is one callback from start to finish (it never
waits), so under a saturating check load a step holds one check per connection in flight. A
write waits for the database about ten times (pool, ``BEGIN``, the revision lock, the tuple
lookup, the inserts, ``COMMIT``, the index catch-up), and after each answer its continuation
waits for the whole step of checks ahead of it: at 32 checks in flight on two workers that was
about 8 ms per wait, and a write took 100-300 ms instead of the 5-10 ms it takes alone.

:class:`WritePriority` is one per process (per event loop). A request on a write route is a
write in progress from the moment the front door admits it (:func:`admitted_writer`) until it
ends (:func:`finished`); a refused one never is. Every other request passes :meth:`admit` before
it is served. With no write in progress ``admit`` returns at once (the cost is one attribute test
and one non-suspending ``await``). While a write is in progress at most :attr:`per_step` of them
are admitted per loop step and the rest wait, in arrival order, on a future that a tick of the
loop releases :attr:`per_step` at a time; the write's continuations (database answers, the
index catch-up) then wait behind a few checks, not behind every connection's. Reads still make
progress in every step (never starved, never refused), and the moment the last write ends every
waiting read is released.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from typing import Any

__all__ = (
    "DEFAULT_READS_PER_STEP",
    "PENDING_KEY",
    "WritePriority",
    "admitted_writer",
    "finished",
    "write_route_matcher",
)

DEFAULT_READS_PER_STEP = 2
"""Reads admitted per event-loop step while a write is in progress."""


class WritePriority:
    """Admission of reads while writes are in progress, in one process (see the module)."""

    __slots__ = ("_admitted", "_loop", "_tick_pending", "_waiters", "_writes", "per_step")

    def __init__(self, per_step: int = DEFAULT_READS_PER_STEP) -> None:
        if per_step < 1:
            raise ValueError("per_step must be at least 1: reads are never starved")
        self.per_step = per_step
        self._writes = 0
        self._admitted = 0
        """Reads admitted in the current loop step (reset by the tick)."""
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._tick_pending = False
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def writes_in_progress(self) -> int:
        return self._writes

    @property
    def waiting(self) -> int:
        """Reads waiting to be admitted."""
        return len(self._waiters)

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Mark a write in progress for the duration of the block."""
        self.begin_write()
        try:
            yield
        finally:
            self.end_write()

    def begin_write(self) -> None:
        self._writes += 1

    def end_write(self) -> None:
        self._writes -= 1
        if self._writes == 0:
            self._release(len(self._waiters))

    async def admit(self) -> None:
        """Return when this read may run: at once unless a write is in progress."""
        if not self._writes:
            return
        if self._admitted < self.per_step and not self._waiters:
            self._admitted += 1
            self._schedule_tick()
            return
        loop = self._loop or asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiters.append(waiter)
        self._schedule_tick()
        try:
            await waiter
        except asyncio.CancelledError:
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)
            raise

    def _schedule_tick(self) -> None:
        if self._tick_pending:
            return
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        self._tick_pending = True
        self._loop.call_soon(self._tick)

    def _tick(self) -> None:
        """Once per loop step while reads are admitted or waiting: a new step's allowance."""
        self._tick_pending = False
        self._admitted = 0
        if not self._waiters:
            return
        self._admitted = self._release(self.per_step if self._writes else len(self._waiters))
        self._schedule_tick()

    def _release(self, count: int) -> int:
        """Wake up to ``count`` waiting reads (oldest first); how many were woken."""
        woken = 0
        while woken < count and self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                woken += 1
        return woken


PENDING_KEY = "permsvc.write_priority"
"""ASGI scope key: the :class:`WritePriority` a request on a write route may enter, once the
front door has admitted it."""

_WRITING_KEY = "permsvc.writing"


def admitted_writer(scope: MutableMapping[str, Any]) -> None:
    """The front door admitted this request: if it is on a write route, its write is now in
    progress. Priority goes only to callers allowed to write: a request on a write route that
    the door refuses (no credential, a wrong one, a read-only key) never slows other requests."""
    priority = scope.pop(PENDING_KEY, None)
    if priority is not None:
        priority.begin_write()
        scope[_WRITING_KEY] = priority


def finished(scope: MutableMapping[str, Any]) -> None:
    """The request is over: end its write, if :func:`admitted_writer` began one."""
    scope.pop(PENDING_KEY, None)
    priority = scope.pop(_WRITING_KEY, None)
    if priority is not None:
        priority.end_write()


def write_route_matcher(keys: Iterable[str]) -> Callable[[str, str], bool]:
    """``(method, path) -> bool`` for the routes ``keys`` (``"POST /stores/{store_id}/write"``):
    one compiled alternation per method, asked once per request."""
    templates: dict[str, list[str]] = {}
    for key in keys:
        method, _, template = key.partition(" ")
        templates.setdefault(method, []).append(
            "".join(
                "[^/]+" if part.startswith("{") else re.escape(part)
                for part in re.split(r"(\{[^}]+\})", template)
                if part
            )
        )
    patterns = {
        method: re.compile("|".join(f"(?:{t})" for t in ts)) for method, ts in templates.items()
    }

    def is_write(method: str, path: str) -> bool:
        pattern = patterns.get(method)
        return pattern is not None and pattern.fullmatch(path) is not None

    return is_write
