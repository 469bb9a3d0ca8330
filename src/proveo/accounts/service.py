"""Account use cases. Every business rule of accounts lives here.

Functions take the unit of work first (``ReadTx`` for reads, ``WriteTx`` for
writes); the edges (resources, actors, CLI) open it. Session revocations are
pushed to the session cache right after COMMIT so they apply at once.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from proveo.accounts import pages, store
from proveo.accounts.data import (
    COMPANIES_DELETED_KEY,
    AccountDeleted,
    AccountMailRequested,
    AdminUser,
    CannotDeleteSelf,
    CompanyCounter,
    EmailTaken,
    InvalidCredentials,
    IssuedSession,
    SessionState,
    TokenInvalid,
    User,
    UserNotFound,
    VerifyOutcome,
)
from proveo.accounts.sessions import SessionCache, Unknown
from proveo.accounts.validation import (
    FieldError,
    clean_email,
    clean_name,
    clean_password,
)
from proveo.platform import audit, security
from proveo.platform.db import ReadTx, WriteTx
from proveo.platform.errors import Invalid

__all__ = [
    "RESET_TTL",
    "VERIFY_TTL",
    "admin_delete_user",
    "admin_update_user",
    "cached_session_state",
    "check_reset_token",
    "companies_deleted",
    "configure_sessions",
    "create_or_promote_admin",
    "delete_account",
    "ensure_demo_user",
    "find_user",
    "get_user",
    "issue_session",
    "list_users_for_admin",
    "load_session_state",
    "login",
    "logout",
    "register_company_counter",
    "request_password_reset",
    "resend_verification",
    "reset_password",
    "send_account_mail",
    "signup",
    "verify_email",
]

VERIFY_TTL = timedelta(hours=24)
RESET_TTL = timedelta(hours=1)
_TTL = {"verify": VERIFY_TTL, "reset": RESET_TTL}

_session_cache = SessionCache(None)
_company_counter: CompanyCounter | None = None


# --- wiring ---------------------------------------------------------------------


def configure_sessions(cache: SessionCache) -> None:
    """Use ``cache`` for session checks and revocations (set by the composition root)."""
    global _session_cache
    _session_cache = cache


def register_company_counter(counter: CompanyCounter) -> None:
    """Let a higher module report how many companies each user owns."""
    global _company_counter
    _company_counter = counter


def _revoke_after_commit(tx: WriteTx, revoked: list[tuple[str, datetime]]) -> None:
    if revoked:
        cache = _session_cache
        tx.after_commit(lambda: cache.revoke(revoked))


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# --- reads ----------------------------------------------------------------------


def get_user(tx: ReadTx, user_id: uuid.UUID) -> User:
    """The user with that id.

    Raises:
        UserNotFound: no such user.
    """
    return store.get_user(tx, user_id)


def find_user(tx: ReadTx, user_id: uuid.UUID) -> User | None:
    """The user with that id, or ``None``."""
    return store.find_user(tx, user_id)


def cached_session_state(session_id: str) -> SessionState | Unknown | None:
    """The session state from the cache: ``None`` if revoked, ``UNKNOWN`` on a miss."""
    return _session_cache.get(session_id)


def load_session_state(tx: ReadTx, session_id: str) -> SessionState | None:
    """A session's current user state from the database (and cache it).

    ``tx`` must be on the primary: a replica may not have replayed a revocation.
    """
    state = store.find_session_state(tx, session_id)
    if state is not None:
        _session_cache.remember(session_id, state)
    return state


def list_users_for_admin(tx: ReadTx, *, limit: int, offset: int) -> list[AdminUser]:
    """Users, newest first, with how many companies each owns."""
    users = store.list_users(tx, limit=limit, offset=offset)
    counts: Any = {}
    if _company_counter is not None and users:
        counts = _company_counter(tx, [user.id for user in users])
    return [
        AdminUser(user=user, company_count=int(counts.get(user.id, 0)))
        for user in users
    ]


# --- sign-up, verification, mail --------------------------------------------------


def signup(tx: WriteTx, *, name: str, email: str, password: str, lang: str) -> User:
    """Register a user and schedule the verification mail.

    Raises:
        EmailTaken: the address is registered already (any case).
    """
    if store.find_user_by_email(tx, email) is not None:
        raise EmailTaken(email)
    user = store.insert_user(
        tx,
        name=name,
        email=email,
        password_hash=security.hash_password(password),
        lang=lang,
    )
    if user is None:  # lost a race with a concurrent sign-up of the same address
        raise EmailTaken(email)
    tx.publish(AccountMailRequested(user_id=str(user.id), kind="verify", lang=lang))
    return user


def resend_verification(tx: WriteTx, *, email: str) -> None:
    """Schedule another verification mail if the account exists and is unverified.

    Says nothing either way, so the answer cannot reveal who is registered.
    """
    user = store.find_user_by_email(tx, email)
    if user is not None and not user.email_verified:
        tx.publish(
            AccountMailRequested(user_id=str(user.id), kind="verify", lang=user.lang)
        )


def request_password_reset(tx: WriteTx, *, email: str, lang: str | None) -> None:
    """Schedule a password reset mail if the account exists (silently otherwise)."""
    user = store.find_user_by_email(tx, email)
    if user is not None:
        tx.publish(
            AccountMailRequested(
                user_id=str(user.id), kind="reset", lang=lang or user.lang
            )
        )


def send_account_mail(
    tx: WriteTx, *, user_id: str, kind: str, lang: str, mailer: Any, public_url: str
) -> bool:
    """Issue a one-time token and mail its link; ``False`` when no longer due.

    Runs in the mail job: the token is created here so that no secret ever
    sits in the outbox. If sending fails the transaction rolls back (the token
    is never stored) and the job is retried.
    """
    if kind not in _TTL:
        raise ValueError(f"unknown mail kind {kind!r}")
    try:
        uid = uuid.UUID(user_id)
    except ValueError:
        return False
    user = store.find_user(tx, uid)
    if user is None or (kind == "verify" and user.email_verified):
        return False
    token = secrets.token_urlsafe(32)  # 256 bits
    ttl = _TTL[kind]
    expires_at = datetime.now(UTC) + ttl
    store.delete_stale_tokens(tx, [user.id])
    store.insert_token(
        tx,
        token_hash=_hash_token(token),
        user_id=user.id,
        kind=kind,
        expires_at=expires_at,
    )
    path = "verify-email" if kind == "verify" else "password-reset"
    link = f"{public_url.rstrip('/')}/api/v1/users/{path}/{token}"
    mailer.send(
        pages.account_mail(
            kind,
            lang=lang if lang in ("es", "en") else user.lang,
            user=user,
            link=link,
            ttl=ttl,
            expires_at=expires_at,
        )
    )
    return True


def verify_email(tx: WriteTx, token: str) -> VerifyOutcome:
    """Follow a verification link. Idempotent: a used link says "already verified"."""
    row = store.find_token(tx, _hash_token(token), "verify", for_update=True)
    if row is None:
        return VerifyOutcome("failed")
    user = store.find_user(tx, row.user_id, for_update=True)
    if user is None:
        return VerifyOutcome("failed")
    if row.used_at is not None or user.email_verified:
        if user.email_verified:
            store.use_tokens(tx, user.id, "verify")
            return VerifyOutcome("already", user)
        return VerifyOutcome("failed")
    if row.expired:
        return VerifyOutcome("failed")
    user = store.update_user(tx, user.id, email_verified=True)
    store.use_tokens(tx, user.id, "verify")
    _forget_sessions_after_commit(tx, user.id)
    return VerifyOutcome("verified", user)


def _forget_sessions_after_commit(tx: WriteTx, user_id: uuid.UUID) -> None:
    """Cached session states of the user are stale once this commits."""
    live = store.live_session_ids(tx, user_id)
    if live:
        cache = _session_cache
        tx.after_commit(lambda: cache.forget(live))


# --- password reset -------------------------------------------------------------


def check_reset_token(tx: ReadTx, token: str) -> User | None:
    """The user a usable reset token belongs to, else ``None`` (nothing is spent)."""
    if not token or len(token) > 200:
        return None
    row = store.find_token(tx, _hash_token(token), "reset")
    if row is None or row.used_at is not None or row.expired:
        return None
    return store.find_user(tx, row.user_id)


def reset_password(tx: WriteTx, *, token: str, password: str) -> User:
    """Set a new password with a reset token; revokes every session of the user.

    Following the link proves control of the mailbox, so the address counts
    as verified afterwards.

    Raises:
        TokenInvalid: the token is unknown, used or expired.
    """
    row = store.find_token(tx, _hash_token(token), "reset", for_update=True)
    if row is None or row.used_at is not None or row.expired:
        raise TokenInvalid()
    user = store.update_user(
        tx,
        row.user_id,
        password_hash=security.hash_password(password),
        email_verified=True,
    )
    store.use_tokens(tx, user.id, "reset")
    _revoke_after_commit(tx, store.revoke_user_sessions(tx, user.id))
    return user


# --- sessions -------------------------------------------------------------------


def login(
    tx: WriteTx,
    *,
    email: str,
    password: str,
    lang: str | None,
    secret: str,
    lifetime_minutes: int,
) -> IssuedSession:
    """Check credentials and open a session; bcrypt and old Argon2 hashes are upgraded.

    An unknown address costs the same hashing work as a wrong password.

    Raises:
        InvalidCredentials: unknown e-mail or wrong password.
    """
    found = store.find_credentials(tx, email)
    if found is None:
        security.verify_password(security.DUMMY_HASH, password)
        raise InvalidCredentials()
    user, stored_hash = found
    ok, needs_rehash = security.verify_password(stored_hash, password)
    if not ok:
        raise InvalidCredentials()
    if needs_rehash:
        store.set_password_hash_if_unchanged(
            tx, user.id, stored_hash, security.hash_password(password)
        )
    if lang is not None and lang != user.lang:
        user = store.update_user(tx, user.id, lang=lang)
    store.delete_expired_sessions(tx, user.id)
    return issue_session(tx, user, secret=secret, lifetime_minutes=lifetime_minutes)


def issue_session(
    tx: WriteTx, user: User, *, secret: str, lifetime_minutes: int
) -> IssuedSession:
    """Open a revocable session for ``user`` and sign its token."""
    jti = secrets.token_urlsafe(24)
    now = datetime.now(UTC).replace(microsecond=0)
    expires_at = now + timedelta(minutes=lifetime_minutes)
    store.insert_session(tx, jti=jti, user_id=user.id, expires_at=expires_at)
    claims = {
        "sub": str(user.id),
        "role": user.role,
        "email_verified": user.email_verified,
        "name": user.name,
        "email": user.email,
        "created_at": user.created_at.isoformat(),
        "iat": int(now.timestamp()),
        "exp": int(expires_at.timestamp()),
        "jti": jti,
    }
    return IssuedSession(
        user=user,
        session_id=jti,
        token=security.encode_token(claims, security.derive_key(secret, "jwt")),
        csrf_token=security.csrf_token(security.derive_key(secret, "csrf"), jti),
        expires_at=expires_at,
        max_age=lifetime_minutes * 60,
    )


def logout(tx: WriteTx, session_id: str | None) -> None:
    """Revoke the session, if any (unknown or dead sessions are fine)."""
    if session_id:
        _revoke_after_commit(tx, store.revoke_session(tx, session_id))


# --- deletion and administration ----------------------------------------------------


def delete_account(tx: WriteTx, user_id: uuid.UUID, *, actor_id: uuid.UUID) -> User:
    """Delete a user in this unit of work: archive, revoke, tell subscribers.

    ``AccountDeleted`` subscribers (companies) run just before COMMIT; the user
    row is archived and deleted after them, so their rows that reference it go
    first. ``companies_deleted(tx)`` tells, after COMMIT, what they removed.

    Raises:
        UserNotFound: no such user.
    """
    user = store.get_user(tx, user_id, for_update=True)
    revoked = store.revoke_user_sessions(tx, user.id)
    tx.publish(AccountDeleted(user_id=str(user.id), email=user.email))
    deleted_by = actor_id if actor_id != user.id else None
    tx.before_commit(
        lambda t: store.archive_and_delete_user(t, user, deleted_by=deleted_by)
    )
    _revoke_after_commit(tx, revoked)
    return user


def companies_deleted(tx: WriteTx) -> int:
    """How many companies the ``AccountDeleted`` subscribers removed (after COMMIT)."""
    return int(tx.state.get(COMPANIES_DELETED_KEY, 0) or 0)


def _audit_view(user: User) -> dict[str, Any]:
    return {
        "name": user.name,
        "email": user.email,
        "role": user.role,
        "email_verified": user.email_verified,
    }


def admin_delete_user(tx: WriteTx, user_id: uuid.UUID, *, admin_id: uuid.UUID) -> User:
    """An administrator deletes another user (audited).

    Raises:
        CannotDeleteSelf: the administrator named themselves.
        UserNotFound: no such user.
    """
    if user_id == admin_id:
        raise CannotDeleteSelf()
    user = delete_account(tx, user_id, actor_id=admin_id)
    audit.record(
        tx,
        actor_id=admin_id,
        action="user.delete",
        target_type="user",
        target_id=str(user.id),
        before=_audit_view(user),
        after=None,
    )
    return user


def admin_update_user(
    tx: WriteTx,
    user_id: uuid.UUID,
    *,
    admin_id: uuid.UUID,
    role: str | None = None,
    email_verified: bool | None = None,
) -> User:
    """Change a user's role or verification (audited); revokes their sessions.

    Raises:
        UserNotFound: no such user.
    """
    before = store.get_user(tx, user_id, for_update=True)
    changes: dict[str, Any] = {}
    if role is not None:
        changes["role"] = role
    if email_verified is not None:
        changes["email_verified"] = email_verified
    after = store.update_user(tx, user_id, **changes) if changes else before
    _revoke_after_commit(tx, store.revoke_user_sessions(tx, user_id))
    audit.record(
        tx,
        actor_id=admin_id,
        action="user.update",
        target_type="user",
        target_id=str(user_id),
        before=_audit_view(before),
        after=_audit_view(after),
    )
    return after


# --- provisioning (CLI, seed) -----------------------------------------------------


def _clean(name: str, email: str, password: str) -> tuple[str, str, str]:
    try:
        return clean_name(name), clean_email(email), clean_password(password)
    except FieldError as exc:
        raise Invalid(str(exc), fields={"account": [str(exc)]}) from exc


def create_or_promote_admin(
    tx: WriteTx, *, email: str, name: str, password: str
) -> User:
    """Create a verified administrator, or promote the existing account.

    An existing account keeps its password; promotion revokes its sessions
    (their tokens carry the old role).

    Raises:
        Invalid: a field breaks the §0.4 rules.
    """
    name, email, password = _clean(name, email, password)
    existing = store.find_user_by_email(tx, email)
    if existing is not None:
        if existing.is_admin and existing.email_verified:
            return existing
        promoted = store.update_user(tx, existing.id, role="admin", email_verified=True)
        _revoke_after_commit(tx, store.revoke_user_sessions(tx, existing.id))
        return promoted
    user = store.insert_user(
        tx,
        name=name,
        email=email,
        password_hash=security.hash_password(password),
        lang="es",
        role="admin",
        email_verified=True,
    )
    if user is None:
        raise EmailTaken(email)
    return user


def ensure_demo_user(
    tx: WriteTx, *, email: str, name: str, password: str, verified: bool = True
) -> User:
    """The user with that e-mail, created if missing (idempotent, for seeding).

    Raises:
        Invalid: a field breaks the §0.4 rules.
    """
    name, email, password = _clean(name, email, password)
    existing = store.find_user_by_email(tx, email)
    if existing is not None:
        return existing
    user = store.insert_user(
        tx,
        name=name,
        email=email,
        password_hash=security.hash_password(password),
        lang="es",
        email_verified=verified,
    )
    if user is None:
        found = store.find_user_by_email(tx, email)
        if found is None:
            raise UserNotFound()
        return found
    return user


def revoked_sessions(items: Iterable[tuple[str, datetime]]) -> None:
    """Push revocations to the session cache now (maintenance tools)."""
    _session_cache.revoke(list(items))
