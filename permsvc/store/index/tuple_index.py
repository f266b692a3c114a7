"""TupleIndex: one store's tuples in compact in-memory structures, at a known revision.

Layout (measured: ~100-130 bytes per tuple at a million tuples, see ``bench/index_build.py``):
one :class:`_RelationIndex` per ``(object_type, relation)``, holding

- ``direct``: ``object_id -> users`` for plain users (``user:anne``);
- ``usersets``: ``object_id -> users`` for userset and wildcard users (``group:eng#member``,
  ``user:*``), so the expansion a direct check needs never scans the plain users;
- ``objects``: ``user -> object_ids`` (the reverse index of ListObjects);
- ``conditions``: ``(object_id, user) -> TupleCondition``, only for conditional tuples.

Values are one string, a tuple of up to :data:`SMALL` strings, or a set beyond that: most
``object#relation`` pairs have one or two users, and a string or a short tuple costs a fraction of a
set. Object ids are stored without their type (the type is the ``_RelationIndex``'s), so the
forward keys and the reverse values share one string per object; strings are deduplicated while
building. No :class:`~permsvc.core.refs.TupleKey` is kept: reads build the few they return.

Every method is synchronous and never suspends, so a batch of changes is applied atomically with
respect to the event loop: a reader that does not await between two reads sees one revision.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Union

from permsvc.core.refs import TupleKey

if TYPE_CHECKING:
    from permsvc.core.refs import TupleCondition
    from permsvc.core.revision import Revision
    from permsvc.store.protocol import StartingWithUser, TupleChange

__all__ = ("SMALL", "RelationTables", "TupleIndex", "gc_paused")

SMALL = 16
"""Largest value kept as a tuple; larger ones become sets (membership stays O(1))."""

_Values = Union[str, tuple[str, ...], set[str]]  # noqa: UP007 - a runtime alias

RelationTables = tuple[
    str,
    str,
    dict[str, _Values],
    dict[str, _Values],
    dict[str, _Values],
    "dict[tuple[str, str], TupleCondition] | None",
]
"""One relation of an index: object type, relation, direct users, userset users, reverse, conditions."""


def _added(values: _Values | None, value: str) -> _Values:
    if values is None:
        return value
    kind = type(values)
    if kind is str:
        return values if values == value else (values, value)  # type: ignore[return-value]
    if kind is tuple:
        if value in values:
            return values
        if len(values) < SMALL:
            return (*values, value)
        grown = set(values)
        grown.add(value)
        return grown
    values.add(value)  # type: ignore[union-attr]
    return values


def _removed(values: _Values, value: str) -> _Values | None:
    kind = type(values)
    if kind is str:
        return None if values == value else values
    if kind is tuple:
        if value not in values:
            return values
        rest = tuple(v for v in values if v != value)
        return rest[0] if len(rest) == 1 else rest
    values.discard(value)  # type: ignore[union-attr]
    if len(values) <= SMALL // 2:
        return tuple(values)
    return values


_gc_pauses = [0, False]
"""Builds running with the cyclic collector paused, and whether it was enabled before the first."""


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a snapshot is built (nestable; builds of several
    stores may overlap). A build allocates millions of containers that all survive: every
    collection meanwhile re-examines them for nothing (measured: ~8% of a 1M-tuple build).
    Reference counting still frees everything else; the collector runs again afterwards."""
    if _gc_pauses[0] == 0:
        _gc_pauses[1] = gc.isenabled()
        gc.disable()
    _gc_pauses[0] += 1
    try:
        yield
    finally:
        _gc_pauses[0] -= 1
        if _gc_pauses[0] == 0 and _gc_pauses[1]:
            gc.enable()


_GROUPS_SIZE = 4_096
"""Relation groups (:meth:`TupleIndex.read_user_tuples_sync`) kept per index at most."""

_versions = itertools.count(1)
"""Relation versions, unique in the process (across indexes and rebuilds), so a version names
one state of one relation's tuples."""


def _contains(values: _Values, value: str) -> bool:
    return values == value if type(values) is str else value in values


def _each(values: _Values) -> Iterable[str]:
    return (values,) if type(values) is str else values


def _is_userset(user: str) -> bool:
    return "#" in user or user.endswith(":*")


class _RelationIndex:
    __slots__ = ("conditions", "direct", "objects", "relation", "usersets", "version")

    def __init__(self, relation: str) -> None:
        self.relation = relation
        self.version = next(_versions)
        """Changes with every change to the relation's tuples (see :meth:`TupleIndex.relation_version`)."""
        self.direct: dict[str, _Values] = {}
        self.usersets: dict[str, _Values] = {}
        self.objects: dict[str, _Values] = {}
        self.conditions: dict[tuple[str, str], TupleCondition] | None = None


