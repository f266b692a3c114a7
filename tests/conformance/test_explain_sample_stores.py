"""Explanations over the store test files of the repository (``*.fga.yaml``: the samples under
``tests/fixtures/``, ``schema/``, and any other), checked like the conformance suites' by
``tests/conformance/explain_verify.py``: every witness re-verified step by step against the store
and the model, every denial against Check.

Each test of each file is loaded into a fresh store of the backend (its model, the file's and the
test's tuples) and explained:

- every check assertion (the decision must also be the one the file expects, except in the
  deliberately wrong files of ``store_tests_failing/``);
- the checks a list assertion implies: each object of the type that a tuple names, for each
  ``list_objects`` assertion (allowed exactly for the listed objects), and each user of the
  filter's type that a tuple names, for each ``list_users`` assertion (allowed exactly for the
  listed ones).

The session summary prints the counts per backend (``samples``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from permsvc.cli import model_test
from permsvc.cli.model_test import StoreFile, load_store_file
from permsvc.core.refs import TupleKey
from permsvc.model.tuple_validation import validate_tuple
from permsvc.model.typesystem import TypeSystem
from tests.conformance.explain_verify import verify_request
from tests.conformance.summary import EXPLAIN_COUNTS

pytestmark = pytest.mark.backends("memory", "sqlite", "postgres", "indexed")

ROOT = Path(__file__).resolve().parents[2]
SKIP_DIRS = {".git", ".venv", "node_modules", "site", "build", "dist"}


def _sample_files() -> list[Path]:
    return sorted(
        p
        for p in ROOT.rglob("*.fga.yaml")
        if not SKIP_DIRS.intersection(p.relative_to(ROOT).parts)
        and not any(part.startswith(".") for part in p.relative_to(ROOT).parts)
    )


SAMPLES = _sample_files()


def test_the_samples_are_found() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in SAMPLES}
    assert {
        "schema/example.fga.yaml",
        "tests/fixtures/store_tests/abac/abac.fga.yaml",
        "tests/fixtures/store_tests/drive/drive.fga.yaml",
        "tests/fixtures/store_tests/modular/modular.fga.yaml",
    } <= names, names


def _listed(entry: dict[str, Any], one: str, many: str) -> list[str]:
    if entry.get(many):
        return [str(v) for v in entry[many]]
    return [str(entry.get(one, ""))]


def _requests(
    sample: StoreFile, test: model_test.TestCase
) -> list[tuple[TupleKey, Any, bool | None]]:
    """``(tuple key, context, expected decision or None)`` of every check to explain."""
    tuples = [*sample.tuples, *test.tuples]
    out: list[tuple[TupleKey, Any, bool | None]] = []
    for entry in test.check:
        context = entry.get("context") or None
        for user in _listed(entry, "user", "users"):
            for obj in _listed(entry, "object", "objects"):
                for relation, expected in (entry.get("assertions") or {}).items():
                    key = TupleKey(object=obj, relation=relation, user=user)
                    out.append((key, context, bool(expected)))
    for entry in test.list_objects:
        context = entry.get("context") or None
        otype = str(entry.get("type", ""))
        objects = sorted({k.object for k in tuples if k.object.partition(":")[0] == otype})
        for relation, expected in (entry.get("assertions") or {}).items():
            listed = {str(o) for o in expected or ()}
            for obj in sorted(listed.union(objects)):
                key = TupleKey(object=obj, relation=relation, user=str(entry.get("user", "")))
                out.append((key, context, obj in listed))
    for entry in test.list_users:
        context = entry.get("context") or None
        types = {
            str(f.get("type", "")) for f in entry.get("user_filter") or () if not f.get("relation")
        }
        named = {
            k.user
            for k in tuples
            if k.user.partition(":")[0] in types and "#" not in k.user and not k.user.endswith(":*")
        }
        for relation, expected in (entry.get("assertions") or {}).items():
            listed = {str(u) for u in (expected or {}).get("users") or ()}
            wildcard = any(u.endswith(":*") for u in listed)
            for user in sorted(named.union(u for u in listed if "#" not in u and "*" not in u)):
                key = TupleKey(object=str(entry.get("object", "")), relation=relation, user=user)
                # A listed wildcard grants every user of its type: no expectation per user then.
                out.append((key, context, None if wildcard else user in listed))
    return out


def _cases() -> list[Any]:
    return [
        pytest.param(path, i, id=f"{path.relative_to(ROOT).as_posix()}-{test.name}")
        for path in SAMPLES
        for i, test in enumerate(load_store_file(path).tests)
    ]


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("path", "index"), _cases())
async def test_explanations_of_the_sample_stores(
    datastore: Any, backend_name: str, path: Path, index: int
) -> None:
    sample = load_store_file(path)
    test = sample.tests[index]
    counts = EXPLAIN_COUNTS["samples", backend_name]
    store = await datastore.create_store(sample.name or test.name)
    stored = await datastore.write_model(store.id, sample.model)
    ts = TypeSystem.new(stored.model)
    tuples = [*sample.tuples, *test.tuples]
    for key in tuples:
        validate_tuple(ts, key)
    # A few tuples per write: the tuples of a witness were written at different revisions.
    for i in range(0, len(tuples), 3):
        await datastore.write(store.id, writes=tuples[i : i + 3])
    wrong_on_purpose = "store_tests_failing" in path.parts
    requests = _requests(sample, test)
    assert requests, f"{path}: {test.name} asks nothing"
    for key, context, expected in requests:
        got = await verify_request(datastore, counts, store.id, ts, key, (), context)
        if expected is not None and not wrong_on_purpose:
            assert got == ("allowed" if expected else "denied"), (
                f"{path.name} '{test.name}': {key} with {context}: explained {got}, "
                f"the file expects {expected}"
            )
