"""Generated request ids and the worker header: unique, per process, renewed in a forked child."""

from __future__ import annotations

import multiprocessing
import os
import re
from typing import Any

from litestar.testing import AsyncTestClient

from permsvc.api import ops

_HEX_ID = re.compile(r"^[0-9a-f]{32}$")


async def test_generated_ids_are_distinct_and_the_worker_is_this_process(
    client: AsyncTestClient[Any],
) -> None:
    responses = [await client.get("/healthz") for _ in range(50)]
    ids = [r.headers["x-request-id"] for r in responses]
    assert len(set(ids)) == len(ids) and all(_HEX_ID.match(i) for i in ids)
    assert {r.headers["x-permsvc-worker"] for r in responses} == {str(os.getpid())}


def _report(conn: Any) -> None:
    conn.send((ops._Process.request_ids.next(), ops._Process.worker_header))
    conn.close()


def test_a_forked_child_gets_its_own_prefix_and_worker_header() -> None:
    parent_id = ops._Process.request_ids.next()
    receiver, sender = multiprocessing.get_context("fork").Pipe(duplex=False)
    child = multiprocessing.get_context("fork").Process(target=_report, args=(sender,))
    child.start()
    child_id, child_header = receiver.recv()
    child.join(10)
    assert child_header == (b"x-permsvc-worker", str(child.pid).encode())
    assert _HEX_ID.match(child_id) and child_id[:16] != parent_id[:16]
    assert ops._Process.worker_header == (b"x-permsvc-worker", str(os.getpid()).encode())


def test_the_counter_wraps_within_32_digits() -> None:
    ids = ops._RequestIds()
    ids._counter = iter([2**64 + 5])  # type: ignore[assignment]
    assert ids.next()[16:] == f"{5:016x}"
