"""Lookups over a model: the one object the engine and commands consult about types and relations.

``TypeSystem.new(model)`` indexes a model without judging it (used for models already stored);
``TypeSystem.validated(model)`` first runs every semantic rule of ``permsvc.model.validation`` and
raises :class:`~permsvc.model.errors.ModelValidationError` listing all problems.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from permsvc.core.errors import PermsvcError

if TYPE_CHECKING:
    from permsvc.model.schema import (
        AuthorizationModel,
        Condition,
        RelationDefinition,
        RelationReference,
        Rewrite,
    )

__all__ = ("RelationNotFoundError", "TypeNotFoundError", "TypeSystem")


class TypeNotFoundError(PermsvcError):
    """A type is not defined in the model (OpenFGA ``type_not_found``)."""

    def __init__(self, object_type: str) -> None:
        super().__init__(f"type '{object_type}' not found")
        self.object_type = object_type


class RelationNotFoundError(PermsvcError):
    """A relation is not defined on a type (OpenFGA ``relation_not_found``)."""

    def __init__(self, object_type: str, relation: str) -> None:
        super().__init__(f"relation '{object_type}#{relation}' not found")
        self.object_type = object_type
        self.relation = relation


class TypeSystem:
    """Read-only index of an :class:`AuthorizationModel`. Cheap lookups; safe to share."""

    __slots__ = ("_relations", "_types", "model")

    def __init__(self, model: AuthorizationModel) -> None:
        self.model = model
        self._types = {td.name: td for td in model.type_definitions}
        self._relations: dict[tuple[str, str], RelationDefinition] = {
            (td.name, name): rd
            for td in model.type_definitions
            for name, rd in td.relations.items()
        }

    @classmethod
    def new(cls, model: AuthorizationModel) -> TypeSystem:
        return cls(model)

    @classmethod
    def validated(cls, model: AuthorizationModel) -> TypeSystem:
        from permsvc.model.validation import validate_model

        validate_model(model)
        return cls(model)

    @property
    def model_id(self) -> str:
        return self.model.id

    @property
    def schema_version(self) -> str:
        return self.model.schema_version

    def has_type(self, object_type: str) -> bool:
        return object_type in self._types

    def type_names(self) -> list[str]:
        return list(self._types)

    def relations_of(self, object_type: str) -> dict[str, RelationDefinition]:
        """All relations of a type, in definition order; raises :class:`TypeNotFoundError`."""
        td = self._types.get(object_type)
        if td is None:
            raise TypeNotFoundError(object_type)
        return td.relations

    def get_relation(self, object_type: str, relation: str) -> RelationDefinition | None:
        return self._relations.get((object_type, relation))

    def relation(self, object_type: str, relation: str) -> RelationDefinition:
        """The relation's definition; raises :class:`TypeNotFoundError` / :class:`RelationNotFoundError`."""
        rd = self._relations.get((object_type, relation))
        if rd is None:
            if object_type not in self._types:
                raise TypeNotFoundError(object_type)
            raise RelationNotFoundError(object_type, relation)
        return rd

    def rewrite(self, object_type: str, relation: str) -> Rewrite:
        return self.relation(object_type, relation).rewrite

    def directly_related(self, object_type: str, relation: str) -> tuple[RelationReference, ...]:
        return self.relation(object_type, relation).directly_related

    def condition(self, name: str) -> Condition | None:
        return self.model.conditions.get(name)
