"""What changes between two authorization models, for review before a model is uploaded.

Pure and synchronous. The diff names what was added, removed or changed, down to single type
restrictions (``[user, group#member]`` losing ``group#member``). Which *stored tuples* a change
would orphan depends on the data, so it is decided elsewhere
(:class:`permsvc.commands.admin.DiffModelQuery`), by testing each tuple against the new model.

A change is *breaking* when it can make stored tuples unusable: a type, relation or condition
removed, or a type restriction dropped. Rewrite changes alter what tuples mean, not whether they
are valid, so they are reported but are not breaking.
"""

from __future__ import annotations

import msgspec

from permsvc.model.dsl.printer import print_rewrite
from permsvc.model.schema import AuthorizationModel, RelationDefinition, Rewrite

__all__ = ("ModelDiff", "RelationChange", "diff_models", "format_rewrite")


class RelationChange(msgspec.Struct, frozen=True, kw_only=True):
    """One relation present in both models whose definition differs."""

    object_type: str
    relation: str
    old_rewrite: str = ""
    """The old definition (DSL-like), when the rewrite changed; ``""`` otherwise."""
    new_rewrite: str = ""
    removed_restrictions: tuple[str, ...] = ()
    """Direct type restrictions (``user``, ``group#member``, ``user:*``, ``user with c``) dropped."""
    added_restrictions: tuple[str, ...] = ()


class ModelDiff(msgspec.Struct, frozen=True, kw_only=True):
    """The differences from an old model to a new one. Names are ``type`` or ``type#relation``."""

    added_types: tuple[str, ...] = ()
    removed_types: tuple[str, ...] = ()
    added_relations: tuple[str, ...] = ()
    removed_relations: tuple[str, ...] = ()
    changed_relations: tuple[RelationChange, ...] = ()
    added_conditions: tuple[str, ...] = ()
    removed_conditions: tuple[str, ...] = ()
    changed_conditions: tuple[str, ...] = ()
    schema_version_changed: bool = False

    @property
    def empty(self) -> bool:
        return self == ModelDiff()

    @property
    def breaking(self) -> bool:
        """Whether stored tuples may stop fitting the model (see the module docstring)."""
        return bool(
            self.removed_types
            or self.removed_relations
            or self.removed_conditions
            or self.changed_conditions
            or any(c.removed_restrictions for c in self.changed_relations)
        )


def format_rewrite(rewrite: Rewrite) -> str:
    """A rewrite in DSL-like notation (``[...] or owner or viewer from parent``), its operands in
    the model's order."""
    return print_rewrite(rewrite, direct="[...]", in_order=True)


def _relation_change(
    object_type: str, old: RelationDefinition, new: RelationDefinition
) -> RelationChange | None:
    old_refs = [str(r) for r in old.directly_related]
    new_refs = [str(r) for r in new.directly_related]
    removed = tuple(r for r in old_refs if r not in new_refs)
    added = tuple(r for r in new_refs if r not in old_refs)
    rewrite_changed = old.rewrite != new.rewrite
    if not (removed or added or rewrite_changed):
        return None
    return RelationChange(
        object_type=object_type,
        relation=old.name,
        old_rewrite=format_rewrite(old.rewrite) if rewrite_changed else "",
        new_rewrite=format_rewrite(new.rewrite) if rewrite_changed else "",
        removed_restrictions=removed,
        added_restrictions=added,
    )


def diff_models(old: AuthorizationModel, new: AuthorizationModel) -> ModelDiff:
    """The differences from ``old`` to ``new``, each list in the models' definition order."""
    old_types = {td.name: td for td in old.type_definitions}
    new_types = {td.name: td for td in new.type_definitions}
    added_relations: list[str] = []
    removed_relations: list[str] = []
    changed: list[RelationChange] = []
    for name, old_td in old_types.items():
        new_td = new_types.get(name)
        if new_td is None:
            continue
        for rel, old_rel in old_td.relations.items():
            new_rel = new_td.relations.get(rel)
            if new_rel is None:
                removed_relations.append(f"{name}#{rel}")
            elif (change := _relation_change(name, old_rel, new_rel)) is not None:
                changed.append(change)
        added_relations.extend(
            f"{name}#{rel}" for rel in new_td.relations if rel not in old_td.relations
        )

    def condition_shape(model: AuthorizationModel, name: str) -> tuple[str, object]:
        cond = model.conditions[name]
        return cond.expression, msgspec.to_builtins(cond.parameters)

    return ModelDiff(
        added_types=tuple(n for n in new_types if n not in old_types),
        removed_types=tuple(n for n in old_types if n not in new_types),
        added_relations=tuple(added_relations),
        removed_relations=tuple(removed_relations),
        changed_relations=tuple(changed),
        added_conditions=tuple(n for n in new.conditions if n not in old.conditions),
        removed_conditions=tuple(n for n in old.conditions if n not in new.conditions),
        changed_conditions=tuple(
            n
            for n in old.conditions
            if n in new.conditions and condition_shape(old, n) != condition_shape(new, n)
        ),
        schema_version_changed=old.schema_version != new.schema_version,
    )
