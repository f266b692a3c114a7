"""Claim-feed settings, loaded from ``PERMSVC_CLAIMS_*`` environment variables.

=========================  ==========================================================  ================
Variable                   Meaning                                                     Default
=========================  ==========================================================  ================
PERMSVC_CLAIMS_SPEC        path of the claim spec used by stores without their own     (none)
PERMSVC_CLAIMS_SCOPE       scope a client-credentials token needs to call the feed     permsvc:claims
=========================  ==========================================================  ================

The spec file is loaded when the app is built, so a bad spec (a restricted claim name, an Auth0
namespace, a malformed relation) stops ``permsvc serve`` with the spec's error instead of
producing tokens that silently lack the claim.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import msgspec

from permsvc.claims.spec import ClaimSpec, load_claim_spec

__all__ = ("DEFAULT_CLAIMS_SCOPE", "ClaimsSettings")

DEFAULT_CLAIMS_SCOPE = "permsvc:claims"


class ClaimsSettings(msgspec.Struct, frozen=True, kw_only=True):
    spec: ClaimSpec | None = None
    """The default spec (``PERMSVC_CLAIMS_SPEC``); a store's own spec takes precedence."""
    client_scope: str = DEFAULT_CLAIMS_SCOPE
    """Scope (or Auth0 permission) a client-credentials token must carry (``PERMSVC_CLAIMS_SCOPE``)."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ClaimsSettings:
        """Raises ``ClaimSpecError`` when the spec file is unreadable or invalid."""
        env = os.environ if environ is None else environ
        path = env.get("PERMSVC_CLAIMS_SPEC", "").strip()
        scope = env.get("PERMSVC_CLAIMS_SCOPE", "").strip() or DEFAULT_CLAIMS_SCOPE
        return cls(spec=load_claim_spec(path) if path else None, client_scope=scope)
