"""scrub: audit details never keep secrets, tokens or anything shaped like them."""

from __future__ import annotations

from typing import Any

import pytest

from permsvc.auth.keys import generate_api_key
from permsvc.commands.audit import REDACTED, scrub, tuples_detail

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(
            {"client_secret": "s3cr3t"}, {"client_secret": REDACTED}, id="secret_key_name"
        ),
        pytest.param(
            {"Authorization": "Bearer abc"}, {"Authorization": REDACTED}, id="authorization_header"
        ),
        pytest.param({"access_token": "abc"}, {"access_token": REDACTED}, id="token_key_name"),
        pytest.param({"password": "pw"}, {"password": REDACTED}, id="password"),
        pytest.param({"note": JWT}, {"note": REDACTED}, id="jwt_value"),
        pytest.param({"note": f"Bearer {JWT}"}, {"note": REDACTED}, id="bearer_value"),
        pytest.param(
            {"list": [{"deep": {"token": 1}}]},
            {"list": [{"deep": {"token": REDACTED}}]},
            id="nested",
        ),
        pytest.param(
            {
                "key_id": "abcdefghij",
                "authorization_model_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV",
                "user": "user:auth0|42",
            },
            {
                "key_id": "abcdefghij",
                "authorization_model_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV",
                "user": "user:auth0|42",
            },
            id="ordinary_values_kept",
        ),
    ],
)
def test_scrub(value: Any, expected: Any) -> None:
    assert scrub(value) == expected


def test_api_keys_are_redacted_wherever_they_appear() -> None:
    key = str(generate_api_key())
    assert scrub({"tuples": [{"user": f"user:{key}"}], "label": key}) == {
        "tuples": [{"user": REDACTED}],
        "label": REDACTED,
    }


def test_tuples_detail_lists_at_most_100() -> None:
    detail = tuples_detail([{"n": i} for i in range(150)])
    assert detail["count"] == 150 and len(detail["tuples"]) == 100 and detail["truncated"] is True
    assert tuples_detail([{"n": 1}], 5) == {"count": 5, "tuples": [{"n": 1}], "truncated": True}
