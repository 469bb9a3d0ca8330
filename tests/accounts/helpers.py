"""Accounts test helpers: users made through the service, sessions, client IPs."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import falcon.testing

from proveo.accounts import service
from proveo.accounts.data import User
from proveo.platform.runtime import Services
from tests.helpers import unique

PASSWORD = "correct horse battery"
API = "/api/v1/users"


def fresh_ip() -> str:
    """A client address no other test uses, so per-IP limits don't interfere."""
    # Not ``random``: Hypothesis seeds it, which would repeat addresses.
    a, b, c = secrets.token_bytes(3)
    return f"10.{a}.{b}.{c % 254 + 1}"


def fresh_email(prefix: str = "u") -> str:
    return f"{unique(prefix)}@example.com"


@dataclass
class Session:
    """A logged-in browser: its cookies and CSRF token."""

    user: User
    cookies: dict[str, str]
    csrf: str
    token: str
    ip: str = field(default_factory=fresh_ip)

    def headers(self, *, csrf: bool = True) -> dict[str, str]:
        return {"X-CSRF-Token": self.csrf} if csrf else {}

    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def make_user(
    services: Services,
    *,
    verified: bool = True,
    admin: bool = False,
    password: str = PASSWORD,
    lang: str = "es",
) -> User:
    """A user created directly (no HTTP, no rate limits)."""
    with services.db.write() as tx:
        if admin:
            return service.create_or_promote_admin(
                tx, email=fresh_email("admin"), name="Admin Ñandú", password=password
            )
        user = service.ensure_demo_user(
            tx,
            email=fresh_email(),
            name="Usuaria Tecnología",
            password=password,
            verified=verified,
        )
        if lang != user.lang:
            from proveo.accounts import store

            user = store.update_user(tx, user.id, lang=lang)
        return user


def session_for(services: Services, user: User) -> Session:
    """A live session for ``user`` as a browser would hold it after logging in."""
    with services.db.write() as tx:
        issued = service.issue_session(
            tx,
            user,
            secret=services.settings.secret_key,
            lifetime_minutes=services.settings.access_token_minutes,
        )
    return Session(
        user=user,
        cookies={"access_token": issued.token, "csrf_token": issued.csrf_token},
        csrf=issued.csrf_token,
        token=issued.token,
    )


def login(
    client: falcon.testing.TestClient, email: str, password: str = PASSWORD, **kw: Any
) -> falcon.testing.Result:
    return client.simulate_post(
        f"{API}/login",
        json={"email": email, "password": password},
        remote_addr=kw.pop("remote_addr", fresh_ip()),
        **kw,
    )


def link_in(message: EmailMessage, kind: str) -> str:
    """The path (under /api/v1) of the link in a verification or reset mail."""
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    path = "verify-email" if kind == "verify" else "password-reset"
    found = re.search(rf"https?://[^/\s]+(/api/v1/users/{path}/[A-Za-z0-9_-]+)", text)
    assert found, text
    return found.group(1)


def mail_to(address: str, subject_part: str = "") -> Any:
    def predicate(message: EmailMessage) -> bool:
        return str(message["To"]) == address and subject_part in str(message["Subject"])

    return predicate
