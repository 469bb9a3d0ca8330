"""HTTP resources of spec §1 (thin: parse, one unit of work, one service call, render)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

import falcon
import marshmallow

from proveo.accounts import pages, schemas, service
from proveo.accounts.auth import (
    ACCESS_COOKIE,
    CSRF_COOKIE,
    SessionAuthenticator,
    primary_read,
)
from proveo.accounts.data import TokenInvalid, User
from proveo.accounts.limits import (
    LOGIN_IP,
    RESEND_ALL,
    RESEND_EMAIL,
    RESEND_IP,
    RESET_ALL,
    RESET_EMAIL,
    RESET_IP,
    SIGNUP_IP,
    Limits,
)
from proveo.platform import audit
from proveo.platform.errors import BadRequest, Unauthorized
from proveo.platform.http import (
    Principal,
    current_principal,
    doc,
    load_json,
    load_query,
    parse_uuid,
    read_body,
    require,
    route,
)
from proveo.platform.http.params import JSON_LIMIT
from proveo.platform.ratelimit import Backoff, Rule
from proveo.platform.runtime import Services

__all__ = ["authenticator", "install"]

TAGS = ["accounts"]
ADMIN_TAGS = ["admin"]
_FORM = "application/x-www-form-urlencoded"


def authenticator(services: Services) -> SessionAuthenticator:
    """The platform ``Authenticator`` backed by accounts sessions."""
    existing = services.extras.get("accounts.authenticator")
    if isinstance(existing, SessionAuthenticator):
        return existing
    auth = SessionAuthenticator(services.db, services.settings)
    services.extras["accounts.authenticator"] = auth
    return auth


class _Base:
    """Collaborators every accounts resource shares."""

    def __init__(
        self, services: Services, auth: SessionAuthenticator, limits: Limits
    ) -> None:
        self._services = services
        self._db = services.db
        self._settings = services.settings
        self._auth = auth
        self._limits = limits

    def _request_checks(self, req: falcon.Request) -> list[tuple[Rule, str]]:
        """The rules a request to this route counts against before its body is read."""
        return []

    def rate_limit_headers(self, req: falcon.Request) -> dict[str, str] | None:
        """RateLimit headers, peeked, for a response refused before counting."""
        checks = self._request_checks(req)
        return self._limits.preview(checks) if checks else None

    def _set_session_cookies(
        self, resp: falcon.Response, token: str | None, csrf: str, max_age: int
    ) -> None:
        secure = self._settings.cookie_secure
        if token is not None:
            resp.set_cookie(
                ACCESS_COOKIE,
                token,
                max_age=max_age,
                path="/",
                secure=secure,
                http_only=True,
                same_site="Lax",
            )
        resp.set_cookie(
            CSRF_COOKIE,
            csrf,
            max_age=max_age,
            path="/",
            secure=secure,
            http_only=False,
            same_site="Lax",
        )

    @staticmethod
    def _clear_session_cookies(resp: falcon.Response) -> None:
        resp.unset_cookie(ACCESS_COOKIE, path="/")
        resp.unset_cookie(CSRF_COOKIE, path="/")


def _user_out(user: User) -> Any:
    return schemas.UserOut().dump(user)


def _html(resp: falcon.Response, page: str, status: int = 200) -> None:
    resp.status = status
    resp.content_type = falcon.MEDIA_HTML
    resp.cache_control = ["no-store"]
    resp.text = page


def _page_lang(req: falcon.Request, user: User | None = None) -> str:
    """The user's language, else ``?lang=``, else the browser's, else Spanish."""
    if user is not None:
        return user.lang
    asked = req.get_param("lang")
    if asked in ("es", "en"):
        return asked
    accept = (req.get_header("Accept-Language") or "").strip().lower()
    return "en" if accept.startswith("en") else "es"


# --- sign-up and verification ---------------------------------------------------------


class Signup(_Base):
    """``POST /users/signup``."""

    def _request_checks(self, req: falcon.Request) -> list[tuple[Rule, str]]:
        return [(SIGNUP_IP, self._limits.client_ip(req))]

    @doc(
        "Register a user",
        tags=TAGS,
        body=schemas.SignupIn,
        out=schemas.UserOut,
        status=201,
        errors=(400, 403, 409, 413, 415, 422, 429),
    )
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._auth.check_origin(req)
        self._limits.enforce(req, resp, self._request_checks(req))
        body = load_json(schemas.SignupIn(), req)
        with self._db.write() as tx:
            user = service.signup(tx, **body)
        resp.status = falcon.HTTP_201
        resp.media = _user_out(user)


class VerifyEmail(_Base):
    """``GET /users/verify-email/{token}``: an HTML page, whatever happened."""

    @doc(
        "Follow a verification link (HTML page)",
        tags=TAGS,
        out_type="text/html",
        errors=(),
    )
    def on_get(self, req: falcon.Request, resp: falcon.Response, token: str) -> None:
        # A write: it spends the token; on the primary it also sees a token the
        # mail job committed a moment ago.
        with self._db.write() as tx:
            outcome = service.verify_email(tx, token)
        _html(
            resp,
            pages.verify_page(
                outcome.status, _page_lang(req, outcome.user), outcome.user
            ),
        )


class ResendVerification(_Base):
    """``POST /users/resend-verification?email=``."""

    def _request_checks(self, req: falcon.Request) -> list[tuple[Rule, str]]:
        return [(RESEND_IP, self._limits.client_ip(req)), (RESEND_ALL, "all")]

    @doc(
        "Send the verification mail again",
        tags=TAGS,
        query=schemas.EmailQuery,
        out=schemas.MessageOut,
        status=202,
        errors=(403, 422, 429),
    )
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._auth.check_origin(req)
        self._limits.enforce(req, resp, self._request_checks(req))
        query = load_query(schemas.EmailQuery(), req)
        self._limits.enforce(req, resp, [(RESEND_EMAIL, query["email"])])
        with self._db.write() as tx:
            service.resend_verification(tx, email=query["email"])
        resp.status = falcon.HTTP_202
        resp.media = {
            "message": "If the account exists and is not verified yet, "
            "a verification email has been sent"
        }


# --- sessions -------------------------------------------------------------------------


class Login(_Base):
    """``POST /users/login``."""

    def _request_checks(self, req: falcon.Request) -> list[tuple[Rule, str]]:
        return [(LOGIN_IP, self._limits.client_ip(req))]

    @doc(
        "Log in (sets the access_token and csrf_token cookies)",
        tags=TAGS,
        body=schemas.LoginIn,
        out=schemas.LoginOut,
        errors=(400, 401, 403, 415, 422, 429),
    )
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._auth.check_origin(req)
        self._limits.enforce(req, resp, self._request_checks(req))
        body = load_json(schemas.LoginIn(), req)
        self._limits.check_account(body["email"])
        with self._limits.login_attempt(body["email"]), self._db.write() as tx:
            issued = service.login(
                tx,
                email=body["email"],
                password=body["password"],
                lang=body["lang"],
                secret=self._settings.secret_key,
                lifetime_minutes=self._settings.access_token_minutes,
            )
        self._set_session_cookies(resp, issued.token, issued.csrf_token, issued.max_age)
        resp.media = {
            "message": "Login successful",
            "csrf_token": issued.csrf_token,
            "user": {
                "email": issued.user.email,
                "email_verified": issued.user.email_verified,
            },
        }


class Logout(_Base):
    """``POST /users/logout``: always succeeds; revokes the session it came with."""

    @doc(
        "Log out",
        tags=TAGS,
        body=schemas.LogoutIn,
        out=schemas.MessageOut,
        errors=(400, 403, 415, 422),
    )
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._auth.check_origin(req)
        principal = current_principal(req)
        load_json(schemas.LogoutIn(), req, required=False)
        with self._db.write() as tx:
            service.logout(tx, principal.session_id if principal else None)
        self._clear_session_cookies(resp)
        resp.media = {"message": "Logout successful"}


class CsrfToken(_Base):
    """``GET /users/csrf-token``: the token of the current session, again."""

    @doc(
        "Re-issue the CSRF token", tags=TAGS, out=schemas.CsrfOut, auth=True, errors=()
    )
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        principal = require(req)
        token = self._auth.csrf_token(principal.session_id)
        self._set_session_cookies(
            resp, None, token, self._settings.access_token_minutes * 60
        )
        resp.media = {"csrf_token": token}


class Me(_Base):
    """``GET|DELETE /users/me``."""

    def _current(self, principal: Principal) -> User:
        with self._db.read() as tx:
            user = service.find_user(tx, principal.user_id)
        if (
            user is None
            or user.role != principal.role
            or user.email_verified != principal.email_verified
        ):
            # The replica disagrees with the (fresh) session state: it lags.
            with primary_read(self._db) as tx:
                user = service.find_user(tx, principal.user_id)
        if user is None:
            raise Unauthorized("Authentication required")
        return user

    @doc("The current user", tags=TAGS, out=schemas.UserOut, auth=True, errors=())
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        principal = require(req)
        resp.media = _user_out(self._current(principal))

    @doc(
        "Delete my account (and my company)",
        tags=TAGS,
        out=schemas.DeleteMeOut,
        auth=True,
        errors=(404,),
    )
    def on_delete(self, req: falcon.Request, resp: falcon.Response) -> None:
        principal = require(req)
        with self._db.write() as tx:
            service.delete_account(tx, principal.user_id, actor_id=principal.user_id)
        # Subscribers ran at COMMIT; their count is only known now.
        deleted = service.companies_deleted(tx)
        self._clear_session_cookies(resp)
        resp.media = {
            "message": "Account deleted successfully",
            "company_deleted": deleted,
        }


# --- password reset ---------------------------------------------------------------------


class ResetRequest(_Base):
    """``POST /users/password-reset/request``."""

    def _request_checks(self, req: falcon.Request) -> list[tuple[Rule, str]]:
        return [(RESET_IP, self._limits.client_ip(req)), (RESET_ALL, "all")]

    @doc(
        "Ask for a password reset mail",
        tags=TAGS,
        body=schemas.ResetRequestIn,
        out=schemas.MessageOut,
        status=202,
        errors=(400, 403, 415, 422, 429),
    )
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._auth.check_origin(req)
        self._limits.enforce(req, resp, self._request_checks(req))
        body = load_json(schemas.ResetRequestIn(), req)
        self._limits.enforce(req, resp, [(RESET_EMAIL, body["email"])])
        with self._db.write() as tx:
            service.request_password_reset(tx, email=body["email"], lang=body["lang"])
        resp.status = falcon.HTTP_202
        resp.media = {
            "message": "If an account exists for that address, "
            "a password reset link has been sent"
        }


class ResetPage(_Base):
    """``GET /users/password-reset/{token}``: the form, or a failure page."""

    @doc("Password reset form (HTML page)", tags=TAGS, out_type="text/html", errors=())
    def on_get(self, req: falcon.Request, resp: falcon.Response, token: str) -> None:
        # The primary: the mail job committed this token a moment ago.
        with primary_read(self._db) as tx:
            user = service.check_reset_token(tx, token)
        lang = _page_lang(req, user)
        if user is None:
            _html(resp, pages.reset_failed_page(lang))
        else:
            _html(resp, pages.reset_form_page(token, lang, user))


def _read_form(req: falcon.Request) -> dict[str, str]:
    raw = read_body(req, JSON_LIMIT, "Form body larger than 1 MiB")
    try:
        parsed = parse_qs(
            raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest("Malformed form body") from exc
    return {key: values[-1] for key, values in parsed.items()}


class ResetConfirm(_Base):
    """``POST /users/password-reset/confirm``: JSON for clients, a form for browsers."""

    @doc(
        "Set a new password with a reset token",
        tags=TAGS,
        body=schemas.ResetConfirmIn,
        out=schemas.MessageOut,
        errors=(400, 403, 415, 422),
    )
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._auth.check_origin(req)
        media_type = (req.content_type or "").split(";")[0].strip().lower()
        if media_type == _FORM:
            self._form_post(req, resp)
            return
        body = load_json(schemas.ResetConfirmIn(), req)
        with self._db.write() as tx:
            service.reset_password(tx, token=body["token"], password=body["password"])
        resp.media = {"message": "Password has been reset successfully"}

    def _form_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        """The browser path: answer with pages instead of JSON errors."""
        data = _read_form(req)
        token = data.get("token", "")
        lang = data.get("lang") if data.get("lang") in ("es", "en") else _page_lang(req)
        try:
            body = schemas.ResetConfirmIn().load(data)
        except marshmallow.ValidationError as exc:
            with primary_read(self._db) as tx:
                user = service.check_reset_token(tx, token)
            if user is None:
                _html(resp, pages.reset_failed_page(lang or "es"), 400)
                return
            problems = (
                exc.messages.get("password") if isinstance(exc.messages, dict) else None
            )
            message = (
                " ".join(problems)
                if isinstance(problems, list)
                else "Invalid password."
            )
            _html(
                resp,
                pages.reset_form_page(token, lang or user.lang, user, message),
                422,
            )
            return
        try:
            with self._db.write() as tx:
                user = service.reset_password(
                    tx, token=body["token"], password=body["password"]
                )
        except TokenInvalid:
            _html(resp, pages.reset_failed_page(lang or "es"), 400)
            return
        _html(resp, pages.reset_done_page(lang or user.lang))


# --- administration ---------------------------------------------------------------------


class AdminUsers(_Base):
    """``GET /users/admin/all-users``."""

    @doc(
        "List users (newest first)",
        tags=ADMIN_TAGS,
        query=schemas.PageQuery,
        out=schemas.AdminUserOut(many=True),
        auth=True,
        errors=(422,),
    )
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        require(req, admin=True)
        query = load_query(schemas.PageQuery(), req)
        with self._db.read() as tx:
            rows = service.list_users_for_admin(
                tx, limit=query["limit"], offset=query["offset"]
            )
        resp.media = schemas.AdminUserOut(many=True).dump(rows)


class AdminUser(_Base):
    """``DELETE|PATCH /users/admin/users/{user_uuid}``."""

    @doc(
        "Delete a user and their company (audited)",
        tags=ADMIN_TAGS,
        out=schemas.AdminDeleteOut,
        auth=True,
        errors=(400, 404, 422),
    )
    def on_delete(
        self, req: falcon.Request, resp: falcon.Response, user_uuid: str
    ) -> None:
        admin = require(req, admin=True)
        user_id = parse_uuid(user_uuid, "user_uuid")
        with self._db.write() as tx:
            user = service.admin_delete_user(tx, user_id, admin_id=admin.user_id)
        resp.media = {
            "message": "User deleted successfully",
            "user_uuid": str(user.id),
            "email": user.email,
            "company_deleted": service.companies_deleted(tx),
        }

    @doc(
        "Change a user's role or verification (audited; revokes their sessions)",
        tags=ADMIN_TAGS,
        body=schemas.UserPatchIn,
        out=schemas.UserOut,
        auth=True,
        errors=(400, 404, 415, 422),
    )
    def on_patch(
        self, req: falcon.Request, resp: falcon.Response, user_uuid: str
    ) -> None:
        admin = require(req, admin=True)
        user_id = parse_uuid(user_uuid, "user_uuid")
        body = load_json(schemas.UserPatchIn(), req)
        with self._db.write() as tx:
            user = service.admin_update_user(
                tx, user_id, admin_id=admin.user_id, **body
            )
        resp.media = _user_out(user)


class AuditLog(_Base):
    """``GET /api/v1/admin/audit``."""

    @doc(
        "Audit records of administrative actions (newest first)",
        tags=ADMIN_TAGS,
        query=schemas.AuditQuery,
        out=schemas.AuditEntryOut(many=True),
        auth=True,
        errors=(422,),
    )
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        require(req, admin=True)
        query = load_query(schemas.AuditQuery(), req)
        with self._db.read() as tx:
            entries = audit.list_entries(
                tx,
                limit=query["limit"],
                offset=query["offset"],
                target_type=query["target_type"],
            )
        resp.media = schemas.AuditEntryOut(many=True).dump(entries)


def install(app: falcon.App[Any, Any], services: Services) -> None:
    """Mount every accounts route."""
    auth = authenticator(services)
    backoff = services.extras.get("accounts.backoff")
    if backoff is None:
        backoff = services.extras["accounts.backoff"] = Backoff(
            services.settings.redis_url
        )
    limits = Limits(services.limiter, backoff, services.settings)
    parts = (services, auth, limits)
    base = "/api/v1/users"
    route(app, f"{base}/signup", Signup(*parts))
    route(app, f"{base}/verify-email/{{token}}", VerifyEmail(*parts))
    route(app, f"{base}/resend-verification", ResendVerification(*parts))
    route(app, f"{base}/login", Login(*parts))
    route(app, f"{base}/logout", Logout(*parts))
    route(app, f"{base}/me", Me(*parts))
    route(app, f"{base}/csrf-token", CsrfToken(*parts))
    route(app, f"{base}/password-reset/request", ResetRequest(*parts))
    route(app, f"{base}/password-reset/confirm", ResetConfirm(*parts))
    route(app, f"{base}/password-reset/{{token}}", ResetPage(*parts))
    route(app, f"{base}/admin/all-users", AdminUsers(*parts))
    route(app, f"{base}/admin/users/{{user_uuid}}", AdminUser(*parts))
    route(app, "/api/v1/admin/audit", AuditLog(*parts))
