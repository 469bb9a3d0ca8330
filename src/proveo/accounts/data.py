"""The accounts vocabulary: the user DTO, events, errors and the extension point."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from proveo.platform.errors import BadRequest, Conflict, NotFound, Unauthorized
from proveo.platform.events import Event

__all__ = [
    "COMPANIES_DELETED_KEY",
    "ROLES",
    "AccountDeleted",
    "AccountMailRequested",
    "AdminUser",
    "CannotDeleteSelf",
    "CompanyCounter",
    "EmailTaken",
    "InvalidCredentials",
    "IssuedSession",
    "SessionState",
    "TokenInvalid",
    "User",
    "UserNotFound",
    "VerifyOutcome",
]

ROLES = ("user", "admin")

#: Key in ``WriteTx.state`` where the companies subscriber of ``AccountDeleted``
#: leaves how many companies it deleted (read after COMMIT).
COMPANIES_DELETED_KEY = "companies_deleted"

#: ``counter(tx, user_ids) -> {user_id: company count}``, registered by a higher
#: module (companies) so the admin user list can show counts without accounts
#: reading another module's tables.
CompanyCounter = Callable[[Any, Sequence[uuid.UUID]], Mapping[uuid.UUID, int]]


@dataclass(frozen=True, slots=True)
class User:
    """A registered user as other modules see it (never the password hash)."""

    id: uuid.UUID
    name: str
    email: str
    role: str
    email_verified: bool
    lang: str
    created_at: datetime

    @property
    def is_admin(self) -> bool:
        """True for administrators."""
        return self.role == "admin"


@dataclass(frozen=True, slots=True)
class AdminUser:
    """A user row of the administrator's list."""

    user: User
    company_count: int


@dataclass(frozen=True, slots=True)
class IssuedSession:
    """A freshly opened session: the signed token and its CSRF token."""

    user: User
    session_id: str
    token: str
    csrf_token: str
    expires_at: datetime
    max_age: int


@dataclass(frozen=True, slots=True)
class SessionState:
    """What the authenticator needs to know about a live session."""

    user_id: uuid.UUID
    role: str
    email_verified: bool


@dataclass(frozen=True, slots=True)
class VerifyOutcome:
    """Result of following a verification link: ``verified``, ``already`` or ``failed``."""

    status: str
    user: User | None = None


@dataclass(frozen=True, slots=True)
class AccountDeleted(Event):
    """A user account was deleted (self-service or by an administrator).

    Subscribers run inside the deleting transaction before the user row goes,
    so they can remove rows that reference it.
    """

    user_id: str
    email: str


@dataclass(frozen=True, slots=True)
class AccountMailRequested(Event):
    """A verification or reset mail is due (internal: delivered to the mail actor).

    Carries no token: the actor issues it, so no secret sits in the outbox.
    """

    user_id: str
    kind: str
    lang: str


class UserNotFound(NotFound):
    """No user with that id."""

    def __init__(self, message: str = "User not found") -> None:
        super().__init__(message)


class EmailTaken(Conflict):
    """Another account already uses the e-mail address (case-insensitively)."""

    def __init__(self, email: str) -> None:
        super().__init__(f"Email {email} is already registered")


class InvalidCredentials(Unauthorized):
    """Unknown e-mail or wrong password (deliberately indistinguishable)."""

    def __init__(self) -> None:
        super().__init__("Incorrect email or password")


class TokenInvalid(BadRequest):
    """A reset or verification token is unknown, used or expired."""

    def __init__(self, message: str = "The link is invalid or has expired") -> None:
        super().__init__(message, code="TOKEN_INVALID")


class CannotDeleteSelf(BadRequest):
    """An administrator tried to delete their own account through the admin route."""

    def __init__(self) -> None:
        super().__init__(
            "Administrators cannot delete themselves here; use DELETE /users/me",
            code="CANNOT_DELETE_SELF",
        )
