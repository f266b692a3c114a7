"""ModelVersions: what this process has heard about changes to each store's models.

Model writes carry no revision (the changelog is of tuples), so a process cannot tell from the
revision it is at whether a model it cached as a store's latest is still the latest. It tells
from events instead, which :class:`~permsvc.store.index.IndexedDatastore` feeds in:

- a model written or a store deleted, by this process or (PostgreSQL: ``pg_notify`` on
  :data:`~permsvc.store.index.listener.MODELS_CHANNEL` in the writing transaction) by another;
- the tuple notifications of the listener, in commit order with the model ones (one queue);
- a lost listener connection: anything may have changed meanwhile.

A cache records :meth:`stamp` (or :meth:`life_stamp`) *before* it reads the database; its entry
is still good while the stamp is unchanged and the entry is younger than ``max_age_s`` (the
follower's polling interval: the bound on staleness when no notification can arrive, as for
tuples). :meth:`notified_revision` lets an entry answer a consistency token: once the tuple
notification of revision ``r`` has been processed, the notification of every model committed
before ``r`` has been too, so an entry whose stamp is unchanged already holds those models.
"""

from __future__ import annotations

from permsvc.core.revision import Revision

__all__ = ("ModelVersions",)


class ModelVersions:
    """Per-store change counters; synchronous, used from one event loop."""

    __slots__ = ("_changes", "_deletions", "_generation", "_notified", "max_age_s")

    def __init__(self, *, max_age_s: float) -> None:
        self.max_age_s = max_age_s
        """How long a cache entry may be used without an event confirming it (seconds)."""
        self._generation = 0
        self._changes: dict[str, int] = {}
        self._deletions: dict[str, int] = {}
        self._notified: dict[str, Revision] = {}

    def stamp(self, store_id: str) -> tuple[int, int]:
        """Changes whenever the store's latest model may have changed (a model written, the
        store deleted, notifications lost)."""
        return self._generation, self._changes.get(store_id, 0)

    def life_stamp(self, store_id: str) -> tuple[int, int]:
        """Changes whenever the store may have been deleted (models by id are immutable)."""
        return self._generation, self._deletions.get(store_id, 0)

    def notified_revision(self, store_id: str) -> Revision:
        """The highest tuple revision of ``store_id`` a notification has announced (0: none)."""
        return self._notified.get(store_id, 0)

    def model_written(self, store_id: str) -> None:
        self._changes[store_id] = self._changes.get(store_id, 0) + 1

    def store_deleted(self, store_id: str) -> None:
        self.model_written(store_id)
        self._deletions[store_id] = self._deletions.get(store_id, 0) + 1

    def tuples_notified(self, store_id: str, revision: Revision) -> None:
        """A listener notification (never a local write: another process's model may have
        committed before a local tuple write and not yet been announced)."""
        if revision > self._notified.get(store_id, 0):
            self._notified[store_id] = revision

    def lost_track(self) -> None:
        """Notifications may have been missed: every entry is revalidated on next use."""
        self._generation += 1
        self._notified.clear()