class TupleIndex:
    """The tuples of ``store_id`` as of ``revision``. Not thread-safe; use from one event loop.

    Build with :meth:`add_batch` (the snapshot, then :meth:`finish_build` to drop the string
    table), then keep current with :meth:`apply`.
    """

    __slots__ = ("_groups", "_relations", "_strings", "count", "revision", "store_id")

    def __init__(self, store_id: str, revision: Revision = 0) -> None:
        self.store_id = store_id
        self.revision: Revision = revision
        self.count = 0
        """Number of tuples held."""
        self._relations: dict[tuple[str, str], _RelationIndex] = {}
        self._groups: dict[tuple[str, tuple[str, ...]], tuple[_RelationIndex, ...]] = {}
        """``(object_type, relations)`` -> the held ones of those relations, in order: the reads
        of several relations at once look them up once (emptied when a relation is added)."""
        self._strings: dict[str, str] | None = {}

    # -- building and following -----------------------------------------------------------------

    def add_batch(self, keys: Sequence[TupleKey]) -> None:
        """Add snapshot tuples (the revision is set by the caller once the snapshot is complete).

        The start-up hot loop: :meth:`_add` inlined for unconditional tuples on a known
        ``(type, relation)``, which roughly halves the build time."""
        relations = self._relations
        strings = self._strings if self._strings is not None else {}
        intern = strings.setdefault
        add = self._add
        added = 0
        for key in keys:
            if key.condition is not None:
                add(key)
                continue
            object_type, _, object_id = key.object.partition(":")
            rel = relations.get((object_type, key.relation))
            if rel is None:
                add(key)
                continue
            object_id = intern(object_id, object_id)
            user = intern(key.user, key.user)
            forward = rel.usersets if "#" in user or user.endswith(":*") else rel.direct
            before = forward.get(object_id)
            if before is None:
                forward[object_id] = user
            elif type(before) is str:
                if before == user:
                    continue
                forward[object_id] = (before, user)
            else:
                if user in before:
                    continue
                forward[object_id] = _added(before, user)
            objects = rel.objects
            ids = objects.get(user)
            if ids is None:
                objects[user] = object_id
            elif type(ids) is str:
                objects[user] = (ids, object_id)
            else:
                objects[user] = _added(ids, object_id)
            added += 1
        self.count += added
        for rel in relations.values():
            rel.version = next(_versions)

    def finish_build(self, revision: Revision) -> None:
        """The snapshot is complete at ``revision``: drop the build-time string table."""
        self.revision = revision
        self._strings = None

    def relation_tables(self) -> list[RelationTables]:
        """The index's contents for :mod:`.snapshot`: per ``(object_type, relation)`` its forward,
        userset and reverse tables (the live objects, not copies: serialise them before anything
        is applied) and its conditions. Strings shared between tables stay shared objects."""
        return [
            (object_type, relation, rel.direct, rel.usersets, rel.objects, rel.conditions)
            for (object_type, relation), rel in self._relations.items()
        ]

    @classmethod
    def from_tables(
        cls, store_id: str, revision: Revision, count: int, tables: Iterable[RelationTables]
    ) -> TupleIndex:
        """An index holding ``tables`` (as :meth:`relation_tables` returned them, e.g. loaded
        from a snapshot) at ``revision``; they are adopted, not copied."""
        index = cls(store_id, revision)
        index._strings = None
        index.count = count
        for object_type, relation, direct, usersets, objects, conditions in tables:
            rel = _RelationIndex(relation)
            rel.direct, rel.usersets, rel.objects = direct, usersets, objects
            rel.conditions = conditions or None
            index._relations[(object_type, relation)] = rel
        return index

    def apply(self, changes: Sequence[TupleChange]) -> int:
        """Apply changelog entries in revision order; entries at or below :attr:`revision` are
        skipped (catch-up is idempotent). Returns the number applied. Never suspends: callers see
        either none or all of a batch."""
        applied = 0
        revision = self.revision
        for change in changes:
            if change.revision <= revision:
                continue
            if change.operation == "write":
                self._add(change.key)
            else:
                self._remove(change.key)
            applied += 1
        if changes and changes[-1].revision > self.revision:
            self.revision = changes[-1].revision
        return applied

    def _intern(self, value: str) -> str:
        strings = self._strings
        if strings is None:
            return value
        return strings.setdefault(value, value)

    def _add(self, key: TupleKey) -> None:
        object_type, _, object_id = key.object.partition(":")
        relation = key.relation
        rel = self._relations.get((object_type, relation))
        if rel is None:
            relation = self._intern(relation)
            rel = self._relations[(self._intern(object_type), relation)] = _RelationIndex(relation)
            self._groups.clear()
        rel.version = next(_versions)
        object_id = self._intern(object_id)
        user = self._intern(key.user)
        forward = rel.usersets if _is_userset(user) else rel.direct
        before = forward.get(object_id)
        if before is None or not _contains(before, user):
            forward[object_id] = _added(before, user)
            rel.objects[user] = _added(rel.objects.get(user), object_id)
            self.count += 1
        if key.condition is not None:
            if rel.conditions is None:
                rel.conditions = {}
            rel.conditions[(object_id, user)] = key.condition
        elif rel.conditions:
            rel.conditions.pop((object_id, user), None)

    def _remove(self, key: TupleKey) -> None:
        object_type, _, object_id = key.object.partition(":")
        rel = self._relations.get((object_type, key.relation))
        if rel is None:
            return
        rel.version = next(_versions)
        user = key.user
        forward = rel.usersets if _is_userset(user) else rel.direct
        before = forward.get(object_id)
        if before is None or not _contains(before, user):
            return
        self.count -= 1
        after = _removed(before, user)
        if after is None:
            del forward[object_id]
        else:
            forward[object_id] = after
        objects = rel.objects.get(user)
        if objects is not None:
            rest = _removed(objects, object_id)
            if rest is None:
                del rel.objects[user]
            else:
                rel.objects[user] = rest
        if rel.conditions:
            rel.conditions.pop((object_id, user), None)

    # -- reads (the TupleReader shapes) ---------------------------------------------------------

    def relation_version(self, object_type: str, relation: str) -> int:
        """A number that changes whenever a tuple of ``object_type#relation`` is added, removed or
        rewritten, unique in the process (0: the index has never held one): a cache computed from
        these tuples is current while the version is the one it was computed at."""
        rel = self._relations.get((object_type, relation))
        return 0 if rel is None else rel.version

    def _key(
        self, rel: _RelationIndex, obj: str, object_id: str, relation: str, user: str
    ) -> TupleKey:
        conditions = rel.conditions
        condition = conditions.get((object_id, user)) if conditions else None
        return TupleKey(object=obj, relation=relation, user=user, condition=condition)

    def user_tuple(self, obj: str, relation: str, user: str) -> TupleKey | None:
        return self.read_user_tuple_sync(self.store_id, obj, relation, user)

    def userset_tuples(self, obj: str, relation: str) -> list[TupleKey]:
        return self.read_userset_tuples_sync(self.store_id, obj, relation)

    def object_relation(self, obj: str, relation: str) -> list[TupleKey]:
        return self.read_object_relation_sync(self.store_id, obj, relation)

    # The three reads of a check, with :class:`~permsvc.store.protocol.SyncTupleReader`'s
    # signatures so that the IndexedReader hands them to the engine as they are (a call less per
    # read). ``store_id`` is not consulted: the reader routes only the indexed store here.

    def read_user_tuple_sync(
        self, store_id: str, obj: str, relation: str, user: str
    ) -> TupleKey | None:
        """The hottest read of a check: helpers inlined."""
        object_type, _, object_id = obj.partition(":")
        rel = self._relations.get((object_type, relation))
        if rel is None:
            return None
        users = (rel.usersets if "#" in user or user.endswith(":*") else rel.direct).get(object_id)
        if users is None:
            return None
        if users != user if type(users) is str else user not in users:
            return None
        conditions = rel.conditions
        condition = conditions.get((object_id, user)) if conditions else None
        return TupleKey(object=obj, relation=relation, user=user, condition=condition)

    # Reads of several relations of one object at once (optional, see
    # :attr:`~permsvc.engine.request.ResolveContext.read_users_sync`): a flattened union asks for
    # the user's tuple on each of its direct relations and for their usersets, one call each.

    def _group(self, object_type: str, relations: tuple[str, ...]) -> tuple[_RelationIndex, ...]:
        index = self._relations
        group = tuple(
            rel for rel in (index.get((object_type, r)) for r in relations) if rel is not None
        )
        if len(self._groups) >= _GROUPS_SIZE:
            self._groups.clear()
        self._groups[(object_type, relations)] = group
        return group

    def read_user_tuples_sync(
        self, store_id: str, obj: str, relations: tuple[str, ...], user: str
    ) -> Sequence[TupleKey]:
        """``read_user_tuple_sync`` for each of ``relations`` (in that order), the found ones."""
        object_type, _, object_id = obj.partition(":")
        group = self._groups.get((object_type, relations))
        if group is None:
            group = self._group(object_type, relations)
        userset = "#" in user or user.endswith(":*")
        found: list[TupleKey] | None = None
        for rel in group:
            users = (rel.usersets if userset else rel.direct).get(object_id)
            if users is None or (users != user if type(users) is str else user not in users):
                continue
            conditions = rel.conditions
            condition = conditions.get((object_id, user)) if conditions else None
            key = TupleKey(object=obj, relation=rel.relation, user=user, condition=condition)
            if found is None:
                found = [key]
            else:
                found.append(key)
        return () if found is None else found

    def read_userset_tuples_of_sync(
        self, store_id: str, obj: str, relations: tuple[str, ...]
    ) -> Sequence[TupleKey]:
        """``read_userset_tuples_sync`` of each of ``relations``, concatenated in that order."""
        object_type, _, object_id = obj.partition(":")
        group = self._groups.get((object_type, relations))
        if group is None:
            group = self._group(object_type, relations)
        found: list[TupleKey] | None = None
        for rel in group:
            users = rel.usersets.get(object_id)
            if users is None:
                continue
            if found is None:
                found = []
            conditions = rel.conditions
            relation = rel.relation
            for user in (users,) if type(users) is str else users:
                condition = conditions.get((object_id, user)) if conditions else None
                found.append(
                    TupleKey(object=obj, relation=relation, user=user, condition=condition)
                )
        return () if found is None else found

    def read_userset_tuples_sync(self, store_id: str, obj: str, relation: str) -> list[TupleKey]:
        object_type, _, object_id = obj.partition(":")
        rel = self._relations.get((object_type, relation))
        if rel is None:
            return []
        users = rel.usersets.get(object_id)
        if users is None:
            return []
        conditions = rel.conditions
        if type(users) is str:
            condition = conditions.get((object_id, users)) if conditions else None
            return [TupleKey(object=obj, relation=relation, user=users, condition=condition)]
        return [self._key(rel, obj, object_id, relation, u) for u in users]

    def count_object_relation_sync(self, store_id: str, obj: str, relation: str) -> int:
        """How many tuples :meth:`read_object_relation_sync` would return, without building them."""
        object_type, _, object_id = obj.partition(":")
        rel = self._relations.get((object_type, relation))
        if rel is None:
            return 0
        count = 0
        for forward in (rel.direct, rel.usersets):
            users = forward.get(object_id)
            if users is not None:
                count += 1 if type(users) is str else len(users)
        return count

    def read_object_relation_sync(self, store_id: str, obj: str, relation: str) -> list[TupleKey]:
        object_type, _, object_id = obj.partition(":")
        rel = self._relations.get((object_type, relation))
        if rel is None:
            return []
        direct = rel.direct.get(object_id)
        usersets = rel.usersets.get(object_id)
        if usersets is None and type(direct) is str and not rel.conditions:
            return [
                TupleKey(object=obj, relation=relation, user=direct)
            ]  # one parent: the common case
        out: list[TupleKey] = []
        for users in (direct, usersets):
            if users is not None:
                out.extend(self._key(rel, obj, object_id, relation, u) for u in _each(users))
        return out

    def starting_with_user(self, filter: StartingWithUser) -> list[TupleKey]:
        """:meth:`~permsvc.store.protocol.TupleReader.read_starting_with_user` of this store."""
        relation = filter.relation
        rel = self._relations.get((filter.object_type, relation))
        if rel is None:
            return []
        wanted = None if filter.object_ids is None else set(filter.object_ids)
        out: list[TupleKey] = []
        prefix = filter.object_type + ":"
        for user in dict.fromkeys(filter.users):
            ids = rel.objects.get(user)
            if ids is None:
                continue
            for oid in _each(ids):
                if wanted is None or oid in wanted:
                    out.append(self._key(rel, prefix + oid, oid, relation, user))
        return out

    def tuples(self) -> Iterator[TupleKey]:
        """Every tuple held (no order): for tests and diagnostics, not for the hot path."""
        for (object_type, relation), rel in self._relations.items():
            for forward in (rel.direct, rel.usersets):
                for object_id, users in forward.items():
                    obj = f"{object_type}:{object_id}"
                    for user in _each(users):
                        yield self._key(rel, obj, object_id, relation, user)
