"""Reading the permission summary on the API side: :func:`read_claim`.

An API that received an access token, verified it (signature, ``iss``, ``aud``, ``exp``; e.g.
with :class:`permsvc.auth.JwtAuthenticator`, or any JWT library), reads the summary from the
decoded payload::

    view = read_claim(payload, claim_name="https://permsvc.example.com/perms", min_revision=rev)
    match view.has("editor", "project:apollo"):
        case True:  ...              # allowed, as of view.revision
        case False: ...              # denied, as of view.revision
        case None:  ...              # not in the summary: POST /v1/check with the token

``has`` answers ``None`` -- "ask the check API" -- whenever the summary cannot decide:

- the claim is absent or malformed, or its format version is not one this reader knows;
- ``min_revision`` was given and the summary is older (``stale``): a change you know of
  (e.g. a revoke whose consistency token you hold) may not be reflected;
- the relation was not summarised for this token, or was dropped to fit the budget (``o``/``d``).

A relation that *is* in the summary is complete at ``revision``: an object missing from its list
means "no". Anything finer than the summary (other relations, conditions that depend on request
context, contextual tuples) always needs the check API.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from permsvc.claims.format import FORMAT_VERSION

__all__ = ("SUPPORTED_VERSIONS", "ClaimView", "read_claim")

SUPPORTED_VERSIONS = frozenset({FORMAT_VERSION})


class ClaimView(msgspec.Struct, frozen=True, kw_only=True):
    """What one token's summary says, and how far it can be trusted."""

    usable: bool
    """False when the claim is absent, malformed or of an unknown version: every answer is ``None``."""
    reason: str = ""
    """Why the view is unusable or stale (empty otherwise); for logs."""
    version: int | None = None
    revision: int | None = None
    stale: bool = False
    """``revision`` is older than the ``min_revision`` the reader required."""
    overflow: bool = False
    """Relations were left out to fit the byte budget (``dropped`` names them)."""
    dropped: frozenset[str] = frozenset()
    entries: Mapping[str, frozenset[str]] = msgspec.field(default_factory=dict)
    """``"type#relation"`` -> object ids (without the type prefix)."""

    @property
    def complete(self) -> bool:
        """Usable, fresh and nothing dropped: every summarised relation can be answered locally."""
        return self.usable and not self.stale and not self.overflow

    def covers(self, object_type: str, relation: str) -> bool:
        """Whether ``has`` can answer for this type and relation (without the check API)."""
        return self.usable and not self.stale and f"{object_type}#{relation}" in self.entries

    def has(self, relation: str, object: str) -> bool | None:
        """Whether the user has ``relation`` on ``object`` (``"project:apollo"``): ``True``/``False``
        from the summary, or ``None`` when only the check API can tell (see the module docstring)."""
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


def _str_list(value: object) -> frozenset[str] | None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return None
    return frozenset(value)


def read_claim(
    decoded_token: Mapping[str, Any], *, claim_name: str, min_revision: int | None = None
) -> ClaimView:
    """Read the summary from a *verified* token payload. Never raises on bad claim content: an
    unusable summary only means "ask the check API" (:attr:`ClaimView.usable`, :attr:`ClaimView.reason`).

    Args:
        decoded_token: the verified JWT payload (e.g. :attr:`permsvc.auth.AuthClaims.raw`).
        claim_name: the spec's claim name.
        min_revision: the oldest acceptable revision, e.g. that of a consistency token returned
            by a grant or revoke the caller knows about; older summaries are ``stale``.
    """
    value = decoded_token.get(claim_name)
    if value is None:
        return _unusable(f"the token has no {claim_name!r} claim")
    if not isinstance(value, Mapping):
        return _unusable(f"the {claim_name!r} claim is not an object")
    version = value.get("v")
    if isinstance(version, bool) or not isinstance(version, int):
        return _unusable("the summary has no integer format version 'v'")
    if version not in SUPPORTED_VERSIONS:
        return _unusable(
            f"summary format version {version} is not supported (this reader knows "
            f"{sorted(SUPPORTED_VERSIONS)}); upgrade permsvc.claims",
            version=version,
        )
    revision = value.get("rev")
    if isinstance(revision, bool) or not isinstance(revision, int) or revision < 0:
        return _unusable("the summary has no revision 'rev'", version=version)
    raw_entries = value.get("p")
    overflow = value.get("o")
    dropped = _str_list(value.get("d", []))
    if not isinstance(raw_entries, Mapping) or not isinstance(overflow, bool) or dropped is None:
        return _unusable(
            "the summary is malformed ('p', 'o' or 'd')", version=version, revision=revision
        )
    entries: dict[str, frozenset[str]] = {}
    for key, ids in raw_entries.items():
        parsed = _str_list(ids)
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
