"""Store operations: CreateStore, GetStore, ListStores, DeleteStore (OpenFGA pkg/server/commands/*store*.go)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from permsvc.commands.errors import InvalidInputError
from permsvc.commands.read import validate_page
from permsvc.store.protocol import Page, StoreAdmin, StoreInfo

__all__ = (
    "STORE_NAME_PATTERN",
    "CreateStoreCommand",
    "DeleteStoreCommand",
    "GetStoreQuery",
    "ListStoresQuery",
)

STORE_NAME_PATTERN = r"^[a-zA-Z0-9\s\.\-\/^_&@]{3,64}$"
"""OpenFGA's CreateStoreRequest.name rule (protoc-gen-validate pattern)."""

_STORE_NAME = re.compile(STORE_NAME_PATTERN)


@dataclass(frozen=True, kw_only=True, slots=True)
class CreateStoreCommand:
    """Create a store with a new ULID id."""

    stores: StoreAdmin

    async def execute(self, name: str) -> StoreInfo:
        if not _STORE_NAME.fullmatch(name):
            raise InvalidInputError(
                f'invalid CreateStoreRequest.Name: value does not match regex pattern "{STORE_NAME_PATTERN}"'
            )
        return await self.stores.create_store(name)


@dataclass(frozen=True, kw_only=True, slots=True)
class GetStoreQuery:
    """One live store; ``StoreNotFoundError`` for a missing or deleted one."""

    stores: StoreAdmin

    async def execute(self, store_id: str) -> StoreInfo:
        return await self.stores.get_store(store_id)


@dataclass(frozen=True, kw_only=True, slots=True)
class ListStoresQuery:
    """Live stores ordered by id, optionally filtered by exact name."""

    stores: StoreAdmin

    async def execute(
        self, *, page_size: int | None = None, continuation_token: str = "", name: str = ""
    ) -> Page[StoreInfo]:
        size = validate_page("ListStoresRequest", page_size, continuation_token)
        return await self.stores.list_stores(
            page_size=size, continuation_token=continuation_token, name=name
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class DeleteStoreCommand:
    """Soft-delete a store. Deleting a missing store succeeds, as in OpenFGA (the API answers 204)."""

    stores: StoreAdmin

    async def execute(self, store_id: str) -> None:
        await self.stores.delete_store(store_id)
