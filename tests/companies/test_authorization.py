"""Who may call what: every route, every kind of caller, every CSRF variant."""

from __future__ import annotations

import uuid

import pytest

from tests.companies.helpers import (
    API,
    admin_session,
    create_company,
    fields_for,
    form,
    make_catalogue,
    png,
    user_session,
)
from tests.helpers import unique

ANYONE, USER, VERIFIED, ADMIN = "anyone", "user", "verified", "admin"


@pytest.fixture(scope="module")
def world(services, app):
    import falcon.testing

    client = falcon.testing.TestClient(app)
    product, commune = make_catalogue(services)
    owner = user_session(services)
    company = create_company(client, owner, product, commune).json
    return {
        "product": product,
        "commune": commune,
        "company": company,
        "sessions": {
            "unverified": user_session(services, verified=False),
            "verified": user_session(services),
            "admin": admin_session(services),
        },
    }


def _routes(world):
    product, commune = world["product"], world["commune"]
    company = world["company"]["uuid"]
    return [
        ("GET", "/products", ANYONE, None),
        ("POST", "/products", ADMIN, {"name_es": f"P {unique()}"}),
        ("PUT", f"/products/{uuid.uuid4()}", ADMIN, {"name_es": f"P {unique()}"}),
        ("DELETE", f"/products/{uuid.uuid4()}", ADMIN, None),
        ("GET", "/communes", ANYONE, None),
        ("POST", "/communes", ADMIN, {"name": f"C {unique()}"}),
        ("PUT", f"/communes/{uuid.uuid4()}", ADMIN, {"name": f"C {unique()}"}),
        ("DELETE", f"/communes/{uuid.uuid4()}", ADMIN, None),
        ("GET", f"/companies/{company}", ANYONE, None),
        ("GET", "/companies/user/my-company", USER, None),
        ("POST", "/companies", VERIFIED, form(fields_for(product, commune), png())),
        ("PATCH", "/companies/user/my-company", VERIFIED, form({"name": "Nuevo"})),
        ("DELETE", "/companies/user/my-company", VERIFIED, None),
        ("GET", "/companies/admin/all-companies", ADMIN, None),
        ("DELETE", f"/companies/admin/companies/{uuid.uuid4()}", ADMIN, None),
    ]


def _call(client, method, path, body, session, mode):
    headers: dict[str, str] = {}
    cookies: dict[str, str] = {}
    kwargs: dict = {}
    if isinstance(body, dict):
        kwargs["json"] = body
    elif isinstance(body, tuple):
        kwargs["body"], headers["Content-Type"] = body
    if session is not None:
        if mode == "bearer":
            headers.update(session.bearer())
        else:
            cookies = session.cookies
            if mode == "csrf":
                headers.update(session.headers())
            elif mode == "wrong-csrf":
                # Change the first character (a fixed "x" would be no change
                # for the 1 in 64 tokens that start with it).
                first = "y" if session.csrf.startswith("x") else "x"
                headers["X-CSRF-Token"] = first + session.csrf[1:]
    return client.simulate_request(
        method, f"{API}{path}", headers=headers, cookies=cookies, **kwargs
    )


LEVEL = {None: 0, "unverified": 1, "verified": 2, "admin": 3}
NEEDED = {ANYONE: 0, USER: 1, VERIFIED: 2, ADMIN: 3}


@pytest.mark.parametrize("who", [None, "unverified", "verified", "admin"])
@pytest.mark.parametrize("mode", ["csrf", "no-csrf", "wrong-csrf", "bearer"])
def test_matrix(client, world, who, mode):
    session = world["sessions"].get(who) if who else None
    for method, path, needed, body in _routes(world):
        result = _call(client, method, path, body, session, mode)
        status = result.status_code
        where = f"{method} {path} as {who} ({mode}): {status} {result.text[:200]}"
        if NEEDED[needed] == 0:
            assert status == 200, where
            continue
        if who is None:
            assert status == 401, where
            continue
        if LEVEL[who] < NEEDED[needed]:
            assert status == 403, where
            if needed == VERIFIED:
                assert result.json["error"]["code"] == "EMAIL_NOT_VERIFIED", where
            continue
        unsafe = method not in ("GET", "HEAD")
        if unsafe and mode in ("no-csrf", "wrong-csrf"):
            assert status == 403, where
            assert result.json["error"]["code"] == "CSRF_FAILED", where
            continue
        assert status not in (401, 403), where
        assert status < 500, where
