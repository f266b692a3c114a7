"""A separate writer process for the concurrency and crash tests (run as a script, not collected).

    python tests/store/writer_process.py URL STORE_ID PREFIX WRITES BATCH

Opens the datastore ``URL`` (``postgresql://`` or ``sqlite:///``) and performs ``WRITES`` writes
of ``BATCH`` tuples each (``doc:<PREFIX>-<i>-<j>#viewer@user:<j>``), printing ``ack <revision> <i>``
on stdout, flushed, after each acknowledged write. ``WRITES`` = 0 writes until killed.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from permsvc.core.refs import TupleKey
from permsvc.store.factory import open_datastore


async def main(url: str, store_id: str, prefix: str, writes: int, batch: int) -> None:
    datastore = await open_datastore(url, data_dir=Path("."), migrate=False)
    try:
        i = 0
        while writes == 0 or i < writes:
            keys = [
                TupleKey(object=f"doc:{prefix}-{i}-{j}", relation="viewer", user=f"user:{j}")
                for j in range(batch)
            ]
            result = await datastore.write(store_id, writes=keys)
            print(f"ack {result.revision} {i}", flush=True)
            i += 1
    finally:
        await datastore.aclose()


if __name__ == "__main__":
    url_arg, store_arg, prefix_arg, writes_arg, batch_arg = sys.argv[1:6]
    asyncio.run(main(url_arg, store_arg, prefix_arg, int(writes_arg), int(batch_arg)))
