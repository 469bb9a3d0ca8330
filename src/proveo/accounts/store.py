"""All SQL of the accounts module (SQLAlchemy Core over ``tables``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from proveo.accounts.data import SessionState, User, UserNotFound
from proveo.accounts.tables import archived_users, sessions, tokens, users
from proveo.platform.db import ReadTx, WriteTx

_USER_COLUMNS = (
    users.c.id,
    users.c.name,
    users.c.email,
    users.c.role,
    users.c.email_verified,
    users.c.lang,
    users.c.created_at,
)


def _user(row: Any) -> User:
    return User(
        id=row.id,
        name=row.name,
        email=row.email,
        role=row.role,
        email_verified=row.email_verified,
        lang=row.lang,
        created_at=row.created_at,
    )


# --- users ----------------------------------------------------------------------


def find_user(
    tx: ReadTx, user_id: uuid.UUID, *, for_update: bool = False
) -> User | None:
    """The user, or ``None``."""
    stmt = sa.select(*_USER_COLUMNS).where(users.c.id == user_id)
    if for_update:
        stmt = stmt.with_for_update()
    row = tx.execute(stmt).first()
    return _user(row) if row is not None else None


def get_user(tx: ReadTx, user_id: uuid.UUID, *, for_update: bool = False) -> User:
    """The user; raises ``UserNotFound``."""
    user = find_user(tx, user_id, for_update=for_update)
    if user is None:
        raise UserNotFound()
    return user


def find_credentials(tx: ReadTx, email: str) -> tuple[User, str] | None:
    """The user with that e-mail (any case) and their password hash."""
    row = tx.execute(
        sa.select(*_USER_COLUMNS, users.c.password_hash).where(
            sa.func.lower(users.c.email) == email.lower()
        )
    ).first()
    return (_user(row), row.password_hash) if row is not None else None


def find_user_by_email(tx: ReadTx, email: str) -> User | None:
    """The user with that e-mail (any case), or ``None``."""
    row = tx.execute(
        sa.select(*_USER_COLUMNS).where(sa.func.lower(users.c.email) == email.lower())
    ).first()
    return _user(row) if row is not None else None


def insert_user(
    tx: WriteTx,
    *,
    name: str,
    email: str,
    password_hash: str,
    lang: str,
    role: str = "user",
    email_verified: bool = False,
) -> User | None:
    """Insert a user; ``None`` when the e-mail is taken (race-free)."""
    row = tx.execute(
        pg.insert(users)
        .values(
            id=uuid.uuid4(),
            name=name,
            email=email.lower(),
            password_hash=password_hash,
            lang=lang,
            role=role,
            email_verified=email_verified,
        )
        .on_conflict_do_nothing()
        .returning(*_USER_COLUMNS)
    ).first()
    return _user(row) if row is not None else None


def update_user(tx: WriteTx, user_id: uuid.UUID, **values: Any) -> User:
    """Change columns of a user and return it; raises ``UserNotFound``."""
    row = tx.execute(
        sa.update(users)
        .where(users.c.id == user_id)
        .values(**values, updated_at=sa.func.now())
        .returning(*_USER_COLUMNS)
    ).first()
    if row is None:
        raise UserNotFound()
    return _user(row)


def set_password_hash_if_unchanged(
    tx: WriteTx, user_id: uuid.UUID, old_hash: str, new_hash: str
) -> None:
    """Replace a hash only if nobody changed it meanwhile (login upgrades)."""
    tx.execute(
        sa.update(users)
        .where(users.c.id == user_id, users.c.password_hash == old_hash)
        .values(password_hash=new_hash)
    )


def list_users(tx: ReadTx, *, limit: int, offset: int) -> list[User]:
    """Users, newest first (ties by id so pages never overlap)."""
    rows = tx.execute(
        sa.select(*_USER_COLUMNS)
        .order_by(users.c.created_at.desc(), users.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [_user(row) for row in rows]


def archive_and_delete_user(
    tx: WriteTx, user: User, *, deleted_by: uuid.UUID | None
) -> None:
    """Copy the user (without the password hash) to the archive, then delete it."""
    tx.execute(
        pg.insert(archived_users)
        .values(
            id=user.id,
            name=user.name,
            email=user.email,
            role=user.role,
            email_verified=user.email_verified,
            lang=user.lang,
            created_at=user.created_at,
            deleted_by=deleted_by,
        )
        .on_conflict_do_nothing()
    )
    tx.execute(sa.delete(users).where(users.c.id == user.id))


# --- sessions -------------------------------------------------------------------


def insert_session(
    tx: WriteTx, *, jti: str, user_id: uuid.UUID, expires_at: datetime
) -> None:
    """Record a new session."""
    tx.execute(
        sa.insert(sessions).values(jti=jti, user_id=user_id, expires_at=expires_at)
    )


def delete_expired_sessions(tx: WriteTx, user_id: uuid.UUID) -> None:
    """Forget a user's dead sessions (housekeeping at login)."""
    tx.execute(
        sa.delete(sessions).where(
            sessions.c.user_id == user_id, sessions.c.expires_at < sa.func.now()
        )
    )


