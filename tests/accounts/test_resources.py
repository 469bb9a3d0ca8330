"""Accounts HTTP behaviour beyond the journeys: login rules, deletion, admin, audit."""

from __future__ import annotations

from typing import Any

import bcrypt
import sqlalchemy as sa

from proveo.accounts import store
from proveo.accounts.tables import archived_users, users
from tests.accounts.helpers import (
    API,
    PASSWORD,
    fresh_email,
    fresh_ip,
    login,
    make_user,
    session_for,
)
from tests.conftest import cookies_from


def test_unknown_email_and_wrong_password_look_alike(
    client: Any, services: Any
) -> None:
    user = make_user(services)
    unknown = login(client, fresh_email())
    wrong = login(client, user.email, "wrong password")
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json["error"] == wrong.json["error"]
    assert unknown.json["error"]["message"] == "Incorrect email or password"


def test_unverified_users_may_log_in(client: Any, services: Any) -> None:
    user = make_user(services, verified=False)
    result = login(client, user.email)
    assert result.status_code == 200
    assert result.json["user"]["email_verified"] is False


def test_bcrypt_hash_is_upgraded_on_login(client: Any, services: Any) -> None:
    user = make_user(services)
    legacy = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    with services.db.write() as tx:
        store.update_user(tx, user.id, password_hash=legacy)
    assert login(client, user.email).status_code == 200
    with services.db.write() as tx:
        stored = tx.execute(
            sa.select(users.c.password_hash).where(users.c.id == user.id)
        ).scalar_one()
    assert stored.startswith("$argon2id$")
    assert login(client, user.email).status_code == 200


def test_duplicate_signup_is_409_case_insensitively(client: Any, services: Any) -> None:
    user = make_user(services)
    result = client.simulate_post(
        f"{API}/signup",
        json={"name": "Dup", "email": user.email.upper(), "password": PASSWORD},
        remote_addr=fresh_ip(),
    )
    assert result.status_code == 409
    assert (
        result.json["error"]["message"] == f"Email {user.email} is already registered"
    )


def test_login_sets_language_and_cookies(client: Any, services: Any) -> None:
    user = make_user(services, lang="es")
    result = client.simulate_post(
        f"{API}/login",
        json={"email": user.email, "password": PASSWORD, "lang": "en"},
        remote_addr=fresh_ip(),
    )
    assert result.status_code == 200
    with services.db.read() as tx:
        assert store.get_user(tx, user.id).lang in ("en", "es")  # replica may lag
    with services.db.write() as tx:
        assert store.get_user(tx, user.id).lang == "en"
    assert "RateLimit" in result.headers


def test_me_shows_current_state_not_token_claims(client: Any, services: Any) -> None:
    user = make_user(services, verified=False)
    session = session_for(services, user)
    assert (
        client.simulate_get(f"{API}/me", cookies=session.cookies).json["email_verified"]
        is False
    )
    from proveo.accounts import service

    with services.db.write() as tx:
        token = "verify-me-" + user.id.hex
        store.insert_token(
            tx,
            token_hash=service._hash_token(token),
            user_id=user.id,
            kind="verify",
            expires_at=tx.execute(
                sa.select(sa.func.now() + sa.text("interval '1 hour'"))
            ).scalar_one(),
        )
    assert "Email verified" in client.simulate_get(f"{API}/verify-email/{token}").text
    me = client.simulate_get(f"{API}/me", cookies=session.cookies)
    assert me.status_code == 200 and me.json["email_verified"] is True


def test_delete_me_archives_and_revokes_at_once(client: Any, services: Any) -> None:
    user = make_user(services)
    first, second = session_for(services, user), session_for(services, user)
    assert client.simulate_get(f"{API}/me", cookies=second.cookies).status_code == 200
    result = client.simulate_delete(
        f"{API}/me", cookies=first.cookies, headers=first.headers()
    )
    assert result.status_code == 200
    assert result.json == {
        "message": "Account deleted successfully",
        "company_deleted": 0,
    }
    assert result.cookies["access_token"].value == ""
    for held in (first, second):
        assert client.simulate_get(f"{API}/me", cookies=held.cookies).status_code == 401
        assert (
            client.simulate_get(f"{API}/me", headers=held.bearer()).status_code == 401
        )
    with services.db.write() as tx:
        row = tx.execute(
            sa.select(archived_users).where(archived_users.c.id == user.id)
        ).one()
    assert row.email == user.email and "password_hash" not in row._mapping
    assert login(client, user.email).status_code == 401


