"""What the composition root builds once and every route group reads from ``app.state.deps``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable

    from permsvc.api.ops import Metrics
    from permsvc.api.security import Security
    from permsvc.commands.models import ModelResolver
    from permsvc.engine.resolver import CheckResolver
    from permsvc.settings import Settings
    from permsvc.store.protocol import Datastore

__all__ = ("Deps", "group_services")

S = TypeVar("S")


@dataclass(kw_only=True, slots=True)
class Deps:
    """Long-lived, shared, stateless-per-request dependencies of the handlers.

    Route groups build their commands from these (once, in their own ``on_startup`` or lazily),
    never per request.
    """

    settings: Settings
    datastore: Datastore
    models: ModelResolver
    checker: CheckResolver
    security: Security
    metrics: Metrics


def group_services(state: Any, key: str, build: Callable[[Deps], S]) -> S:
    """A route group's commands for an app's ``state``, built from its :class:`Deps` on first use
    and kept under ``key``."""
    services: S | None = state.get(key)
    if services is None:
        services = state[key] = build(state.deps)
    return services