def find_session_state(tx: ReadTx, jti: str) -> SessionState | None:
    """The live session's user state, or ``None`` if revoked, expired or unknown."""
    row = tx.execute(
        sa.select(users.c.id, users.c.role, users.c.email_verified)
        .select_from(sessions.join(users, users.c.id == sessions.c.user_id))
        .where(
            sessions.c.jti == jti,
            sessions.c.revoked_at.is_(None),
            sessions.c.expires_at > sa.func.now(),
        )
    ).first()
    if row is None:
        return None
    return SessionState(
        user_id=row.id, role=row.role, email_verified=row.email_verified
    )


def revoke_session(tx: WriteTx, jti: str) -> list[tuple[str, datetime]]:
    """Revoke one session; returns ``[(jti, expires_at)]`` if it was live."""
    rows = tx.execute(
        sa.update(sessions)
        .where(sessions.c.jti == jti, sessions.c.revoked_at.is_(None))
        .values(revoked_at=sa.func.now())
        .returning(sessions.c.jti, sessions.c.expires_at)
    )
    return [(row.jti, row.expires_at) for row in rows]


def revoke_user_sessions(tx: WriteTx, user_id: uuid.UUID) -> list[tuple[str, datetime]]:
    """Revoke every live session of a user; returns their ``(jti, expires_at)``."""
    rows = tx.execute(
        sa.update(sessions)
        .where(
            sessions.c.user_id == user_id,
            sessions.c.revoked_at.is_(None),
            sessions.c.expires_at > sa.func.now(),
        )
        .values(revoked_at=sa.func.now())
        .returning(sessions.c.jti, sessions.c.expires_at)
    )
    return [(row.jti, row.expires_at) for row in rows]


def live_session_ids(tx: ReadTx, user_id: uuid.UUID) -> list[str]:
    """Ids of a user's live sessions."""
    rows = tx.execute(
        sa.select(sessions.c.jti).where(
            sessions.c.user_id == user_id,
            sessions.c.revoked_at.is_(None),
            sessions.c.expires_at > sa.func.now(),
        )
    )
    return [row.jti for row in rows]


# --- one-time tokens ------------------------------------------------------------


def insert_token(
    tx: WriteTx, *, token_hash: str, user_id: uuid.UUID, kind: str, expires_at: datetime
) -> None:
    """Store a token's hash."""
    tx.execute(
        sa.insert(tokens).values(
            hash=token_hash, user_id=user_id, kind=kind, expires_at=expires_at
        )
    )


def find_token(
    tx: ReadTx, token_hash: str, kind: str, *, for_update: bool = False
) -> Any | None:
    """The token row (``user_id``, ``expires_at``, ``used_at``, ``expired``)."""
    stmt = sa.select(
        tokens.c.user_id,
        tokens.c.expires_at,
        tokens.c.used_at,
        (tokens.c.expires_at <= sa.func.now()).label("expired"),
    ).where(tokens.c.hash == token_hash, tokens.c.kind == kind)
    if for_update:
        stmt = stmt.with_for_update()
    return tx.execute(stmt).first()


def use_tokens(tx: WriteTx, user_id: uuid.UUID, kind: str) -> None:
    """Mark every unused token of that kind of the user as used (single use)."""
    tx.execute(
        sa.update(tokens)
        .where(
            tokens.c.user_id == user_id,
            tokens.c.kind == kind,
            tokens.c.used_at.is_(None),
        )
        .values(used_at=sa.func.now())
    )


def delete_stale_tokens(tx: WriteTx, user_ids: Sequence[uuid.UUID]) -> None:
    """Forget tokens that expired more than a day ago."""
    tx.execute(
        sa.delete(tokens).where(
            tokens.c.user_id.in_(list(user_ids)),
            tokens.c.expires_at < sa.func.now() - sa.text("interval '1 day'"),
        )
    )
