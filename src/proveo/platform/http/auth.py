"""Who is calling: the ``Principal`` and the guard every protected responder calls.

The platform defines the shape; the accounts module supplies the ``Authenticator``
(JWT + session revocation + CSRF) through the composition root. Guards check in
the order the spec fixes: 401, then role / verified e-mail (403), then CSRF (403).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Protocol

import falcon

from proveo.platform.errors import Forbidden, Unauthorized

__all__ = ["Authenticator", "Principal", "current_principal", "require"]


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller."""

    user_id: uuid.UUID
    role: str
    email_verified: bool
    session_id: str
    via_cookie: bool

    @property
    def is_admin(self) -> bool:
        """True for administrators."""
        return self.role == "admin"


class Authenticator(Protocol):
    """Resolves credentials on a request and checks its CSRF token."""

    def authenticate(self, req: falcon.Request) -> Principal | None:
        """The caller, or ``None`` when the request carries no valid credentials."""

    def check_csrf(self, req: falcon.Request, principal: Principal) -> None:
        """Raise ``Forbidden`` (``CSRF_FAILED``) unless the request's token is good."""


_UNSET = object()


def current_principal(req: falcon.Request) -> Principal | None:
    """The caller (resolved once per request), or ``None`` when anonymous."""
    cached = getattr(req.context, "_principal", _UNSET)
    if cached is not _UNSET:
        return cached  # type: ignore[return-value]
    authenticator: Authenticator | None = getattr(req.context, "authenticator", None)
    principal = authenticator.authenticate(req) if authenticator is not None else None
    req.context._principal = principal
    return principal


def require(
    req: falcon.Request,
    *,
    verified: bool = False,
    admin: bool = False,
    csrf: bool | None = None,
) -> Principal:
    """The caller, or the right 401/403. CSRF is checked for unsafe methods by default."""
    principal = current_principal(req)
    if principal is None:
        raise Unauthorized("Authentication required")
    if admin and not principal.is_admin:
        raise Forbidden("Administrator role required")
    if verified and not principal.email_verified:
        raise Forbidden("E-mail address not verified", code="EMAIL_NOT_VERIFIED")
    check_csrf = (
        csrf if csrf is not None else req.method not in ("GET", "HEAD", "OPTIONS")
    )
    if check_csrf:
        authenticator: Authenticator = req.context.authenticator
        authenticator.check_csrf(req, principal)
    return principal
