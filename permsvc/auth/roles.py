"""The roles a credential may hold, and what each includes.

``check`` ⊂ ``read`` ⊂ ``write`` ⊂ ``admin``; ``claims`` is disjoint from check/read/write and
``admin`` includes it. A credential's roles are expanded once (:func:`expand_roles`), so a route's
rule asks one set-membership question.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from permsvc.core.errors import PermsvcError

__all__ = (
    "ROLES",
    "ROLE_INCLUDES",
    "InvalidRolesError",
    "Role",
    "canonical_roles",
    "expand_roles",
    "parse_roles",
)


class InvalidRolesError(PermsvcError):
    """A role list names no role or an unknown one (400 ``validation_error``)."""

    openfga_name = "validation_error"


Role = Literal["check", "read", "write", "admin", "claims"]

ROLES: tuple[Role, ...] = ("check", "read", "write", "admin", "claims")

ROLE_INCLUDES: dict[str, frozenset[str]] = {
    "check": frozenset({"check"}),
    "read": frozenset({"check", "read"}),
    "write": frozenset({"check", "read", "write"}),
    "admin": frozenset({"check", "read", "write", "admin", "claims"}),
    "claims": frozenset({"claims"}),
}
"""Each role and every role it includes (itself too)."""


def expand_roles(roles: Iterable[str]) -> frozenset[str]:
    """Every role ``roles`` grant, included ones too (unknown names grant nothing)."""
    out: set[str] = set()
    for role in roles:
        out |= ROLE_INCLUDES.get(role, frozenset())
    return frozenset(out)


def canonical_roles(roles: Iterable[str]) -> tuple[str, ...]:
    """The smallest role list granting the same as ``roles``, in :data:`ROLES` order."""
    granted = expand_roles(roles)
    kept = [r for r in ROLES if r in granted]
    return tuple(r for r in kept if not any(o != r and r in ROLE_INCLUDES[o] for o in kept))


def parse_roles(value: str | Iterable[str]) -> tuple[str, ...]:
    """Roles from a list or a space/comma-separated string, validated and made canonical.

    Raises:
        InvalidRolesError: empty, or a name that is not a role.
    """
    names = (
        value.replace(",", " ").split()
        if isinstance(value, str)
        else [str(v).strip() for v in value]
    )
    unknown = [n for n in names if n not in ROLE_INCLUDES]
    if unknown or not names:
        raise InvalidRolesError(
            f"invalid API key roles {' '.join(unknown) or '(none)'}: use one or more of {', '.join(ROLES)}"
        )
    return canonical_roles(names)
