"""Control characters in names are refused everywhere, the same way, on every backend.

The rule (``permsvc.core.refs``): no id, type, relation or condition name may hold a character of
Unicode category Cc (U+0000-U+001F, U+007F-U+009F, NUL included) or Cs (lone surrogates). Every
write path and every query that names a tuple answers ``400 validation_error`` for them, on the
memory, SQLite and PostgreSQL backends, with and without the in-memory index, so no backend ever
stores a tuple another one could not (an export always imports elsewhere).

Each test runs one surface on one backend against every poisoned field x every control character
it can carry, and reports every combination that was not refused as specified.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from permsvc.core.refs import ControlCharacterError, TupleKey, check_tuple_text
from permsvc.model.json import model_from_json
from permsvc.model.typesystem import TypeSystem
from permsvc.model.validation import validate_model
from tests.api.admin.v1kit import ROOT, Issuer, bearer, seed_store, v1_client
from tests.api.conftest import MODEL
from tests.pg import session_database_url

CONTROL = [
    pytest.param("\x00", id="nul"),
    pytest.param("\x01", id="soh"),
    pytest.param("\x08", id="backspace"),
    pytest.param("\t", id="tab"),
    pytest.param("\n", id="newline"),
    pytest.param("\r", id="carriage_return"),
    pytest.param("\x1b", id="escape"),
    pytest.param("\x1f", id="unit_separator"),
    pytest.param("\x7f", id="delete"),
    pytest.param("\x80", id="c1_padding"),
    pytest.param("\x85", id="c1_next_line"),
    pytest.param("\x9b", id="c1_csi"),
    pytest.param("\x9f", id="c1_last"),
]
CHARS: list[str] = [p.values[0] for p in CONTROL]  # type: ignore[misc]

ACCEPTED = ["\u200b", "\u200d", "\u00e9", "\u4e2d", "\U0001f600", "|", "@"]
"""Printable or format characters next to the refused class: these stay valid ids."""


def _poisoned_keys(c: str) -> dict[str, dict[str, Any]]:
    """One tuple per field, that field carrying ``c``; everything else valid under MODEL."""
    return {
        "object_type": {"object": f"docu{c}ment:1", "relation": "viewer", "user": "user:anne"},
        "object_id": {"object": f"document:1{c}", "relation": "viewer", "user": "user:anne"},
        "object_id_only": {"object": f"document:{c}", "relation": "viewer", "user": "user:anne"},
        "relation": {"object": "document:1", "relation": f"view{c}er", "user": "user:anne"},
        "user_type": {"object": "document:1", "relation": "viewer", "user": f"us{c}er:anne"},
        "user_id": {"object": "document:1", "relation": "viewer", "user": f"user:an{c}ne"},
        "user_id_leading": {"object": "document:1", "relation": "viewer", "user": f"user:{c}anne"},
        "userset_relation": {
            "object": "document:1",
            "relation": "viewer",
            "user": f"group:eng#mem{c}ber",
        },
        "condition_name": {
            "object": "document:1",
            "relation": "limited",
            "user": "user:anne",
            "condition": {"name": f"sm{c}all"},
        },
    }


Request = tuple[str, str, Any]
"""(method, path, JSON body or raw bytes)."""
Surface = Callable[[str, str, dict[str, Any]], Request | None]
"""(store id, model id, poisoned key) -> the request, or None where the field has no place."""


SURFACES: dict[str, Surface] = {
    "openfga_write": lambda s, m, k: (
        "POST",
        f"/stores/{s}/write",
        {"writes": {"tuple_keys": [k]}},
    ),
    "openfga_delete": lambda s, m, k: (
        None
        if "condition" in k
        else ("POST", f"/stores/{s}/write", {"deletes": {"tuple_keys": [k]}})
    ),
    "openfga_read": lambda s, m, k: (
        None if "condition" in k else ("POST", f"/stores/{s}/read", {"tuple_key": k})
    ),
    "openfga_check": lambda s, m, k: (
        None if "condition" in k else ("POST", f"/stores/{s}/check", {"tuple_key": k})
    ),
    "openfga_check_contextual_tuple": lambda s, m, k: (
        "POST",
        f"/stores/{s}/check",
        {
            "tuple_key": {"object": "document:9", "relation": "viewer", "user": "user:zed"},
            "contextual_tuples": {"tuple_keys": [k]},
        },
    ),
    "openfga_batch_check": lambda s, m, k: (
        None
        if "condition" in k
        else (
            "POST",
            f"/stores/{s}/batch-check",
            {"checks": [{"tuple_key": k, "correlation_id": "c1"}]},
        )
    ),
    "openfga_list_objects_user": lambda s, m, k: (
        None
        if k["user"] == "user:anne"
        else (
            "POST",
            f"/stores/{s}/list-objects",
            {"type": "document", "relation": "viewer", "user": k["user"]},
        )
    ),
    "openfga_list_objects_contextual_tuple": lambda s, m, k: (
        "POST",
        f"/stores/{s}/list-objects",
        {
            "type": "document",
            "relation": "viewer",
            "user": "user:zed",
            "contextual_tuples": {"tuple_keys": [k]},
        },
    ),
    "openfga_expand": lambda s, m, k: (
        None
        if k["object"] == "document:1"
        else (
            "POST",
            f"/stores/{s}/expand",
            {"tuple_key": {"object": k["object"], "relation": "viewer"}},
        )
    ),
    "openfga_list_users_object": lambda s, m, k: (
        None
        if k["object"] == "document:1" or k["object"].startswith("docu") is False
        else (
            "POST",
            f"/stores/{s}/list-users",
            {
                "object": {
                    "type": k["object"].partition(":")[0],
                    "id": k["object"].partition(":")[2],
                },
                "relation": "viewer",
                "user_filters": [{"type": "user"}],
            },
        )
    ),
    "openfga_assertions": lambda s, m, k: (
        None
        if "condition" in k
        else (
            "PUT",
            f"/stores/{s}/assertions/{m}",
            {"assertions": [{"tuple_key": k, "expectation": True}]},
        )
    ),
    "openfga_read_changes_type": lambda s, m, k: (
        None
        if k["object"].partition(":")[0] == "document" or not k["object"].startswith("docu")
        else (
            "GET",
            f"/stores/{s}/changes?type={urllib.parse.quote(k['object'].partition(':')[0])}",
            None,
        )
    ),
    "admin_grant": lambda s, m, k: ("POST", "/v1/admin/grants", {"store_id": s, "tuples": [k]}),
    "admin_revoke": lambda s, m, k: (
        None if "condition" in k else ("POST", "/v1/admin/revokes", {"store_id": s, "tuples": [k]})
    ),
    "admin_delete_by_filter": lambda s, m, k: (
        None
        if "condition" in k
        else (
            "POST",
            "/v1/admin/tuples/delete",
            {"store_id": s, "object": k["object"], "relation": k["relation"], "user": k["user"]},
        )
    ),
    "admin_import": lambda s, m, k: (
        "POST",
        f"/v1/admin/tuples/import?store_id={s}",
        (
            json.dumps({"object": "document:2", "relation": "viewer", "user": "user:bob"})
            + "\n"
            + json.dumps(k)
            + "\n"
        ).encode(),
    ),
    "v1_check": lambda s, m, k: (
        None
        if "condition" in k
        else (
            "POST",
            "/v1/check",
            {"store_id": s, "object": k["object"], "relation": k["relation"], "user": k["user"]},
        )
    ),
    "v1_check_contextual_tuple": lambda s, m, k: (
        "POST",
        "/v1/check",
        {
            "store_id": s,
            "object": "document:9",
            "relation": "viewer",
            "user": "user:zed",
            "contextual_tuples": [k],
        },
    ),
    "authzen_evaluation": lambda s, m, k: (
        None
        if "condition" in k or "#" in k["user"]
        else (
            "POST",
            f"/stores/{s}/access/v1/evaluation",
            {
                "subject": {"type": k["user"].partition(":")[0], "id": k["user"].partition(":")[2]},
                "resource": {
                    "type": k["object"].partition(":")[0],
                    "id": k["object"].partition(":")[2],
                },
                "action": {"name": k["relation"]},
            },
        )
    ),
}

BACKENDS = [
    pytest.param(("memory", False), id="memory"),
    pytest.param(("sqlite", False), id="sqlite"),
    pytest.param(("sqlite", True), id="sqlite_indexed"),
    pytest.param(("postgres", False), id="postgres", marks=pytest.mark.postgres),
    pytest.param(("postgres", True), id="postgres_indexed", marks=pytest.mark.postgres),
]


@pytest.fixture(params=BACKENDS)
async def client(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[AsyncTestClient[Any]]:
    backend, index = request.param
    url = {
        "memory": "memory:",
        "sqlite": f"sqlite:///{tmp_path}/permsvc.db",
        "postgres": "",
    }[backend] or session_database_url()
    async for c in v1_client(_ISSUER, database_url=url, index=index):
        yield c


_ISSUER = Issuer()


def _admin() -> dict[str, str]:
    """An admin-scoped access token (fresh: tokens expire): needs no key in the datastore, whose
    pool lives on the app's event loop."""
    return bearer(_ISSUER.admin())


