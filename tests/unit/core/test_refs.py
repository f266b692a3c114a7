from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from permsvc.core.refs import InvalidRefError, TupleKey, parse_object, parse_subject, parse_tuple
from permsvc.core.revision import InvalidConsistencyTokenError, decode_token, encode_token


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "document:readme#viewer@user:auth0|42",
            ("document:readme", "viewer", "user:auth0|42"),
            id="auth0_subject",
        ),
        pytest.param(
            "document:1#viewer@group:eng#member",
            ("document:1", "viewer", "group:eng#member"),
            id="userset",
        ),
        pytest.param("document:1#viewer@user:*", ("document:1", "viewer", "user:*"), id="wildcard"),
        pytest.param(
            "doc:a@b#viewer@user:alice@example.com",
            ("doc:a@b", "viewer", "user:alice@example.com"),
            id="at_signs",
        ),
    ],
)
def test_parse_tuple(text: str, expected: tuple[str, str, str]) -> None:
    key = parse_tuple(text)
    assert key.key == expected
    assert str(key) == text


@pytest.mark.parametrize(
    "text", ["", "document", "document:", ":1", "doc:1#viewer", "doc:1@user:x", "doc:1#viewer@user"]
)
def test_parse_tuple_rejects(text: str) -> None:
    with pytest.raises(InvalidRefError):
        parse_tuple(text)


def test_subjects() -> None:
    assert parse_subject("user:*").is_wildcard
    assert parse_subject("group:eng#member").relation == "member"
    assert parse_subject("user:google-oauth2|1234").id == "google-oauth2|1234"
    with pytest.raises(InvalidRefError):
        parse_subject("user:*#member")
    with pytest.raises(InvalidRefError):
        parse_object("document:1#viewer")


_ids = st.text(
    st.characters(blacklist_characters="#\x00", min_codepoint=32), min_size=1, max_size=20
)
_names = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)


@given(_names, _ids, _names, _names, _ids)
def test_tuple_round_trip(otype: str, oid: str, rel: str, utype: str, uid: str) -> None:
    key = TupleKey(object=f"{otype}:{oid}", relation=rel, user=f"{utype}:{uid}")
    assert parse_tuple(str(key)).key == key.key


def test_consistency_token_round_trip() -> None:
    token = encode_token("01HZY0000000000000000000AB", 42)
    decoded = decode_token(token, store_id="01HZY0000000000000000000AB")
    assert decoded.revision == 42
    with pytest.raises(InvalidConsistencyTokenError):
        decode_token(token, store_id="01HZY0000000000000000000XX")
    with pytest.raises(InvalidConsistencyTokenError):
        decode_token("garbage")
