"""The collector policy of a serving process: the heap built at start-up is frozen, and so are
the survivors of a later slow full collection."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from permsvc.api.app import create_app
from permsvc.api.heap import RefreezeSlowCollections, freeze_survivors
from tests.api.conftest import make_settings


@pytest.fixture(autouse=True)
def _unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()
    assert not any(isinstance(cb, RefreezeSlowCollections) for cb in gc.callbacks)


def test_freeze_survivors_takes_the_live_heap_out_of_collections() -> None:
    survivor = [{"k": i} for i in range(1000)]
    freeze_survivors()
    assert gc.get_freeze_count() >= len(survivor)
    assert not any(obj is survivor for obj in gc.get_objects())  # no generation holds it any more


@pytest.mark.parametrize(
    ("threshold_s", "refreezes"),
    [
        pytest.param(0.0, 1, id="slow_collection_refreezes"),
        pytest.param(3600.0, 0, id="fast_collection_does_not"),
    ],
)
def test_refreeze_after_a_slow_full_collection(threshold_s: float, refreezes: int) -> None:
    refreeze = RefreezeSlowCollections(threshold_s=threshold_s)
    refreeze.install()
    refreeze.install()  # idempotent
    try:
        survivor = [[i] for i in range(1000)]
        gc.collect(0)  # a young collection never freezes
        assert refreeze.refreezes == 0
        gc.collect()
        assert refreeze.refreezes == refreezes
        assert (gc.get_freeze_count() >= len(survivor)) is bool(refreezes)
    finally:
        refreeze.uninstall()
        refreeze.uninstall()
    assert refreeze not in gc.callbacks


async def test_served_app_freezes_the_heap_while_it_runs() -> None:
    async with AsyncTestClient(create_app(make_settings(), freeze_heap=True)) as client:
        assert gc.get_freeze_count() > 0
        assert sum(isinstance(cb, RefreezeSlowCollections) for cb in gc.callbacks) == 1
        assert (await client.get("/healthz")).status_code == 200
    assert gc.get_freeze_count() == 0


async def test_apps_do_not_freeze_by_default() -> None:
    async with AsyncTestClient(create_app(make_settings())) as client:
        assert (await client.get("/healthz")).status_code == 200
        assert gc.get_freeze_count() == 0


def test_the_server_factory_freezes(monkeypatch: pytest.MonkeyPatch) -> None:
    from permsvc.api import app as app_module

    seen: dict[str, Any] = {}
    monkeypatch.setattr(app_module, "create_app", lambda settings, **kw: seen.update(kw))
    monkeypatch.setenv("PERMSVC_DATABASE_URL", "memory:")
    app_module.asgi_app_from_env()
    assert seen["freeze_heap"] is True
