"""One authenticator for every surface: an ``Authorization: Bearer`` credential becomes a :class:`Principal`.

Credentials, tried in this order:

- a **bootstrap key** from ``PERMSVC_API_KEYS``: role ``admin``, limited to
  ``PERMSVC_API_KEYS_STORE`` when set; compared in constant time against every configured key;
- an **API key** ``psk_<id>_<secret>`` created by ``POST /v1/admin/keys`` or ``permsvc admin
  create-key``: looked up by id, its secret verified in constant time, refused when revoked; its
  roles and store limit are the key's;
- an **OIDC access token** (``PERMSVC_OIDC_*``), validated against the issuer's JWKS. A *machine
  token* (client-credentials, decided by :func:`permsvc.auth.claims.token_kind_of` under
  ``PERMSVC_MACHINE_TOKEN_RULES`` / ``PERMSVC_MACHINE_CLIENT_IDS``) gets the roles its scopes map
  to (``PERMSVC_ADMIN_SCOPE``, ``PERMSVC_WRITE_SCOPE``, ``PERMSVC_READ_SCOPE``,
  ``PERMSVC_CHECK_SCOPE``, ``PERMSVC_CLAIMS_SCOPE``). A *console login*: a user's token issued
  to the web console's client (``azp``/``client_id`` is ``PERMSVC_CONSOLE_CLIENT_ID``, every one
  of them present) gets the roles its scopes map to the same way, but only when the operator
  opted in with ``PERMSVC_CONSOLE_SCOPE_ROLES`` (the identity provider must grant those scopes
  only to the people entitled to them). It acts for its person (audit rows name ``user:<sub>``)
  with exactly those roles and no more: no end user's allowances. Any other token, a console
  login without the opt-in or whose scopes grant no role included, is an *end user's*: no role,
  it may only ask the /v1 check routes about itself.

No ``Authorization`` header is an anonymous caller, admitted only while the server is *open*: no
bootstrap key, no OIDC issuer, and no API key in the database. A server learns that a key was
created by another worker or process within ``PERMSVC_OPEN_RECHECK_S`` (it asks the database
again at most that often while open; once a key is seen the door stays closed, revoking keys does
not reopen it). A key created through this process closes the door at once.
"""

from __future__ import annotations

import hmac
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

from permsvc.api.errors import ApiError
from permsvc.api.security.principal import Principal
from permsvc.auth.claims import TokenKind, token_kind_of
from permsvc.auth.errors import AuthError, MissingBearerTokenError
from permsvc.auth.jwt import extract_bearer_token
from permsvc.auth.keys import API_KEY_PREFIX, secret_digest
from permsvc.auth.roles import ROLES, expand_roles
from permsvc.commands.audit import Actor
from permsvc.commands.keys import VerifyApiKeyQuery

if TYPE_CHECKING:
    from permsvc.auth.claims import AuthClaims
    from permsvc.auth.jwt import JwtAuthenticator
    from permsvc.settings import Settings
    from permsvc.store.protocol import ApiKeyStore

__all__ = ("ANONYMOUS", "Security", "UnknownCredentialError")

ANONYMOUS = Principal(
    kind="anonymous", actor=Actor(id="anonymous", kind="anonymous"), roles=expand_roles(ROLES)
)
"""The caller of an open server (no credential configured anywhere): every role, loopback only."""


class UnknownCredentialError(AuthError):
    """A bearer credential this server cannot verify (401 ``invalid_token``)."""

    error_code: ClassVar[str | None] = "invalid_token"


