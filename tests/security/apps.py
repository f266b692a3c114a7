"""How the security tests make an app accept the access tokens of a given authenticator: the one
place that knows how the composition root installs token validation, so a change there is
followed here once."""

from __future__ import annotations

from typing import Any

import msgspec

from permsvc.api.security import Security
from permsvc.api.security.door import key_store_in
from permsvc.auth.jwt import JwtAuthenticator

__all__ = ("CHECK_SCOPE", "accept_tokens")

CHECK_SCOPE = "permsvc:check"


def accept_tokens(app: Any, authenticator: JwtAuthenticator) -> None:
    """From now on ``app`` validates bearer tokens with ``authenticator`` (its settings and keys);
    ``CHECK_SCOPE`` grants the check role."""
    state = getattr(app, "app", app).state
    deps = state.deps
    deps.settings = msgspec.structs.replace(
        deps.settings, oidc=authenticator.settings, check_scope=CHECK_SCOPE
    )
    deps.security = Security(deps.settings, keys=key_store_in(deps.datastore), jwt=authenticator)
