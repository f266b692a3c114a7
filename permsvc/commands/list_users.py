"""ListUsersQuery: the users of a type related to one object (OpenFGA ListUsers), paginated."""

from __future__ import annotations

import msgspec

from permsvc.commands._paging import ListFields, ListOutcome, list_page, query_digest
from permsvc.commands.errors import InvalidInputError
from permsvc.commands.prepare import EngineQuery
from permsvc.core.refs import reject_control_characters
from permsvc.engine.list_users import list_users
from permsvc.engine.request import request_digest
from permsvc.model.typesystem import TypeNotFoundError, TypeSystem

__all__ = ("ListUsersOutcome", "ListUsersParams", "ListUsersQuery", "UserFilter")


class UserFilter(msgspec.Struct, frozen=True, kw_only=True):
    """``type`` alone lists objects and the typed wildcard; with ``relation`` it lists usersets."""

    type: str
    relation: str = ""


class ListUsersParams(ListFields, frozen=True, kw_only=True):
    object: str
    relation: str
    user_filters: tuple[UserFilter, ...]


class ListUsersOutcome(ListOutcome, frozen=True, kw_only=True):
    """One page of ``users`` in OpenFGA's string forms: ``user:anne``, ``group:eng#member``,
    ``user:*`` (see :class:`ListOutcome`)."""

    users: list[str]


class ListUsersQuery(EngineQuery):
    """Errors: ``TypeNotFoundError`` (2021) / ``RelationNotFoundError`` (2022) for the object's
    type and relation and for a filter's type and relation, ``InvalidInputError`` (2000) unless
    exactly one filter is given, ``TupleValidationError`` (2027) for a contextual tuple, and the
    engine errors of the Check that confirms each user."""

    async def execute(self, params: ListUsersParams) -> ListUsersOutcome:
        if len(params.user_filters) != 1:
            raise InvalidInputError("ListUsers needs exactly one user filter")
        flt = params.user_filters[0]

        def validate(ts: TypeSystem) -> None:
            reject_control_characters("object", params.object)
            otype, sep, oid = params.object.partition(":")
            if not sep or not otype or not oid or "#" in params.object:
                raise InvalidInputError(f"invalid object '{params.object}': expected 'type:id'")
            ts.relation(otype, params.relation)
            if not ts.has_type(flt.type):
                raise TypeNotFoundError(flt.type)
            if flt.relation:
                ts.relation(flt.type, flt.relation)

        prepared, ctx = await self._prepare_query(
            params, validate, deadline_s=self._limits.list_deadline_s
        )
        digest = query_digest(
            "lu",
            params.store_id,
            prepared.model_id,
            params.object,
            params.relation,
            flt.type,
            flt.relation,
            request_digest(params.contextual_tuples, params.context),
        )
        users, listed = await list_page(
            prepared,
            params,
            self._limits,
            "lu",
            digest,
            lambda after: list_users(
                ctx, params.object, params.relation, flt.type, flt.relation, after=after
            ),
        )
        return ListUsersOutcome(users=users, **listed)
