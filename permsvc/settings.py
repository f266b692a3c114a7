"""Settings and their defaults. Every tunable limit lives here (OpenFGA keeps its defaults together
in pkg/server/config/config.go; so do we).

Server settings are loaded from ``PERMSVC_*`` environment variables by :func:`Settings.from_env`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any, Literal

import msgspec

from permsvc.auth.config import OidcSettings
from permsvc.core.errors import PermsvcError

__all__ = (
    "DEFAULT_CHECK_DEADLINE_S",
    "DEFAULT_DATA_DIR",
    "DEFAULT_GRACEFUL_SHUTDOWN_S",
    "DEFAULT_HOST",
    "DEFAULT_INDEX_MEMORY_BUDGET",
    "DEFAULT_INDEX_POLL_S",
    "DEFAULT_INDEX_SAFETY_POLL_S",
    "DEFAULT_INDEX_WAIT_S",
    "DEFAULT_LIST_DEADLINE_S",
    "DEFAULT_LIST_MAX_RESULTS",
    "DEFAULT_MAX_ASSERTIONS",
    "DEFAULT_MAX_BATCH_CHECK_ITEMS",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_CONCURRENT_DISPATCHES",
    "DEFAULT_MAX_CONTEXTUAL_TUPLES",
    "DEFAULT_MAX_DISPATCHES",
    "DEFAULT_MAX_MODEL_BYTES",
    "DEFAULT_MAX_PAGE_SIZE",
    "DEFAULT_MAX_RESOLUTION_DEPTH",
    "DEFAULT_MAX_TUPLES_PER_WRITE",
    "DEFAULT_MAX_TYPES_PER_MODEL",
    "DEFAULT_OPEN_RECHECK_S",
    "DEFAULT_PORT",
    "DEFAULT_READ_PAGE_SIZE",
    "DEFAULT_REPLICA_CONNECT_TIMEOUT_S",
    "DEFAULT_REPLICA_LAG_INTERVAL_S",
    "DEFAULT_REPLICA_PROBE_S",
    "DEFAULT_REPLICA_RETRY_S",
    "DEFAULT_REQUEST_READ_TIMEOUT_S",
    "DEFAULT_SCOPES",
    "MACHINE_TOKEN_RULES",
    "AuthMethod",
    "EngineLimits",
    "LogLevel",
    "Settings",
    "SettingsError",
    "split_database_urls",
)

DEFAULT_MAX_RESOLUTION_DEPTH = 25
"""Dispatch depth after which Check fails with ``authorization_model_resolution_too_complex``."""

DEFAULT_MAX_DISPATCHES = 100_000
"""Upper bound on sub-problems (dispatches) one request may evaluate before it is refused."""

DEFAULT_MAX_CONCURRENT_DISPATCHES = 32
"""Concurrent branches per request when reads go to a database (the in-memory index evaluates inline)."""

DEFAULT_CHECK_DEADLINE_S = 3.0
"""Wall-clock budget of one Check (and each item of a BatchCheck)."""

DEFAULT_LIST_DEADLINE_S = 10.0
"""Wall-clock budget of one ListObjects / ListUsers page."""

DEFAULT_LIST_MAX_RESULTS = 1000
"""Page size of ListObjects / ListUsers; more results are reached with the continuation token."""

DEFAULT_MAX_CONTEXTUAL_TUPLES = 100
DEFAULT_MAX_TUPLES_PER_WRITE = 100
DEFAULT_MAX_BATCH_CHECK_ITEMS = 50
DEFAULT_MAX_TYPES_PER_MODEL = 100
DEFAULT_MAX_MODEL_BYTES = 256 * 1024


class EngineLimits(msgspec.Struct, frozen=True, kw_only=True):
    """Per-request work bounds of the engine. Exceeding one is a precise error, never a hang."""

    max_resolution_depth: int = DEFAULT_MAX_RESOLUTION_DEPTH
    max_dispatches: int = DEFAULT_MAX_DISPATCHES
    max_concurrent_dispatches: int = DEFAULT_MAX_CONCURRENT_DISPATCHES
    check_deadline_s: float = DEFAULT_CHECK_DEADLINE_S
    list_deadline_s: float = DEFAULT_LIST_DEADLINE_S
    list_max_results: int = DEFAULT_LIST_MAX_RESULTS


DEFAULT_HOST = "127.0.0.1"
"""Loopback by default: exposing the API to a network is an explicit decision (``--host 0.0.0.0``)."""

DEFAULT_PORT = 8080
"""OpenFGA's HTTP port, so SDK and CLI defaults work unchanged."""

