"""The cyclic garbage collector's view of a serving process.

A worker's in-memory index is a few large, long-lived containers (dicts of hundreds of thousands
of entries). CPython's cyclic collector traverses every tracked container of the generations it
collects, so each full collection walks the whole index: measured on the benchmark's 360k-tuple
store, 70-190 ms of CPU with the event loop stopped, several times a minute under load, which is
the whole p99 of a request that otherwise takes a fraction of a millisecond.

:func:`freeze_survivors` collects once and moves every survivor into the collector's permanent
generation (:func:`gc.freeze`), which no collection visits: called when the lifespan has built
the index. :class:`RefreezeSlowCollections` repeats that after any full collection that took
longer than its threshold, which covers what is built after start-up (a store first indexed
later, an index that grew from writes) without the index knowing about the collector.

The price: a frozen object that later becomes part of a reference cycle is never reclaimed
(reference counting still frees everything that is not cyclic, which is all of the index). Only
the survivors of a just-finished full collection are frozen, and a refreeze happens only after
the live heap has grown by enough long-lived containers to make a collection slow again.
"""

from __future__ import annotations

import gc
import time
from typing import Any

__all__ = ("DEFAULT_REFREEZE_AFTER_S", "RefreezeSlowCollections", "freeze_survivors")

DEFAULT_REFREEZE_AFTER_S = 0.01
"""CPU seconds a full collection may take before its survivors are frozen."""


def freeze_survivors() -> None:
    """Collect everything collectable, then take all survivors out of future collections."""
    gc.collect()
    gc.freeze()


class RefreezeSlowCollections:
    """A :data:`gc.callbacks` entry that freezes the survivors of a slow full collection.

    ``install()`` adds it once; ``uninstall()`` removes it. ``refreezes`` counts the freezes."""

    __slots__ = ("_started", "refreezes", "threshold_s")

    def __init__(self, *, threshold_s: float = DEFAULT_REFREEZE_AFTER_S) -> None:
        self.threshold_s = threshold_s
        self.refreezes = 0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self._started = time.thread_time()
        elif time.thread_time() - self._started > self.threshold_s:
            # The collection has finished: everything still tracked is reachable right now.
            gc.freeze()
            self.refreezes += 1

    def install(self) -> None:
        if self not in gc.callbacks:
            gc.callbacks.append(self)

    def uninstall(self) -> None:
        if self in gc.callbacks:
            gc.callbacks.remove(self)
