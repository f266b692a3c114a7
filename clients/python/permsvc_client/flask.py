"""Flask guards (``pip install 'permsvc-client[flask]'``)::

    permsvc = Guards(Permsvc.from_env())

    @app.get("/documents/<doc_id>")
    @permsvc.require("can_read", "document:{doc_id}")
    def read(doc_id):
        ...

The object template is filled from the view's arguments (``request.view_args``), or pass a
callable taking ``flask.request``. The decision is in ``flask.g.permsvc`` (with the
``subject_token`` to reuse). Several checks in one ``require`` go to permsvc as one batch. 403
when denied, 401 for a missing or refused token (permsvc's diagnosis in the JSON ``message`` and
``WWW-Authenticate``), 503 with ``Retry-After`` when permsvc cannot decide.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from flask import Response, abort, g, jsonify, request

from permsvc_client import _guard as guard
from permsvc_client._guard import Decision, ObjectSpec
from permsvc_client.client import Permsvc
from permsvc_client.errors import PermsvcError

__all__ = ("Decision", "Guards")

F = TypeVar("F", bound=Callable[..., Any])


class Guards(guard.GuardsBase[Permsvc, Callable[[], "Mapping[str, Any] | None"]]):
    """Guards of one Flask app around one sync :class:`~permsvc_client.Permsvc`."""

    def abort(self, exc: Exception) -> None:
        f = guard.failure(exc, self.realm)
        response: Response = jsonify(f.body())
        response.status_code = f.status
        response.headers.update(f.headers)
        abort(response)

    def enforce(self, relation: str, object: ObjectSpec, *more: tuple[str, ObjectSpec]) -> Decision:
        """Decide now, inside a view; aborts with 401/403/503 unless every check is allowed."""
        return self._enforce(guard.requirements(relation, object, more))

    def _enforce(self, reqs: list[guard.Requirement]) -> Decision:
        try:
            token = guard.bearer_token(request.headers.get("Authorization"))
            claims = self.token_claims() if self.token_claims else None
            decision = guard.decide_sync(
                self.client, reqs, request, request.view_args or {}, token, claims, self.claim_name
            )
        except PermsvcError as exc:
            self.abort(exc)
            raise  # abort() always raises
        g.permsvc = decision
        return decision

    def require(
        self, relation: str, object: ObjectSpec, *more: tuple[str, ObjectSpec]
    ) -> Callable[[F], F]:
        """Decorator: ``@permsvc.require("can_read", "document:{doc_id}")`` under ``@app.get``."""
        reqs = guard.requirements(relation, object, more)

        def decorate(view: F) -> F:
            @functools.wraps(view)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                self._enforce(reqs)
                return view(*args, **kwargs)

            return wrapper  # type: ignore[return-value]

        return decorate

    def token(self) -> str:
        """The current request's bearer token (aborts with 401 without one)."""
        try:
            return guard.bearer_token(request.headers.get("Authorization"))
        except PermsvcError as exc:
            self.abort(exc)
            raise
