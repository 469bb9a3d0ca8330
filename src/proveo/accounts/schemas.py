"""Request and response shapes of the accounts HTTP API (marshmallow)."""

from __future__ import annotations

from typing import Any

import marshmallow
from marshmallow import EXCLUDE, fields, validate

from proveo.accounts.data import ROLES
from proveo.accounts.validation import EmailField, LangField, NameField, PasswordField
from proveo.platform.http import Offset


class StrictBoolean(fields.Boolean):
    """A JSON ``true``/``false`` only (no ``"yes"``, ``1``)."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> Any:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class _In(marshmallow.Schema):
    """Input: unknown keys are ignored, as the reference did."""

    class Meta:
        unknown = EXCLUDE


class SignupIn(_In):
    """``POST /users/signup``."""

    name = NameField(required=True)
    email = EmailField(required=True)
    password = PasswordField(required=True)
    lang = LangField(load_default="es")


class LoginIn(_In):
    """``POST /users/login``. Any password is checked; policy applies on set."""

    email = EmailField(required=True)
    password = fields.String(required=True, validate=validate.Length(min=1, max=1024))
    lang = LangField(load_default=None)


class LogoutIn(_In):
    """``POST /users/logout`` (optional body)."""

    lang = LangField(load_default=None)


class EmailQuery(_In):
    """``POST /users/resend-verification?email=``."""

    email = EmailField(required=True)


class ResetRequestIn(_In):
    """``POST /users/password-reset/request``."""

    email = EmailField(required=True)
    lang = LangField(load_default=None)


class ResetConfirmIn(_In):
    """``POST /users/password-reset/confirm`` (JSON or form)."""

    token = fields.String(required=True, validate=validate.Length(min=1, max=200))
    password = PasswordField(required=True)
    lang = LangField(load_default=None)


class PageQuery(_In):
    """Pagination for administrator lists."""

    limit = fields.Integer(
        strict=False, load_default=100, validate=validate.Range(min=1, max=500)
    )
    offset = Offset()


class AuditQuery(PageQuery):
    """``GET /admin/audit``."""

    target_type = fields.String(load_default=None, validate=validate.Length(max=50))


class UserPatchIn(_In):
    """``PATCH /users/admin/users/{user_uuid}``."""

    role = fields.String(validate=validate.OneOf(ROLES))
    email_verified = StrictBoolean()


class UserOut(marshmallow.Schema):
    """A user as the API shows it."""

    uuid = fields.UUID(attribute="id")
    name = fields.String()
    email = fields.String()
    role = fields.String()
    email_verified = fields.Boolean()
    created_at = fields.DateTime(format="iso")


class AdminUserOut(UserOut):
    """A row of the administrator's user list."""

    company_count = fields.Integer()

    @marshmallow.pre_dump
    def _flatten(self, item: Any, **kwargs: Any) -> dict[str, Any]:
        user = item.user
        return {
            "id": user.id,
            "name": user.name,
            "email": user.email,
            "role": user.role,
            "email_verified": user.email_verified,
            "created_at": user.created_at,
            "company_count": item.company_count,
        }


class MessageOut(marshmallow.Schema):
    """``{"message": ...}``."""

    message = fields.String()


class _LoginUser(marshmallow.Schema):
    email = fields.String()
    email_verified = fields.Boolean()


class LoginOut(marshmallow.Schema):
    """Answer to a successful login (the token itself travels in a cookie)."""

    message = fields.String()
    csrf_token = fields.String()
    user = fields.Nested(_LoginUser)


class CsrfOut(marshmallow.Schema):
    """``{"csrf_token": ...}``."""

    csrf_token = fields.String()


class DeleteMeOut(marshmallow.Schema):
    """Answer to ``DELETE /users/me``."""

    message = fields.String()
    company_deleted = fields.Integer()


class AdminDeleteOut(marshmallow.Schema):
    """Answer to an administrator's user deletion."""

    message = fields.String()
    user_uuid = fields.UUID()
    email = fields.String()
    company_deleted = fields.Integer()


class AuditEntryOut(marshmallow.Schema):
    """One audit record."""

    id = fields.Integer()
    actor_id = fields.UUID(allow_none=True)
    action = fields.String()
    target_type = fields.String()
    target_id = fields.String(allow_none=True)
    before = fields.Dict(allow_none=True)
    after = fields.Dict(allow_none=True)
    correlation_id = fields.String(allow_none=True)
    created_at = fields.DateTime(format="iso")
