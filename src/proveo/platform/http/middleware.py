"""Request-scoped plumbing: correlation ids, logs, headers, limits, consistency.

The read-your-writes WAL position travels in a signed cookie (and header).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Sequence
from typing import Any

import falcon

from proveo.platform import db, logs
from proveo.platform.errors import PayloadTooLarge
from proveo.platform.http.params import JSON_LIMIT
from proveo.platform.ratelimit import IPNetwork, from_trusted_proxy

__all__ = ["BodyLimit", "Consistency", "RequestContext", "SecurityHeaders"]

log = logs.get_logger("proveo.access")

LSN_COOKIE = "proveo_lsn"
LSN_HEADER = "X-Proveo-LSN"


class RequestContext:
    """Bind a correlation id, echo it back, and write one access-log line per request."""

    def __init__(self, authenticator: Any = None) -> None:
        self._authenticator = authenticator

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        logs.clear()
        cid = logs.sane_correlation_id(req.get_header("X-Correlation-ID"))
        logs.bind(correlation_id=cid)
        req.context.correlation_id = cid
        req.context.started = time.perf_counter()
        req.context.authenticator = self._authenticator
        resp.set_header("X-Correlation-ID", cid)

    def process_response(
        self,
        req: falcon.Request,
        resp: falcon.Response,
        resource: object,
        req_succeeded: bool,
    ) -> None:
        started = getattr(req.context, "started", None)
        elapsed = (time.perf_counter() - started) * 1000 if started else 0.0
        status = (
            resp.status if isinstance(resp.status, int) else int(str(resp.status)[:3])
        )
        if status >= 500 or req.path not in ("/api/v1/health", "/metrics"):
            log.info(
                "request",
                method=req.method,
                path=req.path,
                status=status,
                ms=round(elapsed, 2),
            )
        logs.clear()


class SecurityHeaders:
    """Headers every response carries (spec §6)."""

    CSP = (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    )

    def __init__(self, trusted_proxies: Sequence[IPNetwork] = ()) -> None:
        self._trusted_proxies = tuple(trusted_proxies)

    def _over_https(self, req: falcon.Request) -> bool:
        """HTTPS to us, or to a trusted proxy that says so (TLS ends at the ingress)."""
        if req.scheme == "https":
            return True
        proto = req.get_header("X-Forwarded-Proto")
        if not proto or not self._trusted_proxies:
            return False
        # The proxy nearest to us appends last.
        return proto.rsplit(",", 1)[-1].strip().lower() == "https" and (
            from_trusted_proxy(req.remote_addr, self._trusted_proxies)
        )

    def process_response(
        self,
        req: falcon.Request,
        resp: falcon.Response,
        resource: object,
        req_succeeded: bool,
    ) -> None:
        resp.set_header("X-Content-Type-Options", "nosniff")
        resp.set_header("X-Frame-Options", "DENY")
        resp.set_header("Referrer-Policy", "strict-origin-when-cross-origin")
        if (resp.content_type or "").startswith("text/html"):
            resp.set_header("Content-Security-Policy", self.CSP)
        if self._over_https(req):
            resp.set_header(
                "Strict-Transport-Security", "max-age=31536000; includeSubDomains"
            )


class RateLimitHeaders:
    """``RateLimit`` headers on every response of a limited route (spec §1).

    The limiter counts a request inside its responder, so answers given before
    (413 from ``BodyLimit``, 405, a refused ``Origin``) would go without them. A
    limited resource offers ``rate_limit_headers(req)``: its current state,
    peeked without counting, used when the response has none.
    """

    def process_response(
        self,
        req: falcon.Request,
        resp: falcon.Response,
        resource: object,
        req_succeeded: bool,
    ) -> None:
        preview = getattr(resource, "rate_limit_headers", None)
        if preview is None or resp.get_header("RateLimit") is not None:
            return
        for name, value in (preview(req) or {}).items():
            resp.set_header(name, value)


class UnknownMethods:
    """405, not Falcon's 400, for a method Falcon does not know (``PURGE``, ``FOO``).

    Falcon answers a method outside its list with 400 "Invalid HTTP method";
    the contract wants every other method on a route to be 405 (spec §3), with
    the route's methods in ``Allow``: the resource's ``allowed_methods`` when it
    declares them, else the methods it has responders for.
    """

    _KNOWN = frozenset(falcon.COMBINED_METHODS)

    def process_resource(
        self,
        req: falcon.Request,
        resp: falcon.Response,
        resource: object,
        params: dict[str, Any],
    ) -> None:
        if resource is None:
            return
        declared = getattr(resource, "allowed_methods", None)
        if declared is not None:
            # Falcon would list the resource's own refusing responders in Allow.
            if req.method not in declared:
                raise falcon.HTTPMethodNotAllowed(list(declared))
            return
        if req.method in self._KNOWN:
            return
        # Allow as Falcon builds it for a known method: the methods with a
        # responder (on_<method>, or on_<method>_<suffix> on suffixed routes),
        # sorted, then OPTIONS, which Falcon always answers.
        names = [n for n in dir(resource) if n.startswith("on_")]
        allowed = sorted(
            m
            for m in self._KNOWN - {"WEBSOCKET"}
            if any(
                n == f"on_{m.lower()}" or n.startswith(f"on_{m.lower()}_")
                for n in names
            )
        )
        if "OPTIONS" not in allowed:
            allowed.append("OPTIONS")
        raise falcon.HTTPMethodNotAllowed(allowed)


class BodyLimit:
    """413 before anything else looks at a body whose declared size is too large.

    A resource declares ``max_body_bytes``; the default is the JSON limit.
    Bodies without a length are bounded again where they are read.
    """

    def process_resource(
        self,
        req: falcon.Request,
        resp: falcon.Response,
        resource: object,
        params: dict[str, Any],
    ) -> None:
        limit = getattr(resource, "max_body_bytes", JSON_LIMIT)
        length = req.content_length
        if length is not None and length > limit:
            raise PayloadTooLarge(f"Request body larger than {limit} bytes")


class Consistency:
    """Read-your-writes: after a write, hand the client the commit's WAL position.

    The position travels in a signed cookie (browsers) and a header (REST
    clients); reads for that client go to the primary until the replica has
    replayed past it.
    """

    def __init__(self, secret: str, *, secure_cookie: bool, max_age: int = 300) -> None:
        self._key = hashlib.sha256(b"proveo-lsn:" + secret.encode()).digest()
        self._secure = secure_cookie
        self._max_age = max_age

    def _sign(self, lsn: str) -> str:
        mac = hmac.new(self._key, lsn.encode(), hashlib.sha256).digest()[:16]
        return lsn + "." + base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def _verify(self, token: str | None) -> str | None:
        if not token or "." not in token or len(token) > 100:
            return None
        lsn = token.rsplit(".", 1)[0]
        return lsn if hmac.compare_digest(self._sign(lsn), token) else None

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        token = req.get_header(LSN_HEADER)
        if token is None:
            values = req.get_cookie_values(LSN_COOKIE)
            token = values[0] if values else None
        db.client_lsn.set(self._verify(token))
        db.committed_lsn.set(None)

    def process_response(
        self,
        req: falcon.Request,
        resp: falcon.Response,
        resource: object,
        req_succeeded: bool,
    ) -> None:
        lsn = db.committed_lsn.get()
        if lsn:
            token = self._sign(lsn)
            resp.set_header(LSN_HEADER, token)
            resp.set_cookie(
                LSN_COOKIE,
                token,
                max_age=self._max_age,
                path="/",
                secure=self._secure,
                http_only=True,
                same_site="Lax",
            )
        db.client_lsn.set(None)
        db.committed_lsn.set(None)
