"""API keys: format, hashing, constant-time verification."""

from __future__ import annotations

import pytest

from permsvc.auth.errors import InvalidApiKeyError
from permsvc.auth.keys import generate_api_key, hash_api_key, parse_api_key, verify_api_key


def test_generated_key_round_trips_and_hides_its_secret() -> None:
    key = generate_api_key()
    text = str(key)
    assert text.startswith("psk_") and len(text.split("_")) == 3
    assert parse_api_key(text) == key
    assert key.secret not in repr(key)
    assert generate_api_key() != key


@pytest.mark.parametrize("scheme", ["sha256", "scrypt"])
def test_hash_verifies_only_the_right_key(scheme: str) -> None:
    key, other = generate_api_key(), generate_api_key()
    stored = hash_api_key(key, scheme=scheme)
    assert key.secret not in stored
    assert verify_api_key(key, stored)
    assert not verify_api_key(other, stored)


def test_scrypt_hashes_are_salted() -> None:
    key = generate_api_key()
    assert hash_api_key(key, scheme="scrypt") != hash_api_key(key, scheme="scrypt")


@pytest.mark.parametrize(
    "stored",
    [
        pytest.param("", id="empty"),
        pytest.param("md5$abc", id="unknown_scheme"),
        pytest.param("sha256$", id="sha256_without_digest"),
        pytest.param("scrypt$zz$00", id="scrypt_bad_salt"),
        pytest.param("scrypt$$", id="scrypt_empty"),
    ],
)
def test_malformed_stored_hash_never_matches(stored: str) -> None:
    assert not verify_api_key(generate_api_key(), stored)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("", id="empty"),
        pytest.param("psk_abc", id="two_parts"),
        pytest.param("sk_aaaaaaaaaa_" + "a" * 32, id="wrong_prefix"),
        pytest.param("psk_aaaaaaaaaa_" + "a" * 31, id="short_secret"),
        pytest.param("psk_AAAAAAAAAA_" + "a" * 32, id="upper_case"),
    ],
)
def test_parse_rejects_non_keys_without_echoing_them(value: str) -> None:
    with pytest.raises(InvalidApiKeyError) as caught:
        parse_api_key(value)
    assert (value not in str(caught.value)) or not value


def test_unknown_hash_scheme_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown API key hash scheme"):
        hash_api_key(generate_api_key(), scheme="md5")
