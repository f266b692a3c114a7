"""WriteCommand, ReadQuery, ReadChangesQuery, store and model commands on the memory datastore."""

from __future__ import annotations

import datetime as dt

import pytest

from permsvc.commands.errors import InvalidInputError, InvalidTupleError, LatestModelNotFoundError
from permsvc.commands.models import (
    InvalidAuthorizationModelError,
    ListAuthorizationModelsQuery,
    ModelResolver,
    UnsupportedSchemaVersionError,
    WriteAuthorizationModelCommand,
)
from permsvc.commands.read import PageSizeInvalidError, ReadParams, ReadQuery, validate_page
from permsvc.commands.read_changes import InvalidStartTimeError, ReadChangesParams, ReadChangesQuery
from permsvc.commands.stores import CreateStoreCommand, ListStoresQuery
from permsvc.commands.write import (
    DuplicateTupleInRequestError,
    ExceededEntityLimitError,
    InvalidWriteRequestError,
    WriteCommand,
    WriteParams,
)
from permsvc.core.refs import TupleKey
from permsvc.model.errors import ModelError
from permsvc.model.tuple_validation import TupleValidationError
from permsvc.store.memory import MemoryDatastore

MODEL = {
    "schema_version": "1.1",
    "type_definitions": [
        {"type": "user"},
        {
            "type": "doc",
            "relations": {"viewer": {"this": {}}},
            "metadata": {
                "relations": {"viewer": {"directly_related_user_types": [{"type": "user"}]}}
            },
        },
    ],
}


def _key(obj: str, user: str, relation: str = "viewer") -> TupleKey:
    return TupleKey(object=obj, relation=relation, user=user)


@pytest.fixture
async def env() -> tuple[MemoryDatastore, str, WriteCommand]:
    ds = MemoryDatastore()
    store = await CreateStoreCommand(stores=ds).execute("unit")
    await WriteAuthorizationModelCommand(models=ds).execute(store.id, MODEL)
    return ds, store.id, WriteCommand(writer=ds, resolver=ModelResolver(ds))


async def test_deletes_apply_before_writes_in_one_revision(
    env: tuple[MemoryDatastore, str, WriteCommand],
) -> None:
    ds, store, write = env
    first = await write.execute(WriteParams(store_id=store, writes=(_key("doc:1", "user:a"),)))
    assert first.revision == 1 and first.model_id
    swapped = await write.execute(
        WriteParams(
            store_id=store, deletes=(_key("doc:1", "user:a"),), writes=(_key("doc:2", "user:a"),)
        )
    )
    assert swapped.revision == 2 and swapped.changed == 2
    page = (await ReadQuery(reader=ds).execute(ReadParams(store_id=store))).page
    assert [t.key.object for t in page.items] == ["doc:2"]


@pytest.mark.parametrize(
    ("params", "error"),
    [
        pytest.param({}, InvalidWriteRequestError, id="empty"),
        pytest.param(
            {"writes": tuple(_key(f"doc:{i}", "user:a") for i in range(101))},
            ExceededEntityLimitError,
            id="too_many",
        ),
        pytest.param(
            {"writes": (_key("doc:1", "user:a"),), "deletes": (_key("doc:1", "user:a"),)},
            DuplicateTupleInRequestError,
            id="same_tuple_written_and_deleted",
        ),
        pytest.param(
            {"writes": (_key("doc:1", "user:a"),), "on_duplicate": "sometimes"},
            InvalidInputError,
            id="bad_on_duplicate",
        ),
        pytest.param(
            {"deletes": (_key("doc:1", "user:a"),), "on_missing": "never"},
            InvalidInputError,
            id="bad_on_missing",
        ),
        pytest.param(
            {"writes": (_key("doc:1", "user:a", "owner"),)},
            TupleValidationError,
            id="unknown_relation",
        ),
        pytest.param(
            {"writes": (_key("doc:1", "doc:1#viewer"),)}, InvalidTupleError, id="implicit_tuple"
        ),
        pytest.param(
            {"deletes": (_key("doc", "user:a"),)}, InvalidTupleError, id="malformed_delete"
        ),
    ],
)
async def test_write_rejects(
    env: tuple[MemoryDatastore, str, WriteCommand], params: dict, error: type
) -> None:
    _, store, write = env
    with pytest.raises(error):
        await write.execute(WriteParams(store_id=store, **params))


