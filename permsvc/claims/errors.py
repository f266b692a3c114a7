"""Errors of the claim feed."""

from __future__ import annotations

from typing import ClassVar

from permsvc.core.errors import PermsvcError

__all__ = ("ClaimSpecError", "ClaimSpecModelError", "ClaimsError")


class ClaimsError(PermsvcError):
    """Base of the claim-feed errors."""


class ClaimSpecError(ClaimsError):
    """A claim spec is invalid. Every problem found is listed, each with the path of the offending
    field (``audiences.https://api.example.com.relations[2]``), so one edit fixes them all.

    Attributes:
        problems: ``(path, message)`` pairs, in document order.
    """

    openfga_name: ClassVar[str] = "validation_error"

    def __init__(self, problems: list[tuple[str, str]], *, source: str = "") -> None:
        self.problems = tuple(problems)
        self.source = source
        where = f" in {source}" if source else ""
        listed = "; ".join(f"{path}: {message}" if path else message for path, message in problems)
        super().__init__(f"invalid claim spec{where}: {listed}")


class ClaimSpecModelError(ClaimsError):
    """The spec names types or relations the store's authorization model does not define.

    Raised when a summary is requested, because a spec is loaded once but the model it refers to
    can change with every model write.

    Attributes:
        missing: ``(type#relation, reason)`` pairs.
        model_id: the model the spec was checked against.
    """

    def __init__(self, missing: list[tuple[str, str]], *, model_id: str) -> None:
        self.missing = tuple(missing)
        self.model_id = model_id
        listed = "; ".join(f"{key}: {reason}" for key, reason in missing)
        super().__init__(
            f"the claim spec does not fit authorization model {model_id}: {listed} "
            "(fix the spec or write a model that defines these relations)"
        )
