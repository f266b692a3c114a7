"""Reading permsvc's permission summary from a verified access token, without permsvc installed.

The claim feed (``POST /v1/claims``, called by the post-login Action) puts one namespaced claim
into the token, format version 1::

    {"o":false,"p":{"organization#admin":["acme"],"project#viewer":["apollo","zeus"]},"rev":42,"v":1}

``v`` the format version; ``rev`` the store revision it reflects; ``p`` maps ``type#relation`` to
the ids (without ``type:``) of every object the user has that relation on -- a listed relation is
complete, so a missing id means "no"; ``o`` true when relations were dropped to fit the byte
budget, ``d`` those relations.

:func:`read_claim` turns the payload into a :class:`ClaimView` whose :meth:`ClaimView.has`
answers ``True``/``False`` from the summary or ``None`` -- "ask ``/v1/check``" -- when the claim is
missing or malformed, of an unknown version, older than ``min_revision`` (stale), or does not
cover the relation (never summarised, or dropped for size). The clients' ``read_claim`` methods
do that fallback for you. This module follows ``permsvc.claims.read`` rule for rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ("SUPPORTED_VERSIONS", "ClaimView", "read_claim")

SUPPORTED_VERSIONS = frozenset({1})


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimView:
    """What one token's summary says, and how far it can be trusted."""

    usable: bool
    """False when the claim is absent, malformed or of an unknown version: every answer is ``None``."""
    reason: str = ""
    """Why the view is unusable or stale (empty otherwise); for logs."""
    version: int | None = None
    revision: int | None = None
    stale: bool = False
    overflow: bool = False
    dropped: frozenset[str] = frozenset()
    entries: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """Usable, fresh and nothing dropped."""
        return self.usable and not self.stale and not self.overflow

    def covers(self, object_type: str, relation: str) -> bool:
        """Whether :meth:`has` can answer for this type and relation without permsvc."""
        return self.usable and not self.stale and f"{object_type}#{relation}" in self.entries

    def has(self, relation: str, object: str) -> bool | None:
        """``True``/``False`` from the summary, or ``None`` when only ``/v1/check`` can tell."""
        object_type, sep, object_id = object.partition(":")
        if not sep or not self.covers(object_type, relation):
            return None
        return object_id in self.entries[f"{object_type}#{relation}"]

    def objects(self, object_type: str, relation: str) -> frozenset[str] | None:
        """Every object id of ``object_type`` the user has ``relation`` on, or ``None`` if unknown."""
        if not self.covers(object_type, relation):
            return None
        return self.entries[f"{object_type}#{relation}"]


def _unusable(reason: str, **fields: Any) -> ClaimView:
    return ClaimView(usable=False, reason=reason, **fields)


def _str_set(value: object) -> frozenset[str] | None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return None
    return frozenset(value)


def read_claim(
    token_claims: Mapping[str, Any], *, claim_name: str, min_revision: int | None = None
) -> ClaimView:
    """Read the summary from a *verified* token payload. Never raises on bad claim content.

    Args:
        token_claims: the verified JWT payload (from your JWT library or framework).
        claim_name: the claim spec's name, e.g. ``"https://permsvc.example.com/perms"``.
        min_revision: the oldest acceptable revision (e.g. of a revoke you know of); an older
            summary is ``stale`` and answers nothing.
    """
    value = token_claims.get(claim_name)
    if value is None:
        return _unusable(f"the token has no {claim_name!r} claim")
    if not isinstance(value, Mapping):
        return _unusable(f"the {claim_name!r} claim is not an object")
    version = value.get("v")
    if not isinstance(version, int) or isinstance(version, bool):
        return _unusable("the summary has no integer format version 'v'")
    if version not in SUPPORTED_VERSIONS:
        return _unusable(
            f"summary format version {version} is not supported (this reader knows "
            f"{sorted(SUPPORTED_VERSIONS)}); upgrade permsvc-client",
            version=version,
        )
    revision = value.get("rev")
    if not isinstance(revision, int) or isinstance(revision, bool) or revision < 0:
        return _unusable("the summary has no revision 'rev'", version=version)
    raw_entries = value.get("p")
    overflow = value.get("o")
    dropped = _str_set(value.get("d", []))
    if not isinstance(raw_entries, Mapping) or not isinstance(overflow, bool) or dropped is None:
        return _unusable(
            "the summary is malformed ('p', 'o' or 'd')", version=version, revision=revision
        )
    entries: dict[str, frozenset[str]] = {}
    for key, ids in raw_entries.items():
        parsed = _str_set(ids)
        if not isinstance(key, str) or "#" not in key or parsed is None:
            return _unusable(
                f"the summary entry {key!r} is malformed", version=version, revision=revision
            )
        entries[key] = parsed
    stale = min_revision is not None and revision < min_revision
    return ClaimView(
        usable=True,
        reason=f"summary at revision {revision} is older than the required {min_revision}"
        if stale
        else "",
        version=version,
        revision=revision,
        stale=stale,
        overflow=overflow,
        dropped=dropped,
        entries=entries,
    )
