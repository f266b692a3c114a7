"""Claim-feed settings, from the app's :class:`~permsvc.settings.Settings` (``PERMSVC_CLAIMS_*``).

=========================  ==========================================================  ================
Variable                   Meaning                                                     Default
=========================  ==========================================================  ================
PERMSVC_CLAIMS_SPEC        path of the claim spec used by stores without their own     (none)
PERMSVC_CLAIMS_SCOPE       scope granting a machine token the ``claims`` role          permsvc:claims
=========================  ==========================================================  ================

The spec file is loaded when the app is built, so a bad spec (a restricted claim name, an Auth0
namespace, a malformed relation) stops ``permsvc serve`` with the spec's error instead of
producing tokens that silently lack the claim.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from permsvc.claims.spec import ClaimSpec, load_claim_spec

if TYPE_CHECKING:
    from permsvc.settings import Settings

__all__ = ("DEFAULT_CLAIMS_SCOPE", "ClaimsSettings")

DEFAULT_CLAIMS_SCOPE = "permsvc:claims"


class ClaimsSettings(msgspec.Struct, frozen=True, kw_only=True):
    spec: ClaimSpec | None = None
    """The default spec (``PERMSVC_CLAIMS_SPEC``); a store's own spec takes precedence."""
    client_scope: str = DEFAULT_CLAIMS_SCOPE
    """Scope (or Auth0 permission) a client-credentials token must carry (``PERMSVC_CLAIMS_SCOPE``)."""

    @classmethod
    def from_settings(cls, settings: Settings) -> ClaimsSettings:
        """Raises ``ClaimSpecError`` when the spec file is unreadable or invalid."""
        path = settings.claims_spec.strip()
        return cls(spec=load_claim_spec(path) if path else None, client_scope=settings.claims_scope)
