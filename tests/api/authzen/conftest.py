"""AuthZEN fixtures: one seeded SQLite store, served by an app whose default store (PERMSVC_STORE)
is that store, so every test can use both the default paths and the store-scoped ones."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from permsvc.api.app import create_app
from permsvc.model.compile import parse_dsl
from permsvc.model.json import model_to_json
from permsvc.settings import Settings

MODEL_DSL = """\
model
  schema 1.1

type user

type group
  relations
    define member: [user]

type folder
  relations
    define viewer: [user, group#member]

type document
  relations
    define parent: [folder]
    define owner: [user]
    define editor: [user, group#member] or owner
    define viewer: [user, user:*, group#member, user with same_region] or editor or viewer from parent
    define can_read: viewer
    define can_write: editor
    define can_delete: owner

type account
  relations
    define org: [folder]
    define owner: [user]
    define reader: [user] or owner or viewer from org

condition same_region(subject_region: string, resource_region: string) {
  subject_region == resource_region
}
"""
"""``document`` separates assignable roles from ``can_*`` permissions; ``account`` has only
assignable relations (the action rule's fallback); ``same_region`` reads properties."""

TUPLES: tuple[tuple[str, str, str, str], ...] = (
    ("document:readme", "owner", "user:alice@example.com", ""),
    ("document:readme", "viewer", "group:eng#member", ""),
    ("group:eng", "member", "user:auth0|42", ""),
    ("document:readme", "parent", "folder:root", ""),
    ("folder:root", "viewer", "user:bob", ""),
    ("document:public", "viewer", "user:*", ""),
    ("document:secret", "viewer", "user:carol", "same_region"),
    ("account:1", "owner", "user:alice@example.com", ""),
    ("account:1", "org", "folder:root", ""),
    *((f"document:page{i}", "viewer", "user:pager", "") for i in range(1, 6)),
)

SCOPES = ("default", "store")
"""The two ways to address the store: ``/access/v1/...`` (PERMSVC_STORE) and ``/stores/{id}/access/v1/...``."""


class Seeded(msgspec.Struct, frozen=True):
    database_url: str
    store_id: str
    model_id: str


def model_json() -> dict[str, Any]:
    return model_to_json(parse_dsl(MODEL_DSL))


def settings_for(seeded: Seeded, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": seeded.database_url,
        "store": seeded.store_id,
        "access_log": False,
    }
    values.update(overrides)
    return Settings(**values)


async def _seed(url: str) -> Seeded:
    async with AsyncTestClient(create_app(Settings(database_url=url, access_log=False))) as admin:
        store = await admin.post("/stores", json={"name": "authzen-tests"})
        assert store.status_code == 201, store.text
        store_id = store.json()["id"]
        model = await admin.post(f"/stores/{store_id}/authorization-models", json=model_json())
        assert model.status_code == 201, model.text
        keys = []
        for obj, rel, user, condition in TUPLES:
            key: dict[str, Any] = {"object": obj, "relation": rel, "user": user}
            if condition:
                key["condition"] = {"name": condition}
            keys.append(key)
        written = await admin.post(
            f"/stores/{store_id}/write", json={"writes": {"tuple_keys": keys}}
        )
        assert written.status_code == 200, written.text
    return Seeded(url, store_id, model.json()["authorization_model_id"])


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Seeded]:
    """The seeded database, built once per session through the OpenFGA API."""
    path = tmp_path_factory.mktemp("authzen") / "permsvc.sqlite"
    return path, asyncio.run(_seed(f"sqlite:///{path}"))


@pytest.fixture
def seeded(seeded_template: tuple[Path, Seeded], tmp_path: Path) -> Seeded:
    """A private copy of the seeded database for one test."""
    template, info = seeded_template
    path = tmp_path / "permsvc.sqlite"
    for suffix in ("", "-wal", "-shm"):
        source = template.with_name(template.name + suffix)
        if source.exists():
            shutil.copyfile(source, path.with_name(path.name + suffix))
    return Seeded(f"sqlite:///{path}", info.store_id, info.model_id)


@pytest.fixture
async def client(seeded: Seeded) -> AsyncIterator[AsyncTestClient[Any]]:
    async with AsyncTestClient(create_app(settings_for(seeded))) as test_client:
        yield test_client


@pytest.fixture(params=SCOPES)
def base(request: pytest.FixtureRequest, seeded: Seeded) -> str:
    """The path prefix of the access endpoints, once per way of addressing the store."""
    return "/access/v1" if request.param == "default" else f"/stores/{seeded.store_id}/access/v1"
