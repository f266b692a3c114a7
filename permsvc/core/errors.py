"""The root of permsvc's exception hierarchy.

Every error a caller can see derives from :class:`PermsvcError`. ``str(err)`` is always safe to
show to a client; anything sensitive goes in the cause (``raise ... from err``), which is logged,
never sent.
"""

from __future__ import annotations

__all__ = ("InvariantViolation", "PermsvcError")


class PermsvcError(Exception):
    """Base class of every permsvc error.

    Attributes:
        detail: the public, human-readable message.
    """

    detail: str

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail)
        self.detail = detail

    def __str__(self) -> str:
        return self.detail


class InvariantViolation(PermsvcError):
    """A broken internal invariant: a bug in permsvc. Maps to HTTP 500 and is logged with a stack."""
