"""What the composition root builds once and every route group reads from ``app.state.deps``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from permsvc.api.ops import Metrics
    from permsvc.api.security import Security
    from permsvc.commands.models import ModelResolver
    from permsvc.engine.resolver import CheckResolver
    from permsvc.settings import Settings
    from permsvc.store.protocol import Datastore

__all__ = ("Deps",)


class Deps:
    """Long-lived, shared, stateless-per-request dependencies of the handlers.

    Route groups build their commands from these (once, in their own ``on_startup`` or lazily),
    never per request.
    """

    __slots__ = ("checker", "datastore", "metrics", "models", "security", "settings")

    def __init__(
        self,
        *,
        settings: Settings,
        datastore: Datastore,
        models: ModelResolver,
        checker: CheckResolver,
        security: Security,
        metrics: Metrics,
    ) -> None:
        self.settings = settings
        self.datastore = datastore
        self.models = models
        self.checker = checker
        self.security = security
        self.metrics = metrics
