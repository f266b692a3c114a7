"""Summary encoding: canonical bytes, the budget, and which entries are dropped first."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from permsvc.claims.read import read_claim
from permsvc.claims.spec import ClaimVariant
from permsvc.claims.summarize import breadth_levels, encode_summary
from permsvc.model.compile import parse_dsl
from permsvc.model.typesystem import TypeSystem
from tests.conftest import REPO_ROOT

CLAIM = "https://permsvc.example.com/perms"
TS = TypeSystem.new(parse_dsl((REPO_ROOT / "schema" / "claims.fga").read_text()))
KEYS = ("organization#admin", "project#owner", "project#editor", "project#viewer")


def _variant(budget: int = 2048, keys: tuple[str, ...] = KEYS) -> ClaimVariant:
    return ClaimVariant(claim=CLAIM, relations=keys, budget_bytes=budget)


def test_breadth_levels_follow_structural_inclusion() -> None:
    # viewer: ... or editor; editor: ... or owner -> viewer includes editor and owner
    assert breadth_levels(TS, KEYS) == {
        "organization#admin": 0,
        "project#owner": 0,
        "project#editor": 1,
        "project#viewer": 2,
    }
    # inclusion only counts relations that are summarised too
    assert breadth_levels(TS, ("project#viewer",)) == {"project#viewer": 0}
    # organization#member includes admin, across the same type only
    assert (
        breadth_levels(TS, ("organization#member", "organization#admin", "project#owner"))[
            "organization#member"
        ]
        == 1
    )


def test_encoding_is_canonical_and_compact() -> None:
    objects = {
        "organization#admin": ["acme"],
        "project#owner": [],
        "project#editor": ["b", "a"],
        "project#viewer": ["c", "a", "b", "a"],
    }
    summary = encode_summary(_variant(), 7, objects, breadth_levels(TS, KEYS))
    assert summary.value == (
        b'{"o":false,"p":{"organization#admin":["acme"],"project#editor":["a","b"],'
        b'"project#owner":[],"project#viewer":["a","b","c"]},"rev":7,"v":1}'
    )
    assert (summary.claim, summary.revision, summary.truncated, summary.dropped) == (
        CLAIM,
        7,
        False,
        (),
    )


@given(
    st.dictionaries(
        st.sampled_from(KEYS),
        st.lists(
            st.text(alphabet="abcdefghij0123456789-_|é", min_size=1, max_size=24), max_size=60
        ),
    ),
    st.integers(min_value=0, max_value=2**40),
    st.sampled_from([256, 512, 1024, 2048]),
    st.randoms(use_true_random=False),
)
def test_budget_and_determinism(
    raw: dict[str, list[str]], revision: int, budget: int, rnd: object
) -> None:
    objects = {key: raw.get(key, []) for key in KEYS}
    shuffled = {key: sorted(ids, key=lambda _: rnd.random()) for key, ids in objects.items()}  # type: ignore[attr-defined]
    levels = breadth_levels(TS, KEYS)
    first = encode_summary(_variant(budget), revision, objects, levels)
    second = encode_summary(_variant(budget), revision, dict(reversed(shuffled.items())), levels)
    assert first.value == second.value
    assert len(first.value) <= budget
    doc = json.loads(first.value)
    assert set(doc["p"]) | set(doc.get("d", [])) == set(KEYS)
    assert doc["o"] is first.truncated is bool(doc.get("d"))
    for key, ids in doc["p"].items():
        assert ids == sorted(set(objects[key]))
    view = read_claim({CLAIM: doc}, claim_name=CLAIM)
    for key in KEYS:
        object_type, relation = key.split("#")
        for object_id in objects[key]:
            assert view.has(relation, f"{object_type}:{object_id}") is (
                None if key in doc.get("d", []) else True
            )


def test_least_specific_entries_are_dropped_first() -> None:
    objects = {
        "organization#admin": ["acme"],
        "project#owner": ["p1"],
        "project#editor": ["p1", "p2"],
        "project#viewer": [f"p{i}" for i in range(40)],
    }
    summary = encode_summary(_variant(300), 3, objects, breadth_levels(TS, KEYS))
    assert summary.truncated and summary.dropped == ("project#viewer",)
    assert json.loads(summary.value)["d"] == ["project#viewer"]


def test_broader_relation_dropped_before_longer_specific_list() -> None:
    objects = {
        "organization#admin": [],
        "project#owner": [f"owned-{i:02d}" for i in range(12)],
        "project#editor": [],
        "project#viewer": [f"v{i:02d}" for i in range(12)],
    }
    summary = encode_summary(_variant(300), 3, objects, breadth_levels(TS, KEYS))
    assert summary.dropped == ("project#viewer",)


def test_more_objects_dropped_first_among_equals_then_spec_order() -> None:
    keys = ("organization#admin", "project#owner")
    levels = breadth_levels(TS, keys)
    big = {
        "organization#admin": [f"org-{i:03d}" for i in range(20)],
        "project#owner": [f"p{i}" for i in range(5)],
    }
    assert encode_summary(_variant(200, keys), 1, big, levels).dropped == ("organization#admin",)
    same = {
        "organization#admin": [f"o{i:03d}" for i in range(20)],
        "project#owner": [f"p{i:03d}" for i in range(20)],
    }
    assert encode_summary(_variant(300, keys), 1, same, levels).dropped == ("project#owner",)


def test_entry_too_long_to_list_is_dropped_and_others_kept() -> None:
    objects = {
        "organization#admin": ["acme"],
        "project#owner": None,
        "project#editor": ["x"],
        "project#viewer": ["x"],
    }
    summary = encode_summary(_variant(), 5, objects, breadth_levels(TS, KEYS))
    assert summary.dropped == ("project#owner",)
    assert set(json.loads(summary.value)["p"]) == {
        "organization#admin",
        "project#editor",
        "project#viewer",
    }


def test_nothing_fits_still_encodes_overflow_within_budget() -> None:
    objects = {key: [f"object-{i:04d}" for i in range(50)] for key in KEYS}
    summary = encode_summary(_variant(160), 2**63 - 1, objects, breadth_levels(TS, KEYS))
    assert len(summary.value) <= 160
    assert json.loads(summary.value) == {
        "v": 1,
        "rev": 2**63 - 1,
        "p": {},
        "o": True,
        "d": sorted(KEYS),
    }


@pytest.mark.parametrize(
    "object_id",
    [pytest.param("ünï" * 20, id="non_ascii"), pytest.param('q"uote' * 12, id="escaped_quote")],
)
def test_budget_counts_encoded_bytes_not_characters(object_id: str) -> None:
    keys = ("project#owner",)
    objects = {"project#owner": [object_id]}
    assert len(object_id) + 47 <= 128  # would fit if characters were counted
    summary = encode_summary(_variant(128, keys), 1, objects, {})
    assert len(summary.value) <= 128 and summary.dropped == ("project#owner",)