async def test_deletes_are_not_checked_against_the_model(
    env: tuple[MemoryDatastore, str, WriteCommand],
) -> None:
    ds, store, write = env
    await ds.write(store, writes=[_key("doc:9", "user:a", "legacy")])
    outcome = await write.execute(
        WriteParams(store_id=store, deletes=(_key("doc:9", "user:a", "legacy"),))
    )
    assert outcome.changed == 1 and outcome.model_id == ""


async def test_write_without_any_model() -> None:
    ds = MemoryDatastore()
    store = await CreateStoreCommand(stores=ds).execute("empty")
    with pytest.raises(LatestModelNotFoundError):
        await WriteCommand(writer=ds, resolver=ModelResolver(ds)).execute(
            WriteParams(store_id=store.id, writes=(_key("doc:1", "user:a"),))
        )


@pytest.mark.parametrize(
    ("params", "ok"),
    [
        pytest.param({}, True, id="everything"),
        pytest.param({"object": "doc:"}, False, id="type_without_user"),
        pytest.param({"object": "doc:", "user": "user:a"}, True, id="type_with_user"),
        pytest.param({"relation": "viewer"}, False, id="relation_only"),
        pytest.param({"object": "doc"}, False, id="no_colon"),
    ],
)
async def test_read_filter_rules(
    env: tuple[MemoryDatastore, str, WriteCommand], params: dict, ok: bool
) -> None:
    ds, store, _ = env
    query = ReadQuery(reader=ds)
    if ok:
        await query.execute(ReadParams(store_id=store, **params))
    else:
        with pytest.raises(InvalidInputError, match="object type field is required"):
            await query.execute(ReadParams(store_id=store, **params))


@pytest.mark.parametrize(("size", "expected"), [(None, 50), (1, 1), (100, 100)])
def test_page_size_default_and_range(size: int | None, expected: int) -> None:
    assert validate_page("ReadRequest", size, "") == expected


@pytest.mark.parametrize("size", [0, 101, -3])
def test_page_size_out_of_range(size: int) -> None:
    with pytest.raises(
        PageSizeInvalidError,
        match=r"invalid ReadRequest.PageSize: value must be inside range \[1, 100\]",
    ):
        validate_page("ReadRequest", size, "")


async def test_read_changes_rejects_future_start_time(
    env: tuple[MemoryDatastore, str, WriteCommand],
) -> None:
    ds, store, _ = env
    future = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    with pytest.raises(InvalidStartTimeError):
        await ReadChangesQuery(changelog=ds).execute(
            ReadChangesParams(store_id=store, start_time=future)
        )


async def test_store_names_follow_openfga_pattern() -> None:
    ds = MemoryDatastore()
    create = CreateStoreCommand(stores=ds)
    for name in ("abc", "my store/1 & co@x", "a_b-c.d^e"):
        await create.execute(name)
    for name in ("ab", "x" * 65, "bad!", "tab\u00e9"):
        with pytest.raises(InvalidInputError):
            await create.execute(name)
    listed = await ListStoresQuery(stores=ds).execute(page_size=2)
    assert len(listed.items) == 2 and listed.continuation_token


@pytest.mark.parametrize(
    ("model", "error"),
    [
        pytest.param(
            {"schema_version": "1.1", "type_definitions": []},
            InvalidAuthorizationModelError,
            id="no_types",
        ),
        pytest.param(
            {"schema_version": "2.0", "type_definitions": [{"type": "user"}]},
            UnsupportedSchemaVersionError,
            id="schema_2_0",
        ),
        pytest.param(
            {
                "type_definitions": [
                    {"type": "doc", "relations": {"v": {"computedUserset": {"relation": "x"}}}}
                ]
            },
            ModelError,
            id="undefined_relation",
        ),
        pytest.param(
            {"type_definitions": [{"type": f"t{i}"} for i in range(101)]},
            ExceededEntityLimitError,
            id="too_many_types",
        ),
    ],
)
async def test_write_model_rejects(model: dict, error: type) -> None:
    ds = MemoryDatastore()
    store = await CreateStoreCommand(stores=ds).execute("models")
    with pytest.raises(error):
        await WriteAuthorizationModelCommand(models=ds).execute(store.id, model)


async def test_missing_schema_version_means_1_1_and_models_list_newest_first() -> None:
    ds = MemoryDatastore()
    store = await CreateStoreCommand(stores=ds).execute("models")
    command = WriteAuthorizationModelCommand(models=ds)
    first = await command.execute(store.id, {"type_definitions": [{"type": "user"}]})
    second = await command.execute(store.id, MODEL)
    assert first.model.schema_version == "1.1"
    page = await ListAuthorizationModelsQuery(models=ds).execute(store.id)
    assert [m.id for m in page.items] == [second.id, first.id]
