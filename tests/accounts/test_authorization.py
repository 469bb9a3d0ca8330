"""Authorization matrix: every protected accounts endpoint x caller x CSRF token."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.accounts.helpers import API, Session, fresh_ip, make_user, session_for

CALLERS = ["anonymous", "unverified", "verified", "other", "admin"]
CSRF = ["with", "without", "wrong", "other-session"]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # "{target}" is another user's id
    ok: int
    admin: bool = False
    unsafe: bool = False
    anyone: bool = False
    body: Any = None


ENDPOINTS = [
    Endpoint("GET", "/users/me", 200),
    Endpoint("GET", "/users/csrf-token", 200),
    Endpoint("DELETE", "/users/me", 200, unsafe=True),
    Endpoint("POST", "/users/logout", 200, anyone=True),
    Endpoint("GET", "/users/admin/all-users", 200, admin=True),
    Endpoint("DELETE", "/users/admin/users/{target}", 200, admin=True, unsafe=True),
    Endpoint(
        "PATCH",
        "/users/admin/users/{target}",
        200,
        admin=True,
        unsafe=True,
        body={"email_verified": True},
    ),
    Endpoint("GET", "/admin/audit", 200, admin=True),
]


def expected(endpoint: Endpoint, caller: str, csrf: str) -> int:
    if endpoint.anyone:
        return endpoint.ok
    if caller == "anonymous":
        return 401
    if endpoint.admin and caller != "admin":
        return 403
    if endpoint.unsafe and csrf != "with":
        return 403
    return endpoint.ok


def _caller(services: Any, caller: str) -> Session | None:
    if caller == "anonymous":
        return None
    user = make_user(services, verified=caller != "unverified", admin=caller == "admin")
    return session_for(services, user)


@pytest.mark.parametrize("csrf", CSRF)
@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: f"{e.method} {e.path}")
def test_matrix(
    client: Any, services: Any, endpoint: Endpoint, caller: str, csrf: str
) -> None:
    target = make_user(services)
    session = _caller(services, caller)
    stranger = session_for(services, make_user(services))
    cookies: dict[str, str] = {}
    headers: dict[str, str] = {}
    if session is not None:
        cookies = dict(session.cookies)
        if csrf == "with":
            headers["X-CSRF-Token"] = session.csrf
        elif csrf == "wrong":
            headers["X-CSRF-Token"] = "not-the-token"
        elif csrf == "other-session":
            headers["X-CSRF-Token"] = stranger.csrf
            cookies["csrf_token"] = stranger.csrf
    path = "/api/v1" + endpoint.path.format(target=target.id)
    result = client.simulate_request(
        endpoint.method,
        path,
        cookies=cookies,
        headers=headers,
        json=endpoint.body,
        remote_addr=fresh_ip(),
    )
    want = expected(endpoint, caller, csrf)
    assert result.status_code == want, result.text
    if want == 403 and endpoint.unsafe and (not endpoint.admin or caller == "admin"):
        assert result.json["error"]["code"] == "CSRF_FAILED"
    if want >= 400:
        assert set(result.json) == {"error", "correlation_id"}


def test_bearer_needs_no_csrf(client: Any, services: Any) -> None:
    session = session_for(services, make_user(services))
    me = client.simulate_get(f"{API}/me", headers=session.bearer())
    assert me.status_code == 200 and me.json["uuid"] == str(session.user.id)
    gone = client.simulate_delete(f"{API}/me", headers=session.bearer())
    assert gone.status_code == 200 and gone.json["company_deleted"] == 0
    assert client.simulate_get(f"{API}/me", headers=session.bearer()).status_code == 401


def test_foreign_origin_is_refused(client: Any, services: Any) -> None:
    session = session_for(services, make_user(services))
    evil = {"Origin": "https://evil.example", **session.headers()}
    result = client.simulate_delete(f"{API}/me", cookies=session.cookies, headers=evil)
    assert result.status_code == 403 and result.json["error"]["code"] == "CSRF_FAILED"
    referer = {"Referer": "https://evil.example/page", **session.headers()}
    result = client.simulate_delete(
        f"{API}/me", cookies=session.cookies, headers=referer
    )
    assert result.status_code == 403
    login = client.simulate_post(
        f"{API}/login",
        json={"email": "a@b.co", "password": "x"},
        headers={"Origin": "https://evil.example"},
        remote_addr=fresh_ip(),
    )
    assert login.status_code == 403
    ours = {"Origin": "http://testserver", **session.headers()}
    result = client.simulate_delete(f"{API}/me", cookies=session.cookies, headers=ours)
    assert result.status_code == 200


def test_garbage_credentials_are_anonymous(client: Any, services: Any) -> None:
    for headers, cookies in [
        ({"Authorization": "Bearer nonsense"}, {}),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, {}),
        ({}, {"access_token": "a.b.c"}),
    ]:
        result = client.simulate_get(f"{API}/me", headers=headers, cookies=cookies)
        assert result.status_code == 401
