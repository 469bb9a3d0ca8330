"""Every accounts schema: valid input round-trips, invalid input is a 422 naming
the field, and no input makes the server fail."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from proveo.accounts import schemas
from tests.accounts.helpers import API, fresh_email, fresh_ip

names = st.text(
    st.characters(exclude_categories=["Cs", "Cc"]), min_size=1, max_size=100
)
passwords = st.text(st.characters(exclude_categories=["Cs"]), min_size=8, max_size=128)
langs = st.sampled_from(["es", "en"])
junk = st.one_of(
    st.none(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),  # JSON has neither
    st.booleans(),
    st.text(max_size=300),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


@given(names.filter(lambda n: n.strip()), passwords, langs)
def test_signup_round_trip(name: str, password: str, lang: str) -> None:
    email = fresh_email("Round")
    loaded = schemas.SignupIn().load(
        {"name": name, "email": email, "password": password, "lang": lang}
    )
    assert loaded["password"] == password
    assert loaded["email"] == email.lower()
    assert loaded["lang"] == lang
    assert 1 <= len(loaded["name"]) <= 100


def test_password_of_73_plus_bytes_is_accepted() -> None:
    password = "contraseña😀" * 8  # 8 x 15 bytes, 96 characters
    loaded = schemas.SignupIn().load(
        {"name": "x", "email": "a@b.co", "password": password}
    )
    assert loaded["password"] == password and loaded["lang"] == "es"


@given(st.dictionaries(st.sampled_from(["name", "email", "password", "lang"]), junk))
def test_signup_rejects_junk_by_field(data: dict[str, Any]) -> None:
    try:
        schemas.SignupIn().load(data)
    except ValidationError as exc:
        assert set(exc.messages) <= {"name", "email", "password", "lang"}
        assert exc.messages


@pytest.mark.parametrize(
    ("schema", "data", "field"),
    [
        (schemas.LoginIn, {"email": "a@b.co"}, "password"),
        (schemas.LoginIn, {"email": "nope", "password": "x"}, "email"),
        (schemas.ResetRequestIn, {"email": "a@b.co", "lang": "fr"}, "lang"),
        (schemas.ResetConfirmIn, {"token": "t", "password": "1234567"}, "password"),
        (schemas.ResetConfirmIn, {"password": "12345678"}, "token"),
        (schemas.UserPatchIn, {"role": "root"}, "role"),
        (schemas.UserPatchIn, {"email_verified": "yes"}, "email_verified"),
        (schemas.PageQuery, {"limit": "0"}, "limit"),
        (schemas.PageQuery, {"limit": "501"}, "limit"),
        (schemas.PageQuery, {"offset": "-1"}, "offset"),
        (schemas.LogoutIn, {"lang": "de"}, "lang"),
    ],
)
def test_invalid_fields_are_named(
    schema: Any, data: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        schema().load(data)
    assert field in caught.value.messages


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.dictionaries(st.sampled_from(["name", "email", "password", "lang"]), junk))
def test_signup_over_http_never_fails(client: Any, body: dict[str, Any]) -> None:
    result = client.simulate_post(f"{API}/signup", json=body, remote_addr=fresh_ip())
    assert result.status_code in (201, 409, 422), result.text
    if result.status_code == 422:
        fields = result.json["error"]["details"]["fields"]
        assert fields and all(key.startswith("body.") for key in fields)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    st.fixed_dictionaries(
        {
            "email": st.one_of(junk, st.just("a@b.co")),
            "password": st.one_of(junk, passwords),
        }
    ),
    st.sampled_from(
        ["login", "password-reset/request", "password-reset/confirm", "logout"]
    ),
)
def test_other_bodies_never_fail(client: Any, body: dict[str, Any], path: str) -> None:
    result = client.simulate_post(f"{API}/{path}", json=body, remote_addr=fresh_ip())
    assert result.status_code in (200, 202, 400, 401, 422), result.text


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.text(max_size=200))
def test_token_pages_never_fail(client: Any, token: str) -> None:
    from urllib.parse import quote

    for path in ("verify-email", "password-reset"):
        result = client.simulate_get(f"{API}/{path}/{quote(token, safe='')}x")
        assert result.status_code in (200, 404, 405), result.text


@pytest.mark.parametrize(
    ("raw", "status"),
    [(b"{not json", 400), (b"[1, 2]", 422), (b'"text"', 422)],
)
def test_malformed_bodies(client: Any, raw: bytes, status: int) -> None:
    result = client.simulate_post(
        f"{API}/signup",
        body=raw,
        headers={"Content-Type": "application/json"},
        remote_addr=fresh_ip(),
    )
    assert result.status_code == status
    other = client.simulate_post(
        f"{API}/signup",
        body=b"name=x",
        headers={"Content-Type": "text/plain"},
        remote_addr=fresh_ip(),
    )
    assert other.status_code == 415
