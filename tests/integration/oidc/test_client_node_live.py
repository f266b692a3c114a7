"""The Node client under ``node --test``: its unit tests (fake fetch), then its live tests against
a live ``permsvc serve`` and real tokens from the test OpenID provider, composed with
express-oauth2-jwt-bearer in a real Express app (npm installs them into clients/node/node_modules).

Without node/npm the test skips locally and fails under ``CI=true``.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator

import pytest
from clientworld import ClientWorld, client_world, node_or_skip, npm_install
from oidckit import API, JWE_RESOURCE, OidcProvider

from tests.conftest import REPO_ROOT

NODE_CLIENT = REPO_ROOT / "clients" / "node"
UNIT_TESTS = 13
LIVE_TESTS = 7

pytestmark = pytest.mark.timeout(900)


def _run_node(node: str, files: list[str], env: dict[str, str]) -> dict[str, int]:
    result = subprocess.run(
        [node, "--test", "--test-reporter=tap", *files],
        cwd=NODE_CLIENT,
        env={"PATH": os.environ.get("PATH", ""), **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = result.stdout + result.stderr
    counts = {
        name: int(n)
        for name, n in re.findall(
            r"^# (tests|pass|fail|skipped|cancelled) (\d+)$", report, re.MULTILINE
        )
    }
    assert result.returncode == 0, report[-8000:]
    counts["_report"] = report  # type: ignore[assignment]
    return counts


def _expect(counts: dict[str, int], tests: int, skipped: int) -> None:
    report = counts.pop("_report")
    assert counts == {
        "tests": tests,
        "pass": tests - skipped,
        "fail": 0,
        "skipped": skipped,
        "cancelled": 0,
    }, str(report)[-8000:]


def test_node_client_unit_tests() -> None:
    node = node_or_skip()
    _expect(_run_node(node, ["test/client.test.js"], {}), UNIT_TESTS, 0)


@pytest.fixture(scope="module")
def world(
    v1_provider: OidcProvider, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ClientWorld]:
    with client_world(v1_provider, tmp_path_factory.mktemp("client-node")) as w:
        yield w


def test_node_client_against_live_permsvc(world: ClientWorld) -> None:
    node = node_or_skip()
    npm_install(NODE_CLIENT)
    env = {
        "PERMSVC_TEST_URL": world.url,
        "PERMSVC_TEST_STORE": world.store,
        "PERMSVC_TEST_CHECK_KEY": world.check_key,
        "PERMSVC_TEST_CLAIMS_KEY": world.claims_key,
        "OIDC_TEST_ISSUER": world.provider.issuer,
        "OIDC_TEST_AUDIENCE": API,
        "OIDC_TEST_JWE_RESOURCE": JWE_RESOURCE,
    }
    _expect(_run_node(node, ["test/live.test.js"], env), LIVE_TESTS, 0)


def test_node_client_type_declarations() -> None:
    """index.d.ts type-checks (tsc --strict) the way the docs and examples use the client,
    including with Express's own types, and refuses the misuses marked @ts-expect-error."""
    node = node_or_skip()
    npm_install(NODE_CLIENT)
    tsc = NODE_CLIENT / "node_modules" / "typescript" / "bin" / "tsc"
    result = subprocess.run(
        [node, str(tsc), "-p", "test/tsconfig.json"],
        cwd=NODE_CLIENT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
