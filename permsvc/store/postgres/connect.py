"""Connection options every permsvc connection to PostgreSQL shares (the pool, the index's
listener, ``permsvc migrate``)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

__all__ = ("connect_options",)


def connect_options(url: str, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """asyncpg keyword arguments that ``url`` does not set itself.

    A URL naming several hosts is a failover list: unless the URL (or ``PGTARGETSESSIONATTRS``)
    says otherwise, connect only to the one that accepts writes (``target_session_attrs=
    read-write``), never to a standby, which would fail every write, and which cannot LISTEN.
    """
    env = os.environ if environ is None else environ
    parts = urlsplit(url)
    hosts = parts.netloc.rpartition("@")[2]
    query = {k.lower() for k, _ in parse_qsl(parts.query)}
    if "," in hosts and "target_session_attrs" not in query and not env.get("PGTARGETSESSIONATTRS"):
        return {"target_session_attrs": "read-write"}
    return {}