def test_admin_lists_deletes_patches_and_is_audited(client: Any, services: Any) -> None:
    admin = session_for(services, make_user(services, admin=True))
    target = make_user(services)
    victim = session_for(services, target)

    listed = client.simulate_get(
        f"{API}/admin/all-users", params={"limit": "500"}, cookies=admin.cookies
    )
    assert listed.status_code == 200
    rows = listed.json
    assert set(rows[0]) == {
        "uuid",
        "name",
        "email",
        "role",
        "email_verified",
        "created_at",
        "company_count",
    }
    stamps = [r["created_at"] for r in rows]
    assert stamps == sorted(stamps, reverse=True)
    assert str(target.id) in {r["uuid"] for r in rows}
    bad = client.simulate_get(
        f"{API}/admin/all-users", params={"limit": "0"}, cookies=admin.cookies
    )
    assert (
        bad.status_code == 422
        and "query.limit" in bad.json["error"]["details"]["fields"]
    )

    patched = client.simulate_patch(
        f"{API}/admin/users/{target.id}",
        json={"role": "admin"},
        cookies=admin.cookies,
        headers=admin.headers(),
    )
    assert patched.status_code == 200 and patched.json["role"] == "admin"
    assert client.simulate_get(f"{API}/me", cookies=victim.cookies).status_code == 401

    self_delete = client.simulate_delete(
        f"{API}/admin/users/{admin.user.id}",
        cookies=admin.cookies,
        headers=admin.headers(),
    )
    assert self_delete.status_code == 400
    not_uuid = client.simulate_delete(
        f"{API}/admin/users/nope", cookies=admin.cookies, headers=admin.headers()
    )
    assert not_uuid.status_code == 422
    assert "path.user_uuid" in not_uuid.json["error"]["details"]["fields"]
    missing = client.simulate_delete(
        f"{API}/admin/users/00000000-0000-4000-8000-000000000000",
        cookies=admin.cookies,
        headers=admin.headers(),
    )
    assert missing.status_code == 404

    deleted = client.simulate_delete(
        f"{API}/admin/users/{target.id}", cookies=admin.cookies, headers=admin.headers()
    )
    assert deleted.status_code == 200
    assert deleted.json == {
        "message": "User deleted successfully",
        "user_uuid": str(target.id),
        "email": target.email,
        "company_deleted": 0,
    }

    audit = client.simulate_get(
        "/api/v1/admin/audit",
        params={"limit": "50", "target_type": "user"},
        cookies=admin.cookies,
    )
    assert audit.status_code == 200
    mine = [e for e in audit.json if e["target_id"] == str(target.id)]
    assert [e["action"] for e in mine] == ["user.delete", "user.update"]
    assert mine[1]["before"]["role"] == "user" and mine[1]["after"]["role"] == "admin"
    assert all(e["actor_id"] == str(admin.user.id) for e in mine)


def test_logout_without_session_and_csrf_reissue(client: Any, services: Any) -> None:
    anonymous = client.simulate_post(f"{API}/logout", remote_addr=fresh_ip())
    assert anonymous.status_code == 200
    bad_lang = client.simulate_post(f"{API}/logout", json={"lang": "xx"})
    assert bad_lang.status_code == 422
    session = session_for(services, make_user(services))
    reissued = client.simulate_get(f"{API}/csrf-token", cookies=session.cookies)
    assert reissued.json["csrf_token"] == session.csrf
    assert cookies_from(reissued)["csrf_token"] == session.csrf


def test_pages_are_html_escaped_and_localised(client: Any) -> None:
    page = client.simulate_get(
        f"{API}/password-reset/<script>alert(1)</script>",
        headers={"Accept-Language": "en-GB"},
    )
    assert page.status_code in (200, 404)
    if page.status_code == 200:
        assert "<script>alert" not in page.text
        assert "Content-Security-Policy" in page.headers


def _reset_token(services: Any, user_id: Any) -> str:
    from proveo.accounts import service

    token = "reset-" + user_id.hex
    with services.db.write() as tx:
        store.insert_token(
            tx,
            token_hash=service._hash_token(token),
            user_id=user_id,
            kind="reset",
            expires_at=tx.execute(
                sa.select(sa.func.now() + sa.text("interval '1 hour'"))
            ).scalar_one(),
        )
    return token


def test_reset_form_post_from_the_page(client: Any, services: Any) -> None:
    user = make_user(services, lang="en")
    token = _reset_token(services, user.id)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    short = client.simulate_post(
        f"{API}/password-reset/confirm",
        body=f"token={token}&password=short",
        headers=form,
    )
    assert short.status_code == 422 and 'name="password"' in short.text
    done = client.simulate_post(
        f"{API}/password-reset/confirm",
        body=f"token={token}&password=brand+new+password",
        headers={**form, "Origin": "http://testserver"},
    )
    assert done.status_code == 200 and "Password updated" in done.text
    again = client.simulate_post(
        f"{API}/password-reset/confirm",
        body=f"token={token}&password=brand+new+password",
        headers=form,
    )
    assert again.status_code == 400 and "Password Reset Failed" in again.text
    assert login(client, user.email, "brand new password").status_code == 200


def test_openapi_documents_every_accounts_route(client: Any) -> None:
    paths = client.simulate_get("/api/v1/openapi.json").json["paths"]
    for path in [
        "/api/v1/users/signup",
        "/api/v1/users/verify-email/{token}",
        "/api/v1/users/resend-verification",
        "/api/v1/users/login",
        "/api/v1/users/logout",
        "/api/v1/users/me",
        "/api/v1/users/csrf-token",
        "/api/v1/users/password-reset/request",
        "/api/v1/users/password-reset/{token}",
        "/api/v1/users/password-reset/confirm",
        "/api/v1/users/admin/all-users",
        "/api/v1/users/admin/users/{user_uuid}",
        "/api/v1/admin/audit",
    ]:
        assert path in paths
