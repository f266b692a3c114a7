"""permsvc's Python client: sync :class:`Permsvc` and async :class:`AsyncPermsvc` for the /v1 API,
:func:`read_claim` for the permission summary in a token, and framework guards in
:mod:`permsvc_client.fastapi` / ``.starlette`` / ``.flask`` / ``.litestar`` (extras)."""

from permsvc_client.claims import ClaimView, read_claim
from permsvc_client.client import AsyncPermsvc, Permsvc
from permsvc_client.errors import (
    CredentialError,
    InvalidRequestError,
    MissingTokenError,
    NotFoundError,
    PermsvcError,
    TokenRejectedError,
    UnavailableError,
)
from permsvc_client.results import (
    BatchCheckResult,
    BatchItem,
    Check,
    CheckResult,
    ClaimsResult,
    ItemError,
    ObjectsPage,
    RelationsResult,
    TupleChange,
)

__all__ = (
    "AsyncPermsvc",
    "BatchCheckResult",
    "BatchItem",
    "Check",
    "CheckResult",
    "ClaimView",
    "ClaimsResult",
    "CredentialError",
    "InvalidRequestError",
    "ItemError",
    "MissingTokenError",
    "NotFoundError",
    "ObjectsPage",
    "Permsvc",
    "PermsvcError",
    "RelationsResult",
    "TokenRejectedError",
    "TupleChange",
    "UnavailableError",
    "read_claim",
)

__version__ = "0.1.0"
