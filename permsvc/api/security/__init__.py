"""The security layer every surface goes through: one authenticator, one permission table.

- :mod:`~permsvc.api.security.table`: which role each route needs and where its store comes from;
- :mod:`~permsvc.api.security.authenticator`: ``Authorization`` -> :class:`Principal`;
- :mod:`~permsvc.api.security.door`: the front door applying both to every request;
- :mod:`~permsvc.api.security.subjects`: who a /v1 check asks about (end users vs services).

See ``docs/security.md`` for the threat model and the role table in prose.
"""

from permsvc.api.security.authenticator import ANONYMOUS, Security
from permsvc.api.security.door import (
    admit,
    audit_log_of,
    front_door,
    key_store_of,
    principal_of,
    recorder_of,
    request_id,
    resolve_store,
    store_allowed,
)
from permsvc.api.security.principal import Principal
from permsvc.api.security.table import ROUTE_RULES, Rule, rules_for_routes

__all__ = (
    "ANONYMOUS",
    "ROUTE_RULES",
    "Principal",
    "Rule",
    "Security",
    "admit",
    "audit_log_of",
    "front_door",
    "key_store_of",
    "principal_of",
    "recorder_of",
    "request_id",
    "resolve_store",
    "rules_for_routes",
    "store_allowed",
)