DEFAULT_DATA_DIR = ".permsvc"

DEFAULT_INDEX_MEMORY_BUDGET = 2 * 1024**3
"""Bytes the in-memory tuple indexes of one process may take (estimated per tuple); stores beyond
it are evaluated against the database."""

DEFAULT_INDEX_WAIT_S = 1.0
"""How long a write, a HIGHER_CONSISTENCY read or a consistency token waits for the local index
before the read is evaluated against the database instead."""

DEFAULT_INDEX_POLL_S = 0.02
"""Changelog polling interval of the index where the database cannot notify (SQLite)."""

DEFAULT_INDEX_SAFETY_POLL_S = 1.0
"""Polling interval of the index behind PostgreSQL notifications (the safety net for lost ones)."""

DEFAULT_STATEMENT_CACHE_SIZE = 100
"""asyncpg's own default: prepared statements cached per PostgreSQL connection."""

DEFAULT_REPLICA_PROBE_S = 0.05
"""How long the revision a read replica has replayed (of one store) is trusted before the replica
is asked again; a request needing a later revision meanwhile reads the primary."""

DEFAULT_REPLICA_RETRY_S = 1.0
"""After a read replica fails (unreachable, erroring), how long its reads go to the primary."""

DEFAULT_REPLICA_LAG_INTERVAL_S = 1.0
"""How often each read replica's replay lag is measured (``permsvc_database_replica_lag_seconds``)."""

DEFAULT_REPLICA_CONNECT_TIMEOUT_S = 2.0
"""Connection timeout to a read replica (a dead one must not hold a request for asyncpg's 60 s)."""

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
DEFAULT_MAX_ASSERTIONS = 100
DEFAULT_READ_PAGE_SIZE = 50
DEFAULT_MAX_PAGE_SIZE = 100
DEFAULT_GRACEFUL_SHUTDOWN_S = 10.0
DEFAULT_REQUEST_READ_TIMEOUT_S = 15.0

DEFAULT_OPEN_RECHECK_S = 1.0
"""How long a server without configured credentials trusts "no API key exists" before it asks the
database again: a key created by another worker or process closes the door within this time."""

DEFAULT_SCOPES = {
    "admin": "permsvc:admin",
    "write": "permsvc:write",
    "read": "permsvc:read",
    "check": "permsvc:check",
    "claims": "permsvc:claims",
}
"""The OAuth scope (or Auth0 RBAC permission) of a machine token that grants each role."""

MACHINE_TOKEN_RULES = ("gty", "auth0-clients")
"""Rules that make an access token a machine (client-credentials) token; see
:func:`permsvc.auth.claims.token_kind_of`."""

AuthMethod = Literal["none", "preshared"]
LogLevel = Literal["debug", "info", "warning", "error"]