async def _send(client: AsyncTestClient[Any], request: Request, headers: dict[str, str]) -> Any:
    method, path, body = request
    if isinstance(body, bytes):
        return await client.request(
            method, path, content=body, headers={**headers, "Content-Type": "application/x-ndjson"}
        )
    if body is None:
        return await client.request(method, path, headers=headers)
    return await client.request(
        method,
        path,
        content=msgspec.json.encode(body),
        headers={**headers, "Content-Type": "application/json"},
    )


async def _stored(client: AsyncTestClient[Any], store: str, headers: dict[str, str]) -> list[Any]:
    response = await client.get(f"/v1/admin/tuples/export?store_id={store}", headers=headers)
    assert response.status_code == 200, response.text
    return [json.loads(line) for line in response.text.splitlines() if line.strip()]


@pytest.mark.parametrize("surface", sorted(SURFACES))
async def test_every_poisoned_field_is_a_validation_error(
    client: AsyncTestClient[Any], surface: str
) -> None:
    headers = _admin()
    store, model = await seed_store(client, ("document:1", "viewer", "user:anne"))
    before = await _stored(client, store, headers)
    wrong: list[str] = []
    tried = 0
    for c in CHARS:
        for field, key in _poisoned_keys(c).items():
            request = SURFACES[surface](store, model, key)
            if request is None:
                continue
            tried += 1
            response = await _send(client, request, headers)
            body = (
                response.json()
                if response.headers.get("content-type", "").startswith("application/json")
                else {}
            )
            if response.status_code != 400 or body.get("code") != "validation_error":
                wrong.append(
                    f"{field} U+{ord(c):04X}: {response.status_code} {response.text[:160]}"
                )
            elif "control character" not in body.get("message", ""):
                wrong.append(
                    f"{field} U+{ord(c):04X}: message does not say why: {body['message'][:160]}"
                )
    assert tried >= len(CHARS), f"{surface} tried only {tried} variants"
    assert not wrong, (
        f"{len(wrong)} of {tried} variants not refused as validation_error:\n" + "\n".join(wrong)
    )
    assert await _stored(client, store, headers) == before, "a refused request changed the store"


