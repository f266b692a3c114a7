"""The claim feed: a compact, bounded, namespaced permission summary for access tokens."""

from __future__ import annotations

from permsvc.claims.errors import ClaimsError, ClaimSpecError, ClaimSpecModelError
from permsvc.claims.read import ClaimView, read_claim
from permsvc.claims.spec import ClaimSpec, ClaimVariant, load_claim_spec, parse_claim_spec
from permsvc.claims.summarize import FORMAT_VERSION, EncodedSummary, encode_summary

__all__ = (
    "FORMAT_VERSION",
    "ClaimSpec",
    "ClaimSpecError",
    "ClaimSpecModelError",
    "ClaimVariant",
    "ClaimView",
    "ClaimsError",
    "EncodedSummary",
    "encode_summary",
    "load_claim_spec",
    "parse_claim_spec",
    "read_claim",
)