class SettingsError(PermsvcError):
    """A setting (environment variable or command-line option) has an invalid value."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Server settings. Twelve-factor: every field has a ``PERMSVC_<FIELD>`` environment variable.

    ``database_url`` empty means the embedded SQLite database in ``data_dir``; a
    ``postgresql://`` URL selects PostgreSQL.
    """

    host: str = DEFAULT_HOST
    """Interface to bind (``PERMSVC_HOST``)."""
    port: int = DEFAULT_PORT
    """TCP port (``PERMSVC_PORT``)."""
    workers: int = 1
    """Server processes (``PERMSVC_WORKERS``); each runs its own event loop."""
    database_url: str = ""
    """``postgresql://...`` or ``sqlite:///path``; empty = SQLite in ``data_dir`` (``PERMSVC_DATABASE_URL``)."""
    listen_database_url: str = ""
    """Where the index LISTENs for changes (``PERMSVC_LISTEN_DATABASE_URL``): a direct
    PostgreSQL connection when ``database_url`` goes through a transaction-pooling PgBouncer,
    which cannot carry LISTEN. Empty: ``database_url``."""
    read_database_url: tuple[str, ...] = ()
    """Read replicas (``PERMSVC_READ_DATABASE_URL``): one or more ``postgresql://`` URLs of hot
    standbys, comma-separated (each may itself name several hosts). Reads that may use a replica
    go to one that has replayed the revision the request needs, else to the primary
    (docs/deployment.md, *Read replicas*). Empty: every read goes to ``database_url``."""
    database_statement_cache_size: int = DEFAULT_STATEMENT_CACHE_SIZE
    """Prepared statements cached per PostgreSQL connection
    (``PERMSVC_DATABASE_STATEMENT_CACHE_SIZE``); 0 behind a transaction-pooling PgBouncer older
    than 1.21 (or without ``max_prepared_statements``), which cannot keep a named prepared statement."""
    data_dir: str = DEFAULT_DATA_DIR
    """Directory of the embedded database (``PERMSVC_DATA_DIR``)."""
    migrate: bool = True
    """Apply pending schema migrations at start-up (``PERMSVC_MIGRATE``)."""
    auth_method: AuthMethod = "none"
    """Kept for compatibility (``PERMSVC_AUTH_METHOD``): ``preshared`` insists on ``api_keys``. Whether
    callers must authenticate is decided by the credentials themselves (docs/security.md): any
    bootstrap key, OIDC issuer or API key in the database closes the door."""
    api_keys: tuple[str, ...] = ()
    """Accepted preshared keys, comma-separated in ``PERMSVC_API_KEYS``."""
    store: str = ""
    """Default store id of the routes that carry none (``PERMSVC_STORE``)."""
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    """Largest accepted request body; larger ones get 413 (``PERMSVC_MAX_BODY_BYTES``)."""
    log_level: LogLevel = "info"
    """``PERMSVC_LOG_LEVEL``."""
    access_log: bool = True
    """One structured JSON line per request (``PERMSVC_ACCESS_LOG``)."""
    graceful_shutdown_s: float = DEFAULT_GRACEFUL_SHUTDOWN_S
    """How long in-flight requests may finish after SIGTERM (``PERMSVC_GRACEFUL_SHUTDOWN_S``)."""
    request_read_timeout_s: float = DEFAULT_REQUEST_READ_TIMEOUT_S
    """``permsvc serve`` only (``PERMSVC_REQUEST_READ_TIMEOUT_S``): a new connection's first
    request and every request's headers must arrive within this many seconds, and its body may
    not stall longer than this between two reads; else ``408`` and the connection closes."""
    public_url: str = ""
    """Externally visible base URL, e.g. ``https://authz.example.com`` (``PERMSVC_PUBLIC_URL``):
    the absolute URLs of the AuthZEN discovery documents. Empty: taken from each request (its
    ``Host``), which is only safe where a trusted proxy sets ``Host``."""
    authzen_actions: tuple[str, ...] = ()
    """Which relations AuthZEN Action Search returns: ``fnmatch`` patterns over ``relation`` or
    ``type#relation``, comma-separated in ``PERMSVC_AUTHZEN_ACTIONS`` (e.g. ``can_*``); empty: the
    rule of :func:`permsvc.commands.authzen.action_relations`."""
    index: bool = True
    """Serve checks from a per-process in-memory replica of each store's tuples (``PERMSVC_INDEX``)."""
    index_memory_budget: int = DEFAULT_INDEX_MEMORY_BUDGET
    """Bytes the indexes of one process may take (``PERMSVC_INDEX_MEMORY_BUDGET``)."""
    index_snapshots: bool = True
    """Start indexes from, and write, index snapshots in the database (``PERMSVC_INDEX_SNAPSHOTS``)."""
    write_priority: bool = True
    """While a write is in progress in a process, admit other requests only a few per event-loop
    step, so the write's database round trips do not each wait behind every check in flight
    (``PERMSVC_WRITE_PRIORITY``; :mod:`permsvc.api.priority`)."""
    limits: EngineLimits = msgspec.field(default_factory=EngineLimits)
    oidc: OidcSettings | None = None
    """How access tokens are validated (``PERMSVC_OIDC_*``, see :mod:`permsvc.auth.config`);
    ``None``: access tokens are not accepted."""
    api_keys_store: str = ""
    """The one store the bootstrap keys of ``PERMSVC_API_KEYS`` are limited to (``PERMSVC_API_KEYS_STORE``);
    empty: no limit."""
    admin_scope: str = DEFAULT_SCOPES["admin"]
    """Scope of a machine token granting the ``admin`` role (``PERMSVC_ADMIN_SCOPE``)."""
    write_scope: str = DEFAULT_SCOPES["write"]
    """Scope granting the ``write`` role (``PERMSVC_WRITE_SCOPE``)."""
    read_scope: str = DEFAULT_SCOPES["read"]
    """Scope granting the ``read`` role (``PERMSVC_READ_SCOPE``)."""
    check_scope: str = DEFAULT_SCOPES["check"]
    """Scope granting the ``check`` role (``PERMSVC_CHECK_SCOPE``)."""
    claims_scope: str = DEFAULT_SCOPES["claims"]
    """Scope granting the ``claims`` role, the claim feed (``PERMSVC_CLAIMS_SCOPE``)."""
    machine_token_rules: tuple[str, ...] = ("gty", "auth0-clients")
    """Which access tokens are machine (client-credentials) tokens, comma-separated in
    ``PERMSVC_MACHINE_TOKEN_RULES``: ``gty`` (``gty`` is ``client-credentials``, Auth0),
    ``auth0-clients`` (``sub`` is the token's own ``azp``/``client_id`` + ``@clients``, Auth0).
    Every other token is an end user's, unless ``machine_client_ids`` names its application."""
    machine_client_ids: tuple[str, ...] = ()
    """Applications whose own tokens (``sub`` equal to their ``client_id``, RFC 9068) are machine
    tokens, comma-separated in ``PERMSVC_MACHINE_CLIENT_IDS``; list only client-credentials-only
    applications."""
    end_user_context: bool = False
    """Whether an end user's own access token may send ``context`` (condition parameters) to the
    /v1 check routes (``PERMSVC_END_USER_CONTEXT``)."""
    console_client_id: str = ""
    """The web console's public OIDC client (``PERMSVC_CONSOLE_CLIENT_ID``): its login page offers
    the issuer's authorization-code + PKCE login."""
    console_scopes: str = ""
    """Scopes the console's login asks for besides ``openid``, space-separated
    (``PERMSVC_CONSOLE_SCOPES``)."""
    console_scope_roles: bool = False
    """Whether a user's token issued to the console's client (its ``azp``/``client_id`` is
    ``console_client_id``) gets the roles its scopes map to, as a machine token does
    (``PERMSVC_CONSOLE_SCOPE_ROLES``). Turn it on only when the identity provider grants those
    scopes to the users entitled to them (Auth0: RBAC on the API with "Add Permissions in the
    Access Token"); off, a console login is an end user's token with no role."""
    cors_origins: tuple[str, ...] = ()
    """Origins allowed to call from a browser, comma-separated in ``PERMSVC_CORS_ORIGINS``; empty: CORS off."""
    insecure_no_auth: bool = False
    """Serve without any credential on a non-loopback address (``--insecure-no-auth``)."""
    open_recheck_s: float = DEFAULT_OPEN_RECHECK_S
    """See :data:`DEFAULT_OPEN_RECHECK_S` (``PERMSVC_OPEN_RECHECK_S``)."""
    claims_spec: str = ""
    """Path of the claim spec used by stores without their own (``PERMSVC_CLAIMS_SPEC``)."""

    @property
    def credentials_configured(self) -> bool:
        """Whether a credential is configured outside the database (bootstrap keys or OIDC)."""
        return bool(self.api_keys) or self.oidc is not None

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise SettingsError(f"port must be between 1 and 65535, got {self.port}")
        if self.workers < 1:
            raise SettingsError(f"workers must be at least 1, got {self.workers}")
        if self.database_statement_cache_size < 0:
            raise SettingsError(
                f"database_statement_cache_size must be at least 0, got {self.database_statement_cache_size}"
            )
        if self.listen_database_url and not self.listen_database_url.startswith(
            ("postgres://", "postgresql://")
        ):
            raise SettingsError("listen_database_url must be a postgresql:// URL")
        if self.read_database_url and (
            not self.database_url.startswith(("postgres://", "postgresql://"))
            or not all(
                u.startswith(("postgres://", "postgresql://")) for u in self.read_database_url
            )
        ):
            raise SettingsError(
                "read_database_url (PERMSVC_READ_DATABASE_URL) must list postgresql:// URLs, "
                "and database_url must be PostgreSQL too"
            )
        if not 0 < self.request_read_timeout_s <= 3600:
            raise SettingsError(
                f"request_read_timeout_s must be in (0, 3600], got {self.request_read_timeout_s}"
            )
        if self.max_body_bytes < 1024:
            raise SettingsError(f"max_body_bytes must be at least 1024, got {self.max_body_bytes}")
        if self.auth_method == "preshared" and not self.api_keys:
            raise SettingsError(
                "auth_method 'preshared' needs at least one key in PERMSVC_API_KEYS"
            )
        if any(not key.strip() for key in self.api_keys):
            raise SettingsError("PERMSVC_API_KEYS contains an empty key")
        if self.public_url and (
            not self.public_url.startswith(("http://", "https://"))
            or any(c in self.public_url for c in "?#")
        ):
            raise SettingsError(
                f"public_url must be an http(s) URL without query or fragment, got {self.public_url!r}"
            )
        unknown = sorted(set(self.machine_token_rules) - set(MACHINE_TOKEN_RULES))
        if unknown:
            raise SettingsError(
                f"PERMSVC_MACHINE_TOKEN_RULES may name {', '.join(MACHINE_TOKEN_RULES)}, not {', '.join(unknown)}"
            )
        scopes = [
            self.admin_scope,
            self.write_scope,
            self.read_scope,
            self.check_scope,
            self.claims_scope,
        ]
        if any(not scope.strip() or " " in scope for scope in scopes) or len(set(scopes)) != len(
            scopes
        ):
            raise SettingsError(
                "the role scopes (PERMSVC_*_SCOPE) must be five distinct non-empty words"
            )
        if any(origin == "*" for origin in self.cors_origins):
            raise SettingsError(
                "PERMSVC_CORS_ORIGINS must list origins; '*' would let any web page call permsvc"
            )
        if self.open_recheck_s < 0:
            raise SettingsError("open_recheck_s must not be negative")
        if self.console_scope_roles and not self.console_client_id:
            raise SettingsError(
                "PERMSVC_CONSOLE_SCOPE_ROLES needs PERMSVC_CONSOLE_CLIENT_ID (the console's client)"
            )
        if self.console_client_id and self.console_client_id in self.machine_client_ids:
            raise SettingsError(
                "PERMSVC_CONSOLE_CLIENT_ID names a client of PERMSVC_MACHINE_CLIENT_IDS: the "
                "console's client logs people in, it is not a client-credentials application"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from ``PERMSVC_*`` variables; ``overrides`` (e.g. command-line options) win.

        Setting ``PERMSVC_API_KEYS`` without ``PERMSVC_AUTH_METHOD`` turns preshared-key
        authentication on: configuring keys that are then ignored would be a silent hole.
        """
        env = os.environ if environ is None else environ
        raw: dict[str, Any] = {}
        for name in _ENV_FIELDS:
            value = env.get(f"PERMSVC_{name.upper()}")
            if value is not None and value != "":
                raw[name] = value
        raw.update({k: v for k, v in overrides.items() if v is not None})
        if "api_keys" in raw and isinstance(raw["api_keys"], str):
            raw["api_keys"] = tuple(k.strip() for k in raw["api_keys"].split(",") if k.strip())
        if isinstance(raw.get("read_database_url"), str):
            raw["read_database_url"] = split_database_urls(raw["read_database_url"])
        for name in _LIST_FIELDS:
            if isinstance(raw.get(name), str):
                raw[name] = tuple(p.strip() for p in raw[name].split(",") if p.strip())
        if raw.get("api_keys") and "auth_method" not in raw:
            raw["auth_method"] = "preshared"
        try:
            oidc = OidcSettings.from_env(env)
        except PermsvcError as err:
            raise SettingsError(str(err)) from err
        if oidc is not None and "oidc" not in raw:
            raw["oidc"] = msgspec.to_builtins(oidc)
        try:
            return msgspec.convert(raw, cls, strict=False)
        except msgspec.ValidationError as err:
            field = (
                str(err).rpartition("$.")[2].split(".")[0].strip("`") if "$." in str(err) else ""
            )
            hint = f" (PERMSVC_{field.upper()})" if field else ""
            raise SettingsError(f"invalid setting{hint}: {err}") from err


_ENV_FIELDS = (
    "host",
    "port",
    "workers",
    "database_url",
    "listen_database_url",
    "read_database_url",
    "database_statement_cache_size",
    "data_dir",
    "migrate",
    "auth_method",
    "api_keys",
    "store",
    "max_body_bytes",
    "log_level",
    "access_log",
    "graceful_shutdown_s",
    "request_read_timeout_s",
    "index",
    "index_memory_budget",
    "index_snapshots",
    "write_priority",
    "public_url",
    "authzen_actions",
    "api_keys_store",
    "admin_scope",
    "write_scope",
    "read_scope",
    "check_scope",
    "claims_scope",
    "machine_token_rules",
    "machine_client_ids",
    "end_user_context",
    "console_client_id",
    "console_scopes",
    "console_scope_roles",
    "cors_origins",
    "insecure_no_auth",
    "open_recheck_s",
    "claims_spec",
)

_LIST_FIELDS = ("authzen_actions", "machine_token_rules", "machine_client_ids", "cors_origins")


_NEXT_URL = re.compile(r",\s*(?=postgres(?:ql)?://)")


def split_database_urls(value: str) -> tuple[str, ...]:
    """Comma-separated database URLs; a comma inside a URL (the hosts of a multi-host URL,
    ``postgresql://h1:5432,h2:5432/db``) does not split it: only one followed by a scheme does."""
    return tuple(u.strip() for u in _NEXT_URL.split(value) if u.strip())
