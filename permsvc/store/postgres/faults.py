"""Which asyncpg exceptions are database faults (503 + ``Retry-After``), registered on import.

By SQLSTATE class, as asyncpg's exception hierarchy mirrors them: 08 connection exception (refused,
lost, failed), 53 insufficient resources (too many connections, disk full, out of memory), 57
operator intervention (admin shutdown, crash shutdown, cannot connect now, statement timeout /
cancel), 58 system error (I/O), XX internal error. Client side: ``InterfaceError`` (connection
closed, pool closing or closed) and ``InternalClientError`` (protocol errors). A lost socket
surfaces as ``OSError``/``ConnectionError``/``TimeoutError``, registered generically.
"""

from __future__ import annotations

import asyncpg
from asyncpg import exceptions as pg

from permsvc.store.errors import DatabaseFault

__all__ = ("POSTGRES_FAULTS",)

POSTGRES_FAULTS: tuple[type[BaseException], ...] = (
    pg.PostgresConnectionError,
    pg.InsufficientResourcesError,
    pg.OperatorInterventionError,
    pg.PostgresSystemError,
    pg.InternalServerError,
    asyncpg.InterfaceError,
    pg.InternalClientError,
)

for _fault in POSTGRES_FAULTS:
    DatabaseFault.register(_fault)