class Security:
    """The credential configuration of one app, built in its lifespan from :class:`Settings`."""

    def __init__(
        self,
        settings: Settings,
        *,
        keys: ApiKeyStore | None,
        jwt: JwtAuthenticator | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.keys = keys
        self.jwt = jwt
        self._clock = clock
        self._bootstrap = tuple(secret_digest(key) for key in settings.api_keys)
        """Only the SHA-256 of each configured key is kept; digests are compared in constant time
        against every one, so timing reveals neither which key nearly matched nor their lengths."""
        self._bootstrap_principals = tuple(
            Principal(
                kind="bootstrap_key",
                actor=Actor(id=f"preshared:{position}", kind="preshared_key"),
                roles=expand_roles(("admin",)),
                store_id=settings.api_keys_store or None,
            )
            for position in range(1, len(self._bootstrap) + 1)
        )
        self._scope_roles = {
            settings.admin_scope: "admin",
            settings.write_scope: "write",
            settings.read_scope: "read",
            settings.check_scope: "check",
            settings.claims_scope: "claims",
        }
        self._closed = bool(self._bootstrap) or jwt is not None
        self._open_checked_at = -math.inf

    def scope_of(self, role: str) -> str:
        """The token scope granting ``role``."""
        return next(scope for scope, granted in self._scope_roles.items() if granted == role)

    # -- the anonymous door --------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """Whether anonymous callers are refused (as last known; see :meth:`anonymous_allowed`)."""
        return self._closed

    def close(self) -> None:
        """A credential now exists (an API key was created here): refuse anonymous callers from now on."""
        self._closed = True

    async def anonymous_allowed(self) -> bool:
        if self._closed:
            return False
        now = self._clock()
        if now - self._open_checked_at < self.settings.open_recheck_s:
            return True
        if await self.keys_exist():
            self._closed = True
            return False
        self._open_checked_at = now
        return True

    async def keys_exist(self) -> bool:
        """Whether the database holds any API key (revoked ones included)."""
        if self.keys is None:
            return False
        return bool(await self.keys.list_api_keys(include_revoked=True))

    def describe(self) -> str:
        """How callers authenticate, for the start-up log line."""
        kinds = []
        if self._bootstrap:
            kinds.append(f"{len(self._bootstrap)} bootstrap key(s)")
        if self.jwt is not None:
            kinds.append(f"access tokens from {self.jwt.settings.issuer}")
        if self.keys is not None:
            kinds.append("API keys")
        return ", ".join(kinds)

    # -- credentials ---------------------------------------------------------------------------------

    async def authenticate(self, authorization: str | None) -> Principal:
        """The principal of an ``Authorization`` header value.

        Raises:
            AuthError: no credential while the door is closed (401), a malformed header (400), or
                a credential that does not verify (401).
        """
        if authorization is None or not authorization.strip():
            if await self.anonymous_allowed():
                return ANONYMOUS
            raise MissingBearerTokenError(
                "no credential: send 'Authorization: Bearer <API key or access token>'"
            )
        token = extract_bearer_token(authorization)
        if self._bootstrap:
            presented = secret_digest(token)
            matched = 0
            for position, key in enumerate(self._bootstrap, start=1):
                if hmac.compare_digest(key, presented):
                    matched = position
            if matched:
                return self._bootstrap_principals[matched - 1]
        if token.startswith(f"{API_KEY_PREFIX}_"):
            return await self._from_key(token)
        if self.jwt is not None:
            return self.from_claims(await self.jwt.authenticate(token))
        raise UnknownCredentialError(
            "the bearer credential is neither a bootstrap key nor an API key (psk_...) of this server"
            + (
                ""
                if self.jwt is not None
                else " and this server accepts no access tokens (PERMSVC_OIDC_ISSUER is not set)"
            )
        )

    async def _from_key(self, token: str) -> Principal:
        if self.keys is None:
            raise UnknownCredentialError("this permsvc's datastore keeps no API keys")
        record = await VerifyApiKeyQuery(keys=self.keys).execute(token)
        return Principal(
            kind="api_key",
            actor=Actor(id=f"key:{record.id}", kind="api_key"),
            roles=expand_roles(record.roles),
            store_id=record.store_id,
            key=record,
        )

    def is_machine(self, claims: AuthClaims) -> bool:
        settings = self.settings
        kind = token_kind_of(claims.raw, settings.machine_token_rules, settings.machine_client_ids)
        return kind is TokenKind.CLIENT

    def is_console_login(self, claims: AuthClaims) -> bool:
        """Whether a user's token was issued to the web console's client: its ``azp`` and its
        ``client_id``, each when present (one at least), are ``PERMSVC_CONSOLE_CLIENT_ID``."""
        console = self.settings.console_client_id
        named = [claims.raw.get(claim) for claim in ("azp", "client_id")]
        present = [value for value in named if value is not None]
        return bool(console) and bool(present) and all(value == console for value in present)

    def _roles_of_scopes(self, claims: AuthClaims) -> frozenset[str]:
        return expand_roles(self._scope_roles[s] for s in claims.scopes if s in self._scope_roles)

    def from_claims(self, claims: AuthClaims) -> Principal:
        if self.is_machine(claims):
            return Principal(
                kind="machine_token",
                actor=Actor(id=f"client:{claims.client_id or claims.subject}", kind="client_token"),
                roles=self._roles_of_scopes(claims),
                claims=claims,
            )
        if self.settings.console_scope_roles and self.is_console_login(claims):
            roles = self._roles_of_scopes(claims)
            if roles:
                return Principal(
                    kind="console_token",
                    actor=Actor(id=claims.subject_ref(), kind="user_token"),
                    roles=roles,
                    subject=claims.subject_ref(),
                    claims=claims,
                )
        return Principal(
            kind="end_user_token",
            actor=Actor(id=claims.subject_ref(), kind="user_token"),
            subject=claims.subject_ref(),
            claims=claims,
        )

    def note_on(self, principal: Principal) -> str:
        """What ``principal``'s roles mean, in words (``GET /v1/whoami``; never a secret)."""
        claims = principal.claims
        if principal.kind == "console_token":
            return (
                "a console login: roles from the token's scopes (PERMSVC_CONSOLE_SCOPE_ROLES is on)"
            )
        if principal.kind == "end_user_token" and claims is not None:
            if self.is_console_login(claims):
                why = (
                    "its scopes map to no role"
                    if self.settings.console_scope_roles
                    else "this server gives console logins no roles (PERMSVC_CONSOLE_SCOPE_ROLES is off)"
                )
                return (
                    f"a console login with no role: {why}. It may only ask /v1 about its own "
                    "user; log in with an API key, or ask the operator for roles"
                )
            return "an end user's token: it may only ask /v1 about its own user"
        if principal.kind == "machine_token" and not principal.roles:
            return "a machine token whose scopes map to no role"
        return ""

    async def subject_of(self, subject_token: str) -> str:
        """The tuple user of an end user's access token passed by a service (``subject_token``).

        Raises:
            ApiError: 400 ``invalid_request`` when the token is not a valid end user's token of
                the configured issuer (the service's own credential is fine; its user's is not).
        """
        if self.jwt is None:
            raise ApiError(
                "invalid_request",
                "subject_token cannot be verified: this permsvc accepts no access tokens (PERMSVC_OIDC_ISSUER is not set)",
                status=400,
            )
        try:
            claims = await self.jwt.authenticate(subject_token)
        except AuthError as err:
            if err.status_code >= 500:
                raise
            raise ApiError(
                "invalid_request", f"subject_token is not acceptable: {err.detail}", status=400
            ) from err
        if self.is_machine(claims):
            raise ApiError(
                "invalid_request",
                "subject_token is a machine (client-credentials) token; pass the end user's access token",
                status=400,
            )
        return claims.subject_ref()
