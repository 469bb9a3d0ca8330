"""End-to-end journeys through HTTP, the outbox, the worker and the SMTP sink."""

from __future__ import annotations

from typing import Any

from tests.accounts.helpers import (
    API,
    PASSWORD,
    fresh_email,
    fresh_ip,
    link_in,
    login,
    mail_to,
)
from tests.conftest import cookies_from


def test_signup_verify_login_me_logout(
    client: Any, worker: Any, smtp_sink: Any
) -> None:
    email = fresh_email("Journey")
    ip = fresh_ip()
    created = client.simulate_post(
        f"{API}/signup",
        json={
            "name": "  Ana   <b>Tecnología</b> ",
            "email": email,
            "password": PASSWORD,
            "lang": "en",
        },
        remote_addr=ip,
    )
    assert created.status_code == 201, created.text
    body = created.json
    assert body["email"] == email.lower()
    assert body["name"] == "Ana <b>Tecnología</b>"
    assert body["email_verified"] is False and body["role"] == "user"
    assert set(body) == {
        "uuid",
        "name",
        "email",
        "role",
        "email_verified",
        "created_at",
    }

    message = smtp_sink.wait_for(mail_to(email.lower(), "Confirm"), timeout=20)
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "24 hours" in text
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "&lt;b&gt;Tecnología&lt;/b&gt;" in html and "<b>Tec" not in html
    path = link_in(message, "verify")

    page = client.simulate_get(path)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "Email verified" in page.text
    assert "&lt;b&gt;" in page.text and "<b>Tec" not in page.text
    again = client.simulate_get(path)
    assert again.status_code == 200 and "already verified" in again.text
    bad = client.simulate_get(f"{API}/verify-email/not-a-real-token")
    assert bad.status_code == 200 and "Verification Failed" in bad.text

    logged = login(client, email.upper())
    assert logged.status_code == 200, logged.text
    assert logged.json["message"] == "Login successful"
    assert logged.json["user"] == {"email": email.lower(), "email_verified": True}
    cookies = cookies_from(logged)
    access = logged.cookies["access_token"]
    assert access.http_only and access.path == "/" and access.same_site == "Lax"
    assert access.max_age == 120 * 60
    assert not logged.cookies["csrf_token"].http_only
    assert cookies["csrf_token"] == logged.json["csrf_token"]

    me = client.simulate_get(f"{API}/me", cookies=cookies)
    assert me.status_code == 200
    assert me.json["email_verified"] is True and me.json["uuid"] == body["uuid"]

    csrf = client.simulate_get(f"{API}/csrf-token", cookies=cookies)
    assert csrf.status_code == 200 and csrf.json["csrf_token"] == cookies["csrf_token"]

    out = client.simulate_post(f"{API}/logout", cookies=cookies, remote_addr=ip)
    assert out.status_code == 200 and out.json == {"message": "Logout successful"}
    assert out.cookies["access_token"].value == ""
    assert client.simulate_get(f"{API}/me", cookies=cookies).status_code == 401


def test_password_reset_revokes_every_session(
    client: Any, worker: Any, smtp_sink: Any, services: Any
) -> None:
    from tests.accounts.helpers import make_user, session_for

    user = make_user(services, lang="es")
    first, second = session_for(services, user), session_for(services, user)
    for held in (first, second):
        assert client.simulate_get(f"{API}/me", cookies=held.cookies).status_code == 200

    asked = client.simulate_post(
        f"{API}/password-reset/request",
        json={"email": user.email},
        remote_addr=fresh_ip(),
    )
    assert asked.status_code == 202
    assert "RateLimit" in asked.headers and "RateLimit-Policy" in asked.headers
    unknown = client.simulate_post(
        f"{API}/password-reset/request",
        json={"email": fresh_email()},
        remote_addr=fresh_ip(),
    )
    assert unknown.status_code == 202 and unknown.json == asked.json

    message = smtp_sink.wait_for(mail_to(user.email, "contraseña"), timeout=20)
    assert "1 hora" in message.get_body(preferencelist=("plain",)).get_content()
    path = link_in(message, "reset")
    token = path.rsplit("/", 1)[1]

    page = client.simulate_get(path)
    assert page.status_code == 200 and 'name="password"' in page.text
    assert "/api/v1/users/password-reset/confirm" in page.text

    short = client.simulate_post(
        f"{API}/password-reset/confirm", json={"token": token, "password": "short"}
    )
    assert short.status_code == 422
    assert "body.password" in short.json["error"]["details"]["fields"]

    new_password = "nueva contraseña segura ✓"
    done = client.simulate_post(
        f"{API}/password-reset/confirm", json={"token": token, "password": new_password}
    )
    assert done.status_code == 200, done.text
    for held in (first, second):
        assert client.simulate_get(f"{API}/me", cookies=held.cookies).status_code == 401

    reused = client.simulate_post(
        f"{API}/password-reset/confirm", json={"token": token, "password": new_password}
    )
    assert reused.status_code == 400
    assert reused.json["error"]["code"] == "TOKEN_INVALID"
    assert client.simulate_get(path).status_code == 200  # the failure page
    assert login(client, user.email, PASSWORD).status_code == 401
    assert login(client, user.email, new_password).status_code == 200