@pytest.mark.parametrize("accepted", ACCEPTED, ids=[f"U+{ord(a[0]):04X}" for a in ACCEPTED])
async def test_neighbouring_characters_stay_valid_and_round_trip(
    client: AsyncTestClient[Any], accepted: str
) -> None:
    """The class is exact: format characters, accented and CJK letters, emoji, NBSP, '|' and '@'
    are ids like any other, and read back byte for byte on every backend."""
    headers = _admin()
    store, _ = await seed_store(client)
    key = {"object": f"document:a{accepted}b", "relation": "viewer", "user": f"user:x{accepted}y"}
    response = await client.post(
        f"/stores/{store}/write", json={"writes": {"tuple_keys": [key]}}, headers=ROOT
    )
    assert response.status_code == 200, response.text
    response = await client.post(f"/stores/{store}/check", json={"tuple_key": key}, headers=ROOT)
    assert response.status_code == 200 and response.json()["allowed"] is True, response.text
    assert key in [
        {k: t[k] for k in ("object", "relation", "user")}
        for t in await _stored(client, store, headers)
    ]


async def test_export_of_one_backend_imports_into_another(
    client: AsyncTestClient[Any], tmp_path: Path
) -> None:
    """What any backend exports, a fresh SQLite and the memory backend import unchanged (the refused
    class is the only thing no backend could store)."""
    headers = _admin()
    store, _ = await seed_store(
        client,
        ("document:\u00e9t\u00e9", "viewer", "user:\u4e2d"),
        ("document:zw\u200bj", "owner", "user:a|b@c"),
        ("document:x", "viewer", "group:eng#member"),
    )
    for c in CHARS:
        await client.post(
            f"/stores/{store}/write",
            json={
                "writes": {
                    "tuple_keys": [
                        {"object": f"document:{c}", "relation": "viewer", "user": "user:anne"}
                    ]
                }
            },
            headers=ROOT,
        )
    exported = await _stored(client, store, headers)
    lines = "".join(
        json.dumps({k: t[k] for k in ("object", "relation", "user")}) + "\n" for t in exported
    ).encode()
    for target_url in ("memory:", f"sqlite:///{tmp_path}/target.db"):
        async for target in v1_client(_ISSUER, database_url=target_url):
            target_headers = _admin()
            target_store, _ = await seed_store(target)
            response = await target.post(
                f"/v1/admin/tuples/import?store_id={target_store}",
                content=lines,
                headers={**target_headers, "Content-Type": "application/x-ndjson"},
            )
            assert response.status_code == 200, response.text
            imported = await _stored(target, target_store, target_headers)
            keys = sorted((t["object"], t["relation"], t["user"]) for t in imported)
            assert keys == sorted((t["object"], t["relation"], t["user"]) for t in exported)
            assert len(keys) == 3


