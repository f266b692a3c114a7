"""Build the encoded summary from per-relation object lists, within the byte budget.

**What is dropped when the budget is exceeded.** Entries (one per ``type#relation``) are kept or
dropped whole: a partial list would read as "no" for the objects cut off. Entries are considered
from the most specific to the least specific, and each is kept if the summary still fits with it
(counting, for the entries not yet considered, the space their keys would take in ``d``). So the
least specific entries are the ones left out. "Specific" is a total order:

1. **Breadth in the model.** An entry whose relation *includes* other summarised relations of the
   same type is broader. ``viewer: [user] or editor`` with ``editor: [user] or owner`` makes
   ``project#viewer`` include ``project#editor`` and ``project#owner`` (level 2), ``editor``
   level 1, ``owner`` level 0. Inclusion is structural: ``or`` and a computed relation
   (``R: ... or S``) include ``S``; ``and``, ``but not`` and ``X from Y`` include nothing.
   Lower level first.
2. **Fewer objects first**: a shorter list is a narrower grant, and costs fewer bytes.
3. **Spec order**: earlier in the spec's ``relations`` first.

An entry that alone would not fit (its listing was stopped once it passed the budget), or that
could not be listed without request context, is always dropped. Every dropped key is named in ``d`` and ``o`` is set, so an API knows to call the check
API for those relations (see :mod:`permsvc.claims.format`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import msgspec

from permsvc.claims.format import FORMAT_VERSION, encode_document
from permsvc.claims.spec import ClaimVariant, split_relation_key
from permsvc.core.errors import InvariantViolation
from permsvc.model.schema import ComputedUserset, Rewrite, Union
from permsvc.model.typesystem import TypeSystem

__all__ = ("FORMAT_VERSION", "EncodedSummary", "breadth_levels", "encode_summary")


class EncodedSummary(msgspec.Struct, frozen=True, kw_only=True):
    """A summary ready to put into a token."""

    claim: str
    value: bytes
    """The claim's value: canonical JSON (:mod:`permsvc.claims.format`), at most the budget."""
    revision: int
    truncated: bool
    dropped: tuple[str, ...]
    """Keys left out, sorted."""


def _included(typesystem: TypeSystem, object_type: str, relation: str) -> set[str]:
    """Relations of ``object_type`` whose holders structurally also hold ``relation``."""
    found: set[str] = set()
    pending = [relation]
    while pending:
        current = pending.pop()
        definition = typesystem.get_relation(object_type, current)
        if definition is None:
            continue
        stack: list[Rewrite] = [definition.rewrite]
        while stack:
            match stack.pop():
                case ComputedUserset(relation=name):
                    if name not in found and name != relation:
                        found.add(name)
                        pending.append(name)
                case Union(children=children):
                    stack.extend(children)
                case _:
                    pass
    return found


def breadth_levels(typesystem: TypeSystem, keys: Sequence[str]) -> dict[str, int]:
    """For each key, how many of the other ``keys`` of its type its relation includes."""
    levels: dict[str, int] = {}
    for key in keys:
        object_type, relation = split_relation_key(key)
        included = _included(typesystem, object_type, relation)
        levels[key] = sum(
            1
            for other in keys
            if other != key
            and split_relation_key(other)[0] == object_type
            and split_relation_key(other)[1] in included
        )
    return levels


def encode_summary(
    variant: ClaimVariant,
    revision: int,
    objects: Mapping[str, Sequence[str] | None],
    levels: Mapping[str, int],
) -> EncodedSummary:
    """Encode ``objects`` (key -> object ids of that type, or ``None`` when the list was too long
    to fit the budget alone or could not be computed) for ``variant``, dropping the least specific
    entries if needed.

    ``objects`` must have an entry for every key of the variant; ids need not be sorted.
    """
    order = {key: i for i, key in enumerate(variant.relations)}
    lists = {key: sorted(set(ids)) for key, ids in objects.items() if ids is not None}
    ranked = sorted(
        lists, key=lambda k: (levels.get(k, 0), len(lists[k]), order.get(k, len(order)), k)
    )
    pending = [key for key in variant.relations if key not in lists]
    kept: dict[str, list[str]] = {}
    remaining = list(ranked)
    while remaining:
        key = remaining.pop(0)
        candidate = {**kept, key: lists[key]}
        if (
            len(encode_document(revision, candidate, [*pending, *remaining]))
            <= variant.budget_bytes
        ):
            kept = candidate
        else:
            pending.append(key)
    value = encode_document(revision, kept, pending)
    if len(value) > variant.budget_bytes:
        raise InvariantViolation(
            f"claim summary of {len(value)} bytes exceeds the budget of {variant.budget_bytes} "
            "(the spec's envelope check should make this impossible)"
        )
    return EncodedSummary(
        claim=variant.claim,
        value=value,
        revision=revision,
        truncated=bool(pending),
        dropped=tuple(sorted(pending)),
    )
