"""Security primitives: password hashes, signed tokens (JWT) and CSRF tokens.

Passwords use Argon2id with the OWASP Password Storage Cheat Sheet minimum
(m=19456 KiB, t=2, p=1): about 30 ms per hash on a 2-core node and 19 MiB of
RAM per concurrent hash, so 8 login threads stay well under a pod's memory
limit (the library default, 64 MiB x p=4, takes ~150 ms and competes for the
cores). Hashes made with other parameters verify and report ``needs_rehash``.
Legacy bcrypt hashes (``$2a$``/``$2b$``/``$2y$``) are accepted so imported
accounts can log in; callers replace them with Argon2id on success.

PyJWT is imported on first use: it loads the ``cryptography`` bindings (~10 MB
per process), which the worker role, never signing a token, does not need.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

import bcrypt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = [
    "ARGON2_MEMORY_KIB",
    "ARGON2_PARALLELISM",
    "ARGON2_TIME_COST",
    "DUMMY_HASH",
    "JWT_ALGORITHM",
    "REQUIRED_CLAIMS",
    "TokenError",
    "check_csrf",
    "csrf_token",
    "decode_token",
    "derive_key",
    "encode_token",
    "hash_password",
    "verify_password",
]

ARGON2_TIME_COST = 2
ARGON2_MEMORY_KIB = 19456
ARGON2_PARALLELISM = 1
JWT_ALGORITHM = "HS256"
REQUIRED_CLAIMS = ("sub", "exp", "iat", "jti")

_BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")
# bcrypt only ever looked at the first 72 bytes; legacy systems truncated
# silently, so a legacy hash is checked against the same prefix.
_BCRYPT_MAX_BYTES = 72

_hasher = PasswordHasher(
    time_cost=ARGON2_TIME_COST,
    memory_cost=ARGON2_MEMORY_KIB,
    parallelism=ARGON2_PARALLELISM,
)

#: Verified against when the account does not exist, so an unknown e-mail costs
#: the same Argon2 work as a wrong password (no user enumeration by timing).
DUMMY_HASH = _hasher.hash("proveo-dummy-password-for-equal-work")


class TokenError(Exception):
    """A token is malformed, forged, expired or lacks a required claim."""


def hash_password(password: str) -> str:
    """Hash ``password`` with Argon2id (OWASP parameters).

    Raises:
        UnicodeEncodeError: the password contains lone surrogates.
    """
    return _hasher.hash(password.encode("utf-8"))


def verify_password(stored_hash: str, password: str) -> tuple[bool, bool]:
    """Check ``password`` against ``stored_hash``; returns ``(ok, needs_rehash)``.

    ``needs_rehash`` is true when the password matched but the hash is bcrypt
    or Argon2 with other parameters; the caller should store a fresh hash.
    Never raises for a bad hash or password: that is simply no match.
    """
    try:
        secret = password.encode("utf-8")
    except UnicodeEncodeError:
        return False, False
    if stored_hash.startswith(_BCRYPT_PREFIXES):
        try:
            ok = bcrypt.checkpw(secret[:_BCRYPT_MAX_BYTES], stored_hash.encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            return False, False
        return ok, ok
    try:
        _hasher.verify(stored_hash, secret)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False, False
    return True, _hasher.check_needs_rehash(stored_hash)


def derive_key(secret: str, purpose: str) -> bytes:
    """A sub-key of the application secret for one purpose (JWT, CSRF, ...).

    Separate keys mean a value signed for one purpose never validates for another.
    """
    return hmac.new(
        secret.encode("utf-8"), b"proveo:" + purpose.encode(), "sha256"
    ).digest()


def encode_token(claims: Mapping[str, Any], secret: bytes | str) -> str:
    """Sign ``claims`` as an HS256 JWT. ``sub`` must be a string."""
    import jwt

    return jwt.encode(dict(claims), secret, algorithm=JWT_ALGORITHM)


def decode_token(
    token: str,
    secret: bytes | str,
    *,
    required: tuple[str, ...] = REQUIRED_CLAIMS,
    verify_exp: bool = True,
    leeway: int = 5,
) -> dict[str, Any]:
    """Verify and decode a JWT signed by ``encode_token``.

    The algorithm is pinned (no ``alg`` confusion) and ``required`` claims must
    be present.

    Raises:
        TokenError: for any invalid token.
    """
    if not token or len(token) > 4096:
        raise TokenError("missing or oversized token")
    import jwt

    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[JWT_ALGORITHM],
            options={"require": list(required), "verify_exp": verify_exp},
            leeway=leeway,
        )
    except jwt.PyJWTError as exc:
        raise TokenError(str(exc)) from exc
    if not isinstance(claims, dict):
        raise TokenError("claims are not an object")
    return claims


def csrf_token(secret: bytes | str, session_id: str) -> str:
    """The CSRF token bound to one session: an HMAC of its id."""
    key = secret if isinstance(secret, bytes) else secret.encode("utf-8")
    mac = hmac.new(key, b"csrf:" + session_id.encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode("ascii").rstrip("=")


def check_csrf(secret: bytes | str, session_id: str, token: str | None) -> bool:
    """Tell whether ``token`` is the CSRF token of ``session_id`` (constant time)."""
    if not token or len(token) > 256:
        return False
    expected = csrf_token(secret, session_id)
    return hmac.compare_digest(
        expected.encode("ascii"), token.encode("utf-8", "replace")
    )
