"""How the security tests make an app accept the access tokens of a given authenticator: the one
place that knows how the composition root installs token validation, so a change there is
followed here once."""

from __future__ import annotations

from typing import Any

from permsvc.api.admin.credentials import V1Security
from permsvc.auth.jwt import JwtAuthenticator

__all__ = ("CHECK_SCOPE", "accept_tokens")

CHECK_SCOPE = "permsvc:check"


def accept_tokens(app: Any, authenticator: JwtAuthenticator) -> None:
    """From now on ``app`` validates bearer tokens with ``authenticator`` (its settings and keys);
    ``CHECK_SCOPE`` grants the check role."""
    V1Security(jwt=authenticator, check_scope=CHECK_SCOPE).install(app)
