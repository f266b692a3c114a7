"""A real OpenID Provider for the token tests: panva's oidc-provider on loopback.

The session installs ``oidc-provider@9.13.3`` with npm into ``.cache/oidc-provider`` (gitignored,
reused between runs) and starts ``provider.mjs`` (copied from the shared reference setup) on a
free 127.0.0.1 port with an Auth0-style issuer (trailing slash) and a pinned signing key. Without
node/npm the tests skip, except under ``CI=true``, where they fail: CI must exercise them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from oidckit import OidcProvider, install_runtime


@pytest.fixture(scope="session")
def oidc_runtime() -> Path:
    """The directory holding node_modules/oidc-provider and provider.mjs."""
    return install_runtime()


@pytest.fixture(scope="session")
def oidc_provider(
    oidc_runtime: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OidcProvider]:
    """A session-wide provider with an Auth0-style issuer ``http://127.0.0.1:<port>/``."""
    provider = OidcProvider(oidc_runtime, tmp_path_factory.mktemp("oidc"))
    provider.start()
    yield provider
    provider.stop()


@pytest.fixture
def rotating_provider(oidc_runtime: Path, tmp_path: Path) -> Iterator[OidcProvider]:
    """A provider of the test's own, to restart with new keys."""
    provider = OidcProvider(oidc_runtime, tmp_path, kid="rot-a")
    provider.start()
    yield provider
    provider.stop()


V1_SCOPES = "read:docs write:docs permsvc:admin permsvc:check"
"""The API scopes of the /v1 provider: permsvc's admin and check scopes among ordinary ones."""


@pytest.fixture(scope="session")
def v1_provider(
    oidc_runtime: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OidcProvider]:
    """A session-wide provider that also grants ``permsvc:admin`` and ``permsvc:check``."""
    provider = OidcProvider(
        oidc_runtime,
        tmp_path_factory.mktemp("oidc-v1"),
        kid="v1-key",
        extra_env={"OIDC_API_SCOPES": V1_SCOPES},
    )
    provider.start()
    yield provider
    provider.stop()
