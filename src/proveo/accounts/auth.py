"""The platform ``Authenticator``: JWT + revocable session + CSRF + origin checks.

Per request the cost is one HMAC verification and at most one cache lookup;
only a cache miss (or a Redis outage) reads the session on the primary.
"""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import falcon

from proveo.accounts import service
from proveo.accounts.sessions import Unknown
from proveo.platform import security
from proveo.platform.db import Database, ReadTx
from proveo.platform.errors import Forbidden
from proveo.platform.http import Principal
from proveo.platform.settings import Settings

__all__ = [
    "ACCESS_COOKIE",
    "CSRF_COOKIE",
    "CSRF_HEADER",
    "SessionAuthenticator",
    "primary_read",
]

ACCESS_COOKIE = "access_token"
CSRF_COOKIE = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


@contextmanager
def primary_read(db: Database) -> Iterator[ReadTx]:
    """A READ ONLY transaction on the primary.

    For checks that must see the latest commit (a revocation, a token minted a
    moment ago) where the replica may still be replaying.
    """
    conn = db.primary.connect().execution_options(postgresql_readonly=True)
    try:
        conn.begin()
        yield ReadTx(conn, on_primary=True)
        conn.rollback()
    finally:
        conn.close()


def _origin(url: str) -> str | None:
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        return None
    default = {"http": 80, "https": 443}[parts.scheme]
    suffix = f":{port}" if port is not None and port != default else ""
    return f"{parts.scheme}://{host}{suffix}"


class SessionAuthenticator:
    """Resolves the caller from the ``access_token`` cookie or a Bearer token."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self._db = db
        self._jwt_key = security.derive_key(settings.secret_key, "jwt")
        self._csrf_key = security.derive_key(settings.secret_key, "csrf")
        allowed = [*settings.allowed_origins, settings.public_url]
        self._origins = {o for o in (_origin(url) for url in allowed) if o}

    # -- credentials -----------------------------------------------------------

    @staticmethod
    def _credentials(req: falcon.Request) -> tuple[str, bool] | None:
        header = req.get_header("Authorization")
        if header:
            scheme, _, value = header.strip().partition(" ")
            if scheme.lower() == "bearer" and value.strip():
                return value.strip(), False
            return None
        values = req.get_cookie_values(ACCESS_COOKIE)
        if values:
            return values[0], True
        return None

    def authenticate(self, req: falcon.Request) -> Principal | None:
        """The caller, or ``None`` without valid credentials and a live session."""
        found = self._credentials(req)
        if found is None:
            return None
        token, via_cookie = found
        try:
            claims = security.decode_token(token, self._jwt_key)
            jti = claims["jti"]
            subject = uuid.UUID(str(claims["sub"]))
        except (security.TokenError, ValueError, KeyError):
            return None
        if not isinstance(jti, str) or not 0 < len(jti) <= 64:
            return None
        cached = service.cached_session_state(jti)
        if isinstance(cached, Unknown):
            with primary_read(self._db) as tx:
                state = service.load_session_state(tx, jti)
        else:
            state = cached
        if state is None or state.user_id != subject:
            return None
        return Principal(
            user_id=state.user_id,
            role=state.role,
            email_verified=state.email_verified,
            session_id=jti,
            via_cookie=via_cookie,
        )

    # -- CSRF --------------------------------------------------------------------

    def csrf_token(self, session_id: str) -> str:
        """The CSRF token bound to ``session_id``."""
        return security.csrf_token(self._csrf_key, session_id)

    def check_origin(self, req: falcon.Request) -> None:
        """Refuse a request whose ``Origin`` (or ``Referer``) is not one of ours."""
        origin = req.get_header("Origin")
        if origin is not None:
            if _origin(origin) not in self._origins:
                raise Forbidden("Cross-origin request refused", code="CSRF_FAILED")
            return
        referer = req.get_header("Referer")
        if referer and _origin(referer) not in self._origins:
            raise Forbidden("Cross-origin request refused", code="CSRF_FAILED")

    def check_csrf(self, req: falcon.Request, principal: Principal) -> None:
        """Cookie sessions need ``X-CSRF-Token`` = ``csrf_token`` cookie = HMAC(jti)."""
        if not principal.via_cookie:
            return  # a Bearer header cannot be attached by another site
        self.check_origin(req)
        header = req.get_header(CSRF_HEADER)
        cookies = req.get_cookie_values(CSRF_COOKIE) or []
        good = security.check_csrf(self._csrf_key, principal.session_id, header)
        matches = any(
            hmac.compare_digest(value.encode(), (header or "").encode())
            for value in cookies
        )
        if not (good and matches):
            raise Forbidden("CSRF token missing or invalid", code="CSRF_FAILED")
