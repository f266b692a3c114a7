"""FastAPI guards: the Starlette ones (FastAPI's dependencies take a Starlette ``Request``).

``Depends(permsvc.require("can_read", "document:{doc_id}"))`` -- see :mod:`permsvc_client.starlette`.
"""

from __future__ import annotations

from permsvc_client.starlette import Decision, Guards

__all__ = ("Decision", "Guards")
