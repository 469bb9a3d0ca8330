"""The session check behind every authenticated request, cached in Redis.

A live session is cached for at most ``POSITIVE_TTL`` seconds; a revocation is
written to Redis synchronously after COMMIT (and overwrites any cached live
state), so logging out or deleting an account takes effect at once. Cached
live states are only written with ``NX``: a reader that loaded the session
just before a revocation cannot overwrite the revocation marker.

When Redis fails, a breaker skips it for a few seconds and sessions are
checked on the PRIMARY (the replica may not have replayed a revocation yet).
A revocation that could not reach Redis is retried in the background for as
long as a cached live state could survive (``POSITIVE_TTL``), which closes the
window where a pre-outage cache entry would outlive the revocation.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime

from redis import Redis
from redis.exceptions import RedisError

from proveo.accounts.data import SessionState

__all__ = ["POSITIVE_TTL", "UNKNOWN", "SessionCache", "Unknown"]

POSITIVE_TTL = 30
_REVOKED = b"-"
log = logging.getLogger("proveo.accounts.sessions")


class Unknown:
    """Marker: the cache could not answer (miss or Redis unavailable)."""


UNKNOWN = Unknown()


class SessionCache:
    """Redis cache of session states, degrading to "unknown" when Redis is down."""

    def __init__(
        self,
        client: Redis | None,
        *,
        prefix: str = "proveo:session",
        cooldown: float = 5.0,
        retry_for: float = POSITIVE_TTL + 5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._cooldown = cooldown
        self._retry_for = retry_for
        self._clock = clock
        self._down_until = 0.0
        self._lock = threading.Lock()
        self._pending: dict[str, int] = {}
        self._retrier: threading.Thread | None = None
        self._retry_until = 0.0
        self.errors = 0

    def _key(self, jti: str) -> str:
        return f"{self._prefix}:{jti}"

    def _usable(self) -> bool:
        return self._client is not None and self._clock() >= self._down_until

    def _failed(self, exc: Exception) -> None:
        with self._lock:
            first = self._clock() >= self._down_until
            self._down_until = self._clock() + self._cooldown
            self.errors += 1
        if first:
            log.warning(
                "session cache: Redis unavailable, checking the primary: %s", exc
            )

    @property
    def degraded(self) -> bool:
        """True while Redis is being skipped."""
        return self._clock() < self._down_until

    def get(self, jti: str) -> SessionState | Unknown | None:
        """The cached state, ``None`` if revoked, ``UNKNOWN`` on a miss or outage."""
        if not self._usable():
            return UNKNOWN
        try:
            raw = self._client.get(self._key(jti))  # type: ignore[union-attr]
        except RedisError as exc:
            self._failed(exc)
            return UNKNOWN
        if raw is None:
            return UNKNOWN
        if raw == _REVOKED:
            return None
        try:
            text = raw.decode("ascii") if isinstance(raw, bytes) else str(raw)
            user_id, role, verified = text.split("|")
            return SessionState(uuid.UUID(user_id), role, verified == "1")
        except ValueError:
            return UNKNOWN

    def remember(
        self, jti: str, state: SessionState | None, *, ttl: int = POSITIVE_TTL
    ) -> None:
        """Cache a state loaded from the database (never over a revocation)."""
        if not self._usable():
            return
        value = (
            _REVOKED
            if state is None
            else f"{state.user_id}|{state.role}|{int(state.email_verified)}".encode(
                "ascii"
            )
        )
        try:
            self._client.set(self._key(jti), value, ex=max(1, ttl), nx=True)  # type: ignore[union-attr]
        except RedisError as exc:
            self._failed(exc)

    def revoke(self, sessions: Iterable[tuple[str, datetime]]) -> None:
        """Mark sessions revoked until they would have expired anyway."""
        now = datetime.now(UTC)
        items = {
            jti: max(1, int((expires_at - now).total_seconds()) + 1)
            for jti, expires_at in sessions
        }
        if items and not self._write_revocations(items):
            self._retry_later(items)

    def forget(self, jtis: Sequence[str]) -> None:
        """Drop cached live states (the user's role or verification changed)."""
        if not jtis or not self._usable():
            return
        try:
            # Only live entries: a revocation marker must stay.
            pipe = self._client.pipeline()  # type: ignore[union-attr]
            for jti in jtis:
                pipe.delete(self._key(jti))
            pipe.execute()
        except RedisError as exc:
            self._failed(exc)

    def _write_revocations(self, items: dict[str, int]) -> bool:
        if self._client is None:
            return True
        try:
            pipe = self._client.pipeline()
            for jti, ttl in items.items():
                pipe.set(self._key(jti), _REVOKED, ex=ttl)
            pipe.execute()
        except RedisError as exc:
            self._failed(exc)
            return False
        return True

    def _retry_later(self, items: dict[str, int]) -> None:
        start = None
        with self._lock:
            self._pending.update(items)
            self._retry_until = self._clock() + self._retry_for
            if self._retrier is None:
                start = self._retrier = threading.Thread(
                    target=self._retry_loop, name="session-revocations", daemon=True
                )
        if start is not None:
            start.start()

    def _retry_loop(self) -> None:
        while True:
            time.sleep(1.0)
            with self._lock:
                items = dict(self._pending)
            if self._write_revocations(items):
                with self._lock:
                    for jti in items:
                        self._pending.pop(jti, None)
            with self._lock:
                if not self._pending or self._clock() > self._retry_until:
                    # Past the deadline any cached live state has expired, and
                    # the database (checked on every miss) knows the truth.
                    self._pending.clear()
                    self._retrier = None
                    return
