"""read_claim: answers from the summary, and None whenever only the check API can tell."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from permsvc.claims.read import read_claim

CLAIM = "https://permsvc.example.com/perms"
SUMMARY = {
    "v": 1,
    "rev": 10,
    "p": {"project#viewer": ["a", "b"], "organization#admin": []},
    "o": True,
    "d": ["project#editor"],
}


def _view(value: Any = SUMMARY, **kwargs: Any) -> Any:
    return read_claim({"sub": "auth0|1", CLAIM: value}, claim_name=CLAIM, **kwargs)


def test_answers_from_summary() -> None:
    view = _view()
    assert view.usable and not view.stale and view.overflow and not view.complete
    assert (view.version, view.revision, view.dropped) == (1, 10, frozenset({"project#editor"}))
    assert view.has("viewer", "project:a") is True
    assert view.has("viewer", "project:z") is False
    assert view.has("admin", "organization:acme") is False
    assert view.has("editor", "project:a") is None  # dropped for the budget
    assert view.has("owner", "project:a") is None  # never summarised
    assert view.has("viewer", "not-an-object") is None
    assert view.objects("project", "viewer") == frozenset({"a", "b"})
    assert view.objects("project", "editor") is None


def test_complete_summary() -> None:
    view = _view({**SUMMARY, "o": False, "d": []})
    assert view.complete


@pytest.mark.parametrize(
    ("min_revision", "stale"),
    [
        pytest.param(9, False, id="newer"),
        pytest.param(10, False, id="equal"),
        pytest.param(11, True, id="older"),
    ],
)
def test_min_revision(min_revision: int, stale: bool) -> None:
    view = _view(min_revision=min_revision)
    assert view.stale is stale
    assert view.has("viewer", "project:a") is (None if stale else True)
    assert ("older than the required 11" in view.reason) is stale


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        pytest.param(None, "has no", id="absent"),
        pytest.param("x", "not an object", id="string"),
        pytest.param({**SUMMARY, "v": 2}, "version 2 is not supported", id="future_version"),
        pytest.param({**SUMMARY, "v": True}, "integer format version", id="bool_version"),
        pytest.param({**SUMMARY, "rev": "10"}, "no revision", id="string_revision"),
        pytest.param({**SUMMARY, "rev": -1}, "no revision", id="negative_revision"),
        pytest.param({**SUMMARY, "p": []}, "malformed", id="entries_list"),
        pytest.param({**SUMMARY, "o": 1}, "malformed", id="overflow_int"),
        pytest.param({**SUMMARY, "d": "x"}, "malformed", id="dropped_string"),
        pytest.param({**SUMMARY, "p": {"viewer": ["a"]}}, "entry 'viewer'", id="key_without_type"),
        pytest.param(
            {**SUMMARY, "p": {"project#viewer": [1]}}, "entry 'project#viewer'", id="non_string_id"
        ),
    ],
)
def test_unusable_claims_answer_none(value: Any, reason: str) -> None:
    payload = {} if value is None else {CLAIM: value}
    view = read_claim(payload, claim_name=CLAIM)
    assert not view.usable and reason in view.reason
    assert view.has("viewer", "project:a") is None
    assert not view.complete


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@given(
    st.one_of(
        _json,
        st.fixed_dictionaries(
            {
                "v": _json | st.just(1),
                "rev": _json | st.integers(0, 99),
                "p": _json,
                "o": _json | st.booleans(),
            },
            optional={"d": _json},
        ),
    )
)
def test_never_raises_and_unusable_means_unknown(value: Any) -> None:
    view = read_claim({CLAIM: value}, claim_name=CLAIM, min_revision=5)
    answer = view.has("viewer", "project:a")
    assert answer in (True, False, None)
    if not view.usable or view.stale:
        assert answer is None
