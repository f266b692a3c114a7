"""Every route x every credential kind, against the permission table.

The routes come from the app's own route table (not from the permission table), so a route added
without a row fails here (and the app refuses to build); each is called with every credential
kind of :mod:`tests.security.kit` and must answer exactly what the table promises: 401 for no or a
bad credential, 403 for a missing role, an end user's token off its routes, or a store limit, and
anything but 401/403 where the table admits the caller.
"""

from __future__ import annotations

from permsvc.api.security.table import ROUTE_RULES, rule_key
from tests.security.kit import SAMPLED, World, call, expected


def test_every_route_of_the_app_has_a_rule_and_a_sample(world: World) -> None:
    routes = {rule_key(m, p) for m, p in world.route_table()}
    assert routes - set(ROUTE_RULES) == set(), "routes without a row in the permission table"
    assert set(ROUTE_RULES) - routes == set(), (
        "rows of the permission table for routes that do not exist"
    )
    assert routes - SAMPLED == set(), "routes without a sample request in tests/security/kit.py"


async def test_route_by_credential_matrix(world: World) -> None:
    wrong: list[str] = []
    cells = 0
    for method, path in world.route_table():
        rule = ROUTE_RULES[rule_key(method, path)]
        for credential in world.credentials:
            response = await call(world, method, path, credential)
            want = expected(credential, rule)
            got = response.status_code
            cells += 1
            if (want is None and got in (401, 403)) or (want is not None and got != want):
                wrong.append(
                    f"{method} {path} as {credential.name}: {got} (table: {want or 'admitted'}) {response.text[:160]}"
                )
            if got == 401:
                assert response.headers["www-authenticate"].startswith("Bearer"), (
                    method,
                    path,
                    credential.name,
                )
            assert got < 500, f"{method} {path} as {credential.name}: {got} {response.text[:300]}"
    assert not wrong, f"{len(wrong)} of {cells} cells disagree with the table:\n" + "\n".join(wrong)
    assert cells >= 60 * len(world.credentials)


def _contract_role(key: str) -> tuple[str | None, bool]:
    """(role, end user allowed) of a route by the security contract's words, written independently
    of the permission table so that an edit to the table that breaks the contract fails here."""
    method, path = key.split(" ", 1)
    if path in ("/healthz", "/readyz", "/metrics", "/openapi.json") or path.startswith(
        ("/docs", "/.well-known/", "/console")
    ):
        return None, False
    if path in ("/v1/check", "/v1/check/batch", "/v1/objects", "/v1/relations", "/v1/explain"):
        return "check", True
    if path == "/v1/whoami":
        return "authenticated", True  # any credential may ask who it is
    if path == "/v1/claims":
        return "claims", False
    if path.startswith("/v1/admin/"):
        return "admin", False
    tail = path.rsplit("/", 1)[-1]
    if "/access/v1/" in path or tail in (
        "check",
        "batch-check",
        "expand",
        "list-objects",
        "streamed-list-objects",
        "list-users",
    ):
        return "check", False
    if path in ("/stores", "/stores/{store_id}") and method in ("POST", "DELETE"):
        return "admin", False
    if path == "/stores/{store_id}/authorization-models" and method == "POST":
        return "admin", False
    if tail == "write" or (method == "PUT" and "/assertions/" in path):
        return "write", False
    if method == "GET" or tail == "read":
        return "read", False
    raise AssertionError(f"the contract says nothing about {key}")


def test_the_table_says_what_the_contract_says() -> None:
    differ = {
        key: ((rule.role, rule.end_user), _contract_role(key))
        for key, rule in ROUTE_RULES.items()
        if (rule.role, rule.end_user) != _contract_role(key)
    }
    assert differ == {}
    stores = {key: rule.store for key, rule in ROUTE_RULES.items()}
    for key, store in stores.items():
        if "{store_id}" in key and ROUTE_RULES[key].role is not None:
            assert store == "path", key
    assert stores["POST /stores"] == "unlimited"
    assert {k for k, v in stores.items() if v == "default"} == {
        k for k in stores if k.startswith("POST /access/v1/")
    }


def test_the_documented_table_is_the_table() -> None:
    from tests.conftest import REPO_ROOT

    page = (REPO_ROOT / "docs" / "security.md").read_text()
    for key, rule in ROUTE_RULES.items():
        row = f"| `{key}` | {rule.role or 'public'} | {rule.store}"
        assert row in page, f"docs/security.md lacks the row {row!r}"
    documented = [
        line
        for line in page.splitlines()
        if line.startswith(
            ("| `GET ", "| `HEAD ", "| `POST ", "| `PUT ", "| `DELETE ", "| `PATCH ")
        )
    ]
    assert len(documented) == len(ROUTE_RULES)
