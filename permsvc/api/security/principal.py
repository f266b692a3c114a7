"""The authenticated caller of one request."""

from __future__ import annotations

from typing import Literal

import msgspec

from permsvc.auth.claims import AuthClaims
from permsvc.commands.audit import Actor
from permsvc.store.protocol import ApiKeyRecord

__all__ = ("Principal", "PrincipalKind")

PrincipalKind = Literal[
    "anonymous", "bootstrap_key", "api_key", "machine_token", "console_token", "end_user_token"
]


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    """Who is calling, with what roles, limited to which store."""

    kind: PrincipalKind
    actor: Actor
    """How audit rows name the caller (``key:<id>``, ``preshared:<n>``, ``client:<id>``, ``user:<sub>``, ``anonymous``)."""
    roles: frozenset[str] = frozenset()
    """Every role granted, included ones expanded (see :mod:`permsvc.auth.roles`)."""
    store_id: str | None = None
    """The one store this credential may act on; ``None``: any store."""
    subject: str | None = None
    """The tuple user an end user's (or a console login's) token speaks for (``user:<sub>``)."""
    claims: AuthClaims | None = None
    key: ApiKeyRecord | None = None

    @property
    def end_user(self) -> bool:
        return self.kind == "end_user_token"

    def describe(self) -> str:
        """The credential in words, for error messages (never a secret)."""
        if self.kind == "api_key" and self.key is not None:
            return f"API key '{self.key.id}'"
        if self.kind == "bootstrap_key":
            return f"bootstrap key {self.actor.id}"
        if self.kind == "machine_token":
            return f"the machine token of {self.actor.id}"
        if self.kind == "console_token":
            return f"the console login of {self.subject}"
        if self.kind == "end_user_token":
            return f"the access token of {self.subject}"
        return "an anonymous caller"
