"""Rate limits of the accounts routes (spec §1) and their response headers.

Every response of a limited route carries ``RateLimit`` / ``RateLimit-Policy``
for each policy the request was counted against (a structured-field list), and
refusals add ``Retry-After``. Small quotas use the exact moving window.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import falcon

from proveo.accounts.data import InvalidCredentials
from proveo.platform.errors import RateLimited
from proveo.platform.ratelimit import Backoff, Decision, RateLimiter, Rule, client_ip
from proveo.platform.settings import Settings

__all__ = [
    "LOGIN_IP",
    "RESEND_ALL",
    "RESEND_EMAIL",
    "RESEND_IP",
    "RESET_ALL",
    "RESET_EMAIL",
    "RESET_IP",
    "SIGNUP_IP",
    "Limits",
]

LOGIN_IP = Rule("login-ip", "10/minute", exact=True)
SIGNUP_IP = Rule("signup-ip", "5/minute", exact=True)
RESEND_IP = Rule("resend-ip", "2/minute", exact=True)
RESEND_EMAIL = Rule("resend-email", "5/hour", exact=True)
RESEND_ALL = Rule("resend-all", "30/minute", exact=True)
RESET_IP = Rule("reset-ip", "2/minute", exact=True)
RESET_EMAIL = Rule("reset-email", "5/hour", exact=True)
RESET_ALL = Rule("reset-all", "30/minute", exact=True)

_DECISIONS = "_rate_decisions"


def _header_values(decisions: Sequence[Decision]) -> dict[str, str]:
    return {
        "RateLimit-Policy": ", ".join(
            f'"{d.policy}";q={d.limit};w={d.window}' for d in decisions
        ),
        "RateLimit": ", ".join(
            f'"{d.policy}";r={d.remaining};t={d.reset_after}' for d in decisions
        ),
    }


class Limits:
    """Counts requests against rules and the per-account login back-off."""

    def __init__(
        self, limiter: RateLimiter, backoff: Backoff, settings: Settings
    ) -> None:
        self._limiter = limiter
        self._backoff = backoff
        self._trusted = settings.trusted_proxies

    def client_ip(self, req: falcon.Request) -> str:
        """The address to limit by (``X-Forwarded-For`` only via trusted proxies)."""
        return client_ip(
            req.remote_addr or "", req.get_header("X-Forwarded-For"), self._trusted
        )

    def enforce(
        self,
        req: falcon.Request,
        resp: falcon.Response,
        checks: Sequence[tuple[Rule, str]],
    ) -> None:
        """Count one hit per ``(rule, key)`` in order; 429 at the first refusal."""
        decisions: list[Decision] = getattr(req.context, _DECISIONS, None) or []
        setattr(req.context, _DECISIONS, decisions)
        for rule, key in checks:
            decision = self._limiter.hit(rule, key)
            decisions.append(decision)
            headers = _header_values(decisions)
            for name, value in headers.items():
                resp.set_header(name, value)
            if not decision.allowed:
                retry = max(1, decision.reset_after)
                raise RateLimited(
                    "Too many requests, try again later",
                    retry_after=retry,
                    headers={**headers, "Retry-After": str(retry)},
                )

    def preview(self, checks: Sequence[tuple[Rule, str]]) -> dict[str, str]:
        """The headers ``enforce`` would set, without counting a hit.

        For responses refused before the limiter ran (413, 405, a foreign
        ``Origin``): every response of a limited route carries them (spec §1).
        """
        return _header_values([self._limiter.peek(rule, key) for rule, key in checks])

    def check_account(self, email: str) -> None:
        """429 while the account is locked after repeated failed logins."""
        wait = self._backoff.retry_after(email)
        if wait > 0:
            raise RateLimited(
                "Too many failed login attempts, try again later",
                retry_after=wait,
                headers={"Retry-After": str(wait)},
            )

    @contextmanager
    def login_attempt(self, email: str) -> Iterator[None]:
        """Count a failed login against the account; forget failures on success."""
        try:
            yield
        except InvalidCredentials:
            self._backoff.register_failure(email)
            raise
        self._backoff.register_success(email)
