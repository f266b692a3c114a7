"""The Auth0 post-login Action (integrations/auth0/post-login.js) under Node's test runner,
against a live permsvc: success, overflow, 4xx, and the fault cases (timeout, 5xx, down).

Without node the test skips locally and fails under ``CI=true``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.api.claims.live import BIG_USER, DEFAULT_AUDIENCE, SMALL_AUDIENCE, USER, feed_server
from tests.conftest import REPO_ROOT

ACTION_TESTS = REPO_ROOT / "integrations" / "auth0" / "test"
EXPECTED_TESTS = 18


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("node is needed to test the Auth0 Action (CI=true: it must run in CI)")
        pytest.skip("node is needed to test the Auth0 Action")
    return node


@pytest.mark.timeout(180)
def test_action_under_node_against_live_permsvc(tmp_path: Path) -> None:
    node = _node()
    with feed_server(tmp_path) as feed:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "PERMSVC_URL": feed.url,
            "PERMSVC_CLAIMS_KEY": feed.claims_key,
            "PERMSVC_STORE_ID": feed.store_id,
            "PERMSVC_TEST_AUDIENCE": DEFAULT_AUDIENCE,
            "PERMSVC_TEST_SMALL_AUDIENCE": SMALL_AUDIENCE,
            "PERMSVC_TEST_USER": USER,
            "PERMSVC_TEST_BIG_USER": BIG_USER,
        }
        result = subprocess.run(
            [node, "--test", "--test-reporter=tap", str(ACTION_TESTS)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    report = result.stdout + result.stderr
    counts = {
        name: int(n)
        for name, n in re.findall(
            r"^# (tests|pass|fail|skipped|cancelled) (\d+)$", report, re.MULTILINE
        )
    }
    assert result.returncode == 0, report[-6000:]
    assert counts == {
        "tests": EXPECTED_TESTS,
        "pass": EXPECTED_TESTS,
        "fail": 0,
        "skipped": 0,
        "cancelled": 0,
    }, report[-6000:]