MODEL_NAMES = [
    pytest.param(lambda c: ("type", f"us{c}er"), id="type_name"),
    pytest.param(lambda c: ("relation", f"own{c}er"), id="relation_name"),
    pytest.param(lambda c: ("condition", f"sm{c}all"), id="condition_name"),
]


@pytest.mark.parametrize("where", MODEL_NAMES)
@pytest.mark.parametrize("c", CONTROL)
def test_model_names_refuse_control_characters(
    where: Callable[[str], tuple[str, str]], c: str
) -> None:
    """Types, relations and conditions named with a control character cannot enter a model, so no
    tuple can ever need one."""
    kind, name = where(c)
    model = json.loads(json.dumps(MODEL))
    if kind == "type":
        model["type_definitions"][0]["type"] = name
    elif kind == "relation":
        doc = model["type_definitions"][2]
        doc["relations"][name] = doc["relations"].pop("owner")
        doc["metadata"]["relations"][name] = doc["metadata"]["relations"].pop("owner")
        doc["relations"]["viewer"]["union"]["child"][1]["computedUserset"]["relation"] = name
    else:
        model["conditions"][name] = {**model["conditions"].pop("small"), "name": name}
        doc = model["type_definitions"][2]
        doc["metadata"]["relations"]["limited"]["directly_related_user_types"][0]["condition"] = (
            name
        )
    with pytest.raises(Exception, match="control characters"):
        validate_model(model_from_json(model))


@pytest.mark.parametrize(
    "c",
    [
        *CONTROL,
        pytest.param("\ud800", id="lone_surrogate_high"),
        pytest.param("\udfff", id="lone_surrogate_low"),
    ],
)
@pytest.mark.parametrize("field", ["object", "relation", "user"])
def test_the_one_rule_names_field_position_and_codepoint(c: str, field: str) -> None:
    values = {"object": "document:1", "relation": "viewer", "user": "user:anne"}
    values[field] = values[field][:3] + c + values[field][3:]
    with pytest.raises(ControlCharacterError) as caught:
        check_tuple_text(TupleKey(**values))
    err = caught.value
    assert err.field == f"TupleKey.{field}"
    assert err.position == 3
    assert err.codepoint == ord(c)
    assert f"U+{ord(c):04X}" in str(err)
    assert c not in str(err), "the message must show the character escaped, not raw"


def test_tuple_validation_against_a_model_refuses_before_any_model_rule() -> None:
    """Even where the model has no such type, the answer is the control character, not a
    type-not-found: the rule is checked first, in the one place tuple validation lives."""
    from permsvc.model.tuple_validation import validate_tuple

    ts = TypeSystem.new(model_from_json(MODEL))
    with pytest.raises(ControlCharacterError):
        validate_tuple(ts, TupleKey(object="nosuchtype:\x00", relation="viewer", user="user:anne"))
