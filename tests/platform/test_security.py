"""Password hashing, JWTs and CSRF tokens."""

from __future__ import annotations

import time

import bcrypt
import jwt
import pytest
from argon2 import PasswordHasher
from hypothesis import given, settings
from hypothesis import strategies as st

from proveo.platform import security

KEY = security.derive_key("x" * 40, "jwt")


def test_argon2id_with_owasp_parameters() -> None:
    hashed = security.hash_password("correct horse")
    assert hashed.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert security.verify_password(hashed, "correct horse") == (True, False)
    assert security.verify_password(hashed, "wrong horse") == (False, False)


@settings(max_examples=15, deadline=None)
@given(st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=128))
def test_any_unicode_password_round_trips(password: str) -> None:
    hashed = security.hash_password(password)
    assert security.verify_password(hashed, password)[0]
    assert not security.verify_password(hashed, password + "x")[0]


def test_long_unicode_password_is_not_truncated() -> None:
    password = "ñ" * 40  # 80 UTF-8 bytes: past bcrypt's 72-byte limit
    hashed = security.hash_password(password)
    assert security.verify_password(hashed, password)[0]
    assert not security.verify_password(hashed, "ñ" * 39)[0]


def test_other_argon2_parameters_need_rehash() -> None:
    old = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("pw123456")
    assert security.verify_password(old, "pw123456") == (True, True)


def test_bcrypt_hashes_are_accepted_and_flagged_for_upgrade() -> None:
    legacy = bcrypt.hashpw(b"legacy-pass", bcrypt.gensalt(rounds=4)).decode()
    assert security.verify_password(legacy, "legacy-pass") == (True, True)
    assert security.verify_password(legacy, "other-pass") == (False, False)
    # Legacy systems hashed only the first 72 bytes.
    long_password = "a" * 80
    legacy_long = bcrypt.hashpw(b"a" * 72, bcrypt.gensalt(rounds=4)).decode()
    assert security.verify_password(legacy_long, long_password)[0]


@pytest.mark.parametrize("junk", ["", "plain", "$argon2id$garbage", "$2b$12$short"])
def test_malformed_hashes_never_match(junk: str) -> None:
    assert security.verify_password(junk, "whatever1") == (False, False)


def test_lone_surrogates_never_match() -> None:
    assert security.verify_password(security.DUMMY_HASH, "\ud800abcdefgh") == (
        False,
        False,
    )


def _claims(**extra: object) -> dict[str, object]:
    now = int(time.time())
    return {"sub": "u1", "iat": now, "exp": now + 60, "jti": "j1", **extra}


def test_token_round_trip() -> None:
    token = security.encode_token(_claims(role="user"), KEY)
    assert security.decode_token(token, KEY)["role"] == "user"


def test_token_signed_with_another_key_is_refused() -> None:
    token = security.encode_token(_claims(), security.derive_key("y" * 40, "jwt"))
    with pytest.raises(security.TokenError):
        security.decode_token(token, KEY)


def test_keys_differ_per_purpose() -> None:
    assert security.derive_key("s" * 40, "jwt") != security.derive_key("s" * 40, "csrf")


def test_expired_and_incomplete_tokens_are_refused() -> None:
    now = int(time.time())
    expired = security.encode_token(_claims(iat=now - 100, exp=now - 60), KEY)
    with pytest.raises(security.TokenError):
        security.decode_token(expired, KEY)
    no_jti = jwt.encode(
        {"sub": "u1", "iat": now, "exp": now + 60}, KEY, algorithm="HS256"
    )
    with pytest.raises(security.TokenError):
        security.decode_token(no_jti, KEY)


def test_unsigned_tokens_are_refused() -> None:
    unsigned = jwt.encode(_claims(), None, algorithm="none")
    with pytest.raises(security.TokenError):
        security.decode_token(unsigned, KEY)
    with pytest.raises(security.TokenError):
        security.decode_token("x" * 5000, KEY)


def test_csrf_token_is_bound_to_its_session() -> None:
    key = security.derive_key("s" * 40, "csrf")
    token = security.csrf_token(key, "session-a")
    assert security.check_csrf(key, "session-a", token)
    assert not security.check_csrf(key, "session-b", token)
    assert not security.check_csrf(key, "session-a", None)
    assert not security.check_csrf(key, "session-a", token + "x")
    assert not security.check_csrf(key, "session-a", "ñ")
